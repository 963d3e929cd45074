"""App Runner operations: describe, point at an image, follow an operation, pause and resume.

App Runner reports some failed deployments only through ``ListOperations`` (the operation
ends as ``ROLLBACK_SUCCEEDED`` while the service is ``RUNNING`` again), so every change is
followed there until it ends. Every App Runner error becomes one line: a service that is busy
(``InvalidStateException``), throttling that outlived the retries, missing credentials.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from spendsense.clients import describe_aws_error
from spendsense.errors import Interrupted, OperationFailed, SpendsenseError

# The retry policy of every App Runner call. The client makes one attempt per call (see
# spendsense.clients.CALLER_RETRIED), and `call` decides what may be sent again:
# - throttling, and a connection that never reached App Runner: any call, after these delays;
# - a 5xx answer or a connection lost mid-request: reads only. A mutation in that state may
#   have been applied, so it is looked up in ListOperations and followed if it started; it is
#   resent at most once, and an InvalidStateException to the resend is looked up again.
RETRY_DELAYS: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)
THROTTLING_CODES = frozenset({"ThrottlingException", "TooManyRequestsException", "Throttling"})
READ_PREFIXES = ("describe_", "list_", "get_")
# Mutations App Runner follows with an operation of this type (ListOperations' `Type`).
OPERATION_TYPES = {
    "update_service": "UPDATE_SERVICE",
    "start_deployment": "START_DEPLOYMENT",
    "pause_service": "PAUSE_SERVICE",
    "resume_service": "RESUME_SERVICE",
    "delete_service": "DELETE_SERVICE",
}
# How much earlier than our own clock an operation we started may be stamped by App Runner.
CLOCK_SLACK = timedelta(seconds=60)

SUCCEEDED = "SUCCEEDED"
FAILED_STATUSES = frozenset({"FAILED", "ROLLBACK_SUCCEEDED", "ROLLBACK_FAILED"})
BUSY = "OPERATION_IN_PROGRESS"


class OperationEnded(OperationFailed):
    """An App Runner operation ended in a failure (FAILED or ROLLBACK_*)."""

    def __init__(self, message: str, *, operation_id: str, status: str) -> None:
        super().__init__(message)
        self.operation_id = operation_id
        self.status = status


class OperationTimedOut(OperationFailed):
    """An App Runner operation did not end within the timeout."""

    def __init__(self, message: str, *, operation_id: str, status: str | None) -> None:
        super().__init__(message)
        self.operation_id = operation_id
        self.status = status


def make_apprunner_client(fallback_region: str | None = None) -> Any:
    """The App Runner client every command uses: the one seam tests replace with a Stubber.
    `fallback_region` (the stack output `region`) applies when the AWS settings name none."""
    from spendsense.clients import make_client

    return make_client("apprunner", fallback_region=fallback_region)


def service_name_from_arn(arn: str) -> str:
    """`arn:aws:apprunner:...:service/<name>/<id>` -> `<name>` (the ARN itself if unusual)."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[5].startswith("service/"):
        return parts[5].split("/")[1]
    return arn


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _status_code(exc: Exception) -> int:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return 0


def started_operation(
    client: Any, service_arn: str, kind: str, since: datetime
) -> dict[str, Any] | None:
    """The newest operation of type `kind` on the service that App Runner started at or after
    `since` (less CLOCK_SLACK), or None: "did the mutation we sent take effect?"."""
    response = call(
        client,
        "list_operations",
        "list App Runner operations",
        ServiceArn=service_arn,
        MaxResults=20,
    )
    for summary in response.get("OperationSummaryList", []):
        started = summary.get("StartedAt")
        if (
            summary.get("Type") == kind
            and isinstance(started, datetime)
            and started >= since - CLOCK_SLACK
        ):
            found: dict[str, Any] = summary
            return found
    return None


def call(
    client: Any,
    method: str,
    doing: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] | None = None,
    **params: Any,
) -> dict[str, Any]:
    """Call `client.<method>(**params)` under the retry policy above; one-line errors.

    For a mutation whose outcome is unknown (5xx, connection lost) and whose operation is
    found in ListOperations, the answer is ``{"OperationId": <that operation>}``.
    """
    from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as NotConnected

    delays = list(RETRY_DELAYS)
    is_read = method.startswith(READ_PREFIXES)
    kind = OPERATION_TYPES.get(method)
    arn = str(params.get("ServiceArn", ""))
    name = service_name_from_arn(arn) if arn else "the service"
    unknown: str | None = None  # what went wrong with an earlier attempt that may have applied
    first_sent: datetime | None = None

    def recovered(why: str) -> dict[str, Any] | None:
        """The operation an earlier attempt started, if ListOperations shows one."""
        if kind is None or not arn or first_sent is None:
            return None
        summary = started_operation(client, arn, kind, first_sent)
        if summary is None:
            return None
        if progress is not None:
            progress(
                f"{doing}: App Runner answered {why}, but {kind} operation {summary['Id']} "
                "did start; following it"
            )
        return {"OperationId": summary["Id"], "Recovered": why}

    def outcome_unknown(why: str) -> dict[str, Any] | None:
        """After a 5xx/lost connection on a mutation: the operation if it started, or None to
        resend once; raises if it was already resent."""
        nonlocal unknown
        found = recovered(why)
        if found is not None:
            return found
        if unknown is None and kind is not None and delays:
            unknown = why
            sleep(delays.pop(0))
            return None
        earlier = f" (and before that {unknown})" if unknown and unknown != why else ""
        if kind is None:
            raise OperationFailed(
                f"{doing}: App Runner answered {why}; whether it took effect is unknown, so it "
                "was not sent again; check the service (`spendsense status`) and retry"
            )
        raise OperationFailed(
            f"{doing}: App Runner answered {why}{earlier}, and ListOperations shows no {kind} "
            "operation since; the change was probably not made: check `spendsense status` "
            "and retry"
        )

    while True:
        sent = datetime.now(UTC)
        try:
            response: dict[str, Any] = getattr(client, method)(**params)
            return response
        except ClientError as exc:
            code = _error_code(exc)
            status = _status_code(exc)
            if code in THROTTLING_CODES and delays:
                sleep(delays.pop(0))  # a throttled request was not applied: safe to resend
                continue
            if status >= 500:
                if is_read:
                    if delays:
                        sleep(delays.pop(0))
                        continue
                else:
                    first_sent = first_sent or sent
                    answer = outcome_unknown(f"HTTP {status} {code}".strip())
                    if answer is not None:
                        return answer
                    continue
            if code == "InvalidStateException":
                if unknown is not None:
                    # Our earlier attempt may be the operation that makes the service busy.
                    found = recovered(f"{unknown}, then InvalidStateException")
                    if found is not None:
                        return found
                message = exc.response.get("Error", {}).get("Message", "")
                raise OperationFailed(
                    f"{doing}: App Runner refused because service {name} is busy or in the wrong "
                    f"state ({message or code}); wait for it (`spendsense status`) and retry"
                ) from None
            if code == "ResourceNotFoundException":
                raise OperationFailed(
                    f"{doing}: App Runner has no such resource ({arn}); "
                    "check the stack output api_service_arn (`spendsense outputs`)"
                ) from None
            raise describe_aws_error(exc, doing) from None
        except NotConnected as exc:
            if delays:  # the request never reached App Runner: safe to resend
                sleep(delays.pop(0))
                continue
            raise describe_aws_error(exc, doing) from None
        except HTTPClientError as exc:  # read timeout, connection closed mid-request
            if is_read:
                if delays:
                    sleep(delays.pop(0))
                    continue
                raise describe_aws_error(exc, doing) from None
            first_sent = first_sent or sent
            answer = outcome_unknown(f"no complete answer ({type(exc).__name__})")
            if answer is not None:
                return answer
        except BotoCoreError as exc:
            raise describe_aws_error(exc, doing) from None


def describe_service(client: Any, arn: str) -> dict[str, Any]:
    """The `Service` structure of DescribeService."""
    response = call(client, "describe_service", "describe the App Runner service", ServiceArn=arn)
    service: dict[str, Any] = response["Service"]
    return service


def current_image(service: dict[str, Any]) -> str | None:
    """The image identifier (`<repo url>:<tag>`) the service runs, or None for a code source."""
    image = service.get("SourceConfiguration", {}).get("ImageRepository", {})
    identifier = image.get("ImageIdentifier")
    return str(identifier) if identifier else None


def ensure_not_busy(client: Any, arn: str) -> dict[str, Any]:
    """Raise OperationFailed if the service is in OPERATION_IN_PROGRESS; return the service."""
    service = describe_service(client, arn)
    if service.get("Status") == BUSY:
        name = service.get("ServiceName") or service_name_from_arn(arn)
        raise OperationFailed(
            f"service {name} is in {BUSY}; wait for it (`spendsense status`) and retry"
        )
    return service


def start_deployment(client: Any, arn: str, progress: Callable[[str], None] | None = None) -> str:
    """StartDeployment (redeploy the image the service points at); the operation id."""
    response = call(
        client,
        "start_deployment",
        "start an App Runner deployment",
        progress=progress,
        ServiceArn=arn,
    )
    return str(response["OperationId"])


def pause_service(client: Any, arn: str, progress: Callable[[str], None] | None = None) -> str:
    """PauseService; the operation id."""
    response = call(
        client, "pause_service", "pause the App Runner service", progress=progress, ServiceArn=arn
    )
    return str(response["OperationId"])


def resume_service(client: Any, arn: str, progress: Callable[[str], None] | None = None) -> str:
    """ResumeService; the operation id."""
    response = call(
        client,
        "resume_service",
        "resume the App Runner service",
        progress=progress,
        ServiceArn=arn,
    )
    return str(response["OperationId"])


def image_source_configuration(service: dict[str, Any], image: str) -> dict[str, Any]:
    """The service's source configuration with only the image identifier changed.

    UpdateService replaces the whole image repository block, so the port, environment and
    start command are carried over from DescribeService rather than dropped.
    """
    source = service.get("SourceConfiguration", {})
    repository = dict(source.get("ImageRepository") or {})
    repository["ImageIdentifier"] = image
    repository.setdefault("ImageRepositoryType", "ECR")
    new: dict[str, Any] = {"ImageRepository": repository}
    for key in ("AutoDeploymentsEnabled", "AuthenticationConfiguration"):
        if key in source:
            new[key] = source[key]
    return new


def update_image(
    client: Any,
    service: dict[str, Any],
    image: str,
    progress: Callable[[str], None] | None = None,
) -> str:
    """Point the service at `image` through UpdateService; the operation id."""
    response = call(
        client,
        "update_service",
        f"point the App Runner service at {image}",
        progress=progress,
        ServiceArn=service["ServiceArn"],
        SourceConfiguration=image_source_configuration(service, image),
    )
    return str(response["OperationId"])


def update_service(
    client: Any,
    arn: str,
    doing: str,
    progress: Callable[[str], None] | None = None,
    **changes: Any,
) -> str:
    """UpdateService with the given fields (InstanceConfiguration, AutoScalingConfigurationArn)."""
    response = call(client, "update_service", doing, progress=progress, ServiceArn=arn, **changes)
    return str(response["OperationId"])


def find_operation(client: Any, service_arn: str, operation_id: str) -> dict[str, Any] | None:
    """The operation's summary from ListOperations (newest first), or None if not listed."""
    params: dict[str, Any] = {"ServiceArn": service_arn, "MaxResults": 20}
    for _ in range(5):  # the operation we started is among the newest; don't walk all history
        response = call(client, "list_operations", "list App Runner operations", **params)
        for summary in response.get("OperationSummaryList", []):
            if summary.get("Id") == operation_id:
                found: dict[str, Any] = summary
                return found
        token = response.get("NextToken")
        if not token:
            return None
        params["NextToken"] = token
    return None


def wait_for_operation(
    client: Any,
    service_arn: str,
    operation_id: str,
    *,
    timeout: float,
    poll: float = 5,
    progress: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Follow an operation through ListOperations until it ends; return its final status.

    Raises OperationEnded on FAILED / ROLLBACK_SUCCEEDED / ROLLBACK_FAILED (App Runner's way
    of saying the change did not take) and OperationTimedOut after `timeout` seconds.
    """
    name = service_name_from_arn(service_arn)
    deadline = clock() + timeout
    status: str | None = None
    while True:
        summary = find_operation(client, service_arn, operation_id)
        status = str(summary.get("Status")) if summary else None
        kind = str(summary.get("Type", "operation")) if summary else "operation"
        if progress is not None:
            progress(f"{kind} {operation_id} on {name}: {status or 'not listed yet'}")
        if status == SUCCEEDED:
            return status
        if status in FAILED_STATUSES:
            what = {
                "FAILED": "failed",
                "ROLLBACK_SUCCEEDED": "failed and App Runner rolled the service back",
                "ROLLBACK_FAILED": "failed and App Runner's own rollback failed too",
            }[status]
            raise OperationEnded(
                f"App Runner {kind} {operation_id} on {name} {what} ({status}); "
                "see `spendsense logs` for the reason",
                operation_id=operation_id,
                status=status,
            )
        if clock() >= deadline:
            raise OperationTimedOut(
                f"App Runner operation {operation_id} on {name} did not end within {timeout:g} s "
                f"(last status {status or 'not listed'}); follow it with `spendsense status` "
                "and do not start another change until it ends",
                operation_id=operation_id,
                status=status,
            )
        sleep(max(0.0, min(poll, deadline - clock())))


def follow_or_explain(
    client: Any,
    service_arn: str,
    operation_id: str,
    what: str,
    *,
    consequence: str = "nothing was rolled back",
    **wait: Any,
) -> str:
    """wait_for_operation, but Ctrl-C (exit 130) or a failure to read ListOperations says
    which operation goes on without us.

    Any failure to read ListOperations is exit 1 (OperationFailed), even one that would be
    bad input before anything changed (credentials that expired or were refused mid-way): the
    change was made, so what matters is that it may still be running. `consequence` says what
    that leaves undone (by default "nothing was rolled back"; a rollback says its own).
    """
    try:
        return wait_for_operation(client, service_arn, operation_id, **wait)
    except (OperationEnded, OperationTimedOut, Interrupted):
        raise
    except SpendsenseError as exc:  # ListOperations itself failed: the operation may go on
        raise OperationFailed(
            f"lost track of App Runner operation {operation_id} ({what}) on "
            f"{service_name_from_arn(service_arn)}: {exc}; it may still be running and "
            f"{consequence}: follow it with `spendsense status`"
        ) from None
    except KeyboardInterrupt:
        name = service_name_from_arn(service_arn)
        raise Interrupted(
            f"interrupted while following App Runner operation {operation_id} ({what}) on "
            f"{name}; App Runner goes on with it and {consequence}: follow it with "
            "`spendsense status` and check `spendsense health` when it ends"
        ) from None
