"""Which retention `backup verify` judges the daily exports against, and where it came from.

Owns the decision: the stack output `backup_retention_days` (docs/design.md#contract-outputs),
or, for an older outputs file without it, `backup.retentionDays` in policies/limits.json with a
note saying so. The command only prints the note.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from spendsense.errors import BadInput
from spendsense.outputs import StackOutputs
from spendsense.repo import limits_file

MAX_RETENTION_DAYS = 3650


@dataclass(frozen=True)
class Retention:
    """The retention in days, where it came from, and a note to print when it is not the
    stack's own number."""

    days: int
    source: str = "stack outputs"
    note: str | None = None


def retention_days(outputs: StackOutputs) -> Retention:
    """The daily exports' retention from the stack outputs, else from policies/limits.json."""
    value = outputs.get("backup_retention_days")
    note: str | None = None
    where = f"stack output 'backup_retention_days' in {outputs.source}"
    if value is None:
        from infra.limits import LimitsError, read_pack_limits

        try:
            value = read_pack_limits(limits_file()).backup.retention_days
        except LimitsError as exc:
            raise BadInput(
                f"the stack outputs have no backup_retention_days and {exc}; pass --outputs "
                "with a current outputs file (`spendsense plan --outputs-file`)"
            ) from None
        where = f"{limits_file().name} backup.retentionDays"
        note = (
            f"note: the stack outputs ({outputs.source}) have no backup_retention_days (an "
            f"outputs file from before it was exported?); using {value} days from "
            f"policies/limits.json backup.retentionDays instead of the stack's own number"
        )
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= MAX_RETENTION_DAYS
    ):
        raise BadInput(
            f"{where}: must be a whole number of days from 1 to {MAX_RETENTION_DAYS} "
            f"(got {json.dumps(value)[:40]})"
        )
    if note is None:
        return Retention(value)
    return Retention(value, source="policies/limits.json", note=note)
