"""The runbook's "Complete Restore": pause, silence, import, verify, resume, un-silence.

When the target is the stack's own database:
1. the App Runner service must not be busy;
2. the alarm actions of the service's alarms (`<api_service_name>-*`) are disabled, so the
   planned pause pages nobody (only alarms whose actions were enabled are touched, and only
   those are enabled again);
3. the service is paused (no writes during the import) and the pause is followed to its end;
4. the export is imported and the import followed to its end;
5. verify: an import overwrites documents with the same path and leaves newer ones in place,
   so every collection must hold at least as many documents as the export recorded; the
   report names every collection that holds more (and top-level collections the export
   does not have);
6. unless `--keep-paused`, the service is resumed (whatever failed before) and the alarm
   actions are enabled again.

Whatever fails, the error ends with one statement of the state of the service, the alarms and
the data. A target other than the stack's own project (e.g. a scratch project) is imported
and verified without touching the service or the alarms.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from spendsense.clients import describe_aws_error
from spendsense.errors import OperationFailed
from spendsense.ops import apprunner
from spendsense.ops.backups import Export, ExportContents
from spendsense.ops.firestore_admin import AdminTimedOut, DataApi, ExportImport

PAUSED = "PAUSED"
RUNNING = "RUNNING"


# --- verification -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CollectionCount:
    collection: str
    expected: int  # documents in the export (0 for a collection the export does not have)
    actual: int

    @property
    def status(self) -> str:
        if self.actual < self.expected:
            return "missing"
        return "more" if self.actual > self.expected else "ok"

    def to_json(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "expected": self.expected,
            "actual": self.actual,
            "status": self.status,
        }


@dataclass(frozen=True)
class Verification:
    counts: list[CollectionCount]

    @property
    def ok(self) -> bool:
        """Every collection holds at least what the export recorded."""
        return all(c.actual >= c.expected for c in self.counts)

    @property
    def exact(self) -> bool:
        """Every collection holds exactly what the export recorded (a drill's rule)."""
        return all(c.actual == c.expected for c in self.counts)

    @property
    def short(self) -> list[CollectionCount]:
        return [c for c in self.counts if c.status == "missing"]

    @property
    def more(self) -> list[CollectionCount]:
        return [c for c in self.counts if c.status == "more"]

    def to_json(self) -> list[dict[str, Any]]:
        return [c.to_json() for c in self.counts]

    def describe_short(self) -> str:
        return ", ".join(f"{c.collection} has {c.actual} of {c.expected}" for c in self.short)

    def describe_more(self) -> str:
        return ", ".join(f"{c.collection} ({c.actual} > {c.expected})" for c in self.more)


def count_against(expected: dict[str, int], data: DataApi) -> Verification:
    """Count the database per collection id and compare with what the export recorded.

    Collections in the export are counted as collection groups (any depth); top-level
    collections the export does not have are counted too and show as holding more.
    """
    extra = [cid for cid in data.collection_ids() if cid not in expected]
    actual = data.counts([*expected, *extra])
    return Verification(
        [
            CollectionCount(cid, expected.get(cid, 0), actual.get(cid, 0))
            for cid in sorted(set(expected) | set(extra))
        ]
    )


# --- alarms ----------------------------------------------------------------------------------


def service_alarms(cloudwatch: Any, service_name: str) -> list[tuple[str, bool]]:
    """(name, actions enabled) of every alarm named `<service_name>-*`."""
    from botocore.exceptions import BotoCoreError, ClientError

    found: list[tuple[str, bool]] = []
    try:
        paginator = cloudwatch.get_paginator("describe_alarms")
        for page in paginator.paginate(
            AlarmNamePrefix=f"{service_name}-", AlarmTypes=["MetricAlarm", "CompositeAlarm"]
        ):
            for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                found.append((alarm["AlarmName"], bool(alarm.get("ActionsEnabled"))))
    except (ClientError, BotoCoreError) as exc:
        raise describe_aws_error(exc, f"list the alarms of {service_name}") from None
    return sorted(found)


def _set_alarm_actions(cloudwatch: Any, names: list[str], enabled: bool) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    method = cloudwatch.enable_alarm_actions if enabled else cloudwatch.disable_alarm_actions
    doing = ("enable" if enabled else "disable") + " alarm actions"
    try:
        for start in range(0, len(names), 100):  # the API takes at most 100 names per call
            method(AlarmNames=names[start : start + 100])
    except (ClientError, BotoCoreError) as exc:
        raise describe_aws_error(exc, doing) from None


# --- the restore -----------------------------------------------------------------------------


@dataclass
class RestoreState:
    """What the restore has done so far, for the closing statement."""

    service_name: str
    own: bool
    service: str = "not touched"
    alarms: str = "not touched"
    data: str = "not touched"

    def statement(self) -> str:
        return f"service {self.service_name}: {self.service}; alarm actions: {self.alarms}; data: {self.data}"

    def to_json(self) -> dict[str, str]:
        return {"service": self.service, "alarms": self.alarms, "data": self.data}


@dataclass
class RestoreReport:
    export: Export
    target: str
    expected: ExportContents
    verification: Verification | None
    state: RestoreState
    seconds: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.export.path,
            "target": self.target,
            "verified": bool(self.verification and self.verification.ok),
            "collections": self.verification.to_json() if self.verification else [],
            "more_than_export": [c.collection for c in self.verification.more]
            if self.verification
            else [],
            "state": self.state.to_json(),
            "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
        }


def restore(
    *,
    export: Export,
    expected: ExportContents,
    backend: ExportImport,
    data: DataApi,
    project: str,
    database: str,
    own: bool,
    service_arn: str,
    service_name: str,
    apprunner_client: Any = None,
    cloudwatch: Any = None,
    keep_paused: bool = False,
    timeout: float = 3600,
    poll: float = 5,
    progress: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> RestoreReport:
    """Run the restore; raise OperationFailed ending with the state statement on any failure."""
    state = RestoreState(service_name=service_name, own=own)
    report = RestoreReport(export, f"{project}/{database}", expected, None, state)
    silenced: list[str] = []
    pause_started = False
    failure: BaseException | None = None

    def say(message: str) -> None:
        if progress is not None:
            progress(message)

    try:
        found = (
            apprunner.ensure_not_busy(apprunner_client, service_arn).get("Status") if own else None
        )
        if found == PAUSED:
            # Paused by someone before the restore: nothing writes, and it is not ours to
            # resume; its alarms are left as they are too.
            state.service = f"{PAUSED} before the restore, left as it was"
            state.alarms = "left as they were (the service was already paused)"
        elif own:
            state.service = f"{RUNNING} (not paused yet)"
            alarms = service_alarms(cloudwatch, service_name)
            silenced = [name for name, enabled in alarms if enabled]
            if silenced:
                say(f"disabling the actions of {len(silenced)} alarm(s): {', '.join(silenced)}")
                _set_alarm_actions(cloudwatch, silenced, enabled=False)
                state.alarms = f"disabled on {', '.join(silenced)}"
            else:
                state.alarms = f"none enabled on {service_name}-* alarms (left as they were)"
            say(f"pausing {service_name} so nothing writes during the import")
            pause_started = True
            operation = apprunner.pause_service(apprunner_client, service_arn)
            apprunner.wait_for_operation(
                apprunner_client,
                service_arn,
                operation,
                timeout=timeout,
                poll=poll,
                progress=progress,
                sleep=sleep,
            )
            state.service = PAUSED
        state.data = f"import of {export.path} started: the database may hold part of it"
        started = clock()
        backend.import_documents(project, database, export.path, progress=progress)
        report.seconds["import"] = clock() - started
        state.data = f"imported from {export.path}, not verified yet"
        started = clock()
        report.verification = count_against(expected.counts, data)
        report.seconds["verify"] = clock() - started
        if report.verification.ok:
            more = report.verification.describe_more()
            state.data = f"imported from {export.path} and verified" + (
                f" (holds more than the export: {more})" if more else ""
            )
        else:
            state.data = (
                f"imported from {export.path} but NOT verified: "
                f"{report.verification.describe_short()}"
            )
            failure = OperationFailed("verification failed")
    except BaseException as exc:  # KeyboardInterrupt too: the service must not stay paused
        failure = exc
        if isinstance(exc, AdminTimedOut):
            # The import goes on writing on the server: resuming now would let the API write
            # into a half-imported database. Stay paused until the operation has ended.
            keep_paused = True
            state.data += "; the import operation is still RUNNING on the server"
    if own:
        _wind_down(
            state,
            apprunner_client=apprunner_client,
            cloudwatch=cloudwatch,
            service_arn=service_arn,
            silenced=silenced,
            pause_started=pause_started,
            keep_paused=keep_paused,
            timeout=timeout,
            poll=poll,
            progress=progress,
            sleep=sleep,
        )
    if failure is not None:
        reason = str(failure) or type(failure).__name__
        raise OperationFailed(f"restore failed: {reason} -- {state.statement()}") from None
    return report


def _wind_down(
    state: RestoreState,
    *,
    apprunner_client: Any,
    cloudwatch: Any,
    service_arn: str,
    silenced: list[str],
    pause_started: bool,
    keep_paused: bool,
    timeout: float,
    poll: float,
    progress: Callable[[str], None] | None,
    sleep: Callable[[float], None],
) -> None:
    """Resume the service and enable the alarm actions again (unless --keep-paused), and
    record what state each is left in. Never raises: its failures go into the statement."""
    resume_hint = f"resume it with `aws apprunner resume-service --service-arn {service_arn}`"
    alarms_hint = (
        f"enable them with `aws cloudwatch enable-alarm-actions --alarm-names {' '.join(silenced)}`"
    )
    resumed = False
    if pause_started:
        try:
            status = str(apprunner.describe_service(apprunner_client, service_arn).get("Status"))
        except OperationFailed as exc:
            status = f"unknown ({exc})"
        if keep_paused:
            state.service = f"{status} (--keep-paused); {resume_hint}"
        elif status == PAUSED:
            try:
                if progress is not None:
                    progress("resuming the service")
                operation = apprunner.resume_service(apprunner_client, service_arn)
                apprunner.wait_for_operation(
                    apprunner_client,
                    service_arn,
                    operation,
                    timeout=timeout,
                    poll=poll,
                    progress=progress,
                    sleep=sleep,
                )
                state.service = RUNNING
                resumed = True
            except OperationFailed as exc:
                state.service = f"{PAUSED}, resume failed ({exc}); {resume_hint}"
        elif status == RUNNING:
            state.service = f"{RUNNING} (the pause did not take)"
            resumed = True
        else:
            state.service = f"{status}; when it settles, {resume_hint}"
    elif state.service.startswith(RUNNING):
        state.service = RUNNING
        resumed = True
    if not silenced:
        return
    if keep_paused:
        state.alarms = f"still disabled on {', '.join(silenced)} (--keep-paused); {alarms_hint}"
        return
    if not resumed:
        # Enabling the actions of a paused service's alarms would page for the pause.
        state.alarms = (
            f"still disabled on {', '.join(silenced)} because the service is not running; "
            f"after resuming it, {alarms_hint}"
        )
        return
    try:
        _set_alarm_actions(cloudwatch, silenced, enabled=True)
        state.alarms = f"enabled again on {', '.join(silenced)}"
    except OperationFailed as exc:
        state.alarms = f"still disabled on {', '.join(silenced)} ({exc}); {alarms_hint}"
