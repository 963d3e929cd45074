"""The program's dynamic resources against moto's server, the way the engine would run them."""

from __future__ import annotations

import boto3
import pytest

from infra.components.first_key import FirstKeyMissing, FirstKeyProvider, wait_for_current_version
from infra.components.log_retention import LogRetentionProvider

TARGET = {"region": "us-east-1", "profile": ""}


def test_first_key_waits_for_the_current_version(aws_env: str) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    arn = client.create_secret(Name="spendsense-api/jwt-signing-key")["ARN"]
    polls: list[float] = []

    def rotation_finishes_after_two_polls(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 2:  # the function's first createSecret step writes the first version
            client.put_secret_value(
                SecretId=arn, SecretString='{"current":"k1"}', VersionStages=["AWSPENDING"]
            )

    version = wait_for_current_version(
        client, arn, timeout_seconds=60, poll_seconds=0.01, sleep=rotation_finishes_after_two_polls
    )
    described = client.describe_secret(SecretId=arn)["VersionIdsToStages"]
    assert "AWSCURRENT" in described[version]
    # Secrets Manager makes a secret's first version AWSCURRENT whatever stage it was put with.
    assert len(polls) == 2, "no version at all is not a key yet"


def test_first_key_gives_up_with_the_next_step(aws_env: str) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    arn = client.create_secret(Name="spendsense-api/jwt-signing-key")["ARN"]
    ticks = iter(range(100))
    with pytest.raises(FirstKeyMissing) as caught:
        wait_for_current_version(
            client, arn, timeout_seconds=3, sleep=lambda _s: None, clock=lambda: next(ticks)
        )
    message = str(caught.value)
    assert message.startswith(f"the JWT secret {arn} has no current key 3 s after")
    assert f"aws secretsmanager rotate-secret --secret-id {arn}), then run `pulumi up` again" in (
        message
    )


def test_first_key_provider_records_the_version(aws_env: str) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    arn = client.create_secret(Name="s/jwt", SecretString='{"current":"k"}')["ARN"]
    result = FirstKeyProvider().create({"secretArn": arn, "timeoutSeconds": 5, **TARGET})
    assert result.id == arn
    assert (
        result.outs["firstVersionId"] in client.describe_secret(SecretId=arn)["VersionIdsToStages"]
    )
    provider = FirstKeyProvider()
    olds = {"secretArn": arn, **TARGET}
    assert provider.diff(arn, olds, {**olds, "timeoutSeconds": 9}).changes is False
    assert provider.diff(arn, olds, {**olds, "secretArn": arn + "x"}).replaces == ["secretArn"]


def test_log_retention_sets_retention_and_tags_on_existing_and_missing_groups(aws_env: str) -> None:
    logs = boto3.client("logs", region_name="us-east-1")
    prefix = "/aws/apprunner/spendsense-api/abc123"
    logs.create_log_group(logGroupName=f"{prefix}/application")  # App Runner made this one
    props = {
        "logGroupNames": [f"{prefix}/application", f"{prefix}/service"],
        "retentionDays": 90,
        "tags": {"Project": "spendsense", "Environment": "staging", "ManagedBy": "pulumi"},
        **TARGET,
    }
    LogRetentionProvider().create(props)
    groups = logs.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"]
    assert {g["logGroupName"]: g.get("retentionInDays") for g in groups} == {
        f"{prefix}/application": 90,
        f"{prefix}/service": 90,
    }
    for group in groups:
        tags = logs.list_tags_for_resource(resourceArn=group["arn"].removesuffix(":*"))["tags"]
        assert tags == props["tags"], group["logGroupName"]
    LogRetentionProvider().update("id", props, {**props, "retentionDays": 30})
    groups = logs.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"]
    assert {g.get("retentionInDays") for g in groups} == {30}
