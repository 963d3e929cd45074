"""The runbook's "Complete Restore": pause, silence, import, verify, resume, un-silence.

When the target is the stack's own database:
1. the App Runner service must not be busy;
2. the alarm actions of the service's alarms are disabled, so the planned pause pages nobody:
   the alarms named `<api_service_name>-*` that notify the stack's alarm topic
   (`alarm_topic_arn`), except the frontend's availability alarms (the frontend is not
   paused). A name prefix alone is not enough: production's `spendsense-api-` also prefixes
   staging's `spendsense-api-staging-*`. Only alarms whose actions were enabled are touched,
   and only those are enabled again;
3. the service is paused (no writes during the import) and the pause is followed to its end;
4. the export is imported and the import followed to its end;
5. verify: an import overwrites documents with the same path and leaves newer ones in place,
   so every collection must hold at least as many documents as the export recorded; the
   report names every collection that holds more (and top-level collections the export
   does not have);
6. unless `--keep-paused`, the service is resumed (whatever failed before) and the alarm
   actions are enabled again, except the daily availability alarms (`*-daily`): they average
   Route 53's verdict over 24 hours against 99.9 %, and the planned pause has spent that day's
   budget, so they would page as soon as their actions came back. They stay disabled, and
   the statement gives the command that enables them and the time after which to run it.

Whatever fails, the error ends with one statement of the state of the service, the alarms and
the data. A target other than the stack's own project (e.g. a scratch project) is imported
and verified without touching the service or the alarms.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from spendsense.errors import OperationFailed, SpendsenseError, one_line
from spendsense.ops import apprunner
from spendsense.ops.backups.layout import Export
from spendsense.ops.backups.listing import ExportContents
from spendsense.ops.firestore.data import DataApi
from spendsense.ops.firestore.errors import AdminOperationFailed, RequestUnanswered
from spendsense.ops.firestore.export_import import ExportImport
from spendsense.ops.import_verify import Verification, count_against
from spendsense.ops.restore_alarms import (
    DAILY_HOLD,
    enable_command,
    is_daily,
    service_alarms,
    set_alarm_actions,
)

PAUSED = "PAUSED"
RUNNING = "RUNNING"


class RestoreFailed(OperationFailed):
    """A restore that failed; `state` is what it left (for `--json`)."""

    def __init__(self, message: str, state: RestoreState) -> None:
        super().__init__(message)
        self.state = state


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
        return (
            f"service {self.service_name}: {self.service}; alarm actions: {self.alarms}; data: "
            f"{self.data}"
        )

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
    alarm_topic_arn: str,
    apprunner_client: Any = None,
    cloudwatch: Any = None,
    keep_paused: bool = False,
    timeout: float = 3600,
    poll: float = 5,
    progress: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] | None = None,
) -> RestoreReport:
    """Run the restore; raise OperationFailed ending with the state statement on any failure.

    `alarm_topic_arn` (the stack output) picks the alarms to silence when `own`; `now` is the
    wall clock (default: the window module's, which tests set) for the time after which the
    daily availability alarms may be enabled again."""
    state = RestoreState(service_name=service_name, own=own)
    report = RestoreReport(export, f"{project}/{database}", expected, None, state)
    silenced: list[str] = []
    pause_started = False
    failure: BaseException | None = None
    # Why the service stays paused at the end (None: resume it).
    keep_reason: str | None = "--keep-paused" if keep_paused else None
    operation: list[str] = []  # the import's operation name, once the server accepted it
    import_requested = import_ended = False

    def say(message: str) -> None:
        if progress is not None:
            progress(message)

    def import_started(name: str) -> None:
        operation.append(name)
        state.data = (
            f"import started (operation {name}): the database may hold part of {export.path}"
        )

    try:
        found = (
            apprunner.ensure_not_busy(apprunner_client, service_arn).get("Status") if own else None
        )
        if own and found not in (PAUSED, RUNNING):
            # e.g. CREATE_FAILED or DELETED: pausing would fail, and "resume" would be a lie.
            raise OperationFailed(
                f"service {service_name} is {found}, neither {RUNNING} nor {PAUSED}; fix the "
                "service first (`spendsense status`), or restore into a scratch project with "
                "--target-project"
            )
        if found == PAUSED:
            # Paused by someone before the restore: nothing writes, and it is not ours to
            # resume; its alarms are left as they are too.
            state.service = f"{PAUSED} before the restore, left as it was"
            state.alarms = "left as they were (the service was already paused)"
        elif own:
            state.service = f"{RUNNING} (not paused yet)"
            alarms = service_alarms(cloudwatch, service_name, alarm_topic_arn)
            silenced = [name for name, enabled in alarms if enabled]
            if silenced:
                say(f"disabling the actions of {len(silenced)} alarm(s): {', '.join(silenced)}")
                set_alarm_actions(cloudwatch, silenced, enabled=False)
                state.alarms = f"disabled on {', '.join(silenced)}"
            else:
                topic = alarm_topic_arn.rsplit(":", 1)[-1]
                state.alarms = (
                    f"none enabled among the {service_name}-* alarms that notify {topic} "
                    "(left as they were)"
                )
            say(f"pausing {service_name} so nothing writes during the import")
            pause_started = True
            pause = apprunner.pause_service(apprunner_client, service_arn)
            apprunner.wait_for_operation(
                apprunner_client,
                service_arn,
                pause,
                timeout=timeout,
                poll=poll,
                progress=progress,
                sleep=sleep,
                clock=clock,
            )
            state.service = PAUSED
        started = clock()
        import_requested = True
        backend.import_documents(
            project, database, export.path, progress=progress, on_started=import_started
        )
        import_ended = True
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
    except BaseException as exc:  # KeyboardInterrupt too: say what state things are in
        failure = exc
        if operation and not import_ended:
            name = operation[0]
            if isinstance(exc, AdminOperationFailed):
                # The operation is over: whatever it wrote stays, nothing writes any more.
                state.data = (
                    f"import operation {name} ended without success: the database may hold "
                    f"part of {export.path}; import it again"
                )
            else:
                # Timed out, interrupted, or the operation could not be read: it may still be
                # writing on the server. Resuming would let the API write into a half-imported
                # database, so the service stays paused until the operation has ended.
                keep_reason = f"import operation {name} may still be running"
                state.data = (
                    f"import operation {name} may still be running on the server: the database "
                    f"may hold part of {export.path}; follow it with "
                    f"`gcloud firestore operations describe {name}`"
                )
        elif (
            not operation
            and import_requested
            and (isinstance(exc, RequestUnanswered) or not isinstance(exc, SpendsenseError))
        ):
            # The request to start the import got no answer (lost, or Ctrl-C while it was in
            # flight) or a server error: the import may have started anyway.
            outcome = exc.outcome if isinstance(exc, RequestUnanswered) else "got no answer"
            keep_reason = f"the import request {outcome}, so an import may be running"
            state.data = (
                f"unknown: the request to import {export.path} {outcome}, so the import may "
                f"have started; check `gcloud firestore operations list --project {project}` "
                "before anything else"
            )
        elif not operation and state.data == "not touched":
            state.data = "not touched (no import was started)"
    if own:
        unfinished = _wind_down(
            state,
            apprunner_client=apprunner_client,
            cloudwatch=cloudwatch,
            service_arn=service_arn,
            silenced=silenced,
            pause_started=pause_started,
            keep_reason=keep_reason,
            timeout=timeout,
            poll=poll,
            progress=progress,
            sleep=sleep,
            clock=clock,
            now=now,
        )
        if failure is None and unfinished:
            # The data is fine, but the service or its alarms are not back: not a success.
            failure = OperationFailed(f"the import is verified, but {unfinished}")
    if failure is not None:
        reason = one_line(failure, None)
        raise RestoreFailed(f"restore failed: {reason} -- {state.statement()}", state) from None
    return report


def _wind_down(
    state: RestoreState,
    *,
    apprunner_client: Any,
    cloudwatch: Any,
    service_arn: str,
    silenced: list[str],
    pause_started: bool,
    keep_reason: str | None,
    timeout: float,
    poll: float,
    progress: Callable[[str], None] | None,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    now: Callable[[], datetime] | None = None,
) -> str:
    """Resume the service and enable the alarm actions again (unless `keep_reason` says why
    not; never the daily availability alarms, see the module's docstring), and record what
    state each is left in. Never raises: its failures go into the statement. Returns what
    could not be put back ("" when nothing or when kept on purpose)."""
    resume_hint = f"resume it with `aws apprunner resume-service --service-arn {service_arn}`"
    daily = [name for name in silenced if is_daily(name)]
    others = [name for name in silenced if not is_daily(name)]
    daily_hint = (
        f"24 h after the resume, enable {', '.join(daily)} with `{enable_command(daily)}`"
        if daily
        else ""
    )
    if others:
        alarms_hint = f"enable them with `{enable_command(others)}`" + (
            f"; {daily_hint}" if daily_hint else ""
        )
    else:
        alarms_hint = daily_hint
    resumed = False
    if pause_started:
        try:
            status = str(apprunner.describe_service(apprunner_client, service_arn).get("Status"))
        except (
            Exception,
            KeyboardInterrupt,
        ) as exc:  # never raise from here: the statement must be printed
            status = f"unknown ({one_line(exc, None)})"
        if keep_reason is not None:
            if keep_reason == "--keep-paused":
                state.service = f"{status} (--keep-paused); {resume_hint}"
            else:
                state.service = (
                    f"{status}, kept paused because {keep_reason}; when it has ended, {resume_hint}"
                )
        elif status == PAUSED:
            if progress is not None:
                progress("resuming the service")
            try:
                operation = apprunner.resume_service(apprunner_client, service_arn)
            except (Exception, KeyboardInterrupt) as exc:
                state.service = f"{PAUSED}, resume failed ({one_line(exc, None)}); {resume_hint}"
            else:
                try:
                    apprunner.wait_for_operation(
                        apprunner_client,
                        service_arn,
                        operation,
                        timeout=timeout,
                        poll=poll,
                        progress=progress,
                        sleep=sleep,
                        clock=clock,
                    )
                    state.service = RUNNING
                    resumed = True
                except (Exception, KeyboardInterrupt) as exc:
                    state.service = (
                        f"resume requested (operation {operation}) but not confirmed "
                        f"({one_line(exc, None)}); check it with `spendsense status`, and if it is "
                        f"still {PAUSED}, {resume_hint}"
                    )
        elif status == RUNNING:
            state.service = f"{RUNNING} (not paused)"
            resumed = True
        else:
            state.service = f"{status}; when it settles, {resume_hint}"
    elif state.service.startswith(RUNNING):
        state.service = RUNNING
        resumed = True
    unfinished = "" if resumed or not pause_started or keep_reason else "the service is not resumed"
    if not silenced:
        return unfinished
    if keep_reason == "--keep-paused":
        state.alarms = f"still disabled on {', '.join(silenced)} (--keep-paused); {alarms_hint}"
        return unfinished
    if not resumed:
        # Enabling the actions of a paused service's alarms would page for the pause.
        state.alarms = (
            f"still disabled on {', '.join(silenced)} because the service is not running; "
            f"after resuming it, {alarms_hint}"
        )
        return unfinished
    try:
        if others:
            set_alarm_actions(cloudwatch, others, enabled=True)
    except (Exception, KeyboardInterrupt) as exc:
        state.alarms = (
            f"still disabled on {', '.join(silenced)} ({one_line(exc, None)}); {alarms_hint}"
        )
        return "the alarm actions are not enabled again"
    state.alarms = f"enabled again on {', '.join(others)}" if others else ""
    if daily:
        try:
            after = (now or _window_now)() + DAILY_HOLD
            when = f"after {after.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        except Exception:  # never raise from here: the statement must be printed
            when = "24 h from now"
        kept = (
            f"kept disabled on {', '.join(daily)} (the pause spent the day's {_availability()} "
            f"budget of its 24-hour average, so it would page now): {when}, "
            f"run `{enable_command(daily)}`"
        )
        state.alarms = f"{state.alarms}; {kept}" if state.alarms else kept
    return unfinished


def _availability() -> str:
    """The runbook's availability target as written in `policies/limits.json` (`99.9 %`)."""
    try:
        from infra.limits import number, read_pack_limits
        from spendsense.repo import limits_file

        return f"{number(read_pack_limits(limits_file()).cloudwatch.availability_percent)} %"
    except Exception:  # never raise from here: the statement must be printed
        return "availability"


def _window_now() -> datetime:
    from spendsense.ops import window

    return window.utc_now()
