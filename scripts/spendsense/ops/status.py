"""The runbook's "Check Overall System Status" as one table of checks.

frontend (HTTP 200 from the Vercel URL), API health, the App Runner service's state, the
stack's CloudWatch alarms in ALARM (those that notify its alarm topic), and the age of the
newest daily backup. A check that cannot run because of the user's input (no, expired or refused
credentials, an output missing) is a "not checked: <reason>" row, and one that fails for any
other reason is a failing row that says why, so the table always shows every part of the system.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from spendsense.clients import describe_aws_error
from spendsense.errors import BadInput, SpendsenseError, debug_enabled, one_line

OK = "ok"
FAILING = "failing"
NOT_CHECKED = "not checked"

# The daily export runs at 02:00 UTC: a day plus two hours of slack before it counts as late.
BACKUP_MAX_AGE = timedelta(hours=26)
# An incomplete newest export younger than this is taken to be running now.
BACKUP_RUNNING_FOR = timedelta(hours=1)


@dataclass(frozen=True)
class Check:
    name: str
    state: str
    detail: str
    data: dict[str, Any] = field(default_factory=dict)
    # the check could not run because of the user's input (a missing or malformed stack output,
    # missing, expired or refused credentials): the row is "not checked: <reason>", and
    # `status` exits 2 if no other row is failing (1 if one is: an outage comes first)
    bad_input: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "detail": self.detail, **self.data}


def not_checked(name: str, reason: str) -> Check:
    """A row that could not be checked because of the user's input (credentials, outputs)."""
    return Check(name, NOT_CHECKED, "not checked: " + " ".join(reason.split()), bad_input=True)


def _guard(name: str, fn: Callable[[], Check]) -> Check:
    """Run one check; whatever goes wrong becomes that row's failure, never the whole table's."""
    try:
        return fn()
    except BadInput as exc:
        return not_checked(name, str(exc))
    except SpendsenseError as exc:
        return Check(name, FAILING, " ".join(str(exc).split()))
    except Exception as exc:  # a bug or an unforeseen library error: still show the other rows
        if debug_enabled():
            raise
        detail = one_line(exc)
        return Check(
            name,
            FAILING,
            f"the check itself failed ({type(exc).__name__}: {detail}); "
            "run with SPENDSENSE_DEBUG=1 and report it",
        )


def check_frontend(url: str, timeout: float) -> Check:
    """The frontend answers HTTP 200 (following redirects), like `curl -I <frontend_url>`."""
    from spendsense.ops.health import Watchdog

    started = time.perf_counter()
    timed_out = Check("frontend", FAILING, f"{url}: no answer within {timeout:g} s")
    with Watchdog(timeout) as watchdog, watchdog.session() as session:
        try:
            response = session.get(url, timeout=timeout, allow_redirects=True, stream=True)
            response.close()
        except requests.exceptions.Timeout:
            return timed_out
        except requests.exceptions.RequestException as exc:
            if watchdog.fired.is_set():  # a server trickling its headers: the deadline hit
                return timed_out
            why = "connection refused" if "refused" in str(exc).lower() else type(exc).__name__
            return Check("frontend", FAILING, f"{url}: {why}")
        except ValueError as exc:  # urllib3's LocationParseError for a host it cannot encode
            return not_checked(
                "frontend",
                f"stack output 'frontend_url' {url!r} is not a valid URL ({type(exc).__name__}); "
                "fix the output (`spendsense outputs`)",
            )
    latency = (time.perf_counter() - started) * 1000
    data = {"url": url, "status_code": response.status_code, "latency_ms": round(latency, 1)}
    if response.status_code != 200:
        return Check("frontend", FAILING, f"{url}: HTTP {response.status_code}", data)
    return Check("frontend", OK, f"{url}: HTTP 200 ({latency:.0f} ms)", data)


def check_api(api_url: str, timeout: float) -> Check:
    from spendsense.ops.health import check_health, health_url

    result = check_health(health_url(api_url, "stack output 'api_url'"), timeout)
    data = result.to_json()
    data.pop("body", None)
    return Check(
        "api", OK if result.healthy else FAILING, f"{result.url}: {result.summary()}", data
    )


@dataclass(frozen=True)
class ServiceState:
    """What `status` shows about the service."""

    name: str
    status: str
    image: str | None
    url: str | None
    cpu: str | None
    memory: str | None


def service_state(service: dict[str, Any]) -> ServiceState:
    """The row `status` shows, from an App Runner DescribeService `Service`."""
    from spendsense.ops.apprunner import current_image

    instance = service.get("InstanceConfiguration", {})
    return ServiceState(
        name=str(service.get("ServiceName", "")),
        status=str(service.get("Status", "UNKNOWN")),
        image=current_image(service),
        url=service.get("ServiceUrl"),
        cpu=instance.get("Cpu"),
        memory=instance.get("Memory"),
    )


def check_service(client: Any, arn: str) -> Check:
    from spendsense.ops.apprunner import BUSY, describe_service

    state = service_state(describe_service(client, arn))
    data = {
        "service": state.name,
        "status": state.status,
        "image": state.image,
        "cpu": state.cpu,
        "memory": state.memory,
    }
    detail = f"{state.name} {state.status}, image {state.image or 'unknown'}"
    if state.status == "RUNNING":
        return Check("service", OK, detail, data)
    if state.status == BUSY:
        return Check("service", OK, detail + " (an operation is running)", data)
    return Check("service", FAILING, detail, data)


def alarms_in_alarm(client: Any, topic_arn: str) -> list[str]:
    """Names of the alarms (metric and composite) in ALARM that notify `topic_arn`.

    Every alarm the program creates notifies the stack's alarm topic (the `alarm_topic_arn`
    output), and no other stack's alarm does: a name prefix cannot tell production's
    `spendsense-api-*` from staging's `spendsense-api-staging-*` in the same account, and some
    of the program's alarms (EventBridge delivery failures) are not named after the service.
    """
    names: list[str] = []
    try:
        paginator = client.get_paginator("describe_alarms")
        for page in paginator.paginate(
            ActionPrefix=topic_arn,
            StateValue="ALARM",
            AlarmTypes=["MetricAlarm", "CompositeAlarm"],
        ):
            # Both filters are applied again here: ActionPrefix is a prefix (it also matches a
            # topic named `<ours>-old`), and some implementations (moto) apply only one filter.
            for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
                if alarm.get("StateValue") == "ALARM" and topic_arn in (
                    alarm.get("AlarmActions") or []
                ):
                    names.append(alarm["AlarmName"])
    except Exception as exc:
        raise describe_aws_error(exc, "list CloudWatch alarms") from None
    return sorted(set(names))


def check_alarms(client: Any, topic_arn: str) -> Check:
    names = alarms_in_alarm(client, topic_arn)
    data = {"topic": topic_arn, "in_alarm": names}
    if names:
        return Check("alarms", FAILING, f"{len(names)} in ALARM: {', '.join(names)}", data)
    topic = topic_arn.rsplit(":", 1)[-1]
    return Check("alarms", OK, f"none of the alarms that notify {topic} in ALARM", data)


def check_backup(
    make_storage_client: Callable[[], Any] | None,
    bucket: str | None,
    prefix: str,
    now: datetime | None = None,
) -> Check:
    """The newest daily export is complete and at most BACKUP_MAX_AGE old."""
    try:
        from spendsense.ops.backups.listing import newest_daily_export
    except ImportError:
        return Check("backup", NOT_CHECKED, "the backup commands are not installed")
    if not bucket:
        return Check("backup", NOT_CHECKED, "stack output 'backup_bucket' is missing")
    if make_storage_client is None:
        from spendsense.clients import storage_client

        make_storage_client = storage_client
    now = now or datetime.now(UTC)
    newest = newest_daily_export(make_storage_client(), bucket, prefix)
    if newest is None:
        return Check("backup", FAILING, f"no daily export under gs://{bucket}/{prefix}")
    age = now - newest.time
    hours = age.total_seconds() / 3600
    data = {"path": newest.path, "age_hours": round(hours, 1), "complete": newest.complete}
    detail = f"newest daily export {newest.path} is {hours:.1f} h old"
    if not newest.complete:
        if age <= BACKUP_RUNNING_FOR:
            return Check("backup", OK, detail + " (still running)", data)
        return Check("backup", FAILING, detail + " and incomplete (no export metadata)", data)
    if age > BACKUP_MAX_AGE:
        limit = BACKUP_MAX_AGE.total_seconds() / 3600
        return Check("backup", FAILING, detail + f" (older than {limit:.0f} h)", data)
    return Check("backup", OK, detail, data)


Value = str | None | Callable[[], str]


def _value(value: Value) -> str:
    """A stack output handed in as a value or as a deferred `outputs.require(...)`: a missing
    output then fails only the rows that need it (its BadInput becomes that row's reason)."""
    if callable(value):
        return value()
    if not value:
        raise BadInput("a stack output this check needs is missing")
    return value


def system_status(
    *,
    frontend_url: Value,
    api_url: Value,
    service_arn: Value,
    alarm_topic_arn: Value,
    backup_bucket: str | None,
    backup_prefix: str,
    apprunner: Callable[[], Any],
    cloudwatch: Callable[[], Any],
    storage: Callable[[], Any] | None = None,
    timeout: float = 10.0,
    now: datetime | None = None,
    usage: Callable[[], Check] | None = None,
) -> list[Check]:
    """Every check, in the runbook's order, then today's Firestore usage (`usage`,
    ops/firestore_usage.py) when given; none raises."""
    checks = [
        _guard("frontend", lambda: check_frontend(_value(frontend_url), timeout)),
        _guard("api", lambda: check_api(_value(api_url), timeout)),
        _guard("service", lambda: check_service(apprunner(), _value(service_arn))),
        _guard("alarms", lambda: check_alarms(cloudwatch(), _value(alarm_topic_arn))),
        _guard("backup", lambda: check_backup(storage, backup_bucket, backup_prefix, now)),
    ]
    if usage is not None:
        checks.append(_guard("usage", usage))
    return checks
