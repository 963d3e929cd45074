"""`spendsense status`: the whole system in one table (runbook, "Check Overall System Status")."""

from __future__ import annotations

import json
from collections.abc import Callable

import click

from spendsense.errors import BadInput, OperationFailed
from spendsense.options import (
    HTTP_TIMEOUT_MAX,
    Seconds,
    json_option,
    outputs_option,
    stack_option,
)


@click.command("status")
@stack_option()
@outputs_option
@json_option
@click.option(
    "--timeout",
    type=Seconds(HTTP_TIMEOUT_MAX),
    default=10.0,
    show_default=True,
    help="Seconds each HTTP check may take.",
)
def status(stack: str, outputs_file: str | None, as_json: bool, timeout: float) -> None:
    """Show the state of the whole system: frontend (HTTP 200), API health, the App Runner
    service, CloudWatch alarms in ALARM, the age of the newest daily backup, and today's
    Firestore reads, writes and deletes (since 00:00 in the caps' time zone) and stored bytes
    against the team's daily caps (the `firestore_usage_caps` output; failing past the
    alerts' warning fraction).
    Every row is shown even when some cannot run: a row that could not be checked because of
    bad input (missing, expired or refused credentials, a missing stack output) says "not
    checked: <reason>". Exit 0 if every check is ok, 1 if any is failing (even if others were
    not checked), 2 if none is failing but some could not be checked because of bad input.

    \b
    Example:
      spendsense status --stack production
      spendsense status --stack staging --outputs outputs-staging.json --json
    """
    from spendsense.clients import make_client
    from spendsense.ops import apprunner, firestore_usage
    from spendsense.ops.status import FAILING, system_status
    from spendsense.outputs import load_outputs

    outputs = load_outputs(stack, outputs_file)
    region = outputs.get("region")  # only if the AWS settings name no region

    def output(name: str) -> Callable[[], str]:
        # Deferred: a missing output fails the rows that need it, and the others still show.
        return lambda: outputs.require_text(name)

    checks = system_status(
        frontend_url=output("frontend_url"),
        api_url=output("api_url"),
        service_arn=output("api_service_arn"),
        alarm_topic_arn=output("alarm_topic_arn"),
        backup_bucket=outputs.get("backup_bucket"),
        backup_prefix=str(outputs.get("backup_prefix") or "daily/"),
        apprunner=lambda: apprunner.make_apprunner_client(fallback_region=region),
        cloudwatch=lambda: make_client("cloudwatch", fallback_region=region),
        timeout=timeout,
        usage=lambda: firestore_usage.usage_check(
            outputs.get(firestore_usage.CAPS_OUTPUT),
            output("firestore_project"),
            output("firestore_database"),
            timeout=timeout,
        ),
    )
    failing = [check.name for check in checks if check.state == FAILING]
    blocked = [check for check in checks if check.bad_input]
    if as_json:
        data = {
            "stack": stack,
            "source": outputs.source,
            "ok": not failing and not blocked,
            "checks": [check.to_json() for check in checks],
        }
        click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        click.echo(f"stack {stack} (outputs from {outputs.source})")
        width = max(len(check.name) for check in checks)
        for check in checks:
            mark = {"ok": "ok", "failing": "FAIL"}.get(check.state, "--")
            click.echo(f"  {check.name.ljust(width)}  {mark:<4}  {check.detail}")
    unchecked = (
        f"{len(blocked)} check(s) not checked: " + ", ".join(check.name for check in blocked)
        if blocked
        else ""
    )
    if failing:
        # A real failure comes first (exit 1), even when some rows could not be checked.
        message = f"{len(failing)} check(s) failing: {', '.join(failing)}"
        raise OperationFailed(f"{message}; {unchecked}" if unchecked else message)
    if blocked:
        # Nothing is failing, but something the user can fix (an output, credentials) kept
        # these rows from running: the system is not known to be healthy.
        first = blocked[0]
        reason = first.detail.removeprefix("not checked: ")
        raise BadInput(f"{unchecked} (nothing failing otherwise); {first.name}: {reason}")
