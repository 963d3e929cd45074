"""`spendsense window`: is now inside the maintenance window, and when does the next start."""

from __future__ import annotations

import json

import click

from spendsense.ops.window import describe_status, load_window, parse_now, window_status
from spendsense.options import json_option


@click.command()
@json_option
@click.option(
    "--now",
    "now_text",
    default=None,
    metavar="TIME",
    help="Judge this ISO 8601 time (with offset) instead of the current time.",
)
def window(as_json: bool, now_text: str | None) -> None:
    """Whether now is inside the maintenance window, and when the next one starts. The window
    is `maintenanceWindow` in runbook.json (weekday, start, end, time zone); the output quotes it.

    \b
    Example:
      spendsense window --json
    """
    status = window_status(load_window(), parse_now(now_text))
    if as_json:
        click.echo(json.dumps(status.to_json(), indent=2, sort_keys=True))
    else:
        click.echo(describe_status(status))
