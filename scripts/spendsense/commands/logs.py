"""`spendsense logs`: the API's application logs (the runbook's tail, last hour, ERROR search),
and with --frontend the frontend's runtime logs from Vercel."""

from __future__ import annotations

import json
import time
from collections import deque
from pathlib import Path
from typing import Any

import click

from spendsense.errors import BadInput
from spendsense.ops.logs import LIMIT_MAX
from spendsense.options import POLL_MAX, Seconds, json_option, outputs_option, stack_option


@click.command("logs")
@stack_option()
@outputs_option
@click.option(
    "--frontend",
    is_flag=True,
    help="The frontend's runtime logs from Vercel's REST API (needs VERCEL_API_TOKEN).",
)
@click.option(
    "--deployment",
    default=None,
    metavar="ID|URL",
    help="With --frontend: this deployment (dpl_... or its URL) instead of production's.",
)
@click.option("--since", default="1h", show_default=True, help="How far back: 30m, 1h, 2d, ...")
@click.option(
    "--filter",
    "pattern",
    default=None,
    help="CloudWatch Logs filter pattern, e.g. ERROR (--frontend: text in the message or path).",
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
@click.option("--idle-seconds", type=Seconds(POLL_MAX), default=5.0, hidden=True)
@click.option("--stack-file", type=click.Path(dir_okay=False, path_type=Path), hidden=True)
def logs(
    stack: str,
    outputs_file: str | None,
    frontend: bool,
    deployment: str | None,
    since: str,
    pattern: str | None,
    follow: bool,
    limit: int | None,
    as_json: bool,
    poll_seconds: float,
    idle_seconds: float,
    stack_file: Path | None,
) -> None:
    """Print the API's application log events (from the `log_group_names` output's
    /application group), oldest first, read page by page. --json prints one JSON object per
    line (time, timestamp, stream, message, event_id).

    With --frontend: the runtime logs of the frontend's production deployment on Vercel (the
    stack's frontend.vercelProjectId / vercelTeamId), or of --deployment. Vercel's API streams
    them live and takes no time range, so --since filters what it sends, here.

    \b
    Example:
      spendsense logs --stack production --since 1h --filter ERROR
      spendsense logs --stack production --follow
      spendsense logs --stack production --since 2d --limit 100 --json
      spendsense logs --stack production --frontend --follow --filter /api/
    """
    from spendsense.ops import logs as ops_logs

    window = ops_logs.parse_since(since)
    if frontend:
        _frontend_logs(
            stack,
            stack_file,
            deployment,
            ops_logs.since_ms(window),
            pattern,
            follow,
            limit,
            as_json,
            poll_seconds,
            idle_seconds,
        )
        return
    if deployment is not None:
        raise BadInput("--deployment names a Vercel deployment: use it with --frontend")
    from spendsense.clients import make_client
    from spendsense.outputs import load_outputs

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


def _frontend_logs(
    stack: str,
    stack_file: Path | None,
    deployment: str | None,
    start_ms: int,
    text: str | None,
    follow: bool,
    limit: int | None,
    as_json: bool,
    poll: float,
    idle: float,
) -> None:
    from spendsense.commands.preflight import load_settings
    from spendsense.identifiers import deployment_ref
    from spendsense.ops import vercel_logs as vl

    text = vl.check_filter(text)
    if deployment is not None:
        deployment_ref(deployment, "--deployment")
    token = vl.vercel_api_token()
    settings = load_settings(stack, stack_file).frontend
    client = vl.VercelLogs(token, settings.vercel_project_id, settings.vercel_team_id)
    if deployment is not None:
        target = client.deployment(deployment)
        if target is None:
            raise BadInput(
                f"--deployment: Vercel knows no deployment {deployment!r} in "
                f"{settings.vercel_team_id or 'the personal account'}; pass an id (dpl_...) or "
                "URL from `vercel ls --prod`, or leave --deployment out for production's"
            )
    else:
        target, warning = client.production(settings.url)
        if warning:
            click.echo(f"warning: {warning}", err=True)
    click.echo(f"Runtime logs of {target.uid} ({target.url}; {target.how}). {vl.REACH}.", err=True)

    def emit(row: Any) -> None:
        click.echo(json.dumps(row.to_json(), sort_keys=True) if as_json else row.text())

    tally, seen = vl.Tally(), vl.Seen()
    kwargs: dict[str, Any] = dict(start_ms=start_ms, text=text, tally=tally, seen=seen)
    # Followed, a quiet stream stays open until Vercel ends it (vl.FOLLOW_READ_TIMEOUT);
    # only a one-off read (or --limit's first pass, which prints when it ends) stops early.
    first_idle = vl.FOLLOW_READ_TIMEOUT if follow and limit is None else idle
    started = time.monotonic()
    try:
        if limit is None:
            vl.read(client, target.uid, emit=emit, idle=first_idle, **kwargs)
        else:
            kept: deque[Any] = deque(maxlen=limit)  # at most `limit` rows held
            vl.read(client, target.uid, emit=kept.append, idle=first_idle, **kwargs)
            for row in kept:
                emit(row)
        if follow:
            vl.follow(
                client,
                target.uid,
                emit=emit,
                poll=poll,
                idle=vl.FOLLOW_READ_TIMEOUT,
                started=started,
                **kwargs,
            )
    except KeyboardInterrupt:
        # Ctrl-C is how --follow is meant to end: not an error.
        click.echo("", err=True)
        return
    if tally.earliest is None:
        click.echo("Vercel sent no lines: nothing happened on this deployment meanwhile.", err=True)
    elif tally.earliest > start_ms:
        earliest = vl.RuntimeLog(tally.earliest, "", "", "", "").iso_time()
        click.echo(f"The earliest line Vercel sent is from {earliest}.", err=True)
