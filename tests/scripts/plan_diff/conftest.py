"""`spendsense plan --base` tests: fixture git repositories made in the test.

`git_repo` copies this repository's files (tracked and new, not ignored) into a temporary
directory, `git init`s it and commits them: the base. A test changes a file and commits again
(two commits), then `plan_in` runs that copy's own `spendsense plan` as a process, with its
`scripts/` and root first on PYTHONPATH, as `--base` runs the base revision.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from spendsense.cli import main
from spendsense.plan import preview
from spendsense.plan.analyzer import PolicyPackProcess

REPO = Path(__file__).resolve().parents[3]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **GIT_ENV},
    )
    return done.stdout


def copy_project(target: Path) -> Path:
    listed = (
        subprocess.run(
            ["git", "-C", str(REPO), "ls-files", "-co", "--exclude-standard", "-z"],
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    repo = copy_project(tmp_path / "repo")
    git(repo, "init", "--quiet", "--initial-branch", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "base")
    return repo


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path.name} no longer has {old!r} exactly once"
    path.write_text(text.replace(old, new))


def commit(repo: Path, message: str = "head") -> None:
    git(repo, "commit", "--quiet", "-am", message)


Plan = Callable[..., tuple[int, Any, str]]


@pytest.fixture
def plan_in() -> Plan:
    def run(repo: Path, *args: str, as_json: bool = True) -> tuple[int, Any, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(repo / "scripts"), str(repo)])
        env.pop("SPENDSENSE_OUTPUTS", None)
        command = [sys.executable, "-m", "spendsense", "plan", *args]
        if as_json:
            command.append("--json")
        done = subprocess.run(
            command, cwd=repo, env=env, capture_output=True, text=True, timeout=300
        )
        out: Any = done.stdout
        if as_json and done.stdout.strip():
            out = json.loads(done.stdout)
        return done.returncode, out, done.stderr

    return run


@pytest.fixture(scope="session")
def session_pack() -> Iterator[PolicyPackProcess]:
    pack = PolicyPackProcess.start()
    try:
        pack.connect(timeout=60)
        yield pack
    finally:
        pack.close()


class _Shared(PolicyPackProcess):
    """The session's pack, which a plan must not kill."""

    def __init__(self, real: PolicyPackProcess) -> None:
        self.__dict__.update(real.__dict__)

    def close(self) -> None:
        pass


@pytest.fixture
def run_cli(
    session_pack: PolicyPackProcess,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Callable[..., tuple[int, str, str]]:
    """The real command in-process (this repository's program), with the session's pack."""
    monkeypatch.setattr(
        preview.PolicyPackProcess, "start", classmethod(lambda cls, *a, **k: _Shared(session_pack))
    )

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
