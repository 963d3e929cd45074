"""The runbook's monthly "Rotate JWT secrets" check: was the stack's JWT signing secret rotated
within the last N days (31 by default)?

Reads the secret's ARN from the stack outputs (`jwt_secret_arn`) and asks Secrets Manager
(`DescribeSecret`, which never returns the value) for `RotationEnabled` and `LastRotatedDate`.
A secret that was never rotated is judged by its `CreatedDate`: a new secret is fine, one older
than the limit has missed its rotation. Exit 0 ok, 1 too old or rotation disabled, 2 bad input
(missing output, no credentials), with one line that says which.

    python .github/scripts/check_jwt_rotation.py --stack production [--max-age-days 31] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from spendsense.clients import describe_aws_error, make_client
from spendsense.errors import SpendsenseError
from spendsense.outputs import load_outputs


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
        ok, reason = True, f"never rotated yet, but created {age:.1f} days ago (limit {max_age_days:g})"  # fmt: skip
    elif last is None:
        ok, reason = False, f"never rotated since it was created {age:.1f} days ago (limit {max_age_days:g})"  # fmt: skip
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


def check_rotation(client: Any, secret_arn: str, max_age_days: float, now: datetime) -> RotationReport:  # fmt: skip
    try:
        description = client.describe_secret(SecretId=secret_arn)
    except Exception as exc:
        raise describe_aws_error(exc, f"describing secret {secret_arn}") from exc
    return judge_rotation(description, max_age_days, now)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, choices=("staging", "production"))
    parser.add_argument("--outputs", dest="outputs_file", default=None, help="JSON file of stack outputs")  # fmt: skip
    parser.add_argument("--max-age-days", type=float, default=31.0)
    parser.add_argument("--json", dest="as_json", action="store_true")
    args = parser.parse_args(argv)
    try:
        outputs = load_outputs(args.stack, args.outputs_file)
        arn = str(outputs.require("jwt_secret_arn"))
        report = check_rotation(
            make_client("secretsmanager"), arn, args.max_age_days, datetime.now(UTC)
        )
    except SpendsenseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.as_json:
        print(json.dumps(asdict(report), indent=2, sort_keys=True))
    else:
        verdict = "ok" if report.ok else "FAILED"
        print(f"JWT secret {report.secret_arn}: {verdict}: {report.reason}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
