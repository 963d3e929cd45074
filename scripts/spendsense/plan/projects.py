"""The Pulumi projects of this repository that `spendsense plan -C DIR` can plan.

`-C/--cwd DIR` is the project directory, as in the Pulumi CLI (default: the repository root).
Each project has its own `Pulumi.yaml`, its stack files (`Pulumi.<stack>.yaml` in DIR), its
program and its policy config:

| DIR | project | program | stacks | policy config in `policies/config/` |
|---|---|---|---|---|
| `.` | `spendsense` | `infra.program:main` | staging, production | `<stack>.json` |
| `infra/ci_trust` | `spendsense-ci-trust` | `infra.ci_trust.program:main` | `ci` | `ci.json` |
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from spendsense.errors import BadInput
from spendsense.readers import read_yaml
from spendsense.repo import STACKS, repo_root


@dataclass(frozen=True)
class Project:
    name: str
    # The project's directory relative to the repository root ("." for the root).
    subdirectory: str
    program: str  # "module:function"
    # The settings error the program raises for a bad setting (exit 2, not a crash).
    settings_error: str  # "module:Class"
    fixed_stacks: tuple[str, ...] = ()  # empty: every Pulumi.<stack>.yaml in the directory
    # Guard: a stack file whose `<key>` names another of the project's stacks is refused.
    environment_key: str | None = None

    @property
    def directory(self) -> Path:
        """The project's directory in the checkout (looked up with `repo.repo_root`)."""
        return repo_root() / self.subdirectory

    @property
    def relative(self) -> str:
        return self.subdirectory

    def stacks(self) -> tuple[str, ...]:
        if self.fixed_stacks:
            return self.fixed_stacks
        found = sorted(
            p.name[len("Pulumi.") : -len(".yaml")] for p in self.directory.glob("Pulumi.*.yaml")
        )
        return tuple(found)

    def stack_file(self, stack: str) -> Path:
        return self.directory / f"Pulumi.{stack}.yaml"

    def policy_config(self, pack_dir: Path, stack: str) -> Path:
        return pack_dir / "config" / f"{stack}.json"

    def main(self) -> Callable[[], None]:
        module, _, attribute = self.program.partition(":")
        function = getattr(importlib.import_module(module), attribute)
        assert callable(function)
        return function

    def settings_errors(self) -> tuple[type[BaseException], ...]:
        module, _, attribute = self.settings_error.partition(":")
        error = getattr(importlib.import_module(module), attribute)
        assert isinstance(error, type) and issubclass(error, BaseException)
        return (error,)

    def check_stack(self, stack: str) -> str:
        known = self.stacks()
        if stack not in known:
            where = "" if self.relative == "." else f" of -C {self.relative}"
            raise BadInput(
                f"--stack: unknown stack {stack!r}{where}; expected one of "
                f"{', '.join(known) or '(no Pulumi.<stack>.yaml found)'}"
            )
        return stack


MAIN = Project(
    name="spendsense",
    subdirectory=".",
    program="infra.program:main",
    settings_error="infra.settings:SettingsError",
    fixed_stacks=STACKS,
    environment_key="spendsense:environment",
)
CI_TRUST = Project(
    name="spendsense-ci-trust",
    subdirectory="infra/ci_trust",
    program="infra.ci_trust.program:main",
    settings_error="infra.ci_trust.settings:TrustSettingsError",
)
PROJECTS = (MAIN, CI_TRUST)


def project_for(cwd: str | None) -> Project:
    """The project in directory `cwd` (-C), relative to the current directory; BadInput for
    a directory that is not one of this repository's Pulumi projects."""
    if cwd is None:
        return MAIN
    known = ", ".join(p.relative for p in PROJECTS)
    if not cwd.strip() or "\x00" in cwd:
        raise BadInput(f"-C/--cwd: {cwd!r} is not a directory; pass one of {known}")
    path = Path(cwd).expanduser()
    if not path.is_dir():
        raise BadInput(f"-C/--cwd: {cwd} is not a directory; pass one of {known}")
    resolved = path.resolve()
    for project in PROJECTS:
        if resolved == project.directory.resolve():
            document = read_yaml(
                project.directory / "Pulumi.yaml", "-C/--cwd", what="the project's Pulumi.yaml"
            )
            name = document.get("name") if isinstance(document, dict) else None
            if name != project.name:
                raise BadInput(
                    f"-C/--cwd: {cwd}/Pulumi.yaml names project {name!r}, not {project.name!r}"
                )
            return project
    raise BadInput(
        f"-C/--cwd: {cwd} is not a Pulumi project of this repository that plan knows; "
        f"pass one of {known} (relative to the repository root)"
    )
