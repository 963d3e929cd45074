"""spendsense.changes.PlannedChange: the one "Would ... / Nothing changed" preview."""

from __future__ import annotations

import json
from pathlib import Path

from spendsense.changes import NOTHING_CHANGED, PlannedChange
from spendsense.repo import repo_root


def test_without_yes_it_prints_the_steps_and_nothing_changed() -> None:
    printed: list[str] = []
    change = PlannedChange(["Would pause x", "Would import y"], done_key="restored")
    assert change.proceed(False, echo=printed.append) is False
    assert printed == ["Would pause x\nWould import y\n" + NOTHING_CHANGED]


def test_json_keeps_the_commands_details_and_says_it_was_not_done() -> None:
    printed: list[str] = []
    change = PlannedChange(["Would export a to b"], done_key="created", details={"to": "b"})
    assert change.proceed(False, as_json=True, echo=printed.append) is False
    assert json.loads(printed[0]) == {"to": "b", "would": ["Would export a to b"], "created": False}


def test_with_yes_it_prints_nothing_and_lets_the_command_act() -> None:
    printed: list[str] = []
    assert PlannedChange(["Would x"]).proceed(True, echo=printed.append) is True
    assert printed == []


def test_no_command_writes_its_own_preview_footer() -> None:
    """The footer is written once, in spendsense/changes.py."""
    root: Path = repo_root() / "scripts" / "spendsense"
    offenders = [
        path.relative_to(root).as_posix()
        for path in sorted(root.rglob("*.py"))
        if path.name != "changes.py"
        and any(
            footer in path.read_text(encoding="utf-8")
            for footer in ("to do it.", "pass --yes to do it", "Run again with --yes")
        )
    ]
    assert offenders == []
