"""docs/runbook-coverage.md: one row per runbook procedure, naming only things that exist.

A procedure is a heading of docs/runbook.md (outside code blocks) with no sub-heading, in the
sections that hold procedures. The table must have a row for each, no row for a heading the
runbook does not have, and every `spendsense ...` command and option it names must be one the
CLI accepts, and every repository file it names must exist: a renamed command or module
fails here instead of leaving the page wrong.
"""

from __future__ import annotations

import re

import click
import pytest
from spendsense.cli import cli

from tests.docs.repository import REPO_ROOT

RUNBOOK = REPO_ROOT / "docs" / "runbook.md"
COVERAGE = REPO_ROOT / "docs" / "runbook-coverage.md"
# Sections of the runbook that are not procedures.
NOT_PROCEDURES = {"Overview", "Table of Contents", "Quick Reference Commands", "Changelog"}
KINDS = {"code", "command", "scheduled", "manual"}


def runbook_procedures() -> set[str]:
    headings: list[tuple[int, str]] = []
    in_code = False
    for line in RUNBOOK.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        match = re.match(r"(#{2,4}) (.+)", line)
        if not in_code and match:
            headings.append((len(match.group(1)), match.group(2).strip()))
    leaves: set[str] = set()
    top = ""
    for index, (level, text) in enumerate(headings):
        if level == 2:
            top = text
        following = headings[index + 1][0] if index + 1 < len(headings) else 0
        if top not in NOT_PROCEDURES and following <= level:
            leaves.add(text)
    return leaves


def coverage_rows() -> dict[str, tuple[str, str]]:
    text = COVERAGE.read_text(encoding="utf-8")
    block = text.split("<!-- runbook-coverage -->", 1)[1].split("<!-- /runbook-coverage -->")[0]
    rows: dict[str, tuple[str, str]] = {}
    for line in block.strip().splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        assert len(cells) == 3, f"a coverage row needs 3 cells: {line}"
        assert cells[0] not in rows, f"two rows for {cells[0]!r}"
        rows[cells[0]] = (cells[1], cells[2])
    return rows


def test_every_procedure_has_one_row() -> None:
    procedures = runbook_procedures()
    rows = set(coverage_rows())
    assert procedures - rows == set(), "runbook procedures with no coverage row"
    assert rows - procedures == set(), "coverage rows for headings the runbook does not have"


def test_kinds_are_known() -> None:
    for procedure, (kinds, _) in coverage_rows().items():
        named = {kind.strip() for kind in kinds.split(",")}
        assert named and named <= KINDS, f"{procedure}: unknown kind in {kinds!r}"


def _commands() -> list[str]:
    return [
        command
        for _, where in coverage_rows().values()
        for command in re.findall(r"`spendsense ([^`]+)`", where)
    ]


@pytest.mark.parametrize("command", _commands())
def test_named_commands_exist(command: str) -> None:
    group: click.Command = cli
    words = command.split()
    while words and isinstance(group, click.Group) and not words[0].startswith("-"):
        context = click.Context(group)
        sub = group.get_command(context, words[0])
        assert sub is not None, f"`spendsense {command}`: no command {words[0]!r}"
        group, words = sub, words[1:]
    options = {opt for param in group.params for opt in getattr(param, "opts", [])}
    for word in words:
        if word.startswith("--"):
            assert word in options, f"`spendsense {command}`: {group.name} has no {word}"


def test_named_files_exist() -> None:
    for procedure, (_, where) in coverage_rows().items():
        for path in re.findall(r"\b((?:infra|scripts|policies)/[\w/.-]+\.py)\b", where):
            assert (REPO_ROOT / path).is_file(), f"{procedure}: {path} does not exist"
        for page in re.findall(r"\]\(([\w.-]+\.md)\)", where):
            assert (COVERAGE.parent / page).is_file(), f"{procedure}: {page} does not exist"
