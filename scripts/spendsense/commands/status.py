"""`spendsense status`: the whole system in one table (runbook, "Check Overall System Status")."""

from __future__ import annotations

import json

import click

from spendsense.errors import OperationFailed
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
    service, CloudWatch alarms in ALARM and the age of the newest daily backup.
    Exit 0 if every check is ok, 1 if any is failing, 2 on bad input.

    \b
    Example:
      spendsense status --stack production
      spendsense status --stack staging --outputs outputs-staging.json --json
    """
    from spendsense.clients import make_client
    from spendsense.ops import apprunner
    from spendsense.ops.status import FAILING, system_status
    from spendsense.outputs import load_outputs

    outputs = load_outputs(stack, outputs_file)
    frontend_url = str(outputs.require("frontend_url"))
    api_url = str(outputs.require("api_url"))
    service_arn = str(outputs.require("api_service_arn"))
    service_name = str(outputs.require("api_service_name"))
    checks = system_status(
        frontend_url=frontend_url,
        api_url=api_url,
        service_arn=service_arn,
        alarm_prefix=f"{service_name}-",
        backup_bucket=outputs.get("backup_bucket"),
        backup_prefix=str(outputs.get("backup_prefix") or "daily/"),
        apprunner=apprunner.make_apprunner_client,
        cloudwatch=lambda: make_client("cloudwatch"),
        timeout=timeout,
    )
    failing = [check.name for check in checks if check.state == FAILING]
    if as_json:
        data = {
            "stack": stack,
            "source": outputs.source,
            "ok": not failing,
            "checks": [check.to_json() for check in checks],
        }
        click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        click.echo(f"stack {stack} (outputs from {outputs.source})")
        width = max(len(check.name) for check in checks)
        for check in checks:
            mark = {"ok": "ok", "failing": "FAIL"}.get(check.state, "--")
            click.echo(f"  {check.name.ljust(width)}  {mark:<4}  {check.detail}")
    if failing:
        raise OperationFailed(f"{len(failing)} check(s) failing: {', '.join(failing)}")
