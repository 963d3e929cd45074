"""The base of `spendsense plan --base REF` / `--base-plan FILE`: the plan to compare with.

`--base REF` checks the revision out in a temporary `git worktree` (detached, removed at the
end) and runs *that revision's own* `spendsense plan --json` in it, as its own process with
the installed dependencies: its program, stack file, policy pack and policy config, its
`spendsense` package first on `PYTHONPATH`. The process is started before the head is planned
in this one, so the two plans overlap on the two cores. `--base-plan FILE` reads a saved
`spendsense plan --json` instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from spendsense.errors import BadInput
from spendsense.readers import read_yaml
from spendsense.repo import repo_root

if TYPE_CHECKING:
    from collections.abc import Iterator

    from spendsense.plan.projects import Project

PLAN_FILE_LIMIT = 32 * 1024 * 1024


@dataclass
class BasePlan:
    """A base plan in the JSON form, and what it came from."""

    document: dict[str, Any]
    origin: dict[str, str]  # {"ref", "commit"} or {"file"}
    stack_config: dict[str, Any] | None = None  # the base's raw stack file `config:`
    root: str | None = None  # the worktree the base was planned in (asset paths start with it)


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
    )


def resolve(root: Path, ref: str) -> str:
    """The commit `ref` names in the repository at `root`; BadInput (one line) otherwise."""
    if shutil.which("git") is None:
        raise BadInput("--base: git is not installed; install git or pass --base-plan FILE")
    inside = _git(root, "rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        raise BadInput(
            f"--base: {root} is not a git repository; run from a clone, or pass "
            "--base-plan FILE (a saved `spendsense plan --json`)"
        )
    if ref.startswith("-") or not ref.strip():
        raise BadInput(f"--base: {ref!r} is not a revision; give a branch, tag or commit")
    found = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if found.returncode != 0:
        raise BadInput(
            f"--base: {ref!r} is not a commit of {root}; fetch it first (e.g. "
            "`git fetch origin main`) or give another branch, tag or commit"
        )
    return found.stdout.strip()


class BaseRun:
    """The base revision's `spendsense plan --json`, running in a temporary worktree."""

    def __init__(self, root: Path, ref: str, stack: str, directory: str) -> None:
        self.root, self.ref, self.stack, self.directory = root, ref, stack, directory
        self.commit = resolve(root, ref)
        self._tmp = Path(tempfile.mkdtemp(prefix="spendsense-base-"))
        self.tree = self._tmp / "tree"
        self._process: subprocess.Popen[bytes] | None = None
        self._out: IO[bytes] | None = None
        self._err: IO[bytes] | None = None
        self.note: str | None = None  # set when the base has no such project or stack

    def start(self) -> None:
        added = _git(
            self.root, "worktree", "add", "--detach", "--quiet", str(self.tree), self.commit
        )
        if added.returncode != 0:
            self.close()
            last = (added.stderr.strip().splitlines() or ["?"])[-1]
            raise BadInput(f"--base: git worktree add {self.commit[:12]} failed: {last}")
        self.note = self._missing()
        if self.note is not None:
            return  # nothing to plan: an empty base, everything a create
        env = dict(os.environ)
        paths = [str(self.tree / "scripts"), str(self.tree)]
        env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in [env.get("PYTHONPATH")] if p])
        env.pop("SPENDSENSE_OUTPUTS", None)
        # The base's own checkout is its repository (spendsense.repo honours SPENDSENSE_REPO).
        env["SPENDSENSE_REPO"] = str(self.tree)
        command = [sys.executable, "-m", "spendsense", "plan", "--stack", self.stack, "--json"]
        if self.directory != ".":
            command[4:4] = ["-C", self.directory]
        self._out = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self._err = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self._process = subprocess.Popen(
            command,
            cwd=self.tree,
            env=env,
            stdout=self._out,
            stderr=self._err,
            stdin=subprocess.DEVNULL,
        )

    def _missing(self) -> str | None:
        """Why the base cannot have this stack (a change that adds it), or None."""
        project = self.tree / self.directory
        if not (project / "Pulumi.yaml").is_file():
            return f"the base has no project {self.directory}: an empty base, everything a create"
        if not (project / f"Pulumi.{self.stack}.yaml").is_file():
            return f"the base has no stack {self.stack}: an empty base, everything a create"
        return None

    def result(self) -> BasePlan:
        """Wait for the base plan (exit 0 or 1: a verdict) and read it; BadInput else (not
        comparable: exit 2). An empty base, with a note, when the base lacks the stack."""
        if self.note is not None:
            empty: dict[str, Any] = {"resources": [], "outputs": {}, "violations": []}
            origin = {"ref": self.ref, "commit": self.commit, "note": self.note}
            return BasePlan(empty, origin, {}, root=str(self.tree))
        assert self._process is not None and self._out is not None and self._err is not None
        code = self._process.wait()
        self._out.seek(0)
        self._err.seek(0)
        out = self._out.read().decode("utf-8", "replace")
        err = self._err.read().decode("utf-8", "replace")
        where = f"the base {self.ref} ({self.commit[:12]})"
        if code not in (0, 1):
            last = (err.strip().splitlines() or [f"exit {code}"])[-1]
            raise BadInput(f"--base: planning {where} failed, not comparable: {last}")
        try:
            document = json.loads(out)
        except ValueError:
            raise BadInput(
                f"--base: {where} printed no JSON plan (exit {code}); is its spendsense too old?"
            ) from None
        check_document(document, f"--base {self.ref}")
        stack_file = self.tree / self.directory / f"Pulumi.{self.stack}.yaml"
        config = _raw_config(stack_file)
        return BasePlan(
            document, {"ref": self.ref, "commit": self.commit}, config, root=str(self.tree)
        )

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        for stream in (self._out, self._err):
            if stream is not None:
                stream.close()
        if self.tree.exists():
            _git(self.root, "worktree", "remove", "--force", str(self.tree))
        _git(self.root, "worktree", "prune")
        shutil.rmtree(self._tmp, ignore_errors=True)


def _raw_config(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        document = read_yaml(path, "--base", what="a stack file")
    except BadInput:
        return None
    config = document.get("config") if isinstance(document, dict) else None
    return config if isinstance(config, dict) else None


def raw_stack_config(path: Path) -> dict[str, Any] | None:
    """A stack file's `config:` mapping as written (secure values still encrypted)."""
    return _raw_config(path)


def check_document(document: Any, option: str) -> None:
    if not isinstance(document, dict) or not isinstance(document.get("resources"), list):
        raise BadInput(f"{option}: not a `spendsense plan --json` document (no 'resources' list)")
    for resource in document["resources"]:
        if not isinstance(resource, dict) or not {"urn", "type", "name"} <= set(resource):
            raise BadInput(f"{option}: a resource without urn, type and name; regenerate it")


def load_plan_file(path: str, stack: str) -> BasePlan:
    """`--base-plan FILE`: a saved `spendsense plan --json` of the same stack."""
    file = Path(path)
    if not file.is_file():
        raise BadInput(f"--base-plan: {path} is not a file; pass a saved `spendsense plan --json`")
    if file.stat().st_size > PLAN_FILE_LIMIT:
        raise BadInput(f"--base-plan: {path} is over {PLAN_FILE_LIMIT // 2**20} MiB")
    try:
        document = json.loads(file.read_text("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInput(f"--base-plan: {path} is not JSON ({exc}); pass a `plan --json`") from None
    check_document(document, "--base-plan")
    if document.get("stack") not in (None, stack):
        raise BadInput(
            f"--base-plan: {path} is a plan of {document.get('stack')!r}, not of {stack!r}"
        )
    # A plan saved from a checkout here has its asset paths under this repository's root.
    return BasePlan(document, {"file": path}, root=str(repo_root()))


class _Loaded:
    def __init__(self, plan: BasePlan) -> None:
        self.plan = plan

    def result(self) -> BasePlan:
        return self.plan


@contextlib.contextmanager
def start_base(
    project: Project, stack: str, ref: str | None, plan_file: str | None
) -> Iterator[BaseRun | _Loaded | None]:
    """The base to compare with, started (a revision) or read (a file); None without one."""
    if plan_file is not None:
        yield _Loaded(load_plan_file(plan_file, stack))
        return
    if ref is None:
        yield None
        return
    run = BaseRun(repo_root(), ref, stack, project.relative)
    try:
        run.start()
        yield run
    finally:
        run.close()
