"""The runbook's monthly "Rotate JWT secrets" check (`spendsense check-jwt-rotation`): was the
stack's JWT signing secret rotated within the last N days?

Asks Secrets Manager (`DescribeSecret`, which never returns the value; the one call, granted
to the CI checks role in infra/ci_trust) for `RotationEnabled` and `LastRotatedDate`. A secret
that was never rotated is judged by its `CreatedDate`: a new secret is fine, one older than
the limit has missed its rotation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from spendsense.clients import describe_aws_error


@dataclass(frozen=True)
class RotationReport:
    secret_arn: str
    ok: bool
    rotation_enabled: bool
    last_rotated: str | None
    created: str | None
    age_days: float | None
    max_age_days: float
    reason: str


def judge_rotation(
    description: dict[str, Any], max_age_days: float, now: datetime
) -> RotationReport:
    """Judge one `DescribeSecret` answer. Pure: the tests feed it real moto answers."""
    arn = str(description.get("ARN", "?"))
    enabled = bool(description.get("RotationEnabled"))
    last = description.get("LastRotatedDate")
    created = description.get("CreatedDate")
    reference = last or created
    age = (now - reference).total_seconds() / 86400 if isinstance(reference, datetime) else None
    if not enabled:
        ok, reason = False, "rotation is not enabled on the secret (RotationEnabled is false)"
    elif age is None:
        ok, reason = False, "Secrets Manager reported neither LastRotatedDate nor CreatedDate"
    elif last is None and age <= max_age_days:
        ok, reason = (
            True,
            f"never rotated yet, but created {age:.1f} days ago (limit {max_age_days:g})",
        )
    elif last is None:
        ok, reason = (
            False,
            f"never rotated since it was created {age:.1f} days ago (limit {max_age_days:g})",
        )
    elif age <= max_age_days:
        ok, reason = True, f"last rotated {age:.1f} days ago (limit {max_age_days:g})"
    else:
        ok, reason = False, f"last rotated {age:.1f} days ago, more than {max_age_days:g}"
    return RotationReport(
        secret_arn=arn,
        ok=ok,
        rotation_enabled=enabled,
        last_rotated=last.isoformat() if isinstance(last, datetime) else None,
        created=created.isoformat() if isinstance(created, datetime) else None,
        age_days=round(age, 2) if age is not None else None,
        max_age_days=max_age_days,
        reason=reason,
    )


def check_rotation(
    client: Any, secret_arn: str, max_age_days: float, now: datetime
) -> RotationReport:
    try:
        description = client.describe_secret(SecretId=secret_arn)
    except Exception as exc:
        raise describe_aws_error(exc, f"describing secret {secret_arn}") from exc
    return judge_rotation(description, max_age_days, now)
