"""`spendsense rotate-jwt`: Secrets Manager (moto server), App Runner (model-checked Stubber),
and the health gate against a real local HTTP server."""

from __future__ import annotations

import json

import pytest
from botocore.stub import ANY
from spendsense.cli import main

from tests.scripts.cli2.conftest import SERVICE_ARN, operation_summary, service

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
def cli(apprunner_stub, health_server, jwt_secret, write_outputs, monkeypatch):
    monkeypatch.setattr(
        "spendsense.commands.rotate_jwt.apprunner_client", lambda: apprunner_stub.client
    )
    outputs = write_outputs("staging", jwt_secret_arn=jwt_secret, api_url=health_server.url)

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


def expect_deployment(stubber, statuses=("IN_PROGRESS", "SUCCEEDED"), earlier=()) -> None:
    """DescribeService, the look for a deployment the rotation function started (none among
    `earlier`), StartDeployment, then ListOperations answering `statuses` in turn."""
    stubber.add_response("describe_service", {"Service": service()}, {"ServiceArn": SERVICE_ARN})
    stubber.add_response(
        "list_operations",
        {"OperationSummaryList": list(earlier)},
        {"ServiceArn": SERVICE_ARN, "MaxResults": 20},
    )
    stubber.add_response(
        "start_deployment", {"OperationId": OPERATION}, {"ServiceArn": SERVICE_ARN}
    )
    for status in statuses:
        stubber.add_response(
            "list_operations",
            {"OperationSummaryList": [operation_summary(OPERATION, "START_DEPLOYMENT", status)]},
            {"ServiceArn": SERVICE_ARN, "MaxResults": ANY},
        )


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


def test_it_follows_the_deployment_the_rotation_function_started(
    cli, current, apprunner_stub, capsys
):
    """When the rotation function already started a deployment (after the rotation request),
    that one is followed and no second deployment is started (the Stubber has no
    StartDeployment response: a call would fail the test)."""
    from datetime import UTC, datetime, timedelta

    function_op = "9c1d7e2a-3b4f-4a5b-8c6d-7e8f9a0b1c2d"
    now = datetime.now(UTC)
    started = {"StartedAt": now, "UpdatedAt": now}
    old = {"StartedAt": now - timedelta(days=2), "UpdatedAt": now - timedelta(days=2)}
    apprunner_stub.add_response(
        "describe_service", {"Service": service()}, {"ServiceArn": SERVICE_ARN}
    )
    apprunner_stub.add_response(
        "list_operations",
        {
            "OperationSummaryList": [
                {**operation_summary(function_op, "START_DEPLOYMENT", "IN_PROGRESS"), **started},
                {**operation_summary(OPERATION, "START_DEPLOYMENT", "SUCCEEDED"), **old},
            ]
        },
        {"ServiceArn": SERVICE_ARN, "MaxResults": 20},
    )
    for status in ("IN_PROGRESS", "SUCCEEDED"):
        apprunner_stub.add_response(
            "list_operations",
            {
                "OperationSummaryList": [
                    {**operation_summary(function_op, "START_DEPLOYMENT", status), **started}
                ]
            },
            {"ServiceArn": SERVICE_ARN, "MaxResults": ANY},
        )
    assert cli("--yes", "--json") == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["deployment_operation_id"] == function_op
    apprunner_stub.assert_no_pending_responses()


def test_an_old_deployment_is_not_mistaken_for_the_rotation_one(cli, apprunner_stub, capsys):
    """A START_DEPLOYMENT from before the rotation request does not count: a new one starts."""
    from datetime import UTC, datetime, timedelta

    old = datetime.now(UTC) - timedelta(hours=3)
    earlier = [
        {
            **operation_summary(
                "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "START_DEPLOYMENT", "SUCCEEDED"
            ),
            "StartedAt": old,
            "UpdatedAt": old,
        }
    ]
    expect_deployment(apprunner_stub, earlier=earlier)
    assert cli("--yes", "--json") == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["deployment_operation_id"] == OPERATION
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
    secrets, apprunner_stub, health_server, write_outputs, monkeypatch, capsys
):
    """A secret with no rotation configured: exit 1 before any deployment."""
    arn = secrets.create_secret(Name="plain", SecretString="x")["ARN"]
    monkeypatch.setattr(
        "spendsense.commands.rotate_jwt.apprunner_client", lambda: apprunner_stub.client
    )
    apprunner_stub.add_response(
        "describe_service", {"Service": service()}, {"ServiceArn": SERVICE_ARN}
    )
    outputs = write_outputs("staging", jwt_secret_arn=arn, api_url=health_server.url)
    assert main(["rotate-jwt", "--stack", "staging", "--outputs", outputs, "--yes"]) == 1
    assert "has no rotation configured" in capsys.readouterr().err


def test_missing_secret_output_is_bad_input(write_outputs, capsys):
    """No jwt_secret_arn in the stack outputs: exit 2 naming the output."""
    outputs = write_outputs("staging", jwt_secret_arn="")
    assert main(["rotate-jwt", "--stack", "staging", "--outputs", outputs]) == 2
    assert capsys.readouterr().err.startswith("error: stack output 'jwt_secret_arn' is missing")
