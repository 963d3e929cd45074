"""The workflows call only commands that exist in this repository, with flags they accept.

Every `make X` in a `run:` step must be a Makefile target; every `spendsense ...` must resolve
to a real subcommand of `spendsense.cli.cli` (the lazily loaded click tree) and parse with
click's own parser, so an unknown flag, a missing required option or a bad `--stack` value
fails here instead of in a scheduled run at 06:30.
"""

from __future__ import annotations

import re

import click
import pytest
from spendsense.cli import COMMANDS, cli

from tests.ci.workflow_model import (
    REPO_ROOT,
    Invocation,
    invocations,
    load_workflows,
    makefile_targets,
    steps,
)

ALL = [call for workflow in load_workflows() for call in invocations(workflow)]
MAKE_CALLS = [call for call in ALL if call.program == "make"]
SPENDSENSE_CALLS = [call for call in ALL if call.program == "spendsense"]


def resolve(args: tuple[str, ...]) -> tuple[click.Command, str, list[str], click.Context]:
    """Walk the click tree like click does: group -> subcommand (-> subcommand), then the rest.

    Returns the leaf command, its name, its remaining arguments and its parent's context.
    """
    context = click.Context(cli, info_name="spendsense")
    command: click.Command = cli
    name = "spendsense"
    rest = list(args)
    while isinstance(command, click.Group):
        if not rest or rest[0].startswith("-"):
            raise AssertionError(f"`{' '.join(args)}` names no subcommand of {command.name}")
        name = rest.pop(0)
        sub = command.get_command(context, name)
        if sub is None:
            known = ", ".join(command.list_commands(context))
            raise AssertionError(
                f"`spendsense {' '.join(args)}`: {command.name or 'spendsense'} has no "
                f"subcommand {name!r} yet (its module is missing or the name is wrong; "
                f"registered: {known})"
            )
        if isinstance(sub, click.Group):
            context = click.Context(sub, info_name=name, parent=context)
        command = sub
    return command, name, rest, context


def test_the_workflows_call_some_commands() -> None:
    """The scan finds what is there: a scan that found nothing would prove nothing."""
    programs = {(call.workflow, call.program) for call in ALL}
    assert ("preview.yml", "make") in programs
    assert ("preview.yml", "spendsense") in programs
    assert ("checks.yml", "spendsense") in programs
    assert ("deploy.yml", "make") in programs


@pytest.mark.parametrize("call", MAKE_CALLS, ids=lambda call: call.id)
def test_make_targets_exist(call: Invocation) -> None:
    """Every `make X` names a target the Makefile defines."""
    targets = makefile_targets()
    wanted = [arg for arg in call.args if not arg.startswith("-") and "=" not in arg]
    assert wanted, f"{call.workflow}/{call.job}: bare `make` runs the default target; name one"
    for target in wanted:
        assert target in targets, (
            f"{call.workflow}/{call.job}: `make {target}` is not a Makefile target "
            f"(targets: {', '.join(sorted(targets))})"
        )


@pytest.mark.parametrize("call", SPENDSENSE_CALLS, ids=lambda call: call.id)
def test_spendsense_invocations_parse(call: Invocation) -> None:
    """Every `spendsense ...` resolves to a subcommand and parses with click's own parser."""
    command, name, rest, parent = resolve(call.args)
    try:
        with command.make_context(name, rest, parent=parent, resilient_parsing=False):
            pass
    except click.UsageError as exc:
        pytest.fail(f"{call.workflow}/{call.job}: `{call.line}` is rejected by click: {exc}")


def test_resolve_rejects_what_click_rejects() -> None:
    """The checker itself fails on a flag that does not exist (so it can catch a typo)."""
    with pytest.raises((click.UsageError, AssertionError)):
        command, name, rest, parent = resolve(("outputs", "--stack", "production", "--bogus"))
        with command.make_context(name, rest, parent=parent, resilient_parsing=False):
            pass
    with pytest.raises(AssertionError, match="no subcommand"):
        resolve(("no-such-command",))


def test_every_subcommand_the_workflows_use_is_registered() -> None:
    """The first word after `spendsense` is one of the names in cli.COMMANDS."""
    for call in SPENDSENSE_CALLS:
        assert call.args and call.args[0] in COMMANDS, f"{call.id}: not in cli.COMMANDS"


def test_scripts_the_workflows_run_exist() -> None:
    """A `python path/to/script.py` in a run step points at a file in the repository."""
    for workflow in load_workflows():
        for job_id, _job, step in steps(workflow):
            for path in re.findall(r"python3?\s+([\w./-]+\.py)", str(step.get("run") or "")):
                assert (REPO_ROOT / path).is_file(), f"{workflow.name}/{job_id}: {path} is missing"
