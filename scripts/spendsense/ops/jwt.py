"""Rotate the JWT signing secret now (runbook, monthly "Rotate JWT secrets").

Order and why:
1. the App Runner service must not be busy (else the deployment in step 3 cannot start, and
   the instances would keep the old key for an unknown time);
2. Secrets Manager `RotateSecret` with `RotateImmediately`: the secret's rotation function
   writes a new version and moves `AWSCURRENT` to it (the old value stays as `AWSPREVIOUS`);
   wait until the new version is `AWSCURRENT`;
3. an App Runner deployment, followed until it ends, so every instance reads the new value.
   The stack's rotation function starts that deployment itself at `finishSecret`
   (docs/jwt-rotation.md), so the rotation counts as finished only when the new version is
   `AWSCURRENT` and no longer `AWSPENDING` (Secrets Manager drops `AWSPENDING` after
   `finishSecret` returned); then the first `START_DEPLOYMENT` operation that was not in the
   service's operation list before the rotation request is followed (ids, not clocks: this
   machine's clock and App Runner's need not agree), and only if there is none is a deployment
   started here (two deployments at once would make one of them fail as busy);
4. the health gate: `GET <api_url>/health` must be healthy.

The secret's value is never read or printed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from spendsense.clients import describe_aws_error
from spendsense.errors import OperationFailed, SpendsenseError, failure_reason
from spendsense.ops import apprunner
from spendsense.ops.health import HealthResult, check_health, health_url

CURRENT = "AWSCURRENT"
PENDING = "AWSPENDING"


@dataclass(frozen=True)
class RotationResult:
    secret_arn: str
    previous_version: str | None
    new_version: str
    operation_id: str
    health: HealthResult

    def to_json(self) -> dict[str, Any]:
        return {
            "secret_arn": self.secret_arn,
            "previous_version": self.previous_version,
            "new_version": self.new_version,
            "deployment_operation_id": self.operation_id,
            "health": self.health.to_json(),
        }


def current_version(secret: dict[str, Any]) -> str | None:
    for version, stages in (secret.get("VersionIdsToStages") or {}).items():
        if CURRENT in stages:
            return str(version)
    return None


def describe_secret(client: Any, arn: str) -> dict[str, Any]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        secret: dict[str, Any] = client.describe_secret(SecretId=arn)
    except (ClientError, BotoCoreError) as exc:
        raise describe_aws_error(exc, f"describe secret {arn}") from None
    return secret


def rotate_now(
    client: Any,
    arn: str,
    *,
    timeout: float,
    poll: float = 5,
    progress: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[str | None, str]:
    """RotateSecret now and wait until the new version is AWSCURRENT; (old, new) version ids."""
    from botocore.exceptions import BotoCoreError, ClientError

    secret = describe_secret(client, arn)
    if not secret.get("RotationEnabled"):
        raise OperationFailed(
            f"secret {arn} has no rotation configured (RotationEnabled is false); "
            "`pulumi up` sets it (policy aws-secretsmanager-rotation)"
        )
    before = current_version(secret)
    check = (
        f"check `aws secretsmanager describe-secret --secret-id {arn}` (a version labelled "
        f"{PENDING} means a rotation is running)"
    )
    try:
        response = client.rotate_secret(SecretId=arn, RotateImmediately=True)
    except (ClientError, BotoCoreError) as exc:
        error = describe_aws_error(exc, f"rotate secret {arn}")
        if _outcome_unknown(exc):
            raise OperationFailed(
                f"{error} -- whether a rotation started is unknown; nothing was deployed; "
                f"{check} before running rotate-jwt again"
            ) from None
        raise type(error)(f"{error} -- nothing was rotated or deployed") from None
    new = str(response.get("VersionId") or "")
    if not new:
        raise OperationFailed(
            f"rotate secret {arn}: Secrets Manager answered no VersionId; nothing was deployed; "
            f"{check}"
        )
    deadline = clock() + timeout
    while True:
        try:
            secret = describe_secret(client, arn)
        except (SpendsenseError, KeyboardInterrupt) as exc:
            reason = failure_reason(exc)
            raise OperationFailed(
                f"{reason} -- the rotation of secret {arn} was requested (version {new}) but "
                f"not seen to finish; nothing was deployed; {check}"
            ) from None
        stages = (secret.get("VersionIdsToStages") or {}).get(new, [])
        if CURRENT in stages and PENDING not in stages:
            return before, new
        if progress is not None:
            progress(
                f"rotation of {secret.get('Name', arn)}: waiting for version {new} to be {CURRENT}"
            )
        if clock() >= deadline:
            raise OperationFailed(
                f"rotation of secret {arn} started (version {new}) but it was not {CURRENT} "
                f"within {timeout:g} s; nothing was deployed; check the rotation function's logs "
                "in CloudWatch (/aws/lambda/...)"
            )
        try:
            sleep(max(0.0, min(poll, deadline - clock())))
        except KeyboardInterrupt:
            raise OperationFailed(
                f"interrupted -- the rotation of secret {arn} was requested (version {new}) but "
                f"not seen to finish; nothing was deployed; {check}"
            ) from None


def _outcome_unknown(exc: Exception) -> bool:
    """A failure after which the request may have been applied: HTTP 5xx or a lost answer."""
    from botocore.exceptions import ClientError, EndpointConnectionError, HTTPClientError

    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return int(status) >= 500
    if isinstance(exc, EndpointConnectionError):
        return False  # never connected: the request was not sent
    return isinstance(exc, HTTPClientError)


def _operations(client: Any, service_arn: str) -> list[dict[str, Any]]:
    """The service's recent operations (ListOperations, newest first)."""
    response = apprunner.call(
        client,
        "list_operations",
        "list App Runner operations",
        ServiceArn=service_arn,
        MaxResults=20,
    )
    return [op for op in response.get("OperationSummaryList", []) if isinstance(op, dict)]


def operation_ids(client: Any, service_arn: str) -> set[str]:
    """The ids of the service's recent operations (taken before the rotation request)."""
    return {str(op.get("Id")) for op in _operations(client, service_arn)}


def rotation_deployment(client: Any, service_arn: str, known: set[str]) -> str | None:
    """The id of the first START_DEPLOYMENT operation not in `known` (the one the rotation
    function started), or None. ListOperations lists the newest first."""
    new = [
        op
        for op in _operations(client, service_arn)
        if op.get("Type") == "START_DEPLOYMENT" and str(op.get("Id")) not in known
    ]
    return str(new[-1]["Id"]) if new else None


def health_gate(
    api_url: str,
    *,
    attempts: int = 6,
    interval: float = 10,
    timeout: float = 10,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] | None = None,
) -> HealthResult:
    """`GET <api_url>/health` until healthy, at most `attempts` times; the last result."""
    url = health_url(api_url)
    result = check_health(url, timeout)
    for _ in range(attempts - 1):
        if result.healthy:
            break
        if progress is not None:
            progress(f"health {url}: {result.summary()}; checking again in {interval:g} s")
        sleep(interval)
        result = check_health(url, timeout)
    return result


def rotate_jwt(
    secrets: Any,
    apprunner_client: Any,
    *,
    secret_arn: str,
    service_arn: str,
    api_url: str,
    timeout: float,
    poll: float = 5,
    health_attempts: int = 6,
    health_interval: float = 10,
    progress: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RotationResult:
    """Rotate, deploy, gate on health; a failure says what state it left behind."""
    service = apprunner.ensure_not_busy(apprunner_client, service_arn)
    if service.get("Status") != "RUNNING":
        raise OperationFailed(
            f"service {apprunner.service_name_from_arn(service_arn)} is {service.get('Status')}, "
            "not RUNNING; nothing was rotated: a deployment cannot start until it runs again "
            "(resume it first; a resumed service starts new instances, which read the current key)"
        )
    try:
        known = operation_ids(apprunner_client, service_arn)
    except SpendsenseError as exc:
        raise type(exc)(f"{exc} -- nothing was rotated") from None
    before, new = rotate_now(
        secrets, secret_arn, timeout=timeout, poll=poll, progress=progress, sleep=sleep
    )
    state = f"the secret is rotated (version {new} is {CURRENT}, the old one is AWSPREVIOUS)"
    try:
        operation = rotation_deployment(apprunner_client, service_arn, known)
        if operation is None:
            if progress is not None:
                progress(f"secret rotated (version {new}); starting an App Runner deployment")
            operation = apprunner.start_deployment(apprunner_client, service_arn)
        elif progress is not None:
            progress(f"secret rotated (version {new}); following the deployment it started")
        apprunner.wait_for_operation(
            apprunner_client,
            service_arn,
            operation,
            timeout=timeout,
            poll=poll,
            progress=progress,
            sleep=sleep,
        )
    except (SpendsenseError, KeyboardInterrupt) as exc:
        reason = failure_reason(exc)
        raise OperationFailed(
            f"{reason} -- {state}, but the deployment did not finish, so instances may still "
            "sign with the old key; check `spendsense status` (a deployment may still be "
            "running), and if none is, run `spendsense deploy` to redeploy"
        ) from None
    try:
        health = health_gate(
            api_url,
            attempts=health_attempts,
            interval=health_interval,
            sleep=sleep,
            progress=progress,
        )
    except (SpendsenseError, KeyboardInterrupt) as exc:
        reason = failure_reason(exc)
        raise OperationFailed(
            f"{reason} -- {state} and deployed (operation {operation}), but the health check "
            "did not finish: run `spendsense health`"
        ) from None
    if not health.healthy:
        raise OperationFailed(
            f"after the deployment {health.url} is {health.summary()} -- {state} and deployed "
            f"(operation {operation}); see `spendsense logs`, and `spendsense rollback api` if "
            "the new key broke it"
        )
    return RotationResult(secret_arn, before, new, operation, health)
