"""`spendsense drill`: the monthly restore test into the empty test project."""

from __future__ import annotations

import json

import click

from spendsense.clients import storage_client
from spendsense.errors import OperationFailed
from spendsense.ops.backups import DAILY_PREFIX
from spendsense.ops.drill import DEFAULT_TEST_PROJECT, check_target, pick_export, run_drill
from spendsense.ops.progress import make_progress
from spendsense.ops.window import parse_now
from spendsense.options import json_option, outputs_option, stack_option, yes_option
from spendsense.outputs import load_outputs


@click.command()
@stack_option()
@outputs_option
@click.option(
    "--target-project",
    default=None,
    help=f"The empty test project to import into (default: the stack output "
    f"backup_test_project, else {DEFAULT_TEST_PROJECT}).",
)
@yes_option
@json_option
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=3600,
    show_default=True,
    help="Seconds to wait for the import.",
)
@click.option("--poll-interval", type=click.FloatRange(min=0), default=10, hidden=True)
def drill(
    stack: str,
    outputs_file: str | None,
    target_project: str | None,
    yes: bool,
    as_json: bool,
    timeout: float,
    poll_interval: float,
) -> None:
    """Import the newest daily export into the empty test project, compare the document
    counts per collection with the export, time it; exit 1 on any difference.

    \b
    Example:
      spendsense drill --stack production --target-project spendsense-test --yes
    """
    outputs = load_outputs(stack, outputs_file)
    bucket = outputs.require("backup_bucket")
    prefix = outputs.get("backup_prefix") or DAILY_PREFIX
    production_project = outputs.require("firestore_project")
    target = target_project or outputs.get("backup_test_project") or DEFAULT_TEST_PROJECT
    check_target(target, production_project)
    storage = storage_client(production_project)
    export = pick_export(storage, bucket, prefix)
    if not yes:
        lines = [
            f"Would import {export.path} into {target}/(default) (which must be empty)",
            "Would compare the document counts per collection with the export",
        ]
        if as_json:
            click.echo(json.dumps({"would": lines, "drilled": False}, indent=2))
        else:
            click.echo("\n".join([*lines, "Pass --yes to do it."]))
        return
    from spendsense.ops.firestore_admin import data_api, export_import_backend

    report = run_drill(
        storage=storage,
        export=export,
        backend=export_import_backend(storage, timeout=timeout, poll=poll_interval),
        data=data_api(target, "(default)"),
        now=parse_now(None),
        progress=make_progress(as_json),
    )
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo("\n".join(report.lines()))
    if not report.ok:
        different = [c.collection for c in report.verification.counts if c.status != "ok"]
        raise OperationFailed(
            f"restore drill failed: document counts differ from the export in "
            f"{', '.join(different)}"
        )
