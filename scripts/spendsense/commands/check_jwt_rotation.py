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
from spendsense.errors import BadInput
from spendsense.ops.jwt_check import check_rotation
from spendsense.options import json_option, outputs_option, stack_option
from spendsense.outputs import load_outputs
from spendsense.repo import limits_file

MAX_AGE_DAYS_LIMIT = 3650.0
# The default age is the runbook's secrets.maxRotationDays (policies/limits.json) plus this slack:
# a monthly rotation schedule puts up to 31 days between two rotations (July to August), so a
# 30-day limit checked to the day would fail a secret that rotated exactly on schedule.
ROTATION_SLACK_DAYS = 1.0


def default_max_age_days() -> float:
    """secrets.maxRotationDays from policies/limits.json plus ROTATION_SLACK_DAYS."""
    from infra.limits import LimitsError, read_pack_limits

    try:
        days = read_pack_limits(limits_file()).secrets.max_rotation_days
    except LimitsError as exc:
        raise BadInput(f"cannot read the rotation limit: {exc}") from None
    return days + ROTATION_SLACK_DAYS


def _days(ctx: click.Context, param: click.Parameter, value: float | None) -> float:
    """click.FloatRange lets `nan` through (it compares false with every bound)."""
    if value is None:
        return default_max_age_days()
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
    default=None,
    show_default=f"secrets.maxRotationDays in policies/limits.json + {ROTATION_SLACK_DAYS:g}",
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
      spendsense check-jwt-rotation --stack production
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
