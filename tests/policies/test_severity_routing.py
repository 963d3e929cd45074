"""Issue 17: every alarm and alert policy has a severity and notifies that severity's route;
in production P0 pages (a route that is not e-mail). Through the pack's Analyzer interface."""

from __future__ import annotations

from typing import Any

import pytest
from spendsense.plan.analyzer import Diagnostic

from tests.policies import compliant as c
from tests.policies.conftest import Pack, messages, only, resource, urn

ROUTED = "stack-alert-severity-routed"
PAGES = "stack-alert-p0-pages"


def _channel(name: str, type_: str, *severities: str) -> tuple[str, dict[str, Any]]:
    labels = {**c.LABELS, **{f"severity-{s}": "routed" for s in severities}}
    return name, {"type": type_, "displayName": name, "labels": {}, "userLabels": labels}


def _policy(severity: str | None, channels: list[str]) -> dict[str, Any]:
    labels = dict(c.LABELS) | ({"severity": severity} if severity else {})
    return {
        "displayName": "Firestore read latency",
        "combiner": "OR",
        "notificationChannels": [f"projects/p/notificationChannels/{n}" for n in channels],
        "userLabels": labels,
    }


def _with_gcp(policy: dict[str, Any], notified: list[str]) -> list[Any]:
    """The compliant stack plus an e-mail channel for every severity, a pager channel for
    P0/P1, and `policy` depending on the channels `notified`."""
    channels = [
        _channel("email", "email", "p0", "p1", "p2", "p3"),
        _channel("pager", "webhook_tokenauth", "p0", "p1"),
    ]
    built = [resource(c.CHANNEL, name, props) for name, props in channels]
    deps = [urn(c.CHANNEL, n) for n in notified]
    return [*c.stack(), *built, resource(c.ALERT_POLICY, "read-latency", policy, dependencies=deps)]


def _routing(found: list[Diagnostic]) -> list[str]:
    return messages(found, ROUTED) + messages(found, PAGES)


def test_the_compliant_stack_is_routed(pack: Pack) -> None:
    assert _routing(pack.analyze_stack(c.stack())) == []
    assert _routing(pack.analyze_stack(_with_gcp(_policy("p2", ["email"]), ["email"]))) == []


def test_an_alarm_without_a_severity_fails(pack: Pack) -> None:
    alarm = c.changed(c.cpu_alarm(), "tags.Severity", "-")
    found = pack.analyze_stack(c.stack(cpu=alarm))
    assert 'alarm "spendsense-api-cpu" has no Severity tag of P0..P3' in only(found, ROUTED).message


def test_an_alarm_routed_to_another_severitys_topic_fails(pack: Pack) -> None:
    """The API down (P0) sent to the P2 topic would not page."""
    alarm = c.changed(c.availability_alarm(), "alarmActions", c.routed("P2"))
    found = pack.analyze_stack(c.stack(availability=alarm))
    message = only(found, ROUTED).message
    assert 'alarm "spendsense-api-availability" is P0 but notifies the P2 topic' in message


def test_an_alarm_that_reaches_only_the_stream_fails(pack: Pack) -> None:
    alarm = c.changed(c.latency_alarm(), "alarmActions", [c.TOPIC])
    found = pack.analyze_stack(c.stack(latency=alarm))
    assert "is P2 but notifies no SNS topic tagged Severity=P2" in only(found, ROUTED).message


def test_unknown_actions_are_judged_by_dependency_or_pending(pack: Pack) -> None:
    """A preview of new topics: the ARNs are unknown, the dependency is not."""
    alarm = c.changed(c.cpu_alarm(), "alarmActions", [c.UNKNOWN, c.UNKNOWN])
    stack = [
        *c.stack(cpu=None),
        resource(c.ALARM, "cpu", alarm, dependencies=[urn(c.SNS_TOPIC, "alerts-p3-topic")]),
    ]
    assert _routing(pack.analyze_stack(stack)) == []
    wrong = [
        *c.stack(cpu=None),
        resource(c.ALARM, "cpu", alarm, dependencies=[urn(c.SNS_TOPIC, "alerts-p0-topic")]),
    ]
    assert "is P3 but notifies the P0 topic" in only(pack.analyze_stack(wrong), ROUTED).message
    undecided = [*c.stack(cpu=None), resource(c.ALARM, "cpu", alarm)]
    (pending,) = [d for d in pack.analyze_stack(undecided) if d.policy == ROUTED]
    assert pending.level == "advisory"
    assert "cannot be checked until deployment" in pending.message
    assert "alarmActions is" in pending.message


def test_an_alert_policy_without_a_severity_label_fails(pack: Pack) -> None:
    found = pack.analyze_stack(_with_gcp(_policy(None, ["email"]), ["email"]))
    assert "has no severity user label of p0..p3" in only(found, ROUTED).message


def test_an_alert_policy_notifying_another_severitys_channel_fails(pack: Pack) -> None:
    """A P2 policy that pages (the pager channel routes only P0/P1)."""
    found = pack.analyze_stack(_with_gcp(_policy("p2", ["email", "pager"]), ["email", "pager"]))
    assert 'notifies "pager", not a channel of the p2 route' in only(found, ROUTED).message


def test_an_alert_policy_missing_part_of_its_route_fails(pack: Pack) -> None:
    found = pack.analyze_stack(_with_gcp(_policy("p1", ["email"]), ["email"]))
    assert 'is p1 but does not notify "pager" of its route' in only(found, ROUTED).message


def _email_only_p0() -> list[Any]:
    return c.stack(**{"alerts-p0-https": c.subscription("P0", "email", "oncall@example.com")})


def test_production_p0_with_email_only_fails(pack: Pack) -> None:
    with pack.configured({PAGES: {"production": True}}):
        found = pack.analyze_stack(_email_only_p0())
        paged = pack.analyze_stack(c.stack())
    assert "the P0 topic has only e-mail subscriptions" in only(found, PAGES).message
    assert only(found, PAGES).level == "mandatory"
    assert messages(paged, PAGES) == []


def test_staging_may_route_p0_to_email(pack: Pack) -> None:
    with pack.configured({PAGES: {"production": False}}):
        assert messages(pack.analyze_stack(_email_only_p0()), PAGES) == []


@pytest.mark.parametrize("stack_file", ["production", "staging"])
def test_the_stack_configs_set_production(stack_file: str) -> None:
    import json
    from pathlib import Path

    config = json.loads(
        (Path(__file__).parents[2] / "policies" / "config" / f"{stack_file}.json").read_text()
    )
    assert config[PAGES]["production"] is (stack_file == "production")
