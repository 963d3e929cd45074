"""`spendsense restore`: the runbook's "Complete Restore" from an export in the backup bucket."""

from __future__ import annotations

import json
from typing import Any

import click

from spendsense.changes import PlannedChange
from spendsense.clients import make_client, storage_client
from spendsense.errors import BadInput
from spendsense.identifiers import export_path
from spendsense.ops.apprunner import service_name_from_arn
from spendsense.ops.backups.layout import parse_export_path
from spendsense.ops.backups.listing import export_counts, find_export
from spendsense.ops.firestore.backends import check_emulators
from spendsense.ops.progress import make_progress
from spendsense.ops.restore_guards import restore_target, window_refusal
from spendsense.ops.window import (
    POLL_INTERVAL,
    TIMEOUT,
    parse_now,
)
from spendsense.options import json_option, outputs_option, stack_option, yes_option
from spendsense.outputs import load_outputs


def apprunner_client() -> Any:
    """The App Runner client (a seam: tests put the model-checked Stubber here)."""
    return make_client("apprunner")


@click.command()
@stack_option()
@outputs_option
@click.option(
    "--from",
    "source",
    required=True,
    metavar="PATH",
    help="The export: gs://<bucket>/daily/YYYYMMDD_HHMMSS/ or .../manual-YYYYMMDD_HHMMSS/.",
)
@click.option(
    "--target-project",
    default=None,
    help="Import into this project instead of the stack's own (no pause, no alarms touched); "
    "refused if it is another stack's project.",
)
@click.option(
    "--keep-paused",
    is_flag=True,
    help="Leave the service paused and its alarm actions off at the end (e.g. to inspect).",
)
@click.option("--force", is_flag=True, help="Restore production outside the maintenance window.")
@yes_option
@json_option
@click.option(
    "--timeout",
    type=TIMEOUT,
    default=3600,
    show_default=True,
    help="Seconds to wait for each of the pause, the import and the resume.",
)
@click.option("--poll-interval", type=POLL_INTERVAL, default=10, hidden=True)
@click.option("--now", "now_text", default=None, hidden=True)
def restore(
    stack: str,
    outputs_file: str | None,
    source: str,
    target_project: str | None,
    keep_paused: bool,
    force: bool,
    yes: bool,
    as_json: bool,
    timeout: float,
    poll_interval: float,
    now_text: str | None,
) -> None:
    """Import an export: pause the API and silence its alarms, import, verify every
    collection, resume and un-silence. Ends by stating the service, alarms and data.
    In production outside the maintenance window it refuses without --force.

    \b
    Example:
      spendsense restore --stack production --from daily/20261124_020000 --yes
    """
    if yes and now_text is not None:
        # The window guard of a real restore is judged on the real clock: a pretend time
        # must not let a production restore through outside the window.
        raise BadInput(
            "--now is for rehearsing the plan (without --yes); a restore with --yes is judged "
            "on the real clock: leave --now out (or pass --force outside the window)"
        )
    now = parse_now(now_text)
    # The shape of --from before the outputs (which may run `pulumi stack output`) or any
    # credentials are asked for; whether its bucket is the stack's is judged below.
    export_path(source, "--from")
    outputs = load_outputs(stack, outputs_file)
    bucket = outputs.require_text("backup_bucket")
    own_project = outputs.require_text("firestore_project")
    project = restore_target(stack, own_project, target_project, outputs.source)
    own = project == own_project
    parse_export_path(bucket, source)  # a path that cannot be an export: exit 2 before any call
    database = (outputs.get_text("firestore_database") or "(default)") if own else "(default)"
    service_arn = outputs.require_text("api_service_arn") if own else ""
    topic_arn = outputs.require_text("alarm_topic_arn") if own else ""
    service_name = outputs.get_text("api_service_name") or (
        service_name_from_arn(service_arn) if service_arn else "-"
    )
    production = outputs.get("environment", stack) == "production"
    guarded = own and production and not force
    refusal = window_refusal(project, now) if guarded else None
    storage = storage_client(own_project)
    export = find_export(storage, bucket, source)
    steps = []
    if own:
        steps += [
            f"Would disable the alarm actions of the {service_name}-* alarms that notify "
            f"{topic_arn.rsplit(':', 1)[-1]} (not the frontend's availability alarms)",
            f"Would pause App Runner service {service_name}",
        ]
    steps.append(f"Would import {export.path} into {project}/{database}")
    steps.append("Would verify every collection holds at least the export's documents")
    if own:
        steps.append(
            f"Would keep {service_name} paused and its alarm actions off (--keep-paused)"
            if keep_paused
            else f"Would resume {service_name} and enable the alarm actions again (the daily "
            "availability alarms 24 h later: the pause spends their day's budget)"
        )
    preview = [*steps, f"Would refuse: {refusal}"] if refusal else steps
    if not PlannedChange(preview, done_key="restored").proceed(yes, as_json=as_json):
        return
    if refusal:
        raise BadInput(refusal)

    from spendsense.ops.firestore.backends import data_api, export_import_backend
    from spendsense.ops.restore import RestoreFailed
    from spendsense.ops.restore import restore as run_restore

    progress = make_progress(as_json)
    progress(f"reading what {export.path} holds")
    expected = export_counts(storage, export)
    check_emulators(touches_aws=own)  # before anything is changed
    if guarded:
        # Reading the export can take a while: judge the window again just before the pause.
        late = window_refusal(project, parse_now(None))
        if late:
            raise BadInput(f"{late} (the window ended while {export.path} was read)")
    try:
        report = run_restore(
            export=export,
            expected=expected,
            backend=export_import_backend(storage, timeout=timeout, poll=poll_interval),
            data=data_api(project, database),
            project=project,
            database=database,
            own=own,
            service_arn=service_arn,
            service_name=service_name,
            alarm_topic_arn=topic_arn,
            apprunner_client=apprunner_client() if own else None,
            cloudwatch=make_client("cloudwatch") if own else None,
            keep_paused=keep_paused,
            timeout=timeout,
            poll=poll_interval,
            progress=progress,
        )
    except RestoreFailed as exc:
        if as_json:  # the state as data too; the error line still goes to stderr
            failed = {"from": export.path, "target": f"{project}/{database}", "restored": False}
            click.echo(json.dumps({**failed, "state": exc.state.to_json()}, indent=2))
        raise
    if as_json:
        click.echo(json.dumps({**report.to_json(), "restored": True}, indent=2))
        return
    verification = report.verification
    assert verification is not None
    click.echo(f"Restored {export.path} into {project}/{database}; every collection verified:")
    for count in verification.counts:
        note = " (holds more than the export)" if count.status == "more" else ""
        click.echo(f"  {count.collection}: {count.actual} (export {count.expected}){note}")
    click.echo(report.state.statement())
