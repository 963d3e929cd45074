"""`spendsense check-jwt-rotation`: the monthly check that the JWT signing secret was rotated
within the limit (run by .github/workflows/checks.yml; the judgement is in
`spendsense.ops.jwt_check`)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from datetime import UTC, datetime

import click

from spendsense.clients import make_client
from spendsense.ops.jwt_check import check_rotation
from spendsense.options import json_option, outputs_option, stack_option
from spendsense.outputs import load_outputs

MAX_AGE_DAYS_LIMIT = 3650.0


def _days(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """click.FloatRange lets `nan` through (it compares false with every bound)."""
    if not math.isfinite(value) or not 0 < value <= MAX_AGE_DAYS_LIMIT:
        raise click.BadParameter(
            f"{value!r} is not a number of days, more than 0 and at most "
            f"{MAX_AGE_DAYS_LIMIT:g} (e.g. 31)",
            ctx,
            param,
        )
    return value


@click.command("check-jwt-rotation")
@stack_option()
@outputs_option
@click.option(
    "--max-age-days",
    type=float,
    default=31.0,
    show_default=True,
    callback=_days,
    help="Days since the last rotation (or creation, if never rotated) that are still ok.",
)
@json_option
def check_jwt_rotation(
    stack: str, outputs_file: str | None, max_age_days: float, as_json: bool
) -> None:
    """Check that the stack's JWT signing secret (`jwt_secret_arn`) has rotation enabled and
    was rotated within --max-age-days (Secrets Manager DescribeSecret, which never returns
    the value). Exit 0 ok, 1 too old or rotation disabled, 2 bad input.

    \b
    Example:
      spendsense check-jwt-rotation --stack production --max-age-days 31
    """
    outputs = load_outputs(stack, outputs_file)
    arn = outputs.require_text("jwt_secret_arn")
    report = check_rotation(make_client("secretsmanager"), arn, max_age_days, datetime.now(UTC))
    if as_json:
        click.echo(json.dumps(asdict(report), indent=2, sort_keys=True))
    else:
        verdict = "ok" if report.ok else "FAILED"
        click.echo(f"JWT secret {report.secret_arn}: {verdict}: {report.reason}")
    if not report.ok:
        raise click.exceptions.Exit(1)
