"""CloudWatch: the runbook's targets as alarms, and the runbook's dashboard.

Targets (runbook "Key Metrics" and "Resource Scaling"): the p95 latency and 5xx error-rate
ceilings, the uptime target, and the CPU and memory levels that call for scaling; their numbers
are `limits.json` ``cloudwatch`` (the policies' config defaults). For every App Runner service
in the stack there must be an alarm per target, at the target or tighter, with an action (an
alarm that tells nobody is not monitoring).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import Policy, PolicyResource

from spendsense_policies.alarm_match import (
    AVAILABILITY_METRICS,
    AlarmIndex,
    is_availability,
    per_service,
)
from spendsense_policies.alarms import APPRUNNER_NS, ROUTE53_NS, Alarm
from spendsense_policies.base import (
    PendingUnknowns,
    Unknown,
    fmt,
    get,
    number,
    of_type,
    refers_to,
    stack_policy,
)
from spendsense_policies.config import limit, limit_number, schema

SERVICE = "aws:apprunner/service:Service"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
ABOVE = {"GreaterThanThreshold", "GreaterThanOrEqualToThreshold"}


def _threshold_problem(
    alarm: Alarm, limit_value: float, what: str, unit: str, key: str
) -> list[str]:
    threshold = number(alarm.threshold)
    problems = []
    if isinstance(alarm.comparison, str) and alarm.comparison not in ABOVE:
        problems.append(
            f"alarm {alarm.label} uses {alarm.comparison}; it must fire when {what} rises above "
            "the target (GreaterThanThreshold)"
        )
    if threshold is not None and threshold > limit_value:
        problems.append(
            f"alarm {alarm.label} fires only above {fmt(threshold)}{unit} {what}; the runbook's "
            f"target is {fmt(limit_value)}{unit}: set {key} to {fmt(limit_value)} or lower"
        )
    return problems


_PERCENTILE = re.compile(r"^p(\d+(?:\.\d+)?)$")


def judge_latency(alarm: Alarm, config: Mapping[str, Any]) -> list[str]:
    problems = _threshold_problem(
        alarm,
        float(config["latencyP95Ms"]),
        "p95 latency",
        " ms",
        "spendsense:monitoring.latencyP95Ms",
    )
    stats = [m.stat for m in alarm.metrics if m.name == "RequestLatency"]
    good = [
        s
        for s in stats
        if isinstance(s, str) and (m := _PERCENTILE.match(s)) and float(m.group(1)) >= 95
    ]
    if stats and not good and not any(isinstance(s, Unknown) for s in stats):
        problems.append(
            f"alarm {alarm.label} watches RequestLatency with statistic {stats[0]}; the target is "
            'on the 95th percentile: use extendedStatistic "p95"'
        )
    return problems


def judge_error_rate(alarm: Alarm, config: Mapping[str, Any]) -> list[str]:
    names = {m.name for m in alarm.metrics}
    if "Requests" not in names:
        return [
            f"alarm {alarm.label} counts 5xxStatusResponses without dividing by Requests; alarm "
            "on the rate: metric math 100 * 5xxStatusResponses / Requests"
        ]
    threshold = number(alarm.threshold)
    # Percent when the expression multiplies by 100 ("100 * errors / requests", "... * 100");
    # a 100 elsewhere (MAX([requests, 100]), 1000) does not make it one.
    as_percent = any(isinstance(e, str) and _TIMES_100.search(e) for e in alarm.expressions)
    # An unknown expression may be a percentage or a fraction: judge the lower reading (as a
    # percentage), which is a violation either way if it is one; else shared_gaps is pending.
    as_percent = as_percent or any(isinstance(e, Unknown) for e in alarm.expressions)
    shown = alarm.threshold
    if threshold is not None and not as_percent:
        shown = threshold * 100  # the expression is a fraction (errors / requests)
    copy = Alarm(
        alarm.resource, alarm.metrics, shown, alarm.comparison, alarm.actions, alarm.actions_enabled
    )
    return _threshold_problem(
        copy,
        float(config["errorRatePercent"]),
        "5xx error rate",
        " %",
        "spendsense:monitoring.errorRatePercent",
    )


_TIMES_100 = re.compile(r"(^|[^\w.])100(\.0*)?\s*\*|\*\s*100(\.0*)?($|[^\w.])")


def judge_cpu(alarm: Alarm, config: Mapping[str, Any]) -> list[str]:
    return _threshold_problem(
        alarm,
        float(config["cpuPercent"]),
        "CPU utilization",
        " %",
        "spendsense:monitoring.cpuPercent",
    )


def judge_memory(alarm: Alarm, config: Mapping[str, Any]) -> list[str]:
    return _threshold_problem(
        alarm,
        float(config["memoryPercent"]),
        "memory utilization",
        " %",
        "spendsense:monitoring.memoryPercent",
    )


def check_latency(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    index = AlarmIndex(resources)
    yield from per_service(
        index,
        config,
        index.watching("RequestLatency"),
        judge_latency,
        lambda s: (
            f"App Runner service {s} has no p95 latency alarm; add a CloudWatch alarm on "
            f"{APPRUNNER_NS} RequestLatency (extendedStatistic p95, dimension ServiceName={s}) "
            f"at {fmt(number(config['latencyP95Ms']))} ms or lower, with an alarm action"
        ),
    )


def check_error_rate(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    index = AlarmIndex(resources)
    yield from per_service(
        index,
        config,
        index.watching("5xxStatusResponses"),
        judge_error_rate,
        lambda s: (
            f"App Runner service {s} has no 5xx error-rate alarm; add a CloudWatch alarm with "
            f"metric math 100 * 5xxStatusResponses / Requests ({APPRUNNER_NS}, ServiceName={s}) "
            f"at {fmt(number(config['errorRatePercent']))} % or lower, with an alarm action"
        ),
    )


def check_utilization(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    index = AlarmIndex(resources)
    yield from per_service(
        index,
        config,
        index.watching("CPUUtilization"),
        judge_cpu,
        lambda s: (
            f"App Runner service {s} has no CPU alarm; add a CloudWatch alarm on {APPRUNNER_NS} "
            f"CPUUtilization (ServiceName={s}) at {fmt(number(config['cpuPercent']))} % or lower, "
            "with an alarm action"
        ),
    )
    yield from per_service(
        index,
        config,
        index.watching("MemoryUtilization"),
        judge_memory,
        lambda s: (
            f"App Runner service {s} has no memory alarm; add a CloudWatch alarm on {APPRUNNER_NS} "
            f"MemoryUtilization (ServiceName={s}) at {fmt(number(config['memoryPercent']))} % or "
            "lower, with an alarm action"
        ),
    )


BELOW = {"LessThanThreshold", "LessThanOrEqualToThreshold"}


def check_availability(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    index = AlarmIndex(resources)
    path = str(config["healthCheckPath"])
    target = float(config["availabilityPercent"])

    def probes(check: PolicyResource, service: PolicyResource) -> bool:
        fqdn, url = get(check.props, "fqdn"), get(service.props, "serviceUrl")
        return refers_to(check, service, fqdn, url)

    def select(alarm: Alarm, service: PolicyResource, service_name: Any) -> bool:
        # Only an alarm on a health check of this stack that probes the service counts: a
        # literal HealthCheckId may watch anything (the frontend, another account's check).
        return is_availability(alarm) and any(
            probes(c, service) for c in index.linked_checks(alarm)
        )

    def too_loose(alarm: Alarm) -> str | None:
        """An alarm that fires only below the runbook's target.

        HealthCheckPercentageHealthy is a percentage; HealthCheckStatus is 1 or 0 a minute, so
        its threshold is a fraction (0.995 over a day is 99.5 %; "Minimum < 1" is 100 %).
        """
        threshold = number(alarm.threshold)
        names = {m.name for m in alarm.metrics if m.namespace == ROUTE53_NS}
        if threshold is None or not names & AVAILABILITY_METRICS:
            return None
        percent = threshold if "HealthCheckPercentageHealthy" in names else min(threshold, 1) * 100
        if percent >= target - 1e-9:
            return None
        return (
            f"alarm {alarm.label} fires only below {fmt(round(percent, 6))} % healthy; the "
            f"runbook's target is {fmt(target)} % uptime: set "
            f"spendsense:monitoring.availabilityPercent to {fmt(target)} or higher"
        )

    def judge(alarm: Alarm, config: Mapping[str, Any]) -> list[str]:
        problems = []
        if isinstance(alarm.comparison, str) and alarm.comparison not in BELOW:
            problems.append(
                f"alarm {alarm.label} uses {alarm.comparison}; it must fire when health drops "
                "below the threshold (LessThanThreshold)"
            )
        loose = too_loose(alarm)
        if loose:
            problems.append(loose)
        for check in index.linked_checks(alarm):
            kind = get(check.props, "type")
            # Route 53 probes "/" when resourcePath is not set.
            resource_path = get(check.props, "resourcePath", default="/")
            if isinstance(kind, str) and not kind.startswith("HTTP"):
                problems.append(
                    f"health check {check.name} is of type {kind}; probe the API over HTTPS on "
                    f"{path}"
                )
            elif isinstance(resource_path, str) and resource_path != path:
                problems.append(
                    f'health check {check.name} probes "{resource_path}"; the API answers on '
                    f'"{path}"'
                )
        return problems

    def candidates(service: PolicyResource, service_name: Any) -> list[Alarm]:
        return [a for a in index.on_health_checks_of(service) if select(a, service, service_name)]

    found = list(
        per_service(
            index,
            config,
            candidates,
            judge,
            lambda s: (
                f"App Runner service {s} has no availability alarm; add a Route 53 health check on "
                f"https://<service url>{path} and a CloudWatch alarm on {ROUTE53_NS} "
                f"HealthCheckPercentageHealthy below {fmt(target)} % (or HealthCheckStatus), with "
                "an "
                "alarm action"
            ),
        )
    )
    # A "down" alarm on HealthCheckStatus satisfies the rule, but a percentage alarm on the
    # same service that is looser than the target is still wrong: it claims the target.
    reported = set(found)
    for alarm in index.alarms:
        loose = too_loose(alarm)
        if loose is None or (alarm.resource.urn, loose) in reported:
            continue
        # `select` for some service of the stack
        if is_availability(alarm) and any(
            index.probes_a_service(c) for c in index.linked_checks(alarm)
        ):
            found.append((alarm.resource.urn, loose))
            reported.add((alarm.resource.urn, loose))
    yield from found


_JSON_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def check_dashboard(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    prefix = str(config["dashboardNamePrefix"])
    dashboards = [
        d
        for d in of_type(resources, DASHBOARD)
        if not isinstance(n := get(d.props, "dashboardName"), str) or n.startswith(prefix)
    ]
    bodies = [get(d.props, "dashboardBody") for d in dashboards]
    texts = [b for b in bodies if isinstance(b, str)]
    # Looked up once, not per service: the bodies' JSON strings (a service name among them is
    # in a body), else one search of all bodies at once.
    strings = {m.group(1) for text in texts for m in _JSON_STRING.finditer(text)}
    joined = "\0".join(texts)
    unknown_body = any(isinstance(b, Unknown) for b in bodies)
    pending: list[str] = []
    for service in of_type(resources, SERVICE):
        service_name = get(service.props, "serviceName")
        label = service_name if isinstance(service_name, str) else service.name
        if not dashboards:
            yield (
                service.urn,
                (
                    f"App Runner service {label} has no CloudWatch dashboard named {prefix}...; "
                    "the "
                    f"runbook's first stop is the {prefix} dashboard: add one with its latency, "
                    "errors, requests, CPU and memory"
                ),
            )
            continue
        if isinstance(service_name, str) and (
            service_name in strings
            or (
                service_name in joined
                if "\0" not in service_name
                else any(service_name in t for t in texts)
            )
        ):
            continue
        if unknown_body or isinstance(service_name, Unknown):
            pending.append(f"the dashboard body for {label} is")
            continue
        yield (
            dashboards[0].urn,
            (
                f"dashboard {get(dashboards[0].props, 'dashboardName')} shows no metric of App "
                "Runner "
                f"service {label}; add widgets for its RequestLatency, 5xxStatusResponses, "
                "CPUUtilization and MemoryUtilization"
            ),
        )
    if pending:
        raise PendingUnknowns(pending)


def shown(key: str) -> str:
    """A `cloudwatch` limit as the descriptions print it (no ".0" on a whole number)."""
    return fmt(limit_number("cloudwatch", key))


def policies() -> list[Policy]:
    targets = {
        "latencyP95Ms": (
            limit("cloudwatch", "latencyP95Ms"),
            "Highest p95 latency threshold (ms).",
        ),
        "errorRatePercent": (
            limit("cloudwatch", "errorRatePercent"),
            "Highest 5xx rate threshold (%).",
        ),
        "cpuPercent": (limit("cloudwatch", "cpuPercent"), "Highest CPU threshold (%)."),
        "memoryPercent": (limit("cloudwatch", "memoryPercent"), "Highest memory threshold (%)."),
        # Runbook "Incident Severity Levels": performance degradation and elevated errors are
        # P2 (alert within 2 hours); a complete outage is P0 (page immediately).
        "p2": (
            limit("cloudwatch", "p2AlarmMaxMinutes"),
            "Longest time to alarm (period x datapoints to alarm, minutes): the runbook's P2 "
            "response time.",
        ),
        "outage": (
            limit("cloudwatch", "outageAlarmMaxMinutes"),
            "Longest time to alarm (period x datapoints to alarm, minutes): an outage pages at "
            "once.",
        ),
    }
    return [
        stack_policy(
            "aws-cloudwatch-latency-alarm",
            "Every App Runner service must have a p95 RequestLatency alarm at the runbook's "
            f"{shown('latencyP95Ms')} ms or tighter, with an action.",
            check_latency,
            config=schema(
                {"latencyP95Ms": targets["latencyP95Ms"], "maxMinutesToAlarm": targets["p2"]}
            ),
        ),
        stack_policy(
            "aws-cloudwatch-error-rate-alarm",
            "Every App Runner service must have a 5xx error-rate alarm at the runbook's "
            f"{shown('errorRatePercent')} % or tighter, with an action.",
            check_error_rate,
            config=schema(
                {
                    "errorRatePercent": targets["errorRatePercent"],
                    "maxMinutesToAlarm": targets["p2"],
                }
            ),
        ),
        stack_policy(
            "aws-cloudwatch-availability-alarm",
            "Every App Runner service must have an availability alarm (a Route 53 health check on "
            f"{limit('apprunner', 'healthCheckPath')}) for the runbook's "
            f"{shown('availabilityPercent')} % uptime target, with an action.",
            check_availability,
            config=schema(
                {
                    "availabilityPercent": (
                        limit("cloudwatch", "availabilityPercent"),
                        "Uptime target (%).",
                    ),
                    "healthCheckPath": (
                        limit("apprunner", "healthCheckPath"),
                        "The API's health path.",
                    ),
                    "maxMinutesToAlarm": targets["outage"],
                }
            ),
        ),
        stack_policy(
            "aws-cloudwatch-utilization-alarms",
            f"Every App Runner service must have CPU ({shown('cpuPercent')} %) and memory "
            f"({shown('memoryPercent')} %) utilization alarms, the runbook's scaling signals, "
            "with actions.",
            check_utilization,
            config=schema(
                {
                    "cpuPercent": targets["cpuPercent"],
                    "memoryPercent": targets["memoryPercent"],
                    "maxMinutesToAlarm": targets["p2"],
                }
            ),
        ),
        stack_policy(
            "aws-cloudwatch-dashboard",
            "Every App Runner service must appear on a CloudWatch dashboard named like the "
            f"runbook's {limit('cloudwatch', 'dashboardNamePrefix')}.",
            check_dashboard,
            config=schema(
                {
                    "dashboardNamePrefix": (
                        limit("cloudwatch", "dashboardNamePrefix"),
                        "Dashboard names must start with this.",
                    )
                }
            ),
        ),
    ]
