"""Where the repository's files are, for commands that read or edit them.

The one repository locator. The checkout is `$SPENDSENSE_REPO` when set, else the nearest
directory at or above the current one that holds BOTH `Pulumi.yaml` and `pyproject.toml`
(so `infra/ci_trust/Pulumi.yaml`, a project without a `pyproject.toml`, is never taken for
the root). Nothing here depends on where the package is installed: `spendsense` run outside
a checkout fails with one line saying how to point it at one (`BadInput`, exit 2).

The root is looked up when a command first needs it (not at import), so `spendsense --help`
works anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from spendsense.errors import BadInput

REPO_ENV = "SPENDSENSE_REPO"
STACKS = ("staging", "production")
# A directory is the repository root when it holds all of these.
ROOT_MARKERS = ("Pulumi.yaml", "pyproject.toml")


def is_repo_root(directory: Path) -> bool:
    return all((directory / marker).is_file() for marker in ROOT_MARKERS)


def find_repo_root(start: Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The checkout's root directory (see the module docstring); BadInput when there is none."""
    environ = os.environ if environ is None else environ
    markers = " and ".join(ROOT_MARKERS)
    configured = environ.get(REPO_ENV, "").strip()
    if configured:
        root = Path(configured).expanduser().resolve()
        if not is_repo_root(root):
            raise BadInput(
                f"{REPO_ENV}={configured} is not a SpendSense checkout (it has no {markers}); "
                f"set it to the repository's root directory or unset it"
            )
        return root
    here = (Path.cwd() if start is None else start).resolve()
    for directory in (here, *here.parents):
        if is_repo_root(directory):
            return directory
    raise BadInput(
        f"not inside a SpendSense checkout: no directory from {here} upwards holds {markers}; "
        f"run spendsense from the repository (or a folder in it) or set {REPO_ENV}=<its root>"
    )


def repo_root() -> Path:
    """The root of the checkout this command works on (looked up on every call: cheap, and
    a test or caller that changes directory or `$SPENDSENSE_REPO` sees the new one)."""
    return find_repo_root()


def stack_file(stack: str) -> Path:
    return repo_root() / f"Pulumi.{stack}.yaml"


def pack_dir() -> Path:
    """The policy pack's folder (its own PulumiPolicy.yaml)."""
    return repo_root() / "policies"


def limits_file() -> Path:
    """The runbook's limits as data (read by the pack and by the CLI)."""
    return pack_dir() / "limits.json"


def runbook_file() -> Path:
    """Runbook data the policy pack does not read (the maintenance window), at the root."""
    return repo_root() / "runbook.json"
