"""The `spendsense` entry point: one line per error, the right exit code, every command loads."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

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
        if how == "crash":
            raise OverflowError("Python int too large\nto convert to C int")
        if how == "pipe":
            raise BrokenPipeError(32, "Broken pipe")
        if how == "ctrl-c":
            raise KeyboardInterrupt

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


def test_an_unexpected_exception_is_one_line_exit_1_without_traceback(
    probe: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPENDSENSE_DEBUG", raising=False)
    assert cli_module.main(["probe", "crash"]) == 1
    captured = capsys.readouterr()
    assert captured.err == (
        "error: unexpected OverflowError: Python int too large to convert to C int; this is a "
        "bug in spendsense; rerun with SPENDSENSE_DEBUG=1 for the traceback and report it with "
        "the command you ran\n"
    )
    assert "Traceback" not in captured.out


def test_spendsense_debug_lets_the_traceback_through(
    probe: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPENDSENSE_DEBUG", "1")
    with pytest.raises(OverflowError):
        cli_module.main(["probe", "crash"])


def test_a_closed_stdout_pipe_ends_quietly_with_exit_1(
    probe: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`spendsense logs | head`: no error line and no traceback; main() still returns."""
    # click makes the final flush harmless by wrapping the streams; keep pytest's own.
    monkeypatch.setattr(sys, "stdout", sys.stdout)
    monkeypatch.setattr(sys, "stderr", sys.stderr)
    assert cli_module.main(["probe", "pipe"]) == 1
    assert capsys.readouterr().err == ""


def test_ctrl_c_is_interrupted_and_exit_130(
    probe: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_module.main(["probe", "ctrl-c"]) == 130
    assert capsys.readouterr().err.splitlines()[-1] == "error: interrupted"


def test_only_googles_version_support_future_warnings_are_silenced() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cli_module.silence_google_support_warnings()
        for module in (
            "google.api_core._python_version_support",
            "google.api_core._python_package_support",
        ):
            warnings.warn_explicit(
                "You are using a Python version (3.11.7) which Google will stop supporting",
                FutureWarning,
                "x.py",
                1,
                module=module,
            )
        warnings.warn_explicit(
            "You are using a Python version (3.9.0) which Google will stop supporting",
            FutureWarning,
            "x.py",
            1,
            module="google.cloud.firestore_bundle",
        )
        warnings.warn_explicit("a real deprecation", FutureWarning, "y.py", 1, module="mylib")
        warnings.warn_explicit(
            "another notice", DeprecationWarning, "z.py", 1, module="google.api_core.other"
        )
        warnings.warn_explicit(
            "another future change", FutureWarning, "w.py", 1, module="google.cloud.storage"
        )
    assert [str(w.message) for w in caught] == [
        "a real deprecation",
        "another notice",
        "another future change",
    ]


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    root = Path(cli_module.__file__).resolve().parents[2]
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
        env=env,
        check=False,
    )


def test_a_command_that_imports_google_clients_prints_no_future_warning(tmp_path: Path) -> None:
    """`spendsense status` imports google-cloud-storage (the backup row); on this Python
    google-api-core warns about its version support at import. A fresh process, because the
    warning is printed only by the first import."""
    import json

    outputs = tmp_path / "outputs.json"
    outputs.write_text(
        json.dumps(
            {
                "environment": "staging",
                "api_url": "http://127.0.0.1:9",
                "frontend_url": "http://127.0.0.1:9/",
                "api_service_arn": "arn:aws:apprunner:us-east-1:123456789012:service/x/0123",
                "api_service_name": "x",
                "backup_bucket": "spendsense-staging-backups",
            }
        )
    )
    root = Path(cli_module.__file__).resolve().parents[2]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(root / "scripts"),
        "HOME": str(tmp_path),
        # no credentials anywhere: every AWS and Google check fails fast, without network
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "none.json"),
        "NO_GCE_CHECK": "true",
    }
    baseline = _run("-c", "import google.cloud.storage", env=env)
    assert "FutureWarning" in baseline.stderr, (
        "importing google-cloud-storage printed no FutureWarning on this Python; the test "
        "below would prove nothing (update the baseline import)"
    )
    result = _run(
        "-m",
        "spendsense",
        "status",
        "--stack",
        "staging",
        "--outputs",
        str(outputs),
        "--timeout",
        "1",
        env=env,
    )
    # nobody listens on port 9 (exit 1); no credentials: the other rows are not checked
    assert result.returncode == 1, result.stderr
    assert "backup" in result.stdout  # the row that imports the Google client ran
    assert "FutureWarning" not in result.stderr
    assert result.stderr == (
        "error: 2 check(s) failing: frontend, api; 3 check(s) not checked: service, alarms, "
        "backup\n"
    )
