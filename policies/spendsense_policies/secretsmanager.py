"""Secrets Manager: every secret (the JWT signing key) rotates within the runbook's period.

The runbook's monthly security tasks include "Rotate JWT secret keys"; the most days between
rotations is `limits.json` ``secrets.maxRotationDays`` (the policy's config default).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import Policy, PolicyResource

from spendsense_policies.base import (
    PendingUnknowns,
    Unknown,
    fmt,
    get,
    number,
    stack_policy,
)
from spendsense_policies.config import limit, limit_number, schema
from spendsense_policies.index import StackIndex, ValueIndex

SECRET = "aws:secretsmanager/secret:Secret"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"

# The days a weekly and a monthly cron(...) schedule count as (calendar facts, not limits).
WEEK_DAYS, MONTH_DAYS = 7.0, 30.0
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(day|days|hour|hours)\s*\)$")
# cron(min hour day-of-month month day-of-week year): a fixed day of month is monthly.
_CRON = re.compile(r"^cron\((.+)\)$")


def rotation_days(rules: Any) -> float | Unknown | None:
    """Days between rotations from rotationRules; None when it cannot be read."""
    days = get(rules, "automaticallyAfterDays")
    if isinstance(days, Unknown):
        return days
    if number(days):
        return number(days)
    expression = get(rules, "scheduleExpression")
    if isinstance(expression, Unknown):
        return expression
    if not isinstance(expression, str):
        return None
    expression = expression.strip()
    if match := _RATE.match(expression):
        amount = float(match.group(1))
        return amount if match.group(2).startswith("day") else amount / 24
    if match := _CRON.match(expression):
        fields = match.group(1).split()
        if len(fields) >= 5:
            day_of_month, month, day_of_week = fields[2], fields[3], fields[4]
            if month in ("*", "?") and (
                day_of_month not in ("*", "?") or day_of_week not in ("*", "?")
            ):
                # Weekly, or monthly (a calendar month counts as the runbook's "monthly").
                weekly = day_of_week not in ("*", "?") and day_of_month in ("*", "?")
                return WEEK_DAYS if weekly else MONTH_DAYS
            if month in ("*", "?"):
                return 1.0
    return None


def check_rotation(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    most = number(config["maxRotationDays"]) or limit_number("secrets", "maxRotationDays")
    index = StackIndex(resources)
    by_secret: ValueIndex[PolicyResource] = ValueIndex()
    for rotation in index.of_type(ROTATION):
        by_secret.add(get(rotation.props, "secretId"), rotation)
    pending: list[str] = []
    for secret in index.of_type(SECRET):
        name = get(secret.props, "name")
        label = name if isinstance(name, str) else secret.name
        # the rotations that refer_to the secret (by its name or a dependency)
        mine = index.referring(secret, ROTATION, by_secret, name)
        if not mine:
            yield (
                secret.urn,
                (
                    f"secret {label} has no aws.secretsmanager.SecretRotation, so it is never "
                    "rotated; "
                    f"the runbook rotates JWT secrets at least every {fmt(most)} days: add one "
                    f"with rotationRules.automaticallyAfterDays {fmt(most)} or less"
                ),
            )
            continue
        rotation = mine[0]
        enabled = get(rotation.props, "rotationEnabled")
        if enabled is False or (isinstance(enabled, str) and enabled.strip().lower() == "false"):
            yield rotation.urn, f"rotation of secret {label} is disabled; set rotationEnabled=True"
            continue
        days = rotation_days(get(rotation.props, "rotationRules", default={}))
        if isinstance(days, Unknown):
            pending.append(f"the rotation schedule of {label} is")
        elif days is None:
            yield (
                rotation.urn,
                (
                    f"the rotation of secret {label} has no readable schedule; set "
                    f"rotationRules.automaticallyAfterDays to {fmt(most)} or less"
                ),
            )
        elif days > most:
            yield (
                rotation.urn,
                (
                    f"secret {label} rotates every {fmt(days)} days; the runbook rotates at least "
                    f"every {fmt(most)} days: set "
                    "spendsense:jwt.rotationDays (rotationRules.automaticallyAfterDays) to "
                    f"{fmt(most)} or less"
                ),
            )
    if pending:
        raise PendingUnknowns(pending)


def policies() -> list[Policy]:
    return [
        stack_policy(
            "aws-secretsmanager-rotation",
            "Every Secrets Manager secret must rotate automatically at least every "
            f"{fmt(limit_number('secrets', 'maxRotationDays'))} days (Checkov CKV2_AWS_57).",
            check_rotation,
            config=schema(
                {
                    "maxRotationDays": (
                        limit("secrets", "maxRotationDays"),
                        "Most days between rotations.",
                    )
                }
            ),
        ),
    ]
