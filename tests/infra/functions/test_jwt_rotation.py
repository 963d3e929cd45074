"""The JWT rotation function (infra/functions/jwt_rotation/handler.py).

Secrets Manager is moto running as a real HTTP server; App Runner is botocore's Stubber checked
against the API model. The tests play Secrets Manager's part: stage a new AWSPENDING version,
call the handler with the four steps in order, then drop AWSPENDING as Secrets Manager does
after a successful finishSecret.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.apprunner_stub import ModelCheckedStubber, apprunner_client

pytestmark = pytest.mark.emulator


def _import_without_bytecode(name: str) -> Any:
    """Import the function's module without writing __pycache__ into the Lambda's folder.

    Pulumi packages that folder as the function's code: a stray .pyc would change it.
    """
    saved = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        return importlib.import_module(name)
    finally:
        sys.dont_write_bytecode = saved


rotation = _import_without_bytecode("infra.functions.jwt_rotation.handler")

ACCOUNT = "123456789012"
REGION = "us-east-1"
SECRET_NAME = "spendsense-api/jwt-signing-key"
SERVICE_NAME = "spendsense-api"
SERVICE_ARN = (
    f"arn:aws:apprunner:{REGION}:{ACCOUNT}:service/{SERVICE_NAME}/0123456789abcdef0123456789abcdef"
)
ENV_BY_ARN = {"APP_RUNNER_SERVICE_ARN": SERVICE_ARN}
ENV_BY_NAME = {"APP_RUNNER_SERVICE_NAME": SERVICE_NAME}
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


# ---------------------------------------------------------------------------------------------
# Secrets Manager's side of the protocol, and the App Runner stub
# ---------------------------------------------------------------------------------------------
def start_rotation(secret_arn: str) -> str:
    """What RotateSecret does before it invokes the function: a new, empty AWSPENDING version.

    moto does this only when it invokes a Lambda itself (which needs Docker), so the version is
    staged in the moto server's state directly (the server runs in this process).
    """
    from moto.secretsmanager.models import secretsmanager_backends

    token = str(uuid.uuid4())
    secret: Any = secretsmanager_backends[ACCOUNT][REGION].secrets[secret_arn]
    secret.remove_version_stages_from_old_versions(["AWSPENDING"])
    secret.versions[token] = {
        "createdate": int(time.time()),
        "version_id": token,
        "version_stages": ["AWSPENDING"],
    }
    return token


def first_awscurrent_without_remove_from(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let UpdateSecretVersionStage attach AWSCURRENT when no version holds it yet.

    Secrets Manager accepts that (there is nothing to name in RemoveFromVersionId on a secret's
    first rotation); moto 5.2 fails with an IndexError (a 500) instead.
    """
    from moto.secretsmanager.models import SecretsManagerBackend

    original = SecretsManagerBackend.update_secret_version_stage

    def update(
        self: Any,
        secret_id: str,
        version_stage: str,
        remove_from_version_id: str,
        move_to_version_id: str,
    ) -> tuple[str, str]:
        secret = self.secrets[secret_id]
        nobody_current = not any(
            version_stage in version["version_stages"] for version in secret.versions.values()
        )
        if version_stage == "AWSCURRENT" and not remove_from_version_id and nobody_current:
            secret.versions[move_to_version_id]["version_stages"].append(version_stage)
            secret.set_default_version_id(move_to_version_id)
            return secret.arn, secret.name
        return original(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)

    monkeypatch.setattr(SecretsManagerBackend, "update_secret_version_stage", update)


def op(label: str) -> str:
    """An App Runner operation id (a UUID, as the model requires) named after a label."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, label))


def event(step: str, secret_arn: str, token: str) -> dict[str, str]:
    return {"Step": step, "SecretId": secret_arn, "ClientRequestToken": token}


def service_description(status: str) -> dict[str, Any]:
    """A DescribeService answer with every member the model requires."""
    now = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
    return {
        "Service": {
            "ServiceName": SERVICE_NAME,
            "ServiceId": "0123456789abcdef0123456789abcdef",
            "ServiceArn": SERVICE_ARN,
            "CreatedAt": now,
            "UpdatedAt": now,
            "Status": status,
            "SourceConfiguration": {},
            "InstanceConfiguration": {},
            "AutoScalingConfigurationSummary": {},
            "NetworkConfiguration": {},
        }
    }


@dataclass
class Rig:
    """Clients for the handler, the App Runner stub, and what the handler slept and logged."""

    sm: Any
    stubber: ModelCheckedStubber
    clients: Any
    capsys: pytest.CaptureFixture[str]
    sleeps: list[float] = field(default_factory=list)
    captured: str = ""

    def new_secret(self, *, rotation_enabled: bool = True) -> str:
        """An empty secret, as Pulumi creates it, with the monthly schedule enabled."""
        arn = str(self.sm.create_secret(Name=SECRET_NAME)["ARN"])
        if rotation_enabled:
            # On a secret with no version yet, moto only records the schedule.
            self.sm.rotate_secret(SecretId=arn, RotationRules={"AutomaticallyAfterDays": 30})
        return arn

    def call(
        self,
        step: str,
        secret_arn: str,
        token: str,
        env: dict[str, str] | None = None,
        context: Any = None,
    ) -> None:
        rotation.handler(
            event(step, secret_arn, token),
            context,
            clients=self.clients,
            sleep=self.sleeps.append,
            env=ENV_BY_ARN if env is None else env,
        )

    def expect_deployment(self, label: str = "op-1") -> None:
        self.stubber.add_response(
            "start_deployment", {"OperationId": op(label)}, {"ServiceArn": SERVICE_ARN}
        )

    def expect_not_ready(self, status: str, code: str = "InvalidRequestException") -> None:
        self.stubber.add_client_error(
            "start_deployment",
            service_error_code=code,
            service_message="Service is not in a state that allows this operation",
            http_status_code=400,
            expected_params={"ServiceArn": SERVICE_ARN},
        )
        self.stubber.add_response(
            "describe_service", service_description(status), {"ServiceArn": SERVICE_ARN}
        )

    def rotate(self, secret_arn: str, env: dict[str, str] | None = None) -> str:
        """A whole rotation, driven like Secrets Manager drives it."""
        token = start_rotation(secret_arn)
        for step in STEPS:
            self.call(step, secret_arn, token, env)
        # Secrets Manager drops AWSPENDING once finishSecret succeeded.
        self.sm.update_secret_version_stage(
            SecretId=secret_arn, VersionStage="AWSPENDING", RemoveFromVersionId=token
        )
        return token

    def value(self, secret_arn: str, **selector: str) -> dict[str, Any]:
        response = self.sm.get_secret_value(SecretId=secret_arn, **selector)
        return dict(json.loads(response["SecretString"]))

    def stages(self, secret_arn: str) -> dict[str, list[str]]:
        return dict(self.sm.describe_secret(SecretId=secret_arn).get("VersionIdsToStages", {}))

    def log_lines(self) -> list[dict[str, Any]]:
        """Every line the handler printed so far; each must be one JSON object."""
        out = self.capsys.readouterr()
        self.captured += out.out + out.err
        return [json.loads(line) for line in self.captured.splitlines() if line.strip()]

    def keys_ever_stored(self, secret_arn: str) -> list[str]:
        """Every key any version of the secret holds (values of any shape)."""
        keys = []
        for version in self.sm.list_secret_version_ids(SecretId=secret_arn)["Versions"]:
            try:
                response = self.sm.get_secret_value(
                    SecretId=secret_arn, VersionId=version["VersionId"]
                )
            except ClientError:
                continue  # a staged version with no value yet
            try:
                value = json.loads(response["SecretString"])
            except ValueError:
                value = None
            if isinstance(value, dict):
                keys += [v for v in value.values() if isinstance(v, str) and len(v) >= 8]
        return keys


@pytest.fixture
def rig(
    aws_env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Rig]:
    first_awscurrent_without_remove_from(monkeypatch)
    sm = boto3.client("secretsmanager", region_name=REGION)
    apprunner = apprunner_client(REGION)
    stubber = ModelCheckedStubber(apprunner)
    with stubber:
        yield Rig(
            sm=sm,
            stubber=stubber,
            clients=rotation.Clients(secretsmanager=sm, apprunner=apprunner),
            capsys=capsys,
        )
        stubber.assert_no_pending_responses()


def assert_no_secret_logged(rig: Rig, secret_arn: str, *texts: str) -> None:
    rig.log_lines()
    for key in rig.keys_ever_stored(secret_arn):
        assert key not in rig.captured, "a key was written to the function's log"
        for text in texts:
            assert key not in text, "a key was put in an error message"


# ---------------------------------------------------------------------------------------------
# Whole rotations
# ---------------------------------------------------------------------------------------------
def test_first_rotation_creates_a_key_inside_aws_with_no_previous(rig: Rig) -> None:
    arn = rig.new_secret()
    rig.expect_deployment()

    token = rig.rotate(arn)

    value = rig.value(arn, VersionStage="AWSCURRENT")
    assert value["previous"] is None
    assert len(value["current"]) == 64 and value["current"].isalnum()
    assert rig.stages(arn) == {token: ["AWSCURRENT"]}
    lines = rig.log_lines()
    assert [(line["step"], line["outcome"]) for line in lines] == [
        ("createSecret", "created"),
        ("setSecret", "nothing_to_set"),
        ("testSecret", "tested"),
        ("finishSecret", "finished"),
    ]
    assert lines[0]["first_rotation"] is True
    assert lines[-1]["deployment"] == "started" and lines[-1]["operation_id"] == op("op-1")
    assert all(line["secret_id"] == arn and line["version_id"] == token for line in lines)
    assert_no_secret_logged(rig, arn)


def test_a_rotation_keeps_the_old_current_key_as_previous(rig: Rig) -> None:
    arn = rig.new_secret()
    rig.expect_deployment("op-1")
    rig.expect_deployment("op-2")

    first = rig.rotate(arn)
    first_key = rig.value(arn, VersionStage="AWSCURRENT")["current"]
    second = rig.rotate(arn)

    value = rig.value(arn, VersionStage="AWSCURRENT")
    assert value["previous"] == first_key
    assert value["current"] != first_key and len(value["current"]) == 64
    assert rig.stages(arn) == {first: ["AWSPREVIOUS"], second: ["AWSCURRENT"]}
    assert_no_secret_logged(rig, arn)


def test_a_third_rotation_drops_the_oldest_key(rig: Rig) -> None:
    """Only two keys are ever valid: a key two rotations old is no longer accepted."""
    arn = rig.new_secret()
    for operation in ("op-1", "op-2", "op-3"):
        rig.expect_deployment(operation)
    rig.rotate(arn)
    oldest = rig.value(arn, VersionStage="AWSCURRENT")["current"]
    rig.rotate(arn)
    rig.rotate(arn)

    value = rig.value(arn, VersionStage="AWSCURRENT")
    assert oldest not in (value["current"], value["previous"])


# ---------------------------------------------------------------------------------------------
# createSecret
# ---------------------------------------------------------------------------------------------
def test_create_secret_twice_for_one_token_keeps_the_first_pending_value(rig: Rig) -> None:
    """Secrets Manager may retry a step: a retried createSecret must not generate a new key."""
    arn = rig.new_secret()
    token = start_rotation(arn)

    rig.call("createSecret", arn, token)
    pending = rig.value(arn, VersionId=token, VersionStage="AWSPENDING")
    rig.call("createSecret", arn, token)

    assert rig.value(arn, VersionId=token, VersionStage="AWSPENDING") == pending
    assert [line["outcome"] for line in rig.log_lines()] == ["created", "already_pending"]


def test_create_secret_refuses_a_current_value_of_the_wrong_shape(rig: Rig) -> None:
    """A hand-written plain key as AWSCURRENT stops the rotation instead of being lost."""
    arn = rig.new_secret()
    rig.sm.put_secret_value(SecretId=arn, SecretString="a-plain-key-" + "x" * 40)
    token = start_rotation(arn)

    with pytest.raises(rotation.RotationError, match="AWSCURRENT version is not JSON") as error:
        rig.call("createSecret", arn, token)

    assert "x" * 40 not in str(error.value) and "x" * 40 not in rig.capsys.readouterr().out
    with pytest.raises(ClientError):
        rig.sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")


# ---------------------------------------------------------------------------------------------
# testSecret
# ---------------------------------------------------------------------------------------------
GOOD_KEY = "k" * 64
OLD_KEY = "o" * 64


@pytest.mark.parametrize(
    ("pending", "live", "message"),
    [
        ("not json", None, "is not JSON"),
        (json.dumps(["a", "list"]), None, "is not JSON"),
        (json.dumps({"current": "short", "previous": None}), None, "at least 32 characters"),
        (json.dumps({"current": "", "previous": None}), None, "at least 32 characters"),
        (json.dumps({"previous": None}), None, "at least 32 characters"),
        (json.dumps({"current": GOOD_KEY, "previous": 7}), None, "string or null"),
        (json.dumps({"current": GOOD_KEY, "previous": OLD_KEY}), None, "previous must be null"),
        (
            json.dumps({"current": GOOD_KEY, "previous": None}),
            OLD_KEY,
            "previous must be the AWSCURRENT version's current",
        ),
        (
            json.dumps({"current": GOOD_KEY, "previous": "z" * 64}),
            OLD_KEY,
            "previous must be the AWSCURRENT version's current",
        ),
        (
            json.dumps({"current": OLD_KEY, "previous": OLD_KEY}),
            OLD_KEY,
            "current must differ from previous",
        ),
    ],
    ids=[
        "not-json",
        "not-an-object",
        "current-too-short",
        "current-empty",
        "current-missing",
        "previous-not-a-string",
        "previous-set-on-first-rotation",
        "previous-null-on-later-rotation",
        "previous-not-the-live-key",
        "current-reused",
    ],
)
def test_test_secret_rejects_a_bad_pending_value(
    rig: Rig, pending: str, live: str | None, message: str
) -> None:
    arn = rig.new_secret()
    if live is not None:
        rig.sm.put_secret_value(
            SecretId=arn, SecretString=json.dumps({"current": live, "previous": None})
        )
    token = start_rotation(arn)
    rig.sm.put_secret_value(
        SecretId=arn, ClientRequestToken=token, SecretString=pending, VersionStages=["AWSPENDING"]
    )

    with pytest.raises(rotation.RotationError, match=message) as error:
        rig.call("testSecret", arn, token)

    [line] = rig.log_lines()
    assert (line["level"], line["step"], line["outcome"]) == ("ERROR", "testSecret", "failed")
    assert_no_secret_logged(rig, arn, str(error.value))


# ---------------------------------------------------------------------------------------------
# finishSecret and the App Runner deployment
# ---------------------------------------------------------------------------------------------
def test_finish_secret_moves_awscurrent_then_starts_one_deployment(rig: Rig) -> None:
    arn = rig.new_secret()
    rig.expect_deployment("op-1")
    old = rig.rotate(arn)
    new = start_rotation(arn)
    for step in ("createSecret", "setSecret", "testSecret"):
        rig.call(step, arn, new)
    assert rig.stages(arn) == {old: ["AWSCURRENT"], new: ["AWSPENDING"]}

    rig.expect_deployment("op-2")
    rig.call("finishSecret", arn, new)

    rig.stubber.assert_no_pending_responses()
    assert rig.stages(arn) == {old: ["AWSPREVIOUS"], new: ["AWSPENDING", "AWSCURRENT"]}
    finish = rig.log_lines()[-1]
    assert finish["outcome"] == "finished" and finish["previous_version_id"] == old
    assert (finish["service_arn"], finish["operation_id"], finish["attempts"]) == (
        SERVICE_ARN,
        op("op-2"),
        1,
    )
    assert rig.sleeps == []


@pytest.mark.parametrize("code", ["InvalidStateException", "InvalidRequestException"])
def test_a_busy_service_is_retried_with_backoff(rig: Rig, code: str) -> None:
    arn = rig.new_secret()
    rig.expect_not_ready("OPERATION_IN_PROGRESS", code)
    rig.expect_not_ready("OPERATION_IN_PROGRESS", code)
    rig.expect_deployment("op-late")

    rig.rotate(arn)

    assert rig.sleeps == [10, 20]
    lines = rig.log_lines()
    assert [line["outcome"] for line in lines if line["step"] == "finishSecret"] == [
        "deployment_busy",
        "deployment_busy",
        "finished",
    ]
    assert lines[-1]["operation_id"] == op("op-late") and lines[-1]["attempts"] == 3


def test_a_service_that_stays_busy_fails_the_rotation_loudly(rig: Rig) -> None:
    """A deployment that never starts raises (the Errors alarm fires); it is never silent."""
    arn = rig.new_secret()
    token = start_rotation(arn)
    for step in ("createSecret", "setSecret", "testSecret"):
        rig.call(step, arn, token)
    for _ in range(len(rotation.RETRY_DELAYS_SECONDS) + 1):
        rig.expect_not_ready("OPERATION_IN_PROGRESS")

    with pytest.raises(rotation.RotationError, match="still busy after 6 attempts"):
        rig.call("finishSecret", arn, token)

    assert rig.sleeps == list(rotation.RETRY_DELAYS_SECONDS)
    failed = rig.log_lines()[-1]
    assert (failed["level"], failed["outcome"]) == ("ERROR", "failed")
    assert "start one by hand" in failed["error"]
    # The new key is live already; the retry below (Secrets Manager retries the rotation)
    # must still start the deployment rather than skip the already-current version.
    assert "AWSCURRENT" in rig.stages(arn)[token]

    rig.expect_deployment("op-retry")
    for step in STEPS:
        rig.call(step, arn, token)

    outcomes = [(line["step"], line["outcome"]) for line in rig.log_lines()[-4:]]
    assert outcomes == [
        ("createSecret", "already_current"),
        ("setSecret", "already_current"),
        ("testSecret", "already_current"),
        ("finishSecret", "deployment_resumed"),
    ]


def test_no_deployment_retry_once_awspending_is_gone(rig: Rig) -> None:
    """A finished rotation (AWSPENDING dropped) called again changes nothing and deploys nothing."""
    arn = rig.new_secret()
    rig.expect_deployment()
    token = rig.rotate(arn)

    rig.call("finishSecret", arn, token)

    assert rig.log_lines()[-1]["outcome"] == "already_current"


def test_the_retry_wait_stops_before_the_lambda_timeout(rig: Rig) -> None:
    @dataclass
    class Context:
        millis: int

        def get_remaining_time_in_millis(self) -> int:
            return self.millis

    arn = rig.new_secret()
    token = start_rotation(arn)
    rig.call("createSecret", arn, token)
    rig.expect_not_ready("OPERATION_IN_PROGRESS")

    with pytest.raises(rotation.RotationError, match="about to time out"):
        rig.call("finishSecret", arn, token, context=Context(millis=15_000))
    assert rig.sleeps == []


def test_a_paused_service_is_not_redeployed(rig: Rig) -> None:
    """Resuming a paused service starts new instances, which read the new key anyway."""
    arn = rig.new_secret()
    rig.expect_not_ready("PAUSED")

    rig.rotate(arn)

    finish = rig.log_lines()[-1]
    assert (finish["deployment"], finish["reason"]) == ("skipped", "service paused")
    assert rig.sleeps == []


@pytest.mark.parametrize("status", ["CREATE_FAILED", "DELETE_FAILED", "DELETED"])
def test_a_broken_service_fails_the_rotation_without_retrying(rig: Rig, status: str) -> None:
    arn = rig.new_secret()
    token = start_rotation(arn)
    rig.call("createSecret", arn, token)
    rig.expect_not_ready(status)

    with pytest.raises(rotation.RotationError, match=f"is {status}: no deployment started"):
        rig.call("finishSecret", arn, token)
    assert rig.sleeps == []


def test_other_app_runner_errors_are_raised_at_once(rig: Rig) -> None:
    arn = rig.new_secret()
    token = start_rotation(arn)
    rig.call("createSecret", arn, token)
    rig.stubber.add_client_error(
        "start_deployment",
        service_error_code="ResourceNotFoundException",
        http_status_code=404,
        expected_params={"ServiceArn": SERVICE_ARN},
    )

    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        rig.call("finishSecret", arn, token)
    assert rig.sleeps == []
    assert "StartDeployment: ResourceNotFoundException" in rig.log_lines()[-1]["error"]


# ---------------------------------------------------------------------------------------------
# The service by name (lets the first rotation run before the service exists)
# ---------------------------------------------------------------------------------------------
def list_services_answer(*names: str) -> dict[str, Any]:
    now = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
    return {
        "ServiceSummaryList": [
            {
                "ServiceName": name,
                "ServiceId": "0123456789abcdef0123456789abcdef",
                "ServiceArn": SERVICE_ARN.replace(SERVICE_NAME, name),
                "ServiceUrl": f"{name}.awsapprunner.com",
                "CreatedAt": now,
                "UpdatedAt": now,
                "Status": "RUNNING",
            }
            for name in names
        ]
    }


def test_the_service_is_found_by_name_across_pages(rig: Rig) -> None:
    arn = rig.new_secret()
    first_page = {**list_services_answer("other-api"), "NextToken": "page-2"}
    rig.stubber.add_response("list_services", first_page, {})
    rig.stubber.add_response(
        "list_services", list_services_answer(SERVICE_NAME), {"NextToken": "page-2"}
    )
    rig.expect_deployment("op-by-name")

    rig.rotate(arn, env=ENV_BY_NAME)

    assert rig.log_lines()[-1]["service_arn"] == SERVICE_ARN


def test_the_first_rotation_before_the_service_exists_deploys_nothing(rig: Rig) -> None:
    arn = rig.new_secret()
    rig.stubber.add_response("list_services", list_services_answer("other-api"), {})

    rig.rotate(arn, env=ENV_BY_NAME)

    finish = rig.log_lines()[-1]
    assert (finish["deployment"], finish["reason"]) == (
        "skipped",
        f"no service named {SERVICE_NAME} yet",
    )
    assert rig.value(arn, VersionStage="AWSCURRENT")["previous"] is None


def test_a_later_rotation_with_no_such_service_fails(rig: Rig) -> None:
    """Past the first key, a missing service means a wrong name: never skip silently."""
    arn = rig.new_secret()
    rig.sm.put_secret_value(
        SecretId=arn, SecretString=json.dumps({"current": OLD_KEY, "previous": None})
    )
    rig.stubber.add_response("list_services", list_services_answer(), {})

    with pytest.raises(rotation.RotationError, match="no App Runner service named spendsense-api"):
        rig.rotate(arn, env=ENV_BY_NAME)


# ---------------------------------------------------------------------------------------------
# The protocol's preconditions
# ---------------------------------------------------------------------------------------------
def test_a_secret_without_rotation_enabled_is_refused(rig: Rig) -> None:
    arn = rig.new_secret(rotation_enabled=False)
    token = start_rotation(arn)

    with pytest.raises(rotation.RotationError, match="does not have rotation enabled"):
        rig.call("createSecret", arn, token)


def test_an_unknown_token_is_refused(rig: Rig) -> None:
    arn = rig.new_secret()
    start_rotation(arn)

    with pytest.raises(rotation.RotationError, match="has no stage for rotation"):
        rig.call("createSecret", arn, str(uuid.uuid4()))


def test_a_token_that_is_not_pending_is_refused(rig: Rig) -> None:
    arn = rig.new_secret()
    rig.expect_deployment("op-1")
    rig.expect_deployment("op-2")
    old = rig.rotate(arn)
    rig.rotate(arn)  # `old` is now AWSPREVIOUS only

    with pytest.raises(rotation.RotationError, match="is not AWSPENDING"):
        rig.call("createSecret", arn, old)


def test_an_already_current_token_is_left_alone(rig: Rig) -> None:
    arn = rig.new_secret()
    rig.expect_deployment()
    token = rig.rotate(arn)
    before = rig.value(arn, VersionStage="AWSCURRENT")

    rig.call("createSecret", arn, token)
    rig.call("testSecret", arn, token)

    assert rig.value(arn, VersionStage="AWSCURRENT") == before
    assert [line["outcome"] for line in rig.log_lines()[-2:]] == ["already_current"] * 2


@pytest.mark.parametrize("step", ["rotateSecret", "", "create_secret"])
def test_an_unknown_step_is_refused(rig: Rig, step: str) -> None:
    arn = rig.new_secret()
    token = start_rotation(arn)

    with pytest.raises(rotation.RotationError, match="Step must be one of createSecret"):
        rig.call(step, arn, token)


def test_without_a_service_to_redeploy_nothing_is_created(rig: Rig) -> None:
    """A missing setting fails at createSecret, before any key exists, not after the swap."""
    arn = rig.new_secret()
    token = start_rotation(arn)

    with pytest.raises(rotation.RotationError, match="APP_RUNNER_SERVICE_ARN"):
        rig.call("createSecret", arn, token, env={})
    with pytest.raises(ClientError):
        rig.sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")


def test_the_default_clients_are_built_once_per_container(
    aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Warm invocations reuse the boto3 clients (and moto's endpoint via AWS_ENDPOINT_URL)."""
    monkeypatch.setattr(rotation, "_default_clients", None)
    clients = rotation.default_clients()
    assert rotation.default_clients() is clients
    assert clients.secretsmanager.meta.endpoint_url == aws_env
    assert clients.apprunner.meta.service_model.service_name == "apprunner"
