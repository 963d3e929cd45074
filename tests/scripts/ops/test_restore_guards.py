"""spendsense.ops.restore_guards: the restore's guards decide without any command around them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from spendsense.errors import BadInput
from spendsense.ops.restore_guards import restore_target, window_refusal


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout whose stack files name each stack's Firestore project."""
    for marker in ("Pulumi.yaml", "pyproject.toml"):
        (tmp_path / marker).write_text("")
    for stack in ("staging", "production"):
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(
            f"config:\n  gcp:project: spendsense-{stack}\n"
        )
    monkeypatch.setenv("SPENDSENSE_REPO", str(tmp_path))
    return tmp_path


def test_the_own_project_or_a_scratch_one(checkout: Path) -> None:
    assert restore_target("staging", "spendsense-staging", None, "f") == "spendsense-staging"
    assert restore_target("staging", "spendsense-staging", "scratch-123", "f") == "scratch-123"


def test_another_stacks_project_is_refused(checkout: Path) -> None:
    with pytest.raises(BadInput, match="is the Firestore project of stack production"):
        restore_target("staging", "spendsense-staging", "spendsense-production", "f")
    with pytest.raises(BadInput, match="the Firestore project of stack production"):
        restore_target("staging", "spendsense-production", None, "outputs.json")


def test_the_window_refusal() -> None:
    inside = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # Tuesday 03:00 New York
    outside = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert window_refusal("spendsense-production", inside) is None
    refusal = window_refusal("spendsense-production", outside)
    assert refusal is not None and refusal.endswith("pass --force to restore now")
