"""`spendsense security report`: the weekly security review's numbers (docs/security-review.md)."""

from __future__ import annotations

import json

import click

from spendsense.options import POLL_MAX, Seconds, json_option, outputs_option, stack_option


@click.group("security")
def security() -> None:
    """The runbook's weekly security review."""


@security.command("report")
@stack_option()
@outputs_option
@click.option(
    "--since", default="7d", show_default=True, help="How far back: 1d, 7d, 2w (at most 31d)."
)
@json_option
@click.option("--poll-seconds", type=Seconds(POLL_MAX, zero_ok=True), default=2.0, hidden=True)
def report(
    stack: str, outputs_file: str | None, since: str, as_json: bool, poll_seconds: float
) -> None:
    """Report failed authentications of the API (by day, the top 10 client addresses, the top
    10 paths), Firestore security-rules denials and the API's 4xx responses over the last
    --since. Read-only. The log fields come from the stack file's `spendsense:security`
    (defaults: status, client_ip, path; statuses 401 and 403); the names of the log group,
    the service and the database from the stack outputs.

    \b
    Example:
      spendsense security report --stack production
      spendsense security report --stack production --since 1d --json
    """
    from spendsense.clients import make_client
    from spendsense.ops import security_logs, security_metrics
    from spendsense.ops.logs import application_log_group
    from spendsense.ops.security_report import SINCE_MAX, build_report, render_text, window
    from spendsense.outputs import load_outputs
    from spendsense.repo import stack_file
    from spendsense.units import parse_duration

    span = parse_duration(since, "--since", maximum=SINCE_MAX, example="1d, 7d, 2w")
    fields = security_logs.read_fields(stack_file(stack))
    outputs = load_outputs(stack, outputs_file)
    group = application_log_group(outputs.require("log_group_names"), outputs.source)
    service_arn = outputs.require_text("api_service_arn")
    project = outputs.require_text("firestore_project")
    database = outputs.get_text("firestore_database", "(default)") or "(default)"
    region = outputs.get("region")
    start, end = window(span)
    data = build_report(
        stack=stack,
        since=span,
        start=start,
        end=end,
        auth_failures=lambda: security_logs.run_queries(
            make_client("logs", fallback_region=region),
            group,
            fields,
            start,
            end,
            poll=poll_seconds,
        ),
        rules_denials=lambda: security_metrics.rules_denials(project, database, start, end),
        api_4xx=lambda: security_metrics.api_4xx(
            make_client("cloudwatch", fallback_region=region), service_arn, start, end
        ),
    )
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        click.echo(render_text(data))
