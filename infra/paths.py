"""Where the Pulumi program finds files: the one place in infra/ that locates anything.

`PACKAGE_DIR` is the `infra` package's directory, found through `importlib.resources` (the
program's own files, such as the rotation Lambda's handler and the Workflows source, are read
from it); `REPO_ROOT` is the checkout that holds it. Pulumi runs the program from the project
directory (`main: infra/` in Pulumi.yaml) and the `spendsense` CLI imports the package installed
in editable mode from the checkout (`make setup`), so both find the repository's data files
(`policies/limits.json`, `runbook.json`, the stack files) there. Every other module in infra/
imports these names instead of computing a path from its own `__file__`
(tests/scripts/test_repo.py fails on a new copy).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def _package_dir() -> Path:
    found = files("infra")
    if not isinstance(found, Path):  # e.g. imported from a zip: the program reads files
        raise RuntimeError(f"the infra package must be installed as files, not {found!r}")
    return found.resolve()


PACKAGE_DIR = _package_dir()
REPO_ROOT = PACKAGE_DIR.parent


def program_file(*parts: str) -> Path:
    """A file shipped with the program, e.g. `program_file("workflows", "x.yaml")`."""
    return PACKAGE_DIR.joinpath(*parts)
