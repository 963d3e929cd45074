"""The plan's alert inventory: every alarm, alert rule, budget and alert policy with its
severity and route (docs/design.md, contract 1's `alerts`; docs/alerting.md).

Read from the recorded resources: an AWS alert's route is the SNS topics its actions name
(by ARN: `arn:aws:sns:REGION:ACCOUNT:NAME`) and the subscriptions of those topics; a GCP
policy's route is the notification channels it depends on. Endpoints are described without
secrets: a value the program keeps secret (a paging URL read from SSM) shows as `[secret]`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from spendsense.plan.recorder import SECRET_MARK, RecordedResource

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
BUDGET = "aws:budgets/budget:Budget"
TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
_CHANNEL_LABELS = {"email": "email_address", "sms": "number", "webhook_tokenauth": "url"}


def _topic_name(arn: Any) -> str | None:
    return arn.rsplit(":", 1)[-1] if isinstance(arn, str) and arn.startswith("arn:") else None


def _shown(value: Any) -> str:
    return "[secret]" if value == SECRET_MARK else str(value)


class _Routes:
    def __init__(self, resources: Sequence[RecordedResource]) -> None:
        self.topics = {
            r.inputs.get("name"): r for r in resources if r.type == TOPIC and r.inputs.get("name")
        }
        self.endpoints: dict[str, list[str]] = {}
        for sub in (r for r in resources if r.type == SUBSCRIPTION):
            name = _topic_name(sub.inputs.get("topic"))
            if name is not None:
                self.endpoints.setdefault(name, []).append(
                    f"{sub.inputs.get('protocol')}:{_shown(sub.inputs.get('endpoint'))}"
                )
        self.channels = {r.urn: r for r in resources if r.type == CHANNEL}

    def aws(self, arns: Iterable[Any]) -> dict[str, list[str]]:
        names = [n for n in (_topic_name(a) for a in arns) if n is not None]
        endpoints = sorted({e for n in names for e in self.endpoints.get(n, [])})
        return {"topics": names, "endpoints": endpoints}

    def gcp(self, policy: RecordedResource) -> dict[str, list[str]]:
        channels = sorted(
            (self.channels[u] for u in set(policy.dependencies) if u in self.channels),
            key=lambda c: c.name,
        )
        endpoints = []
        for channel in channels:
            kind = str(channel.inputs.get("type"))
            labels = channel.inputs.get("labels")
            value = (
                labels.get(_CHANNEL_LABELS.get(kind, "")) if isinstance(labels, Mapping) else labels
            )
            endpoints.append(f"{kind}:{_shown(value)}")
        return {"channels": [c.name for c in channels], "endpoints": sorted(endpoints)}


def _severity(value: Any) -> str | None:
    return value.upper() if isinstance(value, str) else None


def inventory(resources: Sequence[RecordedResource]) -> list[dict[str, Any]]:
    """One entry per alert: `name`, `type`, `severity` (P0..P3 or null), `route`, `urn`."""
    routes = _Routes(resources)
    targets: dict[str, list[Any]] = {}
    # By resource name: a rule's first target (`-alert`) is its severity's topic.
    for target in sorted((r for r in resources if r.type == TARGET), key=lambda r: r.name):
        targets.setdefault(str(target.inputs.get("rule")), []).append(target.inputs.get("arn"))
    found: list[dict[str, Any]] = []

    def add(resource: RecordedResource, kind: str, name: Any, severity: Any, route: Any) -> None:
        found.append(
            {
                "name": name if isinstance(name, str) else resource.name,
                "type": kind,
                "severity": _severity(severity),
                "route": route,
                "urn": resource.urn,
            }
        )

    for r in resources:
        raw_tags = r.inputs.get("tags")
        tags: Mapping[str, Any] = raw_tags if isinstance(raw_tags, Mapping) else {}
        if r.type in (ALARM, COMPOSITE):
            add(
                r,
                "alarm",
                r.inputs.get("name"),
                tags.get("Severity"),
                routes.aws(r.inputs.get("alarmActions") or []),
            )
        elif r.type == RULE:
            name = r.inputs.get("name")
            add(r, "event-rule", name, tags.get("Severity"), routes.aws(targets.get(str(name), [])))
        elif r.type == BUDGET:
            arns = [
                arn
                for n in r.inputs.get("notifications") or []
                for arn in n.get("subscriberSnsTopicArns") or []
            ]
            add(
                r,
                "budget",
                r.inputs.get("name"),
                tags.get("Severity"),
                routes.aws(dict.fromkeys(arns)),
            )
        elif r.type == POLICY:
            labels = r.inputs.get("userLabels")
            severity = labels.get("severity") if isinstance(labels, Mapping) else None
            add(r, "alert-policy", r.inputs.get("displayName"), severity, routes.gcp(r))
    return sorted(found, key=lambda a: (a["severity"] or "~", a["type"], a["name"], a["urn"]))


def as_text(alerts: Sequence[Mapping[str, Any]]) -> list[str]:
    """The text lines of the inventory (`spendsense plan` text, under "Alerts"); none for a
    project with no alerts (the CI trust stack)."""
    if not alerts:
        return []
    lines = [f"Alerts by severity ({len(alerts)}):"]
    for alert in alerts:
        route = alert["route"]
        via = ", ".join(route["endpoints"]) or "no endpoint"
        lines.append(
            f"  {alert['severity'] or 'NONE':<4} {alert['type']:<12} {alert['name']}  -> {via}"
        )
    return lines
