"""Which Firestore project belongs to which stack: the guard that keeps one stack's command
off another stack's database (`restore`, `drill`), and the project-id check of their options.
"""

from __future__ import annotations

import re
from pathlib import Path

from spendsense.errors import BadInput
from spendsense.repo import STACKS, repo_root

_PROJECT_ID = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")


def check_project_id(value: str, option: str) -> str:
    """A GCP project id as Google allows it (6-30 lowercase letters, digits and hyphens,
    starting with a letter); exit 2 otherwise (an empty value from an unset variable too)."""
    if not _PROJECT_ID.fullmatch(value):
        raise BadInput(
            f"{option}: {value!r} is not a GCP project id (6-30 lowercase letters, digits and "
            "hyphens, starting with a letter)"
        )
    return value


def stack_projects(root: Path | None = None, stacks: tuple[str, ...] = STACKS) -> dict[str, str]:
    """project id -> stack, for every `Pulumi.<stack>.yaml` in the repository: its Firestore
    project (`gcp:project`, or `spendsense:gcp.project`). Exit 2 if a stack file cannot be
    read, or if any of `stacks` has no stack file naming its project (e.g. an installed copy
    of the CLI, outside the repository, finds none): a guard that cannot see every stack must
    not let a command through."""
    from spendsense.readers import read_yaml

    root = repo_root() if root is None else root
    found: dict[str, str] = {}
    for path in sorted(root.glob("Pulumi.*.yaml")):
        stack = path.name[len("Pulumi.") : -len(".yaml")]
        document = read_yaml(path, "stack file", what="a Pulumi.<stack>.yaml file")
        config = document.get("config") if isinstance(document, dict) else None
        config = config or {}
        gcp = config.get("spendsense:gcp") if isinstance(config, dict) else None
        for value in (
            config.get("gcp:project") if isinstance(config, dict) else None,
            gcp.get("project") if isinstance(gcp, dict) else None,
        ):
            if isinstance(value, str) and value:
                found.setdefault(value, stack)
    missing = [stack for stack in stacks if stack not in found.values()]
    if missing:
        files = ", ".join(f"Pulumi.{stack}.yaml" for stack in missing)
        raise BadInput(
            f"no stack file with a gcp:project for stack(s) {', '.join(missing)} in {root} "
            f"(looked for {files}); the guards that keep one stack's command off another "
            "stack's database need every stack's project: run spendsense from the repository "
            "checkout (`make setup` installs it editable into .venv)"
        )
    return found
