"""docs/configuration.md's settings tables are the ones the models build.

Every settings field has a `Field(description=...)`, and the page's tables are generated from
them (infra/settings/reference.py): a new field, a changed description or a changed runbook
number in policies/limits.json (which the descriptions quote) fails here until
`python -m infra.settings.reference` has rewritten the page.
"""

from __future__ import annotations

import difflib

import pytest
from pydantic import BaseModel

from infra.limits import limits
from infra.settings import Settings, reference
from infra.settings.loader import OBJECTS

LIMITS = limits()


def test_the_committed_tables_are_the_generated_ones() -> None:
    committed = reference.PAGE.read_text(encoding="utf-8")
    generated = reference.render(committed)
    diff = "".join(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            generated.splitlines(keepends=True),
            "docs/configuration.md (committed)",
            "docs/configuration.md (generated)",
        )
    )
    assert not diff, f"run `python -m infra.settings.reference`:\n{diff}"


@pytest.mark.parametrize("model", [Settings, *OBJECTS.values()], ids=lambda m: m.__name__)
def test_every_field_has_a_description(model: type[BaseModel]) -> None:
    missing = [name for name, field in model.model_fields.items() if not field.description]
    assert not missing, f"{model.__name__}: fields without Field(description=...): {missing}"


def test_a_table_missing_from_the_page_is_an_error() -> None:
    text = reference.PAGE.read_text(encoding="utf-8").replace(
        "<!-- settings-table: jwt -->", "<!-- moved -->"
    )
    with pytest.raises(reference.ReferenceError, match="no settings-table for jwt"):
        reference.render(text)


def test_the_runbook_numbers_in_the_tables_come_from_the_limits() -> None:
    """The rows quote the loaded limits, not numbers typed again."""
    monitoring = reference.table("monitoring")
    latency = next(line for line in monitoring.splitlines() if "`latencyP95Ms`" in line)
    assert f"the most the policy pack allows: {LIMITS.cloudwatch.latency_p95_ms}." in latency
    jwt = reference.table("jwt")
    assert f"allows at most {LIMITS.secrets.max_rotation_days}." in jwt
    api = reference.table("api")
    assert f"allows at most {LIMITS.apprunner.max_cpu}." in api
