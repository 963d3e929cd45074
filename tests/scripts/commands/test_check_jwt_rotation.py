"""The monthly JWT rotation check (`spendsense check-jwt-rotation`, run by checks.yml) against moto.

moto runs as a real HTTP server on loopback and the command reaches it through
`AWS_ENDPOINT_URL`, as it would reach AWS. moto's RotateSecret cannot run a rotation Lambda
here, so it enables rotation without setting `LastRotatedDate`; the rules about that date are
tested on the judge function with answers shaped like Secrets Manager's.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from spendsense.cli import main
from spendsense.ops import jwt_check as check

ROTATION_LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:spendsense-api-jwt-rotation"


def run(*args: str) -> int:
    return main(["check-jwt-rotation", *args])


@pytest.fixture
def aws(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Secrets Manager on the session's moto server (tests/conftest.py), clean for each test."""
    monkeypatch.delenv("SPENDSENSE_OUTPUTS", raising=False)
    from spendsense.clients import make_client

    return make_client("secretsmanager")


def new_secret(client: Any, name: str, *, rotation: bool) -> str:
    arn = str(client.create_secret(Name=name, SecretString="initial")["ARN"])
    if rotation:
        # moto enables rotation, then fails to find the Lambda it would invoke.
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            client.rotate_secret(
                SecretId=arn,
                RotationLambdaARN=ROTATION_LAMBDA,
                RotationRules={"AutomaticallyAfterDays": 30},
            )
    return arn


def outputs_file(tmp_path: Path, **values: Any) -> str:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"environment": "production", **values}), encoding="utf-8")
    return str(path)


def test_a_secret_without_rotation_fails(
    aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = new_secret(aws, "spendsense-api/no-rotation", rotation=False)
    code = run("--stack", "production", "--outputs", outputs_file(tmp_path, jwt_secret_arn=arn))
    assert code == 1
    assert "rotation is not enabled" in capsys.readouterr().out


def test_a_new_secret_with_rotation_passes(
    aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = new_secret(aws, "spendsense-api/jwt-signing-key", rotation=True)
    code = run(
        "--stack", "production", "--outputs", outputs_file(tmp_path, jwt_secret_arn=arn), "--json"
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert report["ok"] is True and report["rotation_enabled"] is True
    assert report["last_rotated"] is None and report["age_days"] < 1


def test_a_secret_never_rotated_for_longer_than_the_limit_fails(aws: Any) -> None:
    """Same real answer from moto, judged 40 days later: it missed its rotation."""
    arn = new_secret(aws, "spendsense-api/stale", rotation=True)
    later = datetime.now(UTC) + timedelta(days=40)
    report = check.check_rotation(aws, arn, 31, later)
    assert not report.ok
    assert "never rotated since it was created" in report.reason


def test_a_missing_output_is_bad_input(
    aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run("--stack", "production", "--outputs", outputs_file(tmp_path))
    assert code == 2
    assert "jwt_secret_arn" in capsys.readouterr().err


def test_an_unknown_secret_is_reported_in_one_line(
    aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:spendsense-api/gone-AbCdEf"
    code = run("--stack", "production", "--outputs", outputs_file(tmp_path, jwt_secret_arn=missing))
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: describing secret") and err.count("\n") == 1


NOW = datetime(2026, 11, 27, 6, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("last_rotated_days_ago", "ok"),
    [(0, True), (30, True), (31, True), (31.5, False), (90, False)],
)
def test_last_rotation_must_be_within_31_days(last_rotated_days_ago: float, ok: bool) -> None:
    description = {
        "ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:spendsense-api/jwt-AbCdEf",
        "RotationEnabled": True,
        "CreatedDate": NOW - timedelta(days=400),
        "LastRotatedDate": NOW - timedelta(days=last_rotated_days_ago),
    }
    report = check.judge_rotation(description, 31, NOW)
    assert report.ok is ok, report.reason
    assert report.age_days == pytest.approx(last_rotated_days_ago)


@pytest.mark.parametrize("days", ["nan", "inf", "0", "-1", "1e309", "soon"])
def test_a_bad_max_age_is_one_line_and_exit_2(
    days: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused before any output is read or any AWS call is made (argparse took nan and inf)."""
    code = run("--stack", "production", "--outputs", outputs_file(tmp_path), "--max-age-days", days)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and "--max-age-days" in err and err.count("\n") == 1


@pytest.mark.parametrize("limit", [30, 45])
def test_the_default_age_is_the_runbooks_limit_plus_the_slack(
    aws: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    limit: int,
) -> None:
    """Without --max-age-days the limit is secrets.maxRotationDays (policies/limits.json) plus
    ROTATION_SLACK_DAYS: a changed limit changes the check, with no number in checks.yml."""
    from spendsense import repo
    from spendsense.commands import check_jwt_rotation as command

    data = json.loads(repo.limits_file().read_text(encoding="utf-8"))
    data["secrets"]["maxRotationDays"] = limit
    changed = tmp_path / "limits.json"
    changed.write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setattr(command, "limits_file", lambda: changed)
    arn = new_secret(aws, "spendsense-api/jwt-signing-key", rotation=True)
    code = run(
        "--stack", "production", "--outputs", outputs_file(tmp_path, jwt_secret_arn=arn), "--json"
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert report["max_age_days"] == limit + command.ROTATION_SLACK_DAYS == limit + 1
