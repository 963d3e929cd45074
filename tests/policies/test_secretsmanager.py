"""Secrets Manager: every secret rotates at least monthly."""

from __future__ import annotations

import pytest

from tests.policies import compliant as c
from tests.policies.conftest import Pack, only


def test_secret_without_rotation(pack: Pack) -> None:
    diagnostic = only(pack.analyze_stack(c.stack(rotation=None)), "aws-secretsmanager-rotation")
    assert "has no aws.secretsmanager.SecretRotation, so it is never rotated" in diagnostic.message
    assert diagnostic.urn.endswith("::secret")


def test_rotation_every_90_days(pack: Pack) -> None:
    found = pack.analyze_stack(
        c.stack(rotation=c.changed(c.rotation(), "rotationRules.automaticallyAfterDays", 90))
    )
    assert (
        "rotates every 90 days; the runbook rotates at least every 30 days"
        in only(found, "aws-secretsmanager-rotation").message
    )


@pytest.mark.parametrize("expression", ["rate(30 days)", "cron(0 7 1 * ? *)", "rate(7 days)"])
def test_schedule_expressions_at_least_monthly(pack: Pack, expression: str) -> None:
    rules = {"scheduleExpression": expression}
    assert (
        pack.analyze_stack(c.stack(rotation=c.changed(c.rotation(), "rotationRules", rules))) == []
    )


def test_schedule_expression_every_quarter(pack: Pack) -> None:
    rules = {"scheduleExpression": "rate(90 days)"}
    found = pack.analyze_stack(c.stack(rotation=c.changed(c.rotation(), "rotationRules", rules)))
    assert "rotates every 90 days" in only(found, "aws-secretsmanager-rotation").message


def test_rotation_found_through_dependency_when_id_unknown(pack: Pack) -> None:
    assert (
        pack.analyze_stack(c.stack(rotation=c.changed(c.rotation(), "secretId", c.UNKNOWN))) == []
    )


ROTATION = "aws-secretsmanager-rotation"
LABEL = "spendsense/production/jwt-signing-key"


@pytest.mark.parametrize("value", [False, "false", "False"])
def test_rotation_disabled(pack: Pack, value: object) -> None:
    found = pack.analyze_stack(c.stack(rotation=c.changed(c.rotation(), "rotationEnabled", value)))
    assert (
        only(found, ROTATION).message
        == f"rotation of secret {LABEL} is disabled; set rotationEnabled=True"
    )


def test_rotation_without_readable_schedule(pack: Pack) -> None:
    rules = {"scheduleExpression": "every full moon"}
    found = pack.analyze_stack(c.stack(rotation=c.changed(c.rotation(), "rotationRules", rules)))
    assert (
        f"the rotation of secret {LABEL} has no readable schedule" in only(found, ROTATION).message
    )


@pytest.mark.parametrize("field", ["rotationRules", "rotationRules.automaticallyAfterDays"])
def test_unknown_rotation_rules_are_pending(pack: Pack, field: str) -> None:
    """Unknown rules (whole or one field) are "cannot be checked until deployment", never
    "no readable schedule"."""
    found = pack.analyze_stack(c.stack(rotation=c.changed(c.rotation(), field, c.UNKNOWN)))
    diagnostic = only(found, ROTATION)
    assert diagnostic.level == "advisory"
    assert (
        diagnostic.message == "cannot be checked until deployment: the rotation schedule of "
        f"{LABEL} is not known during preview"
    )
