"""`spendsense rotate-jwt`: Secrets Manager (moto server), App Runner (model-checked Stubber),
and the health gate against a real local HTTP server."""

from __future__ import annotations

import json

import pytest
from botocore.stub import ANY
from spendsense.cli import main

from tests.scripts.scripted_peers import SERVICE_ARN, operation_summary, service

OPERATION = "0b5d6a6c-6f1e-4c5b-9a0e-2f8e3b1c7d10"


@pytest.fixture
def secrets(aws_env):
    from spendsense.clients import make_client

    return make_client("secretsmanager")


@pytest.fixture
def jwt_secret(secrets):
    """A secret with rotation configured, as the stack creates it (moto)."""
    arn = secrets.create_secret(Name="spendsense/staging/jwt", SecretString="initial")["ARN"]
    secrets.rotate_secret(SecretId=arn, RotationRules={"AutomaticallyAfterDays": 30})
    return arn


@pytest.fixture
def current(secrets, jwt_secret):
    """The version id that is AWSCURRENT now."""

    def version() -> str:
        stages = secrets.describe_secret(SecretId=jwt_secret)["VersionIdsToStages"]
        return next(v for v, s in stages.items() if "AWSCURRENT" in s)

    return version


@pytest.fixture
def cli(apprunner_stub, health_server, jwt_secret, write_stack_outputs, monkeypatch):
    monkeypatch.setattr(
        "spendsense.commands.rotate_jwt.apprunner_client", lambda: apprunner_stub.client
    )
    outputs = write_stack_outputs("staging", jwt_secret_arn=jwt_secret, api_url=health_server.url)

    def run(*extra: str) -> int:
        return main(
            [
                "rotate-jwt",
                "--stack",
                "staging",
                "--outputs",
                outputs,
                "--poll-interval",
                "0",
                "--health-interval",
                "0",
                *extra,
            ]
        )

    return run


LOOK = {"ServiceArn": SERVICE_ARN, "MaxResults": 20}


def expect_look(stubber, before=(), after=None) -> None:
    """DescribeService (RUNNING), ListOperations before the rotation request (`before`) and
    after it (`after`, default the same: no new operation)."""
    stubber.add_response("describe_service", {"Service": service()}, {"ServiceArn": SERVICE_ARN})
    stubber.add_response("list_operations", {"OperationSummaryList": list(before)}, LOOK)
    listing = list(before) if after is None else list(after)
    stubber.add_response("list_operations", {"OperationSummaryList": listing}, LOOK)


def expect_follow(stubber, operation: str, statuses) -> None:
    for status in statuses:
        stubber.add_response(
            "list_operations",
            {"OperationSummaryList": [operation_summary(operation, "START_DEPLOYMENT", status)]},
            {"ServiceArn": SERVICE_ARN, "MaxResults": ANY},
        )


def expect_deployment(stubber, statuses=("IN_PROGRESS", "SUCCEEDED"), earlier=()) -> None:
    """The look (no new START_DEPLOYMENT besides `earlier`), StartDeployment, then
    ListOperations answering `statuses` in turn."""
    expect_look(stubber, earlier)
    stubber.add_response(
        "start_deployment", {"OperationId": OPERATION}, {"ServiceArn": SERVICE_ARN}
    )
    expect_follow(stubber, OPERATION, statuses)


def test_without_yes_nothing_changes(cli, jwt_secret, current, apprunner_stub, capsys):
    """Without --yes it prints the three 'Would' steps; the secret keeps its version."""
    before = current()
    assert cli() == 0
    out = capsys.readouterr().out
    assert (
        out.splitlines()[0]
        == f"Would rotate secret {jwt_secret} now (RotateSecret, RotateImmediately)"
    )
    assert "Would start an App Runner deployment of spendsense-api" in out
    assert current() == before
    apprunner_stub.assert_no_pending_responses()


def test_rotates_then_deploys_then_checks_health(
    cli, current, apprunner_stub, health_server, capsys
):
    """With --yes: a new AWSCURRENT version, a deployment followed to SUCCEEDED, /health checked."""
    before = current()
    expect_deployment(apprunner_stub)
    assert cli("--yes", "--json") == 0, capsys.readouterr().err
    data = json.loads(capsys.readouterr().out)
    assert data["previous_version"] == before
    assert data["new_version"] == current() != before
    assert data["deployment_operation_id"] == OPERATION
    assert data["health"]["healthy"] is True
    apprunner_stub.assert_no_pending_responses()
    assert [r.path for r in health_server.requests] == ["/health"]


def at(moment) -> dict:
    return {"StartedAt": moment, "UpdatedAt": moment}


def test_it_follows_the_deployment_the_rotation_function_started(
    cli, current, apprunner_stub, capsys
):
    """The rotation function started a deployment: the operation that was not listed before
    the rotation request is followed and no second deployment is started (the Stubber has no
    StartDeployment response: a call would fail the test). Its StartedAt is hours off this
    machine's clock (skew): ids decide, not clocks."""
    from datetime import UTC, datetime, timedelta

    function_op = "9c1d7e2a-3b4f-4a5b-8c6d-7e8f9a0b1c2d"
    skewed = datetime.now(UTC) - timedelta(hours=2)
    old = {**operation_summary(OPERATION, "START_DEPLOYMENT", "SUCCEEDED"), **at(skewed)}
    new = {**operation_summary(function_op, "START_DEPLOYMENT", "IN_PROGRESS"), **at(skewed)}
    expect_look(apprunner_stub, before=[old], after=[new, old])
    expect_follow(apprunner_stub, function_op, ("IN_PROGRESS", "SUCCEEDED"))
    assert cli("--yes", "--json") == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["deployment_operation_id"] == function_op
    apprunner_stub.assert_no_pending_responses()


def test_an_old_deployment_is_not_mistaken_for_the_rotation_one(cli, apprunner_stub, capsys):
    """A START_DEPLOYMENT listed before the rotation request does not count, even when its
    StartedAt reads as later than now (App Runner's clock ahead of this one): a new
    deployment is started and followed."""
    from datetime import UTC, datetime, timedelta

    ahead = datetime.now(UTC) + timedelta(hours=1)
    earlier = [
        {
            **operation_summary(
                "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "START_DEPLOYMENT", "IN_PROGRESS"
            ),
            **at(ahead),
        }
    ]
    expect_deployment(apprunner_stub, earlier=earlier)
    assert cli("--yes", "--json") == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["deployment_operation_id"] == OPERATION
    apprunner_stub.assert_no_pending_responses()


def test_of_two_new_deployments_the_first_is_followed(cli, apprunner_stub, capsys):
    """Two START_DEPLOYMENT operations appeared since the rotation request (the function's,
    then someone else's): the first one (the older; ListOperations lists the newest first)
    is the rotation's."""
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    first = "11111111-aaaa-4bbb-8ccc-000000000001"
    second = "22222222-aaaa-4bbb-8ccc-000000000002"
    expect_look(
        apprunner_stub,
        before=[],
        after=[
            {**operation_summary(second, "START_DEPLOYMENT", "IN_PROGRESS"), **at(now)},
            {
                **operation_summary(first, "START_DEPLOYMENT", "SUCCEEDED"),
                **at(now - timedelta(seconds=30)),
            },
        ],
    )
    expect_follow(apprunner_stub, first, ("SUCCEEDED",))
    assert cli("--yes", "--json") == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["deployment_operation_id"] == first
    apprunner_stub.assert_no_pending_responses()


def test_a_busy_service_stops_it_before_rotating(cli, current, apprunner_stub, capsys):
    """A service in OPERATION_IN_PROGRESS: exit 1 and the secret is not rotated."""
    before = current()
    apprunner_stub.add_response(
        "describe_service",
        {"Service": service("OPERATION_IN_PROGRESS")},
        {"ServiceArn": SERVICE_ARN},
    )
    assert cli("--yes") == 1
    assert "is in OPERATION_IN_PROGRESS" in capsys.readouterr().err
    assert current() == before


def test_a_paused_service_stops_it_before_rotating(cli, current, apprunner_stub, capsys):
    """A PAUSED service cannot be redeployed: exit 1 and the secret is not rotated."""
    before = current()
    apprunner_stub.add_response(
        "describe_service", {"Service": service("PAUSED")}, {"ServiceArn": SERVICE_ARN}
    )
    assert cli("--yes") == 1
    assert capsys.readouterr().err.startswith(
        "error: service spendsense-api is PAUSED, not RUNNING; nothing was rotated"
    )
    assert current() == before


def test_a_failed_deployment_says_the_secret_is_rotated(cli, current, apprunner_stub, capsys):
    """A deployment that rolls back: exit 1, and the message says the secret already rotated."""
    expect_deployment(apprunner_stub, statuses=("ROLLBACK_SUCCEEDED",))
    assert cli("--yes") == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    err = errors[0]
    assert "ROLLBACK_SUCCEEDED" in err
    assert f"the secret is rotated (version {current()} is AWSCURRENT" in err
    assert "run `spendsense deploy` to redeploy" in err


def test_an_unhealthy_api_after_the_deployment_fails_the_gate(
    cli, apprunner_stub, health_server, capsys
):
    """/health answering database unhealthy after the deployment: exit 1 naming the field."""
    health_server.on("GET", "/health", (503, {"status": "degraded", "database": "unhealthy"}))
    expect_deployment(apprunner_stub)
    assert cli("--yes") == 1
    err = capsys.readouterr().err
    assert "unhealthy: HTTP 503" in err
    assert f"deployed (operation {OPERATION})" in err
    assert len([r for r in health_server.requests if r.path == "/health"]) == 6


def test_a_secret_without_rotation_is_refused(
    secrets, apprunner_stub, health_server, write_stack_outputs, monkeypatch, capsys
):
    """A secret with no rotation configured: exit 1 before any deployment."""
    arn = secrets.create_secret(Name="plain", SecretString="x")["ARN"]
    monkeypatch.setattr(
        "spendsense.commands.rotate_jwt.apprunner_client", lambda: apprunner_stub.client
    )
    apprunner_stub.add_response(
        "describe_service", {"Service": service()}, {"ServiceArn": SERVICE_ARN}
    )
    apprunner_stub.add_response("list_operations", {"OperationSummaryList": []}, LOOK)
    outputs = write_stack_outputs("staging", jwt_secret_arn=arn, api_url=health_server.url)
    assert main(["rotate-jwt", "--stack", "staging", "--outputs", outputs, "--yes"]) == 1
    assert "has no rotation configured" in capsys.readouterr().err
    apprunner_stub.assert_no_pending_responses()


def test_missing_secret_output_is_bad_input(write_stack_outputs, capsys):
    """No jwt_secret_arn in the stack outputs: exit 2 naming the output."""
    outputs = write_stack_outputs("staging", jwt_secret_arn="")
    assert main(["rotate-jwt", "--stack", "staging", "--outputs", outputs]) == 2
    assert capsys.readouterr().err.startswith("error: stack output 'jwt_secret_arn' is missing")


# --- a rotation whose outcome is unknown, and Ctrl-C: the message says what state it left ------


def test_an_interrupt_during_the_deployment_says_the_secret_is_rotated(
    secrets, jwt_secret, current, apprunner_stub, health_server
):
    """Ctrl-C while the deployment is followed: OperationFailed (not a bare interrupt) saying
    the secret is rotated, the deployment did not finish, and what to check."""
    from spendsense.errors import OperationFailed
    from spendsense.ops.jwt import rotate_jwt

    expect_deployment(apprunner_stub, statuses=("IN_PROGRESS",))

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(OperationFailed) as caught:
        rotate_jwt(
            secrets,
            apprunner_stub.client,
            secret_arn=jwt_secret,
            service_arn=SERVICE_ARN,
            api_url=health_server.url,
            timeout=60,
            poll=0,
            sleep=interrupt,
        )
    assert str(caught.value) == (
        f"interrupted -- the secret is rotated (version {current()} is AWSCURRENT, the old one "
        "is AWSPREVIOUS), but the deployment did not finish, so instances may still sign with "
        "the old key; check `spendsense status` (a deployment may still be running), and if "
        "none is, run `spendsense deploy` to redeploy"
    )
    apprunner_stub.assert_no_pending_responses()


@pytest.fixture
def secrets_api(http_server):
    """A local server answering Secrets Manager's JSON protocol (X-Amz-Target), and a real
    botocore client for it that does not retry (so a 500 is seen once)."""
    import boto3
    from botocore.config import Config

    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:spendsense/jwt-AbCdEf"
    answers = {
        "secretsmanager.DescribeSecret": (
            200,
            {
                "ARN": arn,
                "Name": "spendsense/jwt",
                "RotationEnabled": True,
                "VersionIdsToStages": {"v1": ["AWSCURRENT"]},
            },
        ),
        "secretsmanager.RotateSecret": (
            500,
            {"__type": "InternalServiceError", "message": "An internal error occurred"},
        ),
    }
    http_server.on("POST", "/", lambda request: answers[request.headers["x-amz-target"]])
    client = boto3.client(
        "secretsmanager",
        endpoint_url=http_server.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )
    return client, arn, answers


def test_a_rotation_request_that_fails_with_a_5xx_says_the_outcome_is_unknown(secrets_api):
    """RotateSecret answered HTTP 500: a rotation may have started; the message says so,
    says nothing was deployed, and how to check."""
    from spendsense.errors import OperationFailed
    from spendsense.ops.jwt import rotate_now

    client, arn, _ = secrets_api
    with pytest.raises(OperationFailed) as caught:
        rotate_now(client, arn, timeout=5, poll=0, sleep=lambda s: None)
    message = str(caught.value)
    assert message.startswith(f"rotate secret {arn}: InternalServiceError")
    assert message.endswith(
        "-- whether a rotation started is unknown; nothing was deployed; check `aws "
        f"secretsmanager describe-secret --secret-id {arn}` (a version labelled AWSPENDING means "
        "a rotation is running) before running rotate-jwt again"
    )


def test_a_refused_rotation_request_says_nothing_changed(secrets_api):
    """RotateSecret refused with a 4xx (e.g. a rotation already in progress): nothing was
    rotated or deployed."""
    from spendsense.errors import OperationFailed
    from spendsense.ops.jwt import rotate_now

    client, arn, answers = secrets_api
    answers["secretsmanager.RotateSecret"] = (
        400,
        {"__type": "InvalidRequestException", "message": "A previous rotation isn't complete."},
    )
    with pytest.raises(OperationFailed) as caught:
        rotate_now(client, arn, timeout=5, poll=0, sleep=lambda s: None)
    assert str(caught.value) == (
        f"rotate secret {arn}: InvalidRequestException: A previous rotation isn't complete. "
        "-- nothing was rotated or deployed"
    )
