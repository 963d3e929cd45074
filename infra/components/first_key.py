"""Wait until the JWT secret holds its first key, before the API's service is created.

`SecretRotation` with `rotate_immediately` asks Secrets Manager to rotate, and the API call
returns when the rotation has *started*: the function writes the first key a few seconds
later. An App Runner instance that starts before that cannot resolve its runtime secret and
the service's creation fails. This small dynamic resource waits for the secret's `AWSCURRENT`
version (DescribeSecret only: it never reads the value) and fails `pulumi up` with the next
step if it does not appear.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider

from infra.components.dynamic_aws import aws_client

DEFAULT_TIMEOUT_SECONDS = 300
POLL_SECONDS = 5


class FirstKeyMissing(Exception):
    """The secret still has no current version after the wait."""


def wait_for_current_version(
    client: Any,
    secret_arn: str,
    timeout_seconds: float,
    poll_seconds: float = POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """The id of the secret's AWSCURRENT version, once there is one."""
    deadline = clock() + timeout_seconds
    while True:
        described = client.describe_secret(SecretId=secret_arn)
        for version_id, stages in (described.get("VersionIdsToStages") or {}).items():
            if "AWSCURRENT" in stages:
                return str(version_id)
        if clock() >= deadline:
            raise FirstKeyMissing(
                f"the JWT secret {secret_arn} has no current key {timeout_seconds:g} s after its "
                "first rotation started: check the rotation function's log group "
                "(/aws/lambda/<service>-jwt-rotation) and the rotation-failed alert, fix the "
                f"cause, start the rotation again (aws secretsmanager rotate-secret --secret-id "
                f"{secret_arn}), then run `pulumi up` again"
            )
        sleep(poll_seconds)


class FirstKeyProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        client = aws_client("secretsmanager", props)
        version = wait_for_current_version(
            client, props["secretArn"], float(props["timeoutSeconds"])
        )
        return CreateResult(id_=props["secretArn"], outs={**props, "firstVersionId": version})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # Only a different secret needs a new wait; later rotations are not this resource's.
        replace = olds.get("secretArn") != news.get("secretArn")
        return DiffResult(
            changes=replace, replaces=["secretArn"] if replace else [], delete_before_replace=False
        )

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


class FirstKey(pulumi.dynamic.Resource):
    """Created once the secret has an AWSCURRENT version; the API's service depends on it."""

    def __init__(
        self,
        name: str,
        *,
        secret_arn: pulumi.Input[str],
        target: dict[str, str],
        timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            FirstKeyProvider(),
            name,
            {
                "secretArn": secret_arn,
                "timeoutSeconds": timeout_seconds,
                "firstVersionId": None,
                **target,
            },
            opts,
        )
