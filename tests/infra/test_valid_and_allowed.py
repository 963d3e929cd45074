"""Valid vs allowed (docs/design.md#valid-and-allowed): settings refuse what the providers do
not accept (exit 2); what the runbook does not allow is the policy pack's (exit 1).

The two checks that moved from settings to the pack: a JWT rotation period over the runbook's
month (`jwt.rotationDays`), and a plain environment variable named like a secret
(`api.environmentVariables`), where the settings refused names the pack accepts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra.limits import REPO_ROOT, limits
from infra.settings import SettingsError, parse_settings
from tests.infra.conftest import with_changes

LIMITS = limits()

# Over the runbook's month, within Secrets Manager's 1-1000 days.
LONG_ROTATION = LIMITS.secrets.max_rotation_days + 15
SECRET_LIKE = {"STRIPE_API_KEY": "sk_live_x"}
# A setting about a password, not a password: the pack accepts it; the settings refused it.
SETTING_WORD = {"PASSWORD_MIN_LENGTH": "12"}


@pytest.mark.parametrize(
    "changes",
    [
        {"spendsense:jwt": {"rotationDays": LONG_ROTATION}},
        {"spendsense:api.environmentVariables": SECRET_LIKE},
        {"spendsense:api.environmentVariables": SETTING_WORD},
    ],
    ids=["rotation-over-a-month", "secret-like-variable", "setting-word-variable"],
)
def test_settings_accept_what_is_valid_but_not_allowed(changes: dict[str, object]) -> None:
    try:
        parse_settings(with_changes("production", changes))
    except SettingsError as exc:  # pragma: no cover - the failure message
        pytest.fail(f"settings refused a valid value (the pack's to judge): {exc}")


def test_settings_still_refuse_what_the_provider_refuses() -> None:
    with pytest.raises(SettingsError, match=r"rotationDays: must be between 1 and 1000"):
        parse_settings(with_changes("production", {"spendsense:jwt": {"rotationDays": 1001}}))


def _plan(tmp_path: Path, api_variables: dict[str, str], rotation_days: int) -> tuple[int, dict]:
    document = yaml.safe_load((REPO_ROOT / "Pulumi.production.yaml").read_text(encoding="utf-8"))
    config = document["config"]
    config["spendsense:api"]["environmentVariables"] = api_variables
    config.setdefault("spendsense:jwt", {})["rotationDays"] = rotation_days
    path = tmp_path / "Pulumi.production.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    command = ["plan", "--stack", "production", "--config", str(path), "--json"]
    result = subprocess.run(
        [sys.executable, "-m", "spendsense", *command],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode in (0, 1), f"exit {result.returncode}: {result.stderr.strip()}"
    return result.returncode, json.loads(result.stdout)


def test_the_pack_refuses_what_the_runbook_does_not_allow(tmp_path: Path) -> None:
    """One plan: both values pass the settings and each fails its policy (mandatory in
    production), so `spendsense plan` exits 1, not 2."""
    code, plan = _plan(tmp_path, {**SECRET_LIKE, **SETTING_WORD}, LONG_ROTATION)
    mandatory = [v for v in plan["violations"] if v["level"] == "mandatory"]
    by_policy = {v["policy"]: v["message"] for v in mandatory}
    assert code == 1
    assert set(by_policy) == {"aws-secretsmanager-rotation", "aws-apprunner-no-plaintext-secrets"}
    assert "STRIPE_API_KEY" in by_policy["aws-apprunner-no-plaintext-secrets"]
    assert "PASSWORD_MIN_LENGTH" not in by_policy["aws-apprunner-no-plaintext-secrets"]
    assert str(LONG_ROTATION) in by_policy["aws-secretsmanager-rotation"]
