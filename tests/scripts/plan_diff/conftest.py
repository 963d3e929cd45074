"""`spendsense plan --base` tests: fixture git repositories made in the test.

`source_repo` (once per session) copies this repository's files (tracked and new, not ignored)
into a temporary directory, `git init`s it and commits them: the base. `git_repo` is a worktree
of it on a branch of its own; a test changes a file and commits again (two commits), then
`plan_in` runs that tree's own `spendsense plan` as a process, with its `scripts/` and root
first on PYTHONPATH, as `--base` runs the base revision. Tests about the comparison rather than
`--base` itself use `base_plan` (`--base-plan FILE`: the base commit's plan, planned once).
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


@pytest.fixture(scope="session")
def source_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the project, committed once: every test's base commit."""
    repo = copy_project(tmp_path_factory.mktemp("source") / "repo")
    git(repo, "init", "--quiet", "--initial-branch", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "base")
    return repo


@pytest.fixture
def git_repo(source_repo: Path, tmp_path: Path) -> Path:
    """A worktree of `source_repo` on a branch of its own at the base commit (no copying)."""
    target = tmp_path / "repo"
    git(source_repo, "worktree", "add", "--quiet", "-b", f"t-{tmp_path.name}", str(target), "main")
    return target


@pytest.fixture(scope="session")
def saved_plans(source_repo: Path) -> dict[str, str]:
    """The base commit's `plan --json` of each stack, planned once for the session."""
    out = {}
    for stack in ("staging", "production"):
        code, text, err = _plan(source_repo, "--stack", stack, "--json")
        assert code in (0, 1), err
        out[stack] = text
    return out


@pytest.fixture
def base_plan(saved_plans: dict[str, str], source_repo: Path, tmp_path: Path) -> BasePlanFile:
    """`--base-plan FILE` for a test's worktree: the saved base plan, its asset paths moved
    from the session's copy to the worktree (as if it had been saved there)."""

    def write(repo: Path, stack: str) -> str:
        path = tmp_path / f"base-{stack}.json"
        path.write_text(saved_plans[stack].replace(str(source_repo), str(repo)))
        return str(path)

    return write


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path.name} no longer has {old!r} exactly once"
    path.write_text(text.replace(old, new))


def commit(repo: Path, message: str = "head") -> None:
    git(repo, "commit", "--quiet", "-am", message)


Plan = Callable[..., tuple[int, Any, str]]


BasePlanFile = Callable[[Path, str], str]


def _plan(repo: Path, *args: str) -> tuple[int, str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(repo / "scripts"), str(repo)])
    env.pop("SPENDSENSE_OUTPUTS", None)
    command = [sys.executable, "-m", "spendsense", "plan", *args]
    done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def plan_in() -> Plan:
    def run(repo: Path, *args: str, as_json: bool = True) -> tuple[int, Any, str]:
        code, stdout, stderr = _plan(repo, *args, *(["--json"] if as_json else []))
        out: Any = stdout
        if as_json and stdout.strip():
            out = json.loads(stdout)
        return code, out, stderr

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
