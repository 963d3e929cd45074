"""`spendsense drill`: the monthly restore test into the empty test project."""

from __future__ import annotations

import json
from typing import Any

import click

from spendsense.changes import PlannedChange
from spendsense.clients import storage_client
from spendsense.errors import OperationFailed, SpendsenseError
from spendsense.ops.backups.layout import DAILY_PREFIX
from spendsense.ops.drill import (
    DEFAULT_TEST_PROJECT,
    check_target,
    clean_command,
    empty_test_database,
    pick_export,
    run_drill,
)
from spendsense.ops.firestore.backends import check_emulators
from spendsense.ops.progress import make_progress
from spendsense.ops.stack_projects import stack_projects
from spendsense.ops.window import POLL_INTERVAL, TIMEOUT, parse_now
from spendsense.options import json_option, outputs_option, stack_option, yes_option
from spendsense.outputs import load_outputs


@click.command()
@stack_option()
@outputs_option
@click.option(
    "--target-project",
    default=None,
    help=f"The empty test project to import into (default: the stack output "
    f"backup_test_project, else {DEFAULT_TEST_PROJECT}); never a stack's own project.",
)
@click.option(
    "--keep-data",
    is_flag=True,
    help="Leave the imported documents in the test project after a passing drill.",
)
@click.option(
    "--clean",
    is_flag=True,
    help="Only empty the test project (delete every document in it), e.g. after a failed drill.",
)
@yes_option
@json_option
@click.option(
    "--timeout",
    type=TIMEOUT,
    default=3600,
    show_default=True,
    help="Seconds to wait for the import.",
)
@click.option("--poll-interval", type=POLL_INTERVAL, default=10, hidden=True)
def drill(
    stack: str,
    outputs_file: str | None,
    target_project: str | None,
    keep_data: bool,
    clean: bool,
    yes: bool,
    as_json: bool,
    timeout: float,
    poll_interval: float,
) -> None:
    """Import the newest daily export into the empty test project, compare the document
    counts per collection with the export, time it; exit 1 on any difference. After a
    passing drill the imported documents are deleted again (unless --keep-data), so next
    month's drill finds the test project empty.

    \b
    Examples:
      spendsense drill --stack production --target-project spendsense-test --yes
      spendsense drill --stack production --target-project spendsense-test --clean --yes
    """
    outputs = load_outputs(stack, outputs_file)
    own_project = outputs.require_text("firestore_project")
    # An empty --target-project (an unset variable) is an error, not "the default".
    target = (
        target_project
        if target_project is not None
        else outputs.get_text("backup_test_project") or DEFAULT_TEST_PROJECT
    )
    stacks = stack_projects()
    stacks.setdefault(own_project, stack)
    check_target(target, own_project, stacks)
    cleaning = clean_command(stack, target)
    if clean:
        _clean(target, stacks, yes=yes, as_json=as_json)
        return
    bucket = outputs.require_text("backup_bucket")
    prefix = outputs.get_text("backup_prefix") or DAILY_PREFIX
    storage = storage_client(own_project)
    export = pick_export(storage, bucket, prefix)
    change = PlannedChange(
        [
            f"Would import {export.path} into {target}/(default) (which must be empty)",
            "Would compare the document counts per collection with the export",
            f"Would keep the imported documents in {target}/(default) (--keep-data); "
            f"empty it later with `{cleaning}`"
            if keep_data
            else f"Would delete the imported documents from {target}/(default) after a passing "
            f"drill (after a failing one they stay for inspection; `{cleaning}` empties it)",
        ],
        done_key="drilled",
    )
    if not change.proceed(yes, as_json=as_json):
        return
    from spendsense.ops.firestore.backends import data_api, export_import_backend

    check_emulators(touches_aws=False)
    progress = make_progress(as_json)
    data = data_api(target, "(default)")
    report = run_drill(
        storage=storage,
        export=export,
        backend=export_import_backend(storage, timeout=timeout, poll=poll_interval),
        data=data,
        now=parse_now(None),
        progress=progress,
        clean_hint=cleaning,
    )
    cleanup: dict[str, Any]
    cleanup_error: SpendsenseError | None = None
    if report.ok and not keep_data:
        try:
            deleted = empty_test_database(data, forbidden=stacks, progress=progress)
            cleanup = {"emptied": True, "deleted": deleted}
            cleanup_line = (
                f"Emptied {target}/(default) again: deleted the {deleted} imported documents."
            )
        except SpendsenseError as exc:  # a refusal (exit 2) too: the report is printed first
            cleanup_error = exc
            cleanup = {"emptied": False, "error": str(exc), "clean_command": cleaning}
            cleanup_line = f"Could not empty {target}/(default): {exc}; run `{cleaning}`."
    else:
        why = "--keep-data" if report.ok else "kept for inspection: the drill failed"
        cleanup = {"emptied": False, "kept": why, "clean_command": cleaning}
        cleanup_line = (
            f"The imported documents stay in {target}/(default) ({why}); "
            f"empty it before the next drill with `{cleaning}`."
        )
    if as_json:
        click.echo(json.dumps({**report.to_json(), "cleanup": cleanup}, indent=2))
    else:
        click.echo("\n".join([*report.lines(), cleanup_line]))
    if not report.ok:
        different = [c.collection for c in report.verification.counts if c.status != "ok"]
        raise OperationFailed(
            f"restore drill failed: document counts differ from the export in "
            f"{', '.join(different)}; the imported documents stay in {target}/(default): "
            f"`{cleaning}` empties it"
        )
    if cleanup_error is not None:
        raise OperationFailed(
            f"restore drill passed, but {target}/(default) could not be emptied "
            f"({cleanup_error}); run `{cleaning}` before the next drill"
        )


def _clean(target: str, stacks: dict[str, str], *, yes: bool, as_json: bool) -> None:
    """--clean: empty the test project (only a project of no stack: check_target ran)."""
    line = f"Would delete every document in {target}/(default) (the drill's test project)"
    if not PlannedChange([line], done_key="emptied").proceed(yes, as_json=as_json):
        return
    from spendsense.ops.firestore.backends import data_api

    check_emulators(touches_aws=False)
    deleted = empty_test_database(
        data_api(target, "(default)"), forbidden=stacks, progress=make_progress(as_json)
    )
    if as_json:
        click.echo(
            json.dumps({"target": f"{target}/(default)", "emptied": True, "deleted": deleted})
        )
    else:
        click.echo(f"Emptied {target}/(default): deleted {deleted} documents.")
