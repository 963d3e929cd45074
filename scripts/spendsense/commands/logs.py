"""`spendsense logs`: the API's application logs (the runbook's tail, last hour, ERROR search)."""

from __future__ import annotations

import json

import click

from spendsense.ops.logs import LIMIT_MAX
from spendsense.options import POLL_MAX, Seconds, json_option, outputs_option, stack_option


@click.command("logs")
@stack_option()
@outputs_option
@click.option("--since", default="1h", show_default=True, help="How far back: 30m, 1h, 2d, ...")
@click.option(
    "--filter", "pattern", default=None, help="CloudWatch Logs filter pattern, e.g. ERROR."
)
@click.option("--follow", is_flag=True, help="Keep printing new events (Ctrl-C to stop).")
@click.option(
    "--limit",
    type=click.IntRange(min=1, max=LIMIT_MAX),
    default=None,
    help=f"Only the newest N events of the window (at most {LIMIT_MAX:,}).",
)
@json_option
@click.option("--poll-seconds", type=Seconds(POLL_MAX, zero_ok=True), default=2.0, hidden=True)
def logs(
    stack: str,
    outputs_file: str | None,
    since: str,
    pattern: str | None,
    follow: bool,
    limit: int | None,
    as_json: bool,
    poll_seconds: float,
) -> None:
    """Print the API's application log events (from the `log_group_names` output's
    /application group), oldest first, read page by page. --json prints one JSON object per
    line (time, timestamp, stream, message, event_id).

    \b
    Example:
      spendsense logs --stack production --since 1h --filter ERROR
      spendsense logs --stack production --follow
      spendsense logs --stack production --since 2d --limit 100 --json
    """
    from spendsense.clients import make_client
    from spendsense.ops import logs as ops_logs
    from spendsense.outputs import load_outputs

    window = ops_logs.parse_since(since)
    pattern = ops_logs.validate_pattern(pattern)
    outputs = load_outputs(stack, outputs_file)
    group = ops_logs.application_log_group(outputs.require("log_group_names"), outputs.source)
    client = make_client("logs", fallback_region=outputs.get("region"))
    start = ops_logs.since_ms(window)

    def emit(event: ops_logs.LogEvent) -> None:
        line = json.dumps(event.to_json(), sort_keys=True) if as_json else event.text()
        click.echo(line)

    cursor = ops_logs.Cursor(start)
    events = ops_logs.iter_events(client, group, start_ms=start, pattern=pattern)
    for event in ops_logs.last(cursor.new(events), limit):
        emit(event)
    if follow:
        try:
            ops_logs.follow(
                client, group, cursor=cursor, emit=emit, pattern=pattern, poll=poll_seconds
            )
        except KeyboardInterrupt:
            # Ctrl-C is how --follow is meant to end: not an error.
            click.echo("", err=True)
