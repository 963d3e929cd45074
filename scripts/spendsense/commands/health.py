"""`spendsense health`: the runbook's `curl <api>/health`, judged."""

from __future__ import annotations

import json

import click

from spendsense.errors import BadInput, OperationFailed
from spendsense.options import (
    HTTP_TIMEOUT_MAX,
    Seconds,
    json_option,
    outputs_option,
    stack_option,
)


@click.command("health")
@stack_option(required=False)
@click.option("--url", default=None, help="The API base URL (instead of --stack's api_url).")
@outputs_option
@json_option
@click.option(
    "--timeout",
    type=Seconds(HTTP_TIMEOUT_MAX),
    default=10.0,
    show_default=True,
    help="Seconds to wait for the answer.",
)
def health(
    stack: str | None,
    url: str | None,
    outputs_file: str | None,
    as_json: bool,
    timeout: float,
) -> None:
    """Check GET <api_url>/health: healthy only on HTTP 200 within the timeout with `status`
    and `database` both "healthy". Exit 0 healthy, 1 unhealthy or unreachable, 2 bad input.

    \b
    Example:
      spendsense health --stack production
      spendsense health --url https://abc123.us-east-1.awsapprunner.com --json
    """
    from spendsense.ops.health import check_health, health_url

    if stack and url:
        raise BadInput("pass either --stack or --url, not both")
    if url is None:
        if stack is None:
            raise BadInput("pass --stack S (to read api_url from its outputs) or --url URL")
        from spendsense.outputs import load_outputs

        outputs = load_outputs(stack, outputs_file)
        endpoint = health_url(
            outputs.require_text("api_url"), f"stack output 'api_url' in {outputs.source}"
        )
    else:
        endpoint = health_url(url, "--url")
    result = check_health(endpoint, timeout)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, sort_keys=True, default=str))
    else:
        click.echo(f"{result.url}: {result.summary()}")
    if not result.healthy:
        raise OperationFailed(f"the API at {result.url} is unhealthy: {result.reason}")
