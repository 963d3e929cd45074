"""`spendsense backup list|verify|create`: the Firestore exports in the backup bucket."""

from __future__ import annotations

import json
from datetime import datetime

import click

from spendsense.changes import PlannedChange
from spendsense.clients import storage_client
from spendsense.errors import BadInput, OperationFailed
from spendsense.ops.backups.layout import DAILY_PREFIX, Export, manual_export_prefix
from spendsense.ops.backups.listing import list_exports
from spendsense.ops.backups.retention import retention_days
from spendsense.ops.backups.verify import LIFECYCLE_SLACK_DAYS, MAX_AGE_LIMIT, verify_exports
from spendsense.ops.manual_export import create_manual_export, ensure_new_folder, parse_at
from spendsense.ops.progress import make_progress
from spendsense.ops.window import POLL_INTERVAL, TIMEOUT
from spendsense.options import json_option, outputs_option, stack_option, yes_option
from spendsense.outputs import load_outputs
from spendsense.units import human_size, parse_duration


def _row(export: Export) -> str:
    state = "complete" if export.complete else "INCOMPLETE"
    return (
        f"{export.time:%Y-%m-%d %H:%M:%S}Z  {export.kind:<6}  {state:<10}  "
        f"{human_size(export.size_bytes):>10}  {export.objects:>5} objects  {export.path}"
    )


def _now(text: str | None) -> datetime:
    from spendsense.ops.window import parse_now

    return parse_now(text)


now_option = click.option("--now", "now_text", default=None, hidden=True)


@click.group()
def backup() -> None:
    """The Firestore exports in the backup bucket (daily and manual)."""


@backup.command("list")
@stack_option()
@outputs_option
@json_option
def list_command(stack: str, outputs_file: str | None, as_json: bool) -> None:
    """The exports, newest first: time, kind, complete or not, size and object count.

    \b
    Example:
      spendsense backup list --stack production --json
    """
    outputs = load_outputs(stack, outputs_file)
    bucket = outputs.require_text("backup_bucket")
    prefix = outputs.get_text("backup_prefix") or DAILY_PREFIX
    exports = list_exports(storage_client(outputs.get_text("firestore_project")), bucket, prefix)
    if as_json:
        click.echo(
            json.dumps({"bucket": bucket, "exports": [e.to_json() for e in exports]}, indent=2)
        )
        return
    if not exports:
        click.echo(f"no exports in gs://{bucket}/{prefix} or gs://{bucket}/manual-*")
        return
    for export in exports:
        click.echo(_row(export))


@backup.command("verify")
@stack_option()
@outputs_option
@json_option
@click.option(
    "--max-age",
    default="26h",
    show_default=True,
    help="The newest daily export must be younger than this (s, m, h or d).",
)
@now_option
def verify_command(
    stack: str, outputs_file: str | None, as_json: bool, max_age: str, now_text: str | None
) -> None:
    """The runbook's daily "Verify backups completed": the newest daily export is complete
    and younger than --max-age, and none is older than the retention plus 2 days (lifecycle
    deletions run up to a day late, and an export's objects are written after the time its
    folder is named after). Exit 1 with the reasons otherwise.

    \b
    Example:
      spendsense backup verify --stack production --max-age 26h
    """
    limit = parse_duration(
        max_age, "--max-age", maximum=MAX_AGE_LIMIT, units="smhd", fractions=True, example="26h"
    )
    now = _now(now_text)
    outputs = load_outputs(stack, outputs_file)
    retention = retention_days(outputs)
    bucket = outputs.require_text("backup_bucket")
    prefix = outputs.get_text("backup_prefix") or DAILY_PREFIX
    exports = list_exports(storage_client(outputs.get_text("firestore_project")), bucket, prefix)
    result = verify_exports(exports, now=now, max_age=limit, retention_days=retention.days)
    if as_json:
        click.echo(
            json.dumps(
                {
                    **result.to_json(),
                    "retention_source": retention.source,
                    "notes": [retention.note] if retention.note else [],
                },
                indent=2,
            )
        )
    else:
        if retention.note:
            click.echo(retention.note)
        if result.ok and result.newest is not None:
            age = result.newest.age(result.checked_at).total_seconds() / 3600
            click.echo(
                f"ok: newest daily export {result.newest.path} is complete and {age:.1f} h "
                f"old; {result.daily_count} daily exports, none older than "
                f"{result.retention_days} days + {LIFECYCLE_SLACK_DAYS}"
            )
    if not result.ok:
        raise OperationFailed("backups not verified: " + "; ".join(result.problems))


@backup.command("create")
@stack_option()
@outputs_option
@click.option(
    "--at",
    "at_text",
    default=None,
    metavar="TIME",
    help="Export the database as it was at this earlier time (ISO 8601, whole minute, "
    "within the 7-day point-in-time-recovery window).",
)
@yes_option
@json_option
@click.option(
    "--timeout",
    type=TIMEOUT,
    default=3600,
    show_default=True,
    help="Seconds to wait for the export.",
)
@click.option("--poll-interval", type=POLL_INTERVAL, default=10, hidden=True)
@now_option
def create_command(
    stack: str,
    outputs_file: str | None,
    at_text: str | None,
    yes: bool,
    as_json: bool,
    timeout: float,
    poll_interval: float,
    now_text: str | None,
) -> None:
    """A manual export to gs://<bucket>/manual-YYYYMMDD_HHMMSS/ (the runbook's "Manual
    Backup"), followed until it is done, failed or cancelled.

    \b
    Examples:
      spendsense backup create --stack production --yes
      spendsense backup create --stack production --at 2026-11-27T03:15:00Z --yes
    """
    if yes and now_text is not None:
        raise BadInput(
            "--now is for rehearsing (without --yes); a real export is named after the real "
            "time: leave --now out (use --at for an export of an earlier time)"
        )
    now = _now(now_text)
    at = parse_at(at_text, now) if at_text is not None else None  # --at "" is an error
    outputs = load_outputs(stack, outputs_file)
    bucket = outputs.require_text("backup_bucket")
    project = outputs.require_text("firestore_project")
    database = outputs.get_text("firestore_database") or "(default)"
    target = f"gs://{bucket}/{manual_export_prefix(at or now)}"
    what = f"database {project}/{database}" + (f" as it was at {at:%Y-%m-%dT%H:%MZ}" if at else "")
    change = PlannedChange(
        [f"Would export {what} to {target}"],
        done_key="created",
        details={"would_export": what, "to": target},
    )
    if not change.proceed(yes, as_json=as_json):
        return
    from spendsense.ops.firestore.backends import check_emulators, export_import_backend

    storage = storage_client(project)
    ensure_new_folder(storage, bucket, at or now)  # before asking for Google credentials
    check_emulators(touches_aws=False)
    backend = export_import_backend(storage, timeout=timeout, poll=poll_interval)
    export = create_manual_export(
        backend,
        storage,
        bucket=bucket,
        project=project,
        database=database,
        now=now,
        at=at,
        progress=make_progress(as_json),
    )
    if as_json:
        click.echo(json.dumps({**export.to_json(), "created": True}, indent=2))
    else:
        click.echo(
            f"Exported {what} to {export.path} ({human_size(export.size_bytes)}, "
            f"{export.objects} objects, complete)"
        )
