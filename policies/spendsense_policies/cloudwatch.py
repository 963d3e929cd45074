"""CloudWatch: the runbook's targets as alarms, the SpendSense-API dashboard, log retention.

Targets (runbook "Key Metrics" and "Resource Scaling"): p95 latency < 500 ms, error rate < 1 %,
uptime 99.9 %, and scaling attention when CPU > 70 % or memory > 80 %. For every App Runner
service in the stack there must be an alarm per target, at the target or tighter, with an
action (an alarm that tells nobody is not monitoring).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import Policy, PolicyResource

from spendsense_policies.alarms import (
    APPRUNNER_NS,
    ROUTE53_NS,
    Alarm,
    for_service,
    read_alarm,
    shared_gaps,
    shared_problems,
)
from spendsense_policies.base import (
    PendingUnknowns,
    Props,
    Unknown,
    fmt,
    get,
    number,
    of_type,
    refers_to,
    resource_policy,
    stack_policy,
)
from spendsense_policies.config import limit, schema

SERVICE = "aws:apprunner/service:Service"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
DYNAMIC = "pulumi-python:dynamic:Resource"
ABOVE = {"GreaterThanThreshold", "GreaterThanOrEqualToThreshold"}


Judge = Callable[[Alarm, Mapping[str, Any]], list[str]]


def _per_service(
    resources: Sequence[PolicyResource],
    config: Mapping[str, Any],
    select: Callable[[Alarm, PolicyResource, Any], bool],
    judge: Judge,
    missing: Callable[[str], str],
) -> Iterator[tuple[str, str]]:
    """For each service: some selected alarm must pass `judge`; report the closest misses."""
    alarms = [read_alarm(r) for r in of_type(resources, ALARM)]
    pending: list[str] = []
    for service in of_type(resources, SERVICE):
        service_name = get(service.props, "serviceName")
        label = service_name if isinstance(service_name, str) else service.name
        candidates = [a for a in alarms if select(a, service, service_name)]
        if not candidates:
            undecided = [f"what alarm {a.label} watches ({', '.join(sorted(set(a.undecided)))}) is" for a in alarms if a.undecided]  # fmt: skip
            if undecided:  # one of them may be the alarm: not a miss
                pending.extend(undecided)
            else:
                yield service.urn, missing(label)
            continue
        findings: list[tuple[Alarm, list[str]]] = []
        unknown: list[str] = []
        for alarm in candidates:
            problems = judge(alarm, config)
            problems.extend(shared_problems(alarm, config))
            gaps = shared_gaps(alarm)
            if not problems and not gaps:
                break
            if problems:
                findings.append((alarm, problems))
            else:
                unknown.extend(gaps)
        else:
            if unknown:
                pending.extend(unknown)
                continue
            for alarm, problems in findings:
                for problem in problems:
                    yield alarm.resource.urn, problem
    if pending:
        raise PendingUnknowns(pending)


def _is_metric(name: str) -> Callable[[Alarm, PolicyResource, Any], bool]:
    def select(alarm: Alarm, service: PolicyResource, service_name: Any) -> bool:
        return any(
            m.name == name and for_service(alarm, m, service, service_name) for m in alarm.metrics
        )

    return select


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
        copy, float(config["errorRatePercent"]), "5xx error rate", " %",
        "spendsense:monitoring.errorRatePercent",
    )  # fmt: skip


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
        alarm, float(config["memoryPercent"]), "memory utilization", " %",
        "spendsense:monitoring.memoryPercent",
    )  # fmt: skip


def check_latency(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    yield from _per_service(
        resources, config, _is_metric("RequestLatency"), judge_latency,
        lambda s: (
            f"App Runner service {s} has no p95 latency alarm; add a CloudWatch alarm on "
            f"{APPRUNNER_NS} RequestLatency (extendedStatistic p95, dimension ServiceName={s}) "
            f"at {fmt(number(config['latencyP95Ms']))} ms or lower, with an alarm action"
        ),
    )  # fmt: skip


def check_error_rate(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    yield from _per_service(
        resources, config, _is_metric("5xxStatusResponses"), judge_error_rate,
        lambda s: (
            f"App Runner service {s} has no 5xx error-rate alarm; add a CloudWatch alarm with "
            f"metric math 100 * 5xxStatusResponses / Requests ({APPRUNNER_NS}, ServiceName={s}) "
            f"at {fmt(number(config['errorRatePercent']))} % or lower, with an alarm action"
        ),
    )  # fmt: skip


def check_utilization(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    yield from _per_service(
        resources, config, _is_metric("CPUUtilization"), judge_cpu,
        lambda s: (
            f"App Runner service {s} has no CPU alarm; add a CloudWatch alarm on {APPRUNNER_NS} "
            f"CPUUtilization (ServiceName={s}) at {fmt(number(config['cpuPercent']))} % or lower, "
            "with an alarm action"
        ),
    )  # fmt: skip
    yield from _per_service(
        resources, config, _is_metric("MemoryUtilization"), judge_memory,
        lambda s: (
            f"App Runner service {s} has no memory alarm; add a CloudWatch alarm on {APPRUNNER_NS} "
            f"MemoryUtilization (ServiceName={s}) at {fmt(number(config['memoryPercent']))} % or "
            "lower, with an alarm action"
        ),
    )  # fmt: skip


AVAILABILITY_METRICS = {"HealthCheckStatus", "HealthCheckPercentageHealthy"}
BELOW = {"LessThanThreshold", "LessThanOrEqualToThreshold"}


def check_availability(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    services = list(of_type(resources, SERVICE))
    health_checks = list(of_type(resources, HEALTH_CHECK))
    path = str(config["healthCheckPath"])
    target = float(config["availabilityPercent"])

    def linked_checks(alarm: Alarm) -> list[PolicyResource]:
        """Health checks of this stack the alarm watches: by HealthCheckId value or dependency."""
        ids = [get(m.dimensions, "HealthCheckId") for m in alarm.metrics]
        return [
            c
            for c in health_checks
            if any(refers_to(alarm.resource, c, i, get(c.props, "id")) for i in ids or [None])
        ]

    def probes(check: PolicyResource, service: PolicyResource) -> bool:
        fqdn, url = get(check.props, "fqdn"), get(service.props, "serviceUrl")
        return refers_to(check, service, fqdn, url)

    def select(alarm: Alarm, service: PolicyResource, service_name: Any) -> bool:
        if not any(
            m.namespace == ROUTE53_NS and m.name in AVAILABILITY_METRICS for m in alarm.metrics
        ):
            return False
        # Only an alarm on a health check of this stack that probes the service counts: a
        # literal HealthCheckId may watch anything (the frontend, another account's check).
        return any(probes(c, service) for c in linked_checks(alarm))

    def too_loose(alarm: Alarm) -> str | None:
        """An alarm that fires only below the runbook's target.

        HealthCheckPercentageHealthy is a percentage; HealthCheckStatus is 1 or 0 a minute, so
        its threshold is a fraction (0.999 over a day is 99.9 %; "Minimum < 1" is 100 %).
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
        for check in linked_checks(alarm):
            kind = get(check.props, "type")
            # Route 53 probes "/" when resourcePath is not set.
            resource_path = get(check.props, "resourcePath", default="/")
            if isinstance(kind, str) and not kind.startswith("HTTP"):
                problems.append(
                    f"health check {check.name} is of type {kind}; probe the API over HTTPS on {path}"
                )
            elif isinstance(resource_path, str) and resource_path != path:
                problems.append(
                    f'health check {check.name} probes "{resource_path}"; the API answers on "{path}"'
                )
        return problems

    found = list(_per_service(
        resources, config, select, judge,
        lambda s: (
            f"App Runner service {s} has no availability alarm; add a Route 53 health check on "
            f"https://<service url>{path} and a CloudWatch alarm on {ROUTE53_NS} "
            f"HealthCheckPercentageHealthy below {fmt(target)} % (or HealthCheckStatus), with an "
            "alarm action"
        ),
    ))  # fmt: skip
    # A "down" alarm on HealthCheckStatus satisfies the rule, but a percentage alarm on the
    # same service that is looser than the target is still wrong: it claims the target.
    for alarm in (read_alarm(r) for r in of_type(resources, ALARM)):
        loose = too_loose(alarm)
        if loose is None or (alarm.resource.urn, loose) in found:
            continue
        if any(select(alarm, sv, get(sv.props, "serviceName")) for sv in services):
            found.append((alarm.resource.urn, loose))
    yield from found


def check_dashboard(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    prefix = str(config["dashboardNamePrefix"])
    dashboards = [
        d for d in of_type(resources, DASHBOARD)
        if not isinstance(n := get(d.props, "dashboardName"), str) or n.startswith(prefix)
    ]  # fmt: skip
    pending: list[str] = []
    for service in of_type(resources, SERVICE):
        service_name = get(service.props, "serviceName")
        label = service_name if isinstance(service_name, str) else service.name
        if not dashboards:
            yield (
                service.urn,
                (
                    f"App Runner service {label} has no CloudWatch dashboard named {prefix}...; the "
                    f"runbook's first stop is the {prefix} dashboard: add one with its latency, "
                    "errors, requests, CPU and memory"
                ),
            )
            continue
        bodies = [get(d.props, "dashboardBody") for d in dashboards]
        if any(
            isinstance(b, str) and isinstance(service_name, str) and service_name in b
            for b in bodies
        ):
            continue
        if any(isinstance(b, Unknown) for b in bodies) or isinstance(service_name, Unknown):
            pending.append(f"the dashboard body for {label} is")
            continue
        yield (
            dashboards[0].urn,
            (
                f"dashboard {get(dashboards[0].props, 'dashboardName')} shows no metric of App Runner "
                f"service {label}; add widgets for its RequestLatency, 5xxStatusResponses, "
                "CPUUtilization and MemoryUtilization"
            ),
        )
    if pending:
        raise PendingUnknowns(pending)


def check_log_retention(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    yield from _retention(number(props.get("retentionInDays")), config)


def check_managed_retention(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    """A dynamic resource that sets the retention of log groups someone else creates (App
    Runner creates its own, with "never expire"): ``logGroupNames`` + ``retentionDays``."""
    keys = set(props)  # presence only: reading an unknown list here would stop the check
    if "logGroupNames" not in keys or "retentionDays" not in keys:
        return
    yield from _retention(number(props.get("retentionDays")), config, "retentionDays")


APPRUNNER_LOG_KINDS = ("application", "service")


def check_apprunner_log_groups(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    """App Runner creates /aws/apprunner/<name>/<id>/{application,service} itself, with
    "never expire": each needs a LogGroup of the stack or a retention resource (a dynamic
    resource with logGroupNames + retentionDays) naming it. Whether the retention value is
    acceptable is aws-cloudwatch-log-retention's job."""
    covered: dict[str, set[str]] = {}  # service name -> kinds with a retention
    pending: list[str] = []
    names: list[tuple[PolicyResource, str]] = []
    for service in of_type(resources, SERVICE):
        name = get(service.props, "serviceName")
        if isinstance(name, Unknown):
            pending.append(f"the name of App Runner service {service.name} is")
        elif isinstance(name, str):
            names.append((service, name))
    groups: list[tuple[PolicyResource, Any]] = []
    for group in of_type(resources, LOG_GROUP):
        if get(group.props, "retentionInDays") is not None:
            groups.append((group, get(group.props, "name")))
    for managed in of_type(resources, DYNAMIC):
        if get(managed.props, "retentionDays") is None:
            continue
        listed = get(managed.props, "logGroupNames")
        if isinstance(listed, Unknown):
            groups.append((managed, listed))
        elif isinstance(listed, Sequence) and not isinstance(listed, str):
            groups.extend((managed, get(listed, i)) for i in range(len(listed)))
    for service, name in names:
        prefix = f"/aws/apprunner/{name}/"
        kinds = covered.setdefault(name, set())
        unknown = False
        for holder, group_name in groups:
            if isinstance(group_name, str) and group_name.startswith(prefix):
                kinds.update(k for k in APPRUNNER_LOG_KINDS if group_name.endswith(f"/{k}"))
            elif isinstance(group_name, Unknown) and refers_to(holder, service, None):
                unknown = True
        missing = [k for k in APPRUNNER_LOG_KINDS if k not in kinds]
        if missing and unknown:
            pending.append(f"the log groups whose retention is set for {name} are")
        elif missing:
            yield (
                service.urn,
                f"App Runner service {name} writes to {prefix}<service id>/"
                f"{{{','.join(missing)}}}, which App Runner creates with no retention "
                "(never expire, Checkov CKV_AWS_66), and nothing in the stack sets one; add a "
                "retention resource (logGroupNames + retentionDays) or LogGroups for them",
            )
    if pending:
        raise PendingUnknowns(pending)


def _retention(
    days: float | None, config: Mapping[str, Any], field: str = "retentionInDays"
) -> Iterator[str]:
    accepted = [number(d) for d in config["acceptedDays"]]
    minimum = number(config["minimumDays"]) or 0
    if not days:
        yield (
            f"{field} is not set, so the logs are kept (and paid for) forever; set "
            "spendsense:monitoring.logRetentionDays (e.g. 30 or 90)"
        )
    elif days not in accepted:
        yield (
            f"{field} is {fmt(days)}, which CloudWatch Logs does not accept; use one of "
            f"{', '.join(fmt(d) for d in accepted)}"
        )
    elif days < minimum:
        yield (
            f"{field} is {fmt(days)}; logs must be kept at least {fmt(minimum)} days to "
            f"investigate incidents: set spendsense:monitoring.logRetentionDays to {fmt(minimum)} or more"
        )


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
            "Longest time to alarm (period x datapoints to alarm, minutes): P2, within 2 hours.",
        ),
        "outage": (
            limit("cloudwatch", "outageAlarmMaxMinutes"),
            "Longest time to alarm (period x datapoints to alarm, minutes): an outage pages at once.",
        ),
    }
    return [
        stack_policy(
            "aws-cloudwatch-latency-alarm",
            "Every App Runner service must have a p95 RequestLatency alarm at the runbook's 500 ms "
            "or tighter, with an action.",
            check_latency,
            config=schema(
                {"latencyP95Ms": targets["latencyP95Ms"], "maxMinutesToAlarm": targets["p2"]}
            ),
        ),
        stack_policy(
            "aws-cloudwatch-error-rate-alarm",
            "Every App Runner service must have a 5xx error-rate alarm at the runbook's 1 % or "
            "tighter, with an action.",
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
            "/health) for the runbook's 99.9 % uptime target, with an action.",
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
            "Every App Runner service must have CPU (70 %) and memory (80 %) utilization alarms, "
            "the runbook's scaling signals, with actions.",
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
            "runbook's SpendSense-API.",
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
        stack_policy(
            "aws-apprunner-log-retention",
            "Every App Runner service's application and service log groups (created by App "
            "Runner, never expiring) must get a retention from the stack (Checkov CKV_AWS_66).",
            check_apprunner_log_groups,
        ),
        resource_policy(
            "aws-cloudwatch-log-retention",
            "CloudWatch log groups must have a retention period that CloudWatch accepts, not "
            "'never expire' (Checkov CKV_AWS_66).",
            {LOG_GROUP: check_log_retention, DYNAMIC: check_managed_retention},
            config=schema(
                {
                    "acceptedDays": (
                        limit("cloudwatch", "logRetentionDays"),
                        "Retention values CloudWatch accepts.",
                    ),
                    "minimumDays": (
                        limit("cloudwatch", "minLogRetentionDays"),
                        "Shortest retention allowed (days).",
                    ),
                }
            ),
        ),
    ]
