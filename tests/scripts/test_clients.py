"""spendsense.clients: which clients botocore may retry, and how AWS errors become one line.

- App Runner mutations must reach App Runner exactly once per attempt `ops.apprunner.call`
  makes (botocore resending an UpdateService after a 5xx could apply it twice): checked with a
  real HTTP server speaking App Runner's JSON protocol on loopback.
- A request botocore rejects before sending (ParamValidationError) is bad input (exit 2) that
  names the parameter: checked against the moto server.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from spendsense.cli import main
from spendsense.clients import describe_aws_error, make_client
from spendsense.errors import BadInput
from spendsense.ops import apprunner as ops

from tests.scripts.live_api import SERVICE_ARN, op


class FakeAppRunner:
    """Answers UpdateService with HTTP 500 and ListOperations with a running UPDATE_SERVICE."""

    def __init__(self, targets: list[str]) -> None:
        self._targets = targets  # X-Amz-Target headers, as sent

    @property
    def targets(self) -> list[str]:
        """The operation names it was sent, in order."""
        return [t.rpartition(".")[2] for t in self._targets]


def _update_fails_but_runs(operation: str) -> tuple[int, dict[str, Any]]:
    if operation == "ListOperations":
        running = {
            "Id": op(31),
            "Type": "UPDATE_SERVICE",
            "Status": "IN_PROGRESS",
            "TargetArn": SERVICE_ARN,
            "StartedAt": datetime.now(UTC).timestamp(),
        }
        return 200, {"OperationSummaryList": [running]}
    return 500, {
        "__type": "InternalServiceErrorException",
        "Message": "We encountered an internal error",
    }


@pytest.fixture
def fake_apprunner(aws_json_peer: Any, monkeypatch: pytest.MonkeyPatch) -> FakeAppRunner:
    targets = aws_json_peer(_update_fails_but_runs)
    monkeypatch.setattr(ops, "RETRY_DELAYS", (0.0, 0.0, 0.0, 0.0))
    return FakeAppRunner(targets)


def test_an_update_service_answered_with_500_is_sent_once_and_its_operation_followed(
    fake_apprunner: FakeAppRunner,
) -> None:
    """With botocore's default retries the 500 would have been resent up to 5 more times."""
    client = ops.make_apprunner_client()
    operation_id = ops.update_service(
        client,
        SERVICE_ARN,
        "scale the App Runner service",
        InstanceConfiguration={"Cpu": "2 vCPU", "Memory": "4 GB"},
    )
    assert operation_id == op(31)
    assert fake_apprunner.targets == ["UpdateService", "ListOperations"]


def test_apprunner_clients_make_one_attempt_and_others_retry_adaptively(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    assert make_client("apprunner").meta.config.retries == {
        "mode": "standard",
        "total_max_attempts": 1,
    }
    # botocore counts max_attempts=6 as retries: 7 attempts in all
    assert make_client("ecr").meta.config.retries == {"mode": "adaptive", "total_max_attempts": 7}


def test_a_request_botocore_rejects_is_bad_input_naming_the_parameter(aws_env: str) -> None:
    """ECR repository names have at least 2 characters: botocore refuses before sending."""
    from botocore.exceptions import ParamValidationError

    client = make_client("ecr")
    with pytest.raises(ParamValidationError) as info:
        client.describe_images(repositoryName="x", imageIds=[{"imageTag": "v1"}])
    error = describe_aws_error(info.value, "look up tag 'v1'")
    assert isinstance(error, BadInput)
    assert str(error) == (
        "look up tag 'v1': AWS would reject request parameter repositoryName (Invalid length "
        "for parameter repositoryName, value: 1, valid min length: 2); nothing was sent; fix "
        "the option or stack output it came from"
    )


def test_deploy_with_an_invalid_repository_name_output_exits_2(
    aws_env: str, write_outputs, apprunner, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_outputs(ecr_repository_name="x")
    code = main(["deploy", "--stack", "staging", "--outputs", path, "--image-tag", "v1", "--yes"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err == (
        "error: look up tag 'v1' in ECR repository x: AWS would reject request parameter "
        "repositoryName (Invalid length for parameter repositoryName, value: 1, valid min "
        "length: 2); nothing was sent; fix the option or stack output it came from\n"
    )
    apprunner.assert_no_pending_responses()  # nothing reached App Runner


def test_an_unknown_aws_profile_is_bad_input(
    monkeypatch: pytest.MonkeyPatch, tmp_path, write_outputs, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_PROFILE", "on-call")
    assert main(["logs", "--stack", "staging", "--outputs", write_outputs()]) == 2
    assert capsys.readouterr().err == (
        "error: set up the AWS logs client: The config profile (on-call) could not be found; "
        "set AWS_PROFILE to a profile in ~/.aws/config\n"
    )


def test_a_malformed_endpoint_is_bad_input(
    aws_env: str, monkeypatch: pytest.MonkeyPatch, write_outputs, capsys
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "not a url")
    assert main(["logs", "--stack", "staging", "--outputs", write_outputs()]) == 2
    assert capsys.readouterr().err == (
        "error: AWS settings: Invalid endpoint: not a url; set AWS_ENDPOINT_URL (or "
        "AWS_ENDPOINT_URL_LOGS) to a URL such as http://127.0.0.1:5000, or unset it to use AWS\n"
    )


def test_status_shows_a_check_that_crashed_as_a_failing_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One check's unexpected error must not hide the other rows."""
    from spendsense.ops import status as ops_status

    monkeypatch.delenv("SPENDSENSE_DEBUG", raising=False)

    def crash() -> ops_status.Check:
        raise ValueError("Invalid value NaN (not a number)")

    row = ops_status._guard("service", crash)
    assert (row.state, row.detail) == (
        "failing",
        "the check itself failed (ValueError: Invalid value NaN (not a number)); run with "
        "SPENDSENSE_DEBUG=1 and report it",
    )


@pytest.fixture
def no_region_variables(aws_env: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """moto's credentials and endpoint, but no AWS_REGION/AWS_DEFAULT_REGION and an AWS config
    file of the test's own (empty unless the test writes it)."""
    config = tmp_path / "aws-config"
    config.write_text("", encoding="utf-8")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    return config


def test_the_profiles_region_comes_before_the_stack_outputs_region(
    no_region_variables: Any,
) -> None:
    """Without AWS_REGION the AWS settings still decide: the profile's region in the config
    file, not a forced us-east-1 and not the stack output."""
    no_region_variables.write_text("[default]\nregion = eu-west-1\n", encoding="utf-8")
    client = make_client("logs", fallback_region="us-west-2")
    assert client.meta.region_name == "eu-west-1"
    assert make_client("logs", "ap-south-1").meta.region_name == "ap-south-1"


def test_without_any_aws_region_setting_the_stack_output_region_is_used(
    no_region_variables: Any, aws_env: str, write_outputs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The log group lives in us-west-2 (moto keeps regions apart); with no region in the AWS
    settings, `logs` reads it there because the stack output `region` says so."""
    import boto3

    from tests.scripts.live_api import SERVICE_NAME

    group = f"/aws/apprunner/{SERVICE_NAME}/0123456789abcdef/application"
    admin = boto3.client(
        "logs",
        endpoint_url=aws_env,
        region_name="us-west-2",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    admin.create_log_group(logGroupName=group)
    admin.create_log_stream(logGroupName=group, logStreamName="instance/a")
    admin.put_log_events(
        logGroupName=group,
        logStreamName="instance/a",
        logEvents=[{"timestamp": int(datetime.now(UTC).timestamp() * 1000), "message": "west"}],
    )
    outputs = write_outputs(region="us-west-2")
    assert main(["logs", "--stack", "staging", "--outputs", outputs]) == 0
    assert capsys.readouterr().out.endswith(" instance/a west\n")
    assert make_client("logs").meta.region_name == "us-east-1"  # the last resort
