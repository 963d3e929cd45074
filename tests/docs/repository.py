"""The repository's root and its files, for the tests that read the docs and the sources."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# Used only when git is missing: folders that are never part of the repository.
NOT_SOURCE = {
    ".git",
    ".venv",
    "node_modules",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".pulumi",
}


def repository_files() -> list[Path]:
    """Files git tracks or would track (untracked but not ignored): what a commit could hold."""
    if shutil.which("git") and (REPO_ROOT / ".git").exists():
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
        ).stdout.split(b"\0")
        paths = [REPO_ROOT / os.fsdecode(name) for name in listed if name]
    else:
        paths = []
        for folder, dirs, files in os.walk(REPO_ROOT):
            dirs[:] = [d for d in dirs if d not in NOT_SOURCE and not d.endswith(".egg-info")]
            paths.extend(Path(folder) / name for name in files)
    return [path for path in paths if path.is_file()]
