"""Alert severities and their routes (issue 17, docs/alerting.md).

- `stack-alert-severity-routed`: every CloudWatch `MetricAlarm`/`CompositeAlarm` has a
  `Severity` tag (P0..P3) and its `alarmActions` reach an SNS topic of the stack tagged with
  the same `Severity` and no topic of another severity; every Cloud Monitoring `AlertPolicy`
  has a `severity` user label (p0..p3) and notifies exactly the notification channels of that
  severity (channels carry `severity-<p0..p3>: routed` user labels, one per severity that
  routes to them).
- `stack-alert-p0-pages` (production): the P0 route has at least one endpoint that is not
  e-mail (an SNS subscription of another protocol on the P0 topic; a non-`email` channel
  labelled for P0, where the stack routes P0 to channels at all).

An action or channel id unknown during preview is judged by dependency (the program's alarm
depends on its topics, a policy on its channels); where that cannot decide, the value is
`Pending` (base.py): "cannot be checked until deployment", never a pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import Policy, PolicyResource, Severity

from spendsense_policies.base import Pending, Unknown, get, of_type, stack_policy
from spendsense_policies.config import schema

ALARM_TYPES = (
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:cloudwatch/compositeAlarm:CompositeAlarm",
)
TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
ALERT_POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
LEVELS = ("P0", "P1", "P2", "P3")
ROUTED = "routed"


def _items(value: Any) -> list[Any] | Unknown:
    """A list property's items, each read with `get` (an unknown item stays `Unknown`)."""
    if isinstance(value, Unknown):
        return value
    if not isinstance(value, Sequence) or isinstance(value, str):
        return []
    return [get(value, i) for i in range(len(value))]


def _label(resource: PolicyResource) -> str:
    name = get(resource.props, "name") or get(resource.props, "displayName")
    return f'"{name}"' if isinstance(name, str) else resource.name


def _topic_severity(topic: PolicyResource) -> Any:
    return get(topic.props, "tags", "Severity")


class _Index:
    """The stack's topics and channels, looked up by name or URN (linear work per stack)."""

    def __init__(self, resources: Sequence[PolicyResource]) -> None:
        self.topics = {
            name: t
            for t in of_type(resources, TOPIC)
            if isinstance(name := get(t.props, "name"), str)
        }
        self.topic_urns = {t.urn: t for t in of_type(resources, TOPIC)}
        self.channels = {c.urn: c for c in of_type(resources, CHANNEL)}
        self.route: dict[str, list[PolicyResource]] = {}
        for channel in self.channels.values():
            for severity in _channel_severities(channel):
                self.route.setdefault(severity, []).append(channel)

    def topic(self, arn: str) -> PolicyResource | None:
        """The stack's topic an SNS ARN names (arn:aws:sns:REGION:ACCOUNT:NAME), by its name."""
        return self.topics.get(arn.rsplit(":", 1)[-1])


def _depends_on(
    resource: PolicyResource, among: Mapping[str, PolicyResource]
) -> list[PolicyResource]:
    """The resources of `among` (by URN) that `resource` depends on (its own dependencies)."""
    urns = {d.urn for d in resource.dependencies}
    for prop_deps in resource.property_dependencies.values():
        urns.update(d.urn for d in prop_deps)
    return [among[u] for u in sorted(urns) if u in among]


def _alarm_problems(alarm: PolicyResource, index: _Index) -> Iterator[str]:
    label = _label(alarm)
    severity = get(alarm.props, "tags", "Severity")
    if isinstance(severity, Unknown):
        yield Pending(f"alarm {label} tags.Severity is")
        return
    if severity not in LEVELS:
        yield (
            f"alarm {label} has no Severity tag of P0..P3 (got {severity!r}); tag it from "
            "infra/severities.py (docs/alerting.md)"
        )
        return
    actions = _items(get(alarm.props, "alarmActions", default=[]))
    unknown = isinstance(actions, Unknown) or any(isinstance(a, Unknown) for a in actions)
    if unknown:
        # In a preview of new topics the ARNs are unknown; the alarm still depends on them.
        reached = _depends_on(alarm, index.topic_urns)
    else:
        reached = [
            t
            for a in actions  # type: ignore[union-attr]
            if isinstance(a, str) and (t := index.topic(a)) is not None
        ]
    severities = {s for t in reached if isinstance(s := _topic_severity(t), str)}
    other = sorted(severities - {severity})
    if other:
        yield (
            f"alarm {label} is {severity} but notifies the {', '.join(other)} topic; send it "
            f"to the topic tagged Severity={severity} (AlertRoutes.actions)"
        )
    elif severity not in severities:
        if unknown:
            yield Pending(f"alarm {label} alarmActions is")
        else:
            yield (
                f"alarm {label} is {severity} but notifies no SNS topic tagged "
                f"Severity={severity}, so the {severity} route never hears of it; add that "
                "topic to its alarmActions (AlertRoutes.actions)"
            )


def _channel_severities(channel: PolicyResource) -> set[str]:
    labels = get(channel.props, "userLabels", default={})
    if not isinstance(labels, Mapping):
        return set()
    return {
        key.removeprefix("severity-")
        for key, value in labels.items()
        if key.startswith("severity-") and value == ROUTED
    }


def _policy_problems(policy: PolicyResource, index: _Index) -> Iterator[str]:
    label = _label(policy)
    severity = get(policy.props, "userLabels", "severity")
    if isinstance(severity, Unknown):
        yield Pending(f"alert policy {label} userLabels.severity is")
        return
    if severity not in {s.lower() for s in LEVELS}:
        yield (
            f"alert policy {label} has no severity user label of p0..p3 (got {severity!r}); "
            "label it from infra/severities.py (docs/alerting.md)"
        )
        return
    route = index.route.get(severity, [])
    if not route:
        yield (
            f"alert policy {label} is {severity} but no notification channel of the stack is "
            f"labelled severity-{severity}: route {severity.upper()} in monitoring.alertRoutes"
        )
        return
    # Channel ids are unknown until the channels exist: the policy depends on each it notifies.
    reached = _depends_on(policy, index.channels)
    wrong = [c for c in reached if severity not in _channel_severities(c)]
    if wrong:
        yield (
            f"alert policy {label} is {severity} but notifies "
            f"{', '.join(_label(c) for c in wrong)}, not a channel of the {severity} route; "
            f"notify channels_for({severity.upper()})"
        )
    elif len(reached) < len(route):
        notified = get(policy.props, "notificationChannels", default=[])
        if isinstance(notified, Unknown):
            yield Pending(f"alert policy {label} notificationChannels is")
        else:
            got = {c.urn for c in reached}
            missing = [_label(c) for c in route if c.urn not in got]
            yield (
                f"alert policy {label} is {severity} but does not notify "
                f"{', '.join(missing)} of its route; notify channels_for({severity.upper()})"
            )


def check_routed(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    index = _Index(resources)
    for alarm in of_type(resources, *ALARM_TYPES):
        for message in _alarm_problems(alarm, index):
            yield alarm.urn, message
    for policy in of_type(resources, ALERT_POLICY):
        for message in _policy_problems(policy, index):
            yield policy.urn, message


def _p0_topic_routes(resources: Sequence[PolicyResource], index: _Index) -> Iterator[Any]:
    """The protocols subscribed to the P0 topics."""
    p0 = {t.urn: t for t in index.topic_urns.values() if _topic_severity(t) == "P0"}
    for sub in of_type(resources, SUBSCRIPTION):
        topic_arn = get(sub.props, "topic")
        if isinstance(topic_arn, str):
            topic = index.topic(topic_arn)
            if topic is not None and topic.urn in p0:
                yield get(sub.props, "protocol")
        elif _depends_on(sub, p0):
            yield get(sub.props, "protocol")


def check_p0_pages(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    if not config["production"]:
        return
    index = _Index(resources)
    p0_topics = [t for t in index.topic_urns.values() if _topic_severity(t) == "P0"]
    if p0_topics:
        protocols = list(_p0_topic_routes(resources, index))
        if any(isinstance(p, Unknown) for p in protocols):
            yield p0_topics[0].urn, Pending("a P0 subscription's protocol is")
        elif not any(p != "email" for p in protocols):
            yield (
                p0_topics[0].urn,
                "the P0 topic has only e-mail subscriptions, so a complete outage pages nobody; "
                "add a pager to monitoring.alertRoutes.P0 (httpsUrlParameter or sms)",
            )
    p0_channels = index.route.get("p0", [])
    if p0_channels:
        types = [get(c.props, "type") for c in p0_channels]
        if any(isinstance(t, Unknown) for t in types):
            yield p0_channels[0].urn, Pending("a P0 channel's type is")
        elif all(t == "email" for t in types):
            yield (
                p0_channels[0].urn,
                "the P0 notification channels are e-mail only, so a complete outage pages "
                "nobody; add a pager to monitoring.alertRoutes.P0",
            )


def policies() -> list[Policy]:
    return [
        stack_policy(
            "stack-alert-severity-routed",
            "Every alarm and alert policy has a severity (Severity tag P0..P3 / severity label "
            "p0..p3) and notifies that severity's route.",
            check_routed,
            severity=Severity.HIGH,
        ),
        stack_policy(
            "stack-alert-p0-pages",
            "In production, the P0 route reaches at least one endpoint that is not e-mail.",
            check_p0_pages,
            config=schema(
                {
                    "production": (
                        False,
                        "Is this stack production? (set by policies/config/<stack>.json)",
                    )
                }
            ),
            severity=Severity.CRITICAL,
        ),
    ]
