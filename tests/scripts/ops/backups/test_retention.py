"""`ops.backups.retention`: the retention `backup verify` judges against, decided outside the
command (the stack output, else policies/limits.json with a note)."""

from __future__ import annotations

import pytest
from spendsense.errors import BadInput
from spendsense.ops.backups.retention import MAX_RETENTION_DAYS, Retention, retention_days
from spendsense.outputs import StackOutputs

from infra.limits import limits


def outputs(**values: object) -> StackOutputs:
    return StackOutputs(stack="production", values=dict(values), source="outputs.json")


def test_the_stack_output_is_used_as_is() -> None:
    assert retention_days(outputs(backup_retention_days=45)) == Retention(45)


def test_an_older_outputs_file_falls_back_to_limits_json_with_a_note() -> None:
    retention = retention_days(outputs())
    assert retention.days == limits().backup.retention_days
    assert retention.source == "policies/limits.json"
    assert retention.note is not None and "no backup_retention_days" in retention.note
    assert f"using {retention.days} days" in retention.note


@pytest.mark.parametrize("value", [0, MAX_RETENTION_DAYS + 1, True, "30", 1.5])
def test_a_bad_output_is_one_line_naming_it(value: object) -> None:
    with pytest.raises(BadInput) as caught:
        retention_days(outputs(backup_retention_days=value))
    message = str(caught.value)
    assert "\n" not in message and "backup_retention_days" in message
