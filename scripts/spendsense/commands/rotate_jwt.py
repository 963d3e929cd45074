"""`spendsense rotate-jwt`: rotate the JWT signing secret now, redeploy, gate on health."""

from __future__ import annotations

import json
from typing import Any

import click

from spendsense.changes import PlannedChange
from spendsense.clients import make_client
from spendsense.ops.apprunner import service_name_from_arn
from spendsense.ops.health import health_url
from spendsense.ops.jwt import rotate_jwt as run_rotation
from spendsense.ops.progress import make_progress
from spendsense.ops.window import POLL_INTERVAL, TIMEOUT
from spendsense.options import json_option, outputs_option, stack_option, yes_option
from spendsense.outputs import load_outputs


def apprunner_client() -> Any:
    """The App Runner client (a seam: tests put the model-checked Stubber here)."""
    return make_client("apprunner")


@click.command("rotate-jwt")
@stack_option()
@outputs_option
@yes_option
@json_option
@click.option(
    "--timeout",
    type=TIMEOUT,
    default=900,
    show_default=True,
    help="Seconds to wait for the rotation and for the deployment.",
)
@click.option("--poll-interval", type=POLL_INTERVAL, default=5, hidden=True)
@click.option("--health-interval", type=POLL_INTERVAL, default=10, hidden=True)
def rotate_jwt(
    stack: str,
    outputs_file: str | None,
    yes: bool,
    as_json: bool,
    timeout: float,
    poll_interval: float,
    health_interval: float,
) -> None:
    """Rotate the JWT signing secret now (Secrets Manager), start an App Runner deployment
    so instances read the new value, then check /health.

    \b
    Example:
      spendsense rotate-jwt --stack production --yes
    """
    outputs = load_outputs(stack, outputs_file)
    secret_arn = outputs.require_text("jwt_secret_arn")
    service_arn = outputs.require_text("api_service_arn")
    api_url = outputs.require_text("api_url")
    name = outputs.get_text("api_service_name") or service_name_from_arn(service_arn)
    change = PlannedChange(
        [
            f"Would rotate secret {secret_arn} now (RotateSecret, RotateImmediately)",
            f"Would start an App Runner deployment of {name} so instances read the new value",
            f"Would check {health_url(api_url)}",
        ],
        done_key="rotated",
    )
    if not change.proceed(yes, as_json=as_json):
        return
    result = run_rotation(
        make_client("secretsmanager"),
        apprunner_client(),
        secret_arn=secret_arn,
        service_arn=service_arn,
        api_url=api_url,
        timeout=timeout,
        poll=poll_interval,
        health_interval=health_interval,
        progress=make_progress(as_json),
    )
    if as_json:
        click.echo(json.dumps({**result.to_json(), "rotated": True}, indent=2))
        return
    click.echo(f"Rotated {secret_arn}: version {result.new_version} is AWSCURRENT.")
    click.echo(f"Deployed {name} (operation {result.operation_id}); {result.health.summary()}.")
