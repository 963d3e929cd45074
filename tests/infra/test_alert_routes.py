"""Issue 17: each severity's route (per-severity SNS topics and GCP channels) and the stream.

Runs the program under the mock runtime for the committed stack files (and changed ones).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from spendsense.plan.recorder import SECRET_MARK, Recording

from infra.severities import Severity
from tests.infra.conftest import record

Recorded = Callable[[str], Recording]
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
SEVERITIES = ["P0", "P1", "P2", "P3"]


def _topic_of(rec: Recording, subscription_arn: str) -> str:
    return next(s for s, arn in rec.outputs["alert_topic_arns"].items() if arn == subscription_arn)


def test_the_stream_keeps_its_name_and_each_severity_has_a_topic(each_stack: Recording) -> None:
    """`alarm_topic_arn` is still `<service>-alerts` (the CLI selects alarms by it)."""
    service = each_stack.outputs["api_service_name"]
    assert each_stack.outputs["alarm_topic_arn"].endswith(f":{service}-alerts")
    arns = each_stack.outputs["alert_topic_arns"]
    assert sorted(arns) == SEVERITIES
    for severity, arn in arns.items():
        assert arn.endswith(f":{service}-alerts-{severity.lower()}")
    # The stream has no subscriber of its own: people get each alert once, from its severity.
    topics = {s.inputs["topic"] for s in each_stack.by_type(SUBSCRIPTION)}
    assert each_stack.outputs["alarm_topic_arn"] not in topics


def test_staging_routes_every_severity_to_email(recorded: Recorded) -> None:
    rec = recorded("staging")
    routes = {
        _topic_of(rec, s.inputs["topic"]): (s.inputs["protocol"], s.inputs["endpoint"])
        for s in rec.by_type(SUBSCRIPTION)
    }
    assert routes == {s: ("email", "oncall@spendsense.example.com") for s in SEVERITIES}


def test_production_pages_p0_and_p1_through_the_ssm_url(recorded: Recorded) -> None:
    rec = recorded("production")
    by_severity: dict[str, list[dict]] = {s: [] for s in SEVERITIES}
    for sub in rec.by_type(SUBSCRIPTION):
        by_severity[_topic_of(rec, sub.inputs["topic"])].append(sub.inputs)
    for severity in ("P0", "P1"):
        (pager,) = [s for s in by_severity[severity] if s["protocol"] == "https"]
        # Read from the SecureString at deploy time, kept secret in the state.
        assert pager["endpoint"] == SECRET_MARK
        assert pager["endpointAutoConfirms"] is True
        assert sorted(s["protocol"] for s in by_severity[severity]) == ["email", "https"]
    for severity in ("P2", "P3"):
        assert [s["protocol"] for s in by_severity[severity]] == ["email"]
    assert "pager.invalid" not in str([r.inputs for r in rec.resources])


def test_gcp_channels_are_one_per_endpoint_labelled_with_their_severities(
    recorded: Recorded,
) -> None:
    rec = recorded("production")
    channels = {c.inputs["type"]: c.inputs for c in rec.by_type(CHANNEL)}
    assert sorted(channels) == ["email", "webhook_tokenauth"]
    email, webhook = channels["email"], channels["webhook_tokenauth"]
    assert email["labels"] == {"email_address": "oncall@spendsense.example.com"}
    routed = {k for k, v in email["userLabels"].items() if v == "routed"}
    assert routed == {"severity-p0", "severity-p1", "severity-p2", "severity-p3"}
    assert webhook["labels"] == SECRET_MARK
    assert {k for k, v in webhook["userLabels"].items() if v == "routed"} == {
        "severity-p0",
        "severity-p1",
    }


def test_every_gcp_alert_policy_is_labelled_and_notifies_only_its_severitys_channels(
    each_stack: Recording,
) -> None:
    ids = {c.urn: c for c in each_stack.by_type(CHANNEL)}
    policies = each_stack.by_type(POLICY)
    assert len(policies) >= 5
    for policy in policies:
        label = policy.inputs["userLabels"]["severity"]
        assert label in {s.label for s in Severity}, policy.name
        notified = sorted(
            # The mock's id: the name (cut short) and a hash.
            next(c.name for c in ids.values() if c.name.startswith(ident.rsplit("-", 1)[0]))
            for ident in policy.inputs["notificationChannels"]
        )
        expected = sorted(
            c.name for c in ids.values() if f"severity-{label}" in c.inputs["userLabels"]
        )
        assert notified == expected != [], policy.name


def test_sms_and_https_routes_become_subscriptions_and_channels() -> None:
    rec = record(
        "staging",
        {
            "spendsense:monitoring.alertRoutes.P0": [
                {"sms": "+15551234567"},
                {"https": "https://events.example.com/sns"},
            ]
        },
    )
    subs = [
        (s.inputs["protocol"], s.inputs["endpoint"])
        for s in rec.by_type(SUBSCRIPTION)
        if _topic_of(rec, s.inputs["topic"]) == "P0"
    ]
    assert sorted(subs) == [("https", "https://events.example.com/sns"), ("sms", "+15551234567")]
    channels = {c.inputs["type"]: c.inputs for c in rec.by_type(CHANNEL)}
    assert channels["sms"]["labels"] == {"number": "+15551234567"}
    assert channels["webhook_tokenauth"]["labels"] == {"url": "https://events.example.com/sns"}
    assert "severity-p0" not in channels["email"]["userLabels"]


def test_a_subscription_keeps_its_name_when_an_entry_before_it_is_removed(
    recorded: Recorded,
) -> None:
    """Named by position, the pager's subscription would be renamed when the e-mail before it
    goes: Pulumi would create the "new" one (SNS answers Subscribe with the same ARN), then
    delete the "old" one, unsubscribing the pager while the state still lists it."""

    def p0_names(rec: Recording) -> dict[str, str]:
        return {
            s.inputs["protocol"]: s.name
            for s in rec.by_type(SUBSCRIPTION)
            if _topic_of(rec, s.inputs["topic"]) == "P0"
        }

    before = p0_names(recorded("production"))
    assert set(before) == {"email", "https"}
    after = p0_names(
        record(
            "production",
            {
                "spendsense:monitoring.alertRoutes.P0": [
                    {"httpsUrlParameter": "/spendsense/production/pager-url-sns", "cloud": "aws"},
                    {"httpsUrlParameter": "/spendsense/production/pager-url-gcp", "cloud": "gcp"},
                ]
            },
        )
    )
    assert after == {"https": before["https"]}


def test_endpoints_that_read_alike_get_their_own_channels() -> None:
    """a.b@x.co and a-b@x.co are two addresses: two channels, two subscriptions, no clash
    of resource names (the engine refuses a duplicate URN)."""
    rec = record(
        "staging",
        {"spendsense:monitoring.alertRoutes.P3": [{"email": "a.b@x.co"}, {"email": "a-b@x.co"}]},
    )
    p3 = [c for c in rec.by_type(CHANNEL) if c.inputs["userLabels"].get("severity-p3")]
    assert sorted(c.inputs["labels"]["email_address"] for c in p3) == ["a-b@x.co", "a.b@x.co"]
    assert len({c.name for c in p3}) == 2
    subs = [s.name for s in rec.by_type(SUBSCRIPTION) if _topic_of(rec, s.inputs["topic"]) == "P3"]
    assert len(set(subs)) == 2


def test_each_cloud_pages_through_its_own_integration(recorded: Recorded) -> None:
    """Production's P0/P1 pager entries are one per sender (`cloud`): SNS subscribes the
    `aws` entry only, Cloud Monitoring gets a channel for the `gcp` entry only."""
    rec = recorded("production")
    p0 = [s for s in rec.by_type(SUBSCRIPTION) if _topic_of(rec, s.inputs["topic"]) == "P0"]
    assert sorted(s.inputs["protocol"] for s in p0) == ["email", "https"]
    webhooks = [c for c in rec.by_type(CHANNEL) if c.inputs["type"] == "webhook_tokenauth"]
    assert [c.name.split("-url-")[1].split("-")[0] for c in webhooks] == ["gcp"]
    routed = {k for k, v in webhooks[0].inputs["userLabels"].items() if v == "routed"}
    assert routed == {"severity-p0", "severity-p1"}


def test_old_channel_names_become_aliases_only_where_one_address_had_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Upgrading from alertEmails: an address's old channel (firestore-email-<kebab>) is
    aliased to its new one, updated in place. Two addresses that fold to one old name
    (a.b@, a-b@) get no alias: two resources may not claim one alias."""
    from infra.components import alert_channels

    claimed: list[str] = []
    real = alert_channels.child

    def spy(parent: Any, provider: Any, **kwargs: Any) -> Any:
        claimed.extend(a.name for a in kwargs.get("aliases") or [])
        return real(parent, provider, **kwargs)

    monkeypatch.setattr(alert_channels, "child", spy)
    record(
        "staging",
        {
            "spendsense:monitoring.alertRoutes.P3": [
                {"email": "a.b@x.co"},
                {"email": "a-b@x.co"},
                {"email": "solo@x.co"},
            ]
        },
    )
    assert "firestore-email-solo-x-co" in claimed
    assert "firestore-email-a-b-x-co" not in claimed
