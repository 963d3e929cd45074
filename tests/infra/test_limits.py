"""infra/limits.py: the one typed reader of the limit files outside the policy pack.

The pack reads policies/limits.json through its own loader (spendsense_policies.config), so
these tests hold the two to the same numbers, keep data the pack does not read out of its
folder, and check that a broken file gives one line naming the file and the key.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from infra.limits import (
    PACK_LIMITS_FILE,
    RUNBOOK_FILE,
    LimitsError,
    PackLimits,
    limits,
    read_pack_limits,
    read_runbook,
)

PACK_SOURCE = PACK_LIMITS_FILE.parent / "spendsense_policies"


def _pack_reads() -> set[tuple[str, str]]:
    """Every `limit("section", "key")` in the pack's source."""
    found: set[tuple[str, str]] = set()
    for path in PACK_SOURCE.rglob("*.py"):
        found |= set(re.findall(r'limit\(\s*"(\w+)",\s*"(\w+)"\s*\)', path.read_text()))
    return found


def test_every_key_of_the_pack_file_is_read_by_the_pack() -> None:
    """policies/limits.json holds only what the pack uses; the rest lives in runbook.json."""
    data = json.loads(PACK_LIMITS_FILE.read_text(encoding="utf-8"))
    keys = {
        (section, key)
        for section, values in data.items()
        if isinstance(values, dict)
        for key in values
    }
    assert keys, "no limits found"
    unread = sorted(keys - _pack_reads())
    assert not unread, f"keys in policies/limits.json the pack never reads (move them): {unread}"


def test_the_pack_and_infra_read_the_same_numbers() -> None:
    from spendsense_policies.config import limits as pack_limits

    typed = read_pack_limits().model_dump(by_alias=True, mode="json")
    raw = pack_limits()
    for section, values in typed.items():
        for key, value in values.items():
            assert value == raw[section][key], f"{section}.{key}: {value} != {raw[section][key]}"


def test_the_pack_does_not_read_the_runbook_file() -> None:
    for path in PACK_SOURCE.rglob("*.py"):
        assert RUNBOOK_FILE.name not in path.read_text(), path
        assert "maintenanceWindow" not in path.read_text(), path


def test_the_maintenance_window() -> None:
    window = read_runbook().maintenance_window
    assert window.describe() == "Tuesdays 02:00-04:00 America/New_York"
    assert limits().maintenance_window == window


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{", "the file: Invalid JSON"),
        ('{"apprunner": {}}', "apprunner.maxCpu: Field required"),
    ],
)
def test_a_broken_file_is_one_line(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "limits.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LimitsError) as caught:
        read_pack_limits(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {problem}") and "\n" not in message


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(LimitsError, match=r"missing\.json: cannot be read"):
        read_runbook(tmp_path / "missing.json")


def test_the_typed_model_covers_every_section_the_pack_reads() -> None:
    sections = {section for section, _ in _pack_reads()}
    assert sections == set(PackLimits.model_fields)
