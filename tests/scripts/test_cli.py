"""The `spendsense` entry point: one line per error, the right exit code, every command loads."""

from __future__ import annotations

import click
import pytest
from spendsense import cli as cli_module
from spendsense.errors import BadInput, OperationFailed


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch) -> None:
    """A throwaway subcommand that fails in the way each test asks."""

    @click.command()
    @click.argument("how")
    def probe_cmd(how: str) -> None:
        if how == "exit3":
            click.get_current_context().exit(3)
        if how == "bad":
            raise BadInput("--thing: expected a number (got 'x'); pass --thing 5")
        if how == "failed":
            raise OperationFailed("the service did not become healthy")

    monkeypatch.setitem(cli_module.COMMANDS, "probe", "tests.scripts.test_cli:_PROBE")
    monkeypatch.setattr(f"{__name__}._PROBE", probe_cmd, raising=False)


_PROBE: click.Command | None = None


def test_ctx_exit_code_is_returned(probe: None) -> None:
    assert cli_module.main(["probe", "exit3"]) == 3


def test_bad_input_is_one_line_and_exit_2(probe: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_module.main(["probe", "bad"]) == 2
    assert (
        capsys.readouterr().err == "error: --thing: expected a number (got 'x'); pass --thing 5\n"
    )


def test_a_failed_operation_is_exit_1(probe: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_module.main(["probe", "failed"]) == 1
    assert capsys.readouterr().err == "error: the service did not become healthy\n"


def test_unknown_command_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_module.main(["nope"]) == 2
    assert capsys.readouterr().err == "error: No such command 'nope'. (see `spendsense --help`)\n"


@pytest.mark.parametrize("name", sorted(cli_module.COMMANDS))
def test_every_registered_command_exists_and_has_help(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_module.main([name, "--help"]) == 0, (
        f"spendsense {name} is registered but does not load"
    )
    assert "Usage: spendsense" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(cli_module.ROLLBACK_COMMANDS))
def test_every_rollback_command_exists(name: str) -> None:
    assert cli_module.main(["rollback", name, "--help"]) == 0
