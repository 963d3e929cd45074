"""The guards of `spendsense restore`, decided before anything is touched: which database a
restore may go into, and when a production restore is refused (outside the maintenance
window, unless --force).
"""

from __future__ import annotations

from datetime import datetime

from spendsense.errors import BadInput
from spendsense.ops.stack_projects import check_project_id, stack_projects
from spendsense.ops.window import describe_status, load_window, window_status


def restore_target(
    stack: str, own_project: str, target_project: str | None, outputs_source: str
) -> str:
    """The project a restore of `stack` imports into: its own (`own_project`, the
    `firestore_project` output) or `target_project`. BadInput when the outputs name another
    stack's project as this stack's own, or when the target is another stack's project."""
    owners = stack_projects()
    if owners.get(own_project, stack) != stack:
        # The outputs name another stack's database as this stack's own: restoring it under
        # this stack's guards (e.g. staging: no maintenance window) would be the wrong ones.
        raise BadInput(
            f"stack output 'firestore_project' in {outputs_source} is {own_project}, the "
            f"Firestore project of stack {owners[own_project]} (Pulumi.{owners[own_project]}"
            f".yaml), not of stack {stack}; pass the outputs of stack {stack}"
        )
    owners[own_project] = stack
    if target_project is None:
        return own_project
    project = check_project_id(target_project, "--target-project")
    if project != own_project and project in owners:
        # Another stack's database: its service, alarms and window are that stack's, and
        # this command (run for another stack) would skip all three. No --force for it.
        raise BadInput(
            f"--target-project: {project} is the Firestore project of stack "
            f"{owners[project]}; restoring it from --stack {stack} would skip that stack's "
            f"pause, alarm and maintenance-window guards: run `spendsense restore --stack "
            f"{owners[project]} --from ...` instead"
        )
    return project


def window_refusal(project: str, now: datetime) -> str | None:
    """Why a production restore is refused at `now` (outside the window), or None."""
    status = window_status(load_window(), now)
    if status.inside:
        return None
    return (
        f"restore into production {project} refused: {describe_status(status)}; "
        "pass --force to restore now"
    )
