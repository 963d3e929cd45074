"""Issue 14 item 9: arguments that aim elsewhere are judged against the identifier's documented
shape before any request is made and before any credential or output is asked for.

- `rollback frontend --to` (and the Vercel ids from the outputs) never reach a Vercel URL path
  unless they are a deployment id or host (`spendsense.identifiers`); the local server
  answering like Vercel records that no request was made at all;
- `restore --from` is checked before the stack outputs are read (no `pulumi`, no outputs
  file: the error is still about --from);
- `rules test --emulator HOST:PORT` needs a host and a port from 1 to 65535 (through the
  installed command: the old code tried to connect and waited).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from spendsense.cli import main


def _one_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err and "unexpected" not in captured.err
    assert captured.out == ""
    return lines[0]


@pytest.fixture
def vercel(http_server, monkeypatch):
    """A local server answering like Vercel (any request is recorded; none is expected)."""
    monkeypatch.setenv("SPENDSENSE_VERCEL_API", http_server.url)
    monkeypatch.setenv("VERCEL_TOKEN", "test-token-123")
    http_server.on("GET", "/v6/deployments", (200, {"deployments": [], "pagination": {}}))
    return http_server


@pytest.mark.parametrize(
    "to",
    [
        "../../x",
        "dpl_abc/../../v10/projects/other/promote/dpl_x",
        "https://spendsense.vercel.app/../../v9/projects",
        "http://spendsense-abc.vercel.app",
        "dpl_a b",
        "%2e%2e%2fx",
        "dpl_",
        "spendsense",
    ],
)
def test_rollback_frontend_to_must_be_a_deployment_before_any_request(
    vercel, write_stack_outputs, capsys, to
) -> None:
    outputs = write_stack_outputs("production")
    code = main(["rollback", "frontend", "--stack", "production", "--outputs", outputs, "--to", to])
    line = _one_error(capsys)
    assert code == 2, line
    assert line.startswith("error: --to: ") and "is not a deployment" in line, line
    assert vercel.requests == []


@pytest.mark.parametrize("project", ["..", "../admin", "prj_x/../../y", "prj x", "."])
def test_a_vercel_project_id_that_is_not_an_id_never_reaches_a_request(
    vercel, write_stack_outputs, capsys, project
) -> None:
    outputs = write_stack_outputs("production", vercel_project_id=project)
    code = main(["rollback", "frontend", "--stack", "production", "--outputs", outputs])
    line = _one_error(capsys)
    assert code == 2, line
    assert f"stack output 'vercel_project_id' in {outputs}: must be" in line
    assert vercel.requests == []


@pytest.mark.parametrize(
    "source",
    [
        "../../x",
        "daily/../../20261124_020000",
        "gs://spendsense-backups/daily/../20261124_020000/",
        "gs://spendsense-backups/../other/daily/20261124_020000",
        "daily/20261124_020000/../../",
        "daily/latest",
        "gs:///daily/20261124_020000",
        "",
    ],
)
def test_restore_from_is_checked_before_the_outputs_or_credentials(
    monkeypatch, tmp_path, capsys, source
) -> None:
    """No outputs anywhere and no Pulumi CLI: a bad --from is still what the error is about."""
    monkeypatch.delenv("SPENDSENSE_OUTPUTS", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no `pulumi` (nor gcloud) to ask
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "none.json"))
    code = main(["restore", "--stack", "production", "--from", source])
    line = _one_error(capsys)
    assert code == 2, line
    assert line.startswith("error: --from: ") and "is not an export folder" in line, line


def test_a_good_from_goes_on_to_the_outputs(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.delenv("SPENDSENSE_OUTPUTS", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    code = main(["restore", "--stack", "production", "--from", "daily/20261124_020000/"])
    line = _one_error(capsys)
    assert code == 2 and "no stack outputs" in line, line


@pytest.mark.parametrize(
    "host",
    [
        "localhost:99999",
        "localhost:0",
        "localhost:65536",
        "localhost:\u0663\u0663",  # ARABIC-INDIC digits: str.isdigit() is true for them
        "local host:8080",
        "[::1:8080",
        "localhost:",
        "",
    ],
)
def test_rules_test_emulator_needs_a_host_and_a_valid_port(host: str) -> None:
    spendsense = str(Path(sys.executable).with_name("spendsense"))
    try:
        result = subprocess.run(
            [spendsense, "rules", "test", "--emulator", host],
            capture_output=True,
            text=True,
            timeout=30,
            env=dict(os.environ),
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"--emulator {host!r} was not refused at once")
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: --emulator: "), result.stderr
    assert "HOST:PORT" in lines[0] and "65535" in lines[0], lines[0]
