"""The CloudWatch alarm model: what an alarm watches, when it fires, whom it tells.

Owns reading a `MetricAlarm`'s properties (plain metric or metric math) into `Alarm`, and the
judgements every runbook alarm shares: a notifying action, App Runner's two dimensions, and
whether it can fire in time (period x datapoints to alarm against the runbook's response
time, and the unit its metric is published in). The policies that use them are in
`cloudwatch.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import PolicyResource

from spendsense_policies.base import Unknown, fmt, get, number, refers_to

APPRUNNER_NS = "AWS/AppRunner"
ROUTE53_NS = "AWS/Route53"


@dataclass
class Metric:
    namespace: Any
    name: Any
    dimensions: Any
    stat: Any
    period: Any = None
    unit: Any = None


@dataclass
class Alarm:
    resource: PolicyResource
    metrics: list[Metric]
    threshold: Any
    comparison: Any
    actions: Any
    actions_enabled: Any
    expressions: list[Any] = field(default_factory=list)
    # What it watches that is unknown during preview: it may be the alarm a rule looks for.
    undecided: list[str] = field(default_factory=list)
    evaluation_periods: Any = None
    datapoints_to_alarm: Any = None

    @property
    def label(self) -> str:
        name = get(self.resource.props, "name")
        return f'"{name}"' if isinstance(name, str) else self.resource.name


def read_alarm(resource: PolicyResource) -> Alarm:
    props = resource.props
    metrics = [
        Metric(
            get(props, "namespace"),
            get(props, "metricName"),
            get(props, "dimensions", default={}),
            get(props, "extendedStatistic") or get(props, "statistic"),
            get(props, "period"),
            get(props, "unit"),
        )
    ]
    expressions = []
    queries = get(props, "metricQueries", default=[])
    if isinstance(queries, Sequence):
        for i in range(len(queries)):
            query = get(queries, i)
            metric = get(query, "metric")
            if isinstance(query, Unknown) or isinstance(metric, Unknown):
                metrics.append(Metric(metric, metric, {}, None))
            elif metric is not None:
                metrics.append(
                    Metric(
                        get(metric, "namespace"),
                        get(metric, "metricName"),
                        get(metric, "dimensions", default={}),
                        get(metric, "stat"),
                        get(metric, "period"),
                        get(metric, "unit"),
                    )
                )
            expression = get(query, "expression")
            if expression is not None:
                expressions.append(expression)
                # A Metrics Insights query carries its own period (its statistic's window).
                if get(query, "period") is not None:
                    metrics.append(Metric(None, None, {}, None, get(query, "period")))
    undecided = [
        v.path
        for v in (queries, *(x for m in metrics for x in (m.namespace, m.name)))
        if isinstance(v, Unknown)
    ]
    return Alarm(
        resource=resource,
        undecided=undecided,
        metrics=metrics,
        threshold=get(props, "threshold"),
        comparison=get(props, "comparisonOperator"),
        actions=get(props, "alarmActions", default=[]),
        actions_enabled=get(props, "actionsEnabled", default=True),
        expressions=expressions,
        evaluation_periods=get(props, "evaluationPeriods"),
        datapoints_to_alarm=get(props, "datapointsToAlarm"),
    )


def for_service(alarm: Alarm, metric: Metric, service: PolicyResource, service_name: Any) -> bool:
    if metric.namespace != APPRUNNER_NS:
        return False
    dimension = get(metric.dimensions, "ServiceName")
    if isinstance(dimension, str) and isinstance(service_name, str):
        return dimension == service_name
    return refers_to(alarm.resource, service, None)


def real_actions(actions: Any) -> list[Any]:
    """The alarm's actions that can notify someone: unknowns (ARNs known after deployment)
    and non-empty strings; "" notifies nobody."""
    if not isinstance(actions, Sequence) or isinstance(actions, str):
        return []
    found = []
    for i in range(len(actions)):
        action = get(actions, i)
        if isinstance(action, Unknown) or (isinstance(action, str) and action.strip()):
            found.append(action)
    return found


def dimension_problem(alarm: Alarm) -> str | None:
    """App Runner publishes each metric per ServiceName and ServiceID: an alarm on
    ServiceName alone watches a metric that does not exist and never leaves INSUFFICIENT_DATA."""
    for metric in alarm.metrics:
        if metric.namespace != APPRUNNER_NS or isinstance(metric.dimensions, Unknown):
            continue
        if get(metric.dimensions, "ServiceID") is None:
            return (
                f"alarm {alarm.label} watches {APPRUNNER_NS} {metric.name} without a ServiceID "
                "dimension, so it gets no data (App Runner publishes per ServiceName and "
                "ServiceID); add ServiceID=<the service's serviceId>"
            )
    return None


def action_problem(alarm: Alarm) -> str | None:
    if isinstance(alarm.actions, Unknown):
        return None
    enabled = alarm.actions_enabled
    if enabled is False or (isinstance(enabled, str) and enabled.strip().lower() == "false"):
        return (
            f"alarm {alarm.label} has actionsEnabled=false, so it notifies nobody; enable its "
            "actions"
        )
    if not real_actions(alarm.actions):
        return (
            f"alarm {alarm.label} has no alarmActions, so it notifies nobody; send it to the "
            "alert SNS topic"
        )
    return None


def unknowns(alarm: Alarm, *values: Any) -> list[str]:
    return [f"{alarm.label} {v.path} is" for v in values if isinstance(v, Unknown)]


# The unit each metric is published in. An alarm that sets another `unit` gets no data (the
# unit is part of the metric's identity) and never fires. App Runner:
# https://docs.aws.amazon.com/apprunner/latest/dg/monitor-cw.html (RequestLatency in
# milliseconds); Route 53 health checks:
# https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/monitoring-health-check-metrics.html
PUBLISHED_UNITS: dict[tuple[str, str], str] = {
    (APPRUNNER_NS, "RequestLatency"): "Milliseconds",
    (APPRUNNER_NS, "CPUUtilization"): "Percent",
    (APPRUNNER_NS, "MemoryUtilization"): "Percent",
    (APPRUNNER_NS, "Requests"): "Count",
    (APPRUNNER_NS, "2xxStatusResponses"): "Count",
    (APPRUNNER_NS, "4xxStatusResponses"): "Count",
    (APPRUNNER_NS, "5xxStatusResponses"): "Count",
    (APPRUNNER_NS, "ActiveInstances"): "Count",
    (ROUTE53_NS, "HealthCheckStatus"): "None",
    (ROUTE53_NS, "HealthCheckPercentageHealthy"): "Percent",
}


def unit_problem(alarm: Alarm) -> str | None:
    for metric in alarm.metrics:
        unit = metric.unit
        if not isinstance(unit, str) or not unit:
            continue
        published = PUBLISHED_UNITS.get((str(metric.namespace), str(metric.name)))
        if published is not None and unit != published:
            return (
                f"alarm {alarm.label} asks for {metric.namespace} {metric.name} in {unit}, but "
                f"CloudWatch publishes it in {published}, so the alarm gets no data and never "
                f'fires; remove unit (or set "{published}")'
            )
    return None


def minutes_to_alarm(alarm: Alarm) -> float | None:
    """How long a problem must last before the alarm fires, in minutes (None: unknown).

    CloudWatch fires when `datapointsToAlarm` (default: `evaluationPeriods`) of the last
    `evaluationPeriods` datapoints breach, one datapoint per period, so a problem that starts
    now fires after datapointsToAlarm x period at the earliest; the period is also the window
    each statistic is computed over (a p95 over a day is known once a day). For metric math
    the longest period of its metrics counts."""
    periods = [number(m.period) for m in alarm.metrics if m.period is not None]
    evaluation = number(alarm.evaluation_periods)
    datapoints = (
        evaluation if alarm.datapoints_to_alarm is None else number(alarm.datapoints_to_alarm)
    )
    if not periods or None in periods or datapoints is None:
        return None
    return max(p for p in periods if p is not None) * datapoints / 60


def timing_unknowns(alarm: Alarm) -> list[str]:
    values = [alarm.evaluation_periods, alarm.datapoints_to_alarm]
    values += [m.period for m in alarm.metrics]
    return unknowns(alarm, *values)


def timing_problem(alarm: Alarm, config: Mapping[str, Any]) -> str | None:
    """An alarm that cannot fire within the runbook's response time (`maxMinutesToAlarm`)."""
    limit = number(config["maxMinutesToAlarm"])
    if limit is None or timing_unknowns(alarm):
        return None
    minutes = minutes_to_alarm(alarm)
    if minutes is None or minutes <= limit:
        return None
    datapoints = alarm.datapoints_to_alarm or alarm.evaluation_periods
    return (
        f"alarm {alarm.label} fires only after {fmt(minutes)} minutes ({fmt(number(datapoints))} "
        f"of {fmt(number(alarm.evaluation_periods))} datapoints of "
        f"{fmt(max(number(m.period) or 0 for m in alarm.metrics))} s), later than the "
        f"runbook's response time for it ({fmt(limit)} minutes, policy config "
        "maxMinutesToAlarm): shorten the period or the datapoints to alarm"
    )


def shared_problems(alarm: Alarm, config: Mapping[str, Any]) -> list[str]:
    """What keeps any runbook alarm from paging: no action, a missing App Runner dimension,
    a unit its metric is never published in, or too slow to fire."""
    found = (
        dimension_problem(alarm),
        action_problem(alarm),
        unit_problem(alarm),
        timing_problem(alarm, config),
    )
    return [problem for problem in found if problem]


def shared_gaps(alarm: Alarm) -> list[str]:
    """The values, unknown during preview, that decide whether the alarm can do its job (an
    unknown expression may be a percentage or a fraction: its threshold cannot be read)."""
    values = [alarm.threshold, alarm.comparison, alarm.actions, *alarm.expressions]
    values += [m.stat for m in alarm.metrics]
    return unknowns(alarm, *values) + timing_unknowns(alarm)
