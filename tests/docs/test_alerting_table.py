"""docs/alerting.md's severity table is the one infra/severities.py builds from SEVERITIES."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from infra import severities

PAGE = Path(__file__).resolve().parents[2] / "docs" / "alerting.md"


def test_the_committed_table_is_the_generated_one() -> None:
    committed = PAGE.read_text(encoding="utf-8")
    generated = severities.render(committed)
    diff = "".join(
        difflib.unified_diff(
            committed.splitlines(keepends=True), generated.splitlines(keepends=True)
        )
    )
    assert not diff, f"run `python -m infra.severities`:\n{diff}"


def test_every_role_has_a_row_and_a_changed_row_changes_the_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    committed = PAGE.read_text(encoding="utf-8")
    for role in severities.SEVERITIES:
        assert f"| `{role}` |" in committed, role
    changed = dict(severities.SEVERITIES)
    changed["budget"] = severities.AlertSeverity(severities.P0, "spend is an outage")
    monkeypatch.setattr(severities, "SEVERITIES", changed)
    assert severities.render(committed) != committed


def test_a_page_without_the_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="severity-table"):
        severities.render("# no table here\n")
