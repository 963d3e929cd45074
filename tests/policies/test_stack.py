"""Every resource: stateful resources protected in production; required tags and labels."""

from __future__ import annotations

import pytest

from tests.policies import compliant as c
from tests.policies.conftest import Pack, only


@pytest.mark.parametrize(
    ("type_", "builder"),
    [
        (c.REPOSITORY, c.repository),
        (c.SECRET, c.secret),
        (c.BUCKET, c.bucket),
        (c.DATABASE, c.database),
    ],
)
def test_unprotected_stateful_resource_in_production(
    pack: Pack, type_: str, builder: object
) -> None:
    found = pack.analyze(type_, builder(), protect=False, name="data")  # type: ignore[operator]
    message = only(found, "stack-stateful-resources-protected").message
    assert "data holds data or identity but is not protected" in message


def test_stateless_resource_needs_no_protection(pack: Pack) -> None:
    assert pack.analyze(c.LOG_GROUP, c.log_group(), protect=False) == []


@pytest.mark.parametrize("tag", ["Project", "Environment", "ManagedBy"])
def test_missing_aws_tag(pack: Pack, tag: str) -> None:
    found = pack.analyze(c.LOG_GROUP, c.changed(c.log_group(), f"tags.{tag}", "-"))
    assert (
        f"tags lack {tag} (required: Project, Environment, ManagedBy)"
        in only(found, "stack-required-tags").message
    )


def test_taggable_type_without_any_tags(pack: Pack) -> None:
    found = pack.analyze(c.SERVICE, c.changed(c.service(), "tags", "-"))
    assert "tags lack Project, Environment, ManagedBy" in only(found, "stack-required-tags").message


@pytest.mark.parametrize("label", ["project", "environment", "managed-by"])
def test_missing_gcp_label(pack: Pack, label: str) -> None:
    found = pack.analyze(c.BUCKET, c.changed(c.bucket(), f"labels.{label}", "-"), protect=True)
    assert f"labels lack {label}" in only(found, "stack-required-tags").message


def test_environment_tag_must_match_the_stack(pack: Pack) -> None:
    """The stack's policy config says which environment it is (production.json)."""
    props = c.changed(c.log_group(), "tags.Environment", "staging")
    with pack.configured({"stack-required-tags": {"environment": "production"}}):
        found = pack.analyze(c.LOG_GROUP, props)
    assert (
        'tags.Environment is "staging" in the production stack'
        in only(found, "stack-required-tags").message
    )


def test_untaggable_type_is_not_judged(pack: Pack) -> None:
    assert pack.analyze(c.DASHBOARD, c.dashboard()) == []


def test_notification_channel_labels_are_user_labels(pack: Pack) -> None:
    """A notification channel's `labels` is its configuration; its labels are `userLabels`."""
    channel = "gcp:monitoring/notificationChannel:NotificationChannel"
    props = {
        "type": "email",
        "labels": {"email_address": "oncall@example.com"},
        "userLabels": dict(c.LABELS),
    }
    assert pack.analyze(channel, props) == []
    found = pack.analyze(channel, c.changed(props, "userLabels", "-"))
    assert (
        "userLabels lack project, environment, managed-by"
        in only(found, "stack-required-tags").message
    )


def test_malformed_value_in_a_stack_policy_is_a_violation_not_a_crash(pack: Pack) -> None:
    """An input a stack policy cannot read (metricName an object) is reported by that policy
    naming what it could not read; the other stack policies still answer (compliant: silent)."""
    alarm = c.changed(c.availability_alarm(), "metricName", {"a": ["x"]})
    found = pack.analyze_stack(c.stack(availability=alarm))
    assert [(d.policy, d.level) for d in found] == [
        ("aws-cloudwatch-availability-alarm", "mandatory")
    ]
    assert found[0].message.startswith(
        "aws-cloudwatch-availability-alarm could not read the stack's resources (TypeError: "
    )
