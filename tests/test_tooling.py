"""The opt-in pre-commit hooks run exactly what `make lint` and `make typecheck` run.

.pre-commit-config.yaml repeats the Makefile's commands (pre-commit cannot call make targets
and keep its per-hook report); this test reads both, so a command added to, changed in or
dropped from one side fails here until the other follows. The hooks stay opt-in: `make setup`
does not install pre-commit.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

import yaml
from spendsense.repo import repo_root

CHECKED_TARGETS = ("lint", "typecheck")
VARIABLE = re.compile(r"\$\((\w+)\)")


def _variables(makefile: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in makefile.splitlines():
        match = re.match(r"^(\w+)\s*:?=\s*(.*)$", line)
        if match:
            found[match[1]] = match[2].strip()
    return found


def _expand(text: str, variables: dict[str, str]) -> str:
    for _ in range(10):  # variables refer to variables (BIN := $(VENV)/bin)
        text = VARIABLE.sub(lambda m: variables.get(m[1], m[0]), text)
    return text


def recipe(target: str) -> list[list[str]]:
    """The commands of one Makefile target's recipe, variables expanded, as argument lists."""
    makefile = (repo_root() / "Makefile").read_text()
    variables = _variables(makefile)
    lines = makefile.splitlines()
    starts = [i for i, line in enumerate(lines) if re.match(rf"^{re.escape(target)}\s*:", line)]
    assert len(starts) == 1, f"the Makefile has no single `{target}:` rule"
    commands: list[list[str]] = []
    for line in lines[starts[0] + 1 :]:
        if not line.startswith("\t"):
            break
        command = line.strip().lstrip("@-").strip()
        if command and not command.startswith("#"):
            commands.append(shlex.split(_expand(command, variables)))
    return commands


def hooks() -> list[dict[str, Any]]:
    config = yaml.safe_load((repo_root() / ".pre-commit-config.yaml").read_text())
    return [hook | {"repo": repo["repo"]} for repo in config["repos"] for hook in repo["hooks"]]


def _commit_hooks() -> list[dict[str, Any]]:
    return [hook for hook in hooks() if "manual" not in hook.get("stages", [])]


def test_every_lint_and_typecheck_command_has_a_hook() -> None:
    entries = [shlex.split(hook["entry"]) for hook in _commit_hooks()]
    for target in CHECKED_TARGETS:
        for command in recipe(target):
            assert command in entries, (
                f"`make {target}` runs `{shlex.join(command)}` but no hook in "
                f".pre-commit-config.yaml has that entry: add or update one"
            )


def test_every_commit_hook_runs_a_make_command() -> None:
    commands = [command for target in CHECKED_TARGETS for command in recipe(target)]
    for hook in _commit_hooks():
        assert shlex.split(hook["entry"]) in commands, (
            f"hook {hook['id']} runs `{hook['entry']}`, which neither `make lint` nor "
            f"`make typecheck` runs: change the Makefile or the hook so they agree"
        )


def test_the_test_suite_is_a_manual_hook_running_make_pytest() -> None:
    manual = [hook for hook in hooks() if "manual" in hook.get("stages", [])]
    assert [shlex.split(hook["entry"]) for hook in manual] == recipe("pytest")


def test_hooks_are_local_and_call_the_checkout_tools() -> None:
    for hook in hooks():
        assert hook["repo"] == "local", f"hook {hook['id']}: hook repositories cannot be fetched"
        assert hook["language"] == "system"
        assert hook["pass_filenames"] is False, f"hook {hook['id']} must check the whole tree"
        assert shlex.split(hook["entry"])[0].startswith(".venv/bin/"), hook["id"]


def test_setup_does_not_install_the_hooks() -> None:
    setup = [word for target in ("setup", "$(STAMP)") for word in _raw_recipe(target)]
    assert not any("pre-commit" in line for line in setup)
    assert any("pre-commit install" in line for line in _raw_recipe("hooks"))


def _raw_recipe(target: str) -> list[str]:
    lines = (repo_root() / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    body = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        body.append(line)
    return body
