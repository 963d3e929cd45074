"""Secrets Manager rotation function for the API's JWT signing key (Lambda entry: handler.handler).

The secret's value is JSON `{"current": "<key>", "previous": "<key or null>"}`. The API signs
with `current` and accepts `previous` too, so tokens signed just before a rotation stay valid.

Secrets Manager calls this function four times per rotation with the same `ClientRequestToken`
(the id of the new version, which it has already labelled AWSPENDING):

- createSecret: a new 64-character key generated inside AWS (GetRandomPassword) is stored as
  AWSPENDING with the old `current` as `previous` (null on the very first rotation).
- setSecret: nothing to do: the key lives nowhere else; the API reads it from this secret.
- testSecret: the pending value is well formed and its `previous` is the live `current`.
- finishSecret: AWSCURRENT moves to the new version, then an App Runner deployment starts,
  because App Runner reads secrets only when an instance starts: without it, instances started
  later (scale-out) would sign with a key the older instances do not accept yet.

Any failure raises, so Secrets Manager reports the rotation failed and the function's Errors
alarm fires. Each invocation logs one JSON line (plus one per deployment retry); no secret value
is ever logged or put in an exception message.

Configuration (environment):
- `APP_RUNNER_SERVICE_ARN`: the service to redeploy; or
- `APP_RUNNER_SERVICE_NAME`: its name, looked up at finishSecret (ListServices). With a name,
  the function needs nothing from the service, so the first rotation can run before the service
  exists (it then has nothing to redeploy). The ARN wins when both are set.

Standard library and boto3 only: this file is the whole Lambda package (python3.12).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

AWSCURRENT = "AWSCURRENT"
AWSPENDING = "AWSPENDING"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")

KEY_LENGTH = 64
MIN_KEY_LENGTH = 32

# App Runner refuses a deployment while another operation (a deploy, a config update) runs.
# Waits between attempts; the total (270 s) fits the function's 300 s timeout, and the
# remaining-time check below gives up cleanly if a shorter timeout is configured.
RETRY_DELAYS_SECONDS: tuple[float, ...] = (10, 20, 40, 80, 120)
TIMEOUT_MARGIN_SECONDS = 10.0

# Codes App Runner may answer StartDeployment with when the service is not ready for it;
# DescribeService then tells a busy service from a paused or broken one.
NOT_READY_CODES = frozenset({"InvalidStateException", "InvalidRequestException"})

LOGGER_NAME = "jwt-rotation"


class RotationError(Exception):
    """The rotation cannot go on. The message names what is wrong, never a secret value."""


@dataclass
class Clients:
    """The AWS clients the function uses; tests pass their own."""

    secretsmanager: Any
    apprunner: Any


@dataclass(frozen=True)
class Target:
    """The App Runner service to redeploy: by ARN, or by name (resolved when needed)."""

    service_arn: str | None
    service_name: str | None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Target:
        env = dict(os.environ) if env is None else env
        arn = env.get("APP_RUNNER_SERVICE_ARN", "").strip() or None
        name = env.get("APP_RUNNER_SERVICE_NAME", "").strip() or None
        if arn is None and name is None:
            raise RotationError(
                "APP_RUNNER_SERVICE_ARN (or APP_RUNNER_SERVICE_NAME) is not set: the function "
                "must know which App Runner service to redeploy after a rotation"
            )
        return cls(service_arn=arn, service_name=name)


_default_clients: Clients | None = None


def default_clients() -> Clients:
    """boto3 clients, created once per Lambda container and reused by warm invocations."""
    global _default_clients
    if _default_clients is None:
        _default_clients = Clients(
            secretsmanager=boto3.client("secretsmanager"), apprunner=boto3.client("apprunner")
        )
    return _default_clients


def log(level: str, step: str, secret_id: str, token: str, outcome: str, **fields: Any) -> None:
    """One JSON line on stdout (CloudWatch Logs keeps it as one event)."""
    record = {
        "logger": LOGGER_NAME,
        "level": level,
        "step": step,
        "secret_id": secret_id,
        "version_id": token,
        "outcome": outcome,
        **fields,
    }
    print(json.dumps(record, sort_keys=True, default=str), file=sys.stdout, flush=True)


def handler(
    event: dict[str, Any],
    context: Any,
    *,
    clients: Clients | None = None,
    sleep: Callable[[float], None] = time.sleep,
    env: dict[str, str] | None = None,
) -> None:
    """Lambda entry point. Raises on any failure so the rotation is reported as failed."""
    step = str(event.get("Step", ""))
    secret_id = str(event.get("SecretId", ""))
    token = str(event.get("ClientRequestToken", ""))
    time_left = _time_left(context)
    try:
        if step not in STEPS:
            raise RotationError(f"Step must be one of {', '.join(STEPS)} (got {step!r})")
        if not secret_id or not token:
            raise RotationError("the event must have SecretId and ClientRequestToken")
        target = Target.from_env(env)
        rotate(step, secret_id, token, clients or default_clients(), target, sleep, time_left)
    except Exception as error:
        # Messages here are built without secret values (RotationError, botocore errors).
        log("ERROR", step, secret_id, token, "failed", error=_describe(error))
        raise


def rotate(
    step: str,
    secret_id: str,
    token: str,
    clients: Clients,
    target: Target,
    sleep: Callable[[float], None],
    time_left: Callable[[], float] | None = None,
) -> None:
    """Run one step of the rotation protocol for version `token` of the secret."""
    sm = clients.secretsmanager
    metadata = sm.describe_secret(SecretId=secret_id)
    if not metadata.get("RotationEnabled"):
        raise RotationError(f"secret {secret_id} does not have rotation enabled")
    versions: dict[str, list[str]] = metadata.get("VersionIdsToStages", {})
    if token not in versions:
        raise RotationError(f"version {token} of secret {secret_id} has no stage for rotation")
    stages = versions[token]
    current_version = next((v for v, s in versions.items() if AWSCURRENT in s), None)

    if AWSCURRENT in stages:
        if step == "finishSecret" and AWSPENDING in stages:
            # An earlier finishSecret moved AWSCURRENT but did not start the deployment
            # (Secrets Manager retries the whole rotation): start it now, or instances would
            # keep the old key beside new ones holding the new key.
            value = sm.get_secret_value(SecretId=secret_id, VersionId=token)
            first = parse_value(value.get("SecretString"), f"version {token}")["previous"] is None
            deployment = redeploy(
                clients.apprunner,
                target,
                step,
                secret_id,
                token,
                sleep,
                time_left,
                first_rotation=first,
            )
            log("INFO", step, secret_id, token, "deployment_resumed", **deployment)
            return
        log("INFO", step, secret_id, token, "already_current")
        return
    if AWSPENDING not in stages:
        raise RotationError(
            f"version {token} of secret {secret_id} is not AWSPENDING (stages: {sorted(stages)})"
        )

    if step == "createSecret":
        create_secret(sm, secret_id, token)
    elif step == "setSecret":
        # The key is used nowhere but in this secret: the API reads it from here.
        log("INFO", step, secret_id, token, "nothing_to_set")
    elif step == "testSecret":
        test_secret(sm, secret_id, token)
    else:
        finish_secret(clients, target, secret_id, token, current_version, sleep, time_left)


def create_secret(sm: Any, secret_id: str, token: str) -> None:
    """Store `{"current": <new key>, "previous": <live current or null>}` as AWSPENDING."""
    try:
        sm.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage=AWSPENDING)
    except ClientError as error:
        if _code(error) != "ResourceNotFoundException":
            raise
    else:
        log("INFO", "createSecret", secret_id, token, "already_pending")
        return
    previous = live_key(sm, secret_id)
    new_key = sm.get_random_password(PasswordLength=KEY_LENGTH, ExcludePunctuation=True)[
        "RandomPassword"
    ]
    sm.put_secret_value(
        SecretId=secret_id,
        ClientRequestToken=token,
        SecretString=json.dumps({"current": new_key, "previous": previous}),
        VersionStages=[AWSPENDING],
    )
    log(
        "INFO",
        "createSecret",
        secret_id,
        token,
        "created",
        first_rotation=previous is None,
        key_length=len(new_key),
    )


def test_secret(sm: Any, secret_id: str, token: str) -> None:
    """The pending value is well formed and keeps the live key as `previous`."""
    response = sm.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage=AWSPENDING)
    pending = parse_value(response.get("SecretString"), f"the AWSPENDING version {token}")
    live = live_key(sm, secret_id)
    if pending["previous"] != live:
        expected = "null (first rotation)" if live is None else "the AWSCURRENT version's current"
        raise RotationError(
            f"the AWSPENDING version {token} of secret {secret_id}: previous must be {expected}"
        )
    if pending["current"] == pending["previous"]:
        raise RotationError(
            f"the AWSPENDING version {token} of secret {secret_id}: current must differ from "
            "previous"
        )
    log("INFO", "testSecret", secret_id, token, "tested", first_rotation=live is None)


def finish_secret(
    clients: Clients,
    target: Target,
    secret_id: str,
    token: str,
    current_version: str | None,
    sleep: Callable[[float], None],
    time_left: Callable[[], float] | None,
) -> None:
    """Make the new version AWSCURRENT, then redeploy the API so every instance reads it."""
    stage_move: dict[str, Any] = {
        "SecretId": secret_id,
        "VersionStage": AWSCURRENT,
        "MoveToVersionId": token,
    }
    if current_version is not None:
        stage_move["RemoveFromVersionId"] = current_version
    clients.secretsmanager.update_secret_version_stage(**stage_move)
    deployment = redeploy(
        clients.apprunner,
        target,
        "finishSecret",
        secret_id,
        token,
        sleep,
        time_left,
        first_rotation=current_version is None,
    )
    log(
        "INFO",
        "finishSecret",
        secret_id,
        token,
        "finished",
        previous_version_id=current_version,
        **deployment,
    )


def redeploy(
    apprunner: Any,
    target: Target,
    step: str,
    secret_id: str,
    token: str,
    sleep: Callable[[float], None],
    time_left: Callable[[], float] | None,
    *,
    first_rotation: bool = False,
) -> dict[str, Any]:
    """Start a deployment of the API; retry while the service is busy, then raise.

    Returns what to log: the service ARN and operation id, or why no deployment was needed.
    """
    service_arn = target.service_arn or find_service(apprunner, target.service_name or "")
    if service_arn is None:
        if first_rotation:
            # The first key is created before the service exists: nothing runs yet.
            return {
                "deployment": "skipped",
                "reason": f"no service named {target.service_name} yet",
            }
        raise RotationError(
            f"no App Runner service named {target.service_name}: the API was not redeployed; "
            "fix APP_RUNNER_SERVICE_NAME"
        )
    attempts = len(RETRY_DELAYS_SECONDS) + 1
    for attempt in range(1, attempts + 1):
        try:
            response = apprunner.start_deployment(ServiceArn=service_arn)
        except ClientError as error:
            if _code(error) not in NOT_READY_CODES:
                raise
        else:
            return {
                "deployment": "started",
                "service_arn": service_arn,
                "operation_id": response["OperationId"],
                "attempts": attempt,
            }
        status = apprunner.describe_service(ServiceArn=service_arn)["Service"]["Status"]
        if status == "PAUSED":
            # Resuming starts new instances, which read the new key: no split is possible.
            return {"deployment": "skipped", "reason": "service paused", "service_arn": service_arn}
        if status not in ("OPERATION_IN_PROGRESS", "RUNNING"):
            raise RotationError(
                f"App Runner service {service_arn} is {status}: no deployment started; the new "
                "key is AWSCURRENT but running instances still hold the old one"
            )
        if attempt == attempts:
            break
        delay = RETRY_DELAYS_SECONDS[attempt - 1]
        if time_left is not None and time_left() < delay + TIMEOUT_MARGIN_SECONDS:
            raise RotationError(
                f"App Runner service {service_arn} still busy ({status}) after {attempt} "
                "attempts and the function is about to time out; start a deployment by hand"
            )
        log(
            "WARNING",
            step,
            secret_id,
            token,
            "deployment_busy",
            service_arn=service_arn,
            service_status=status,
            attempt=attempt,
            retry_in_seconds=delay,
        )
        sleep(delay)
    raise RotationError(
        f"App Runner service {service_arn} still busy after {attempts} attempts over "
        f"{sum(RETRY_DELAYS_SECONDS):g} s: no deployment started; start one by hand "
        "(docs/jwt-rotation.md)"
    )


def find_service(apprunner: Any, name: str) -> str | None:
    """The ARN of the live App Runner service with this name, or None."""
    kwargs: dict[str, Any] = {}
    while True:
        page = apprunner.list_services(**kwargs)
        for summary in page.get("ServiceSummaryList", []):
            if summary.get("ServiceName") == name and summary.get("Status") != "DELETED":
                return str(summary["ServiceArn"])
        if not page.get("NextToken"):
            return None
        kwargs["NextToken"] = page["NextToken"]


def live_key(sm: Any, secret_id: str) -> str | None:
    """The `current` key of the AWSCURRENT version, or None if the secret has no value yet."""
    try:
        response = sm.get_secret_value(SecretId=secret_id, VersionStage=AWSCURRENT)
    except ClientError as error:
        if _code(error) == "ResourceNotFoundException":
            return None
        raise
    return parse_value(response.get("SecretString"), "the AWSCURRENT version")["current"]


def parse_value(text: str | None, what: str) -> dict[str, Any]:
    """Check a value's shape: `current` a key of 32+ characters, `previous` a key or null."""
    shape = '{"current": "<key>", "previous": "<key or null>"}'
    try:
        value = json.loads(text) if text is not None else None
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise RotationError(f"{what} is not JSON {shape}")
    current = value.get("current")
    previous = value.get("previous")
    if not isinstance(current, str) or len(current) < MIN_KEY_LENGTH:
        raise RotationError(
            f"{what}: current must be a string of at least {MIN_KEY_LENGTH} characters"
        )
    if previous is not None and not isinstance(previous, str):
        raise RotationError(f"{what}: previous must be a string or null")
    return {"current": current, "previous": previous}


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _describe(error: Exception) -> str:
    if isinstance(error, ClientError):
        operation = getattr(error, "operation_name", "?")
        return f"{operation}: {_code(error)}: {error.response.get('Error', {}).get('Message', '')}"
    if isinstance(error, RotationError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def _time_left(context: Any) -> Callable[[], float] | None:
    """Seconds left before the Lambda timeout, when running in Lambda."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return lambda: float(remaining()) / 1000.0
