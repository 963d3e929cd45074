"""Which alarms of a stack watch which App Runner service, and the per-service verdict.

The policies in `cloudwatch.py` ask, for every service, "is there an alarm on this target,
good enough?". Here: `AlarmIndex` reads every alarm of the stack once (`alarms.read_alarm`)
and finds a service's candidate alarms by lookup (the ServiceName dimension, a dependency, the
health check an availability alarm watches) instead of comparing each service with each
alarm; `per_service` gives each service its verdict, judging each alarm once however many
services it may watch. The alarm model and the judgements every alarm shares are in
`alarms.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource

from spendsense_policies.alarms import (
    APPRUNNER_NS,
    ROUTE53_NS,
    Alarm,
    for_service,
    read_alarm,
    shared_gaps,
    shared_problems,
)
from spendsense_policies.base import PendingUnknowns, get
from spendsense_policies.index import StackIndex, ValueIndex, known

SERVICE = "aws:apprunner/service:Service"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
AVAILABILITY_METRICS = {"HealthCheckStatus", "HealthCheckPercentageHealthy"}

Judge = Callable[[Alarm, Mapping[str, Any]], list[str]]
# Does this alarm count for this service (service, its serviceName)?
Select = Callable[[Alarm, PolicyResource, Any], bool]
# The alarms that count for a service (service, its serviceName), in stack order.
Candidates = Callable[[PolicyResource, Any], list[Alarm]]


class AlarmIndex:
    """The stack's alarms, services and health checks, and the links between them."""

    def __init__(self, resources: Sequence[PolicyResource]) -> None:
        self.stack = StackIndex(resources)
        self.services = self.stack.of_type(SERVICE)
        self.alarms = [read_alarm(r) for r in self.stack.of_type(ALARM)]
        self._alarm_of = {id(a.resource): a for a in self.alarms}
        self._by_dimension: dict[tuple[Any, str], list[Alarm]] = {}
        for alarm in self.alarms:
            for metric in alarm.metrics:
                dimension = get(metric.dimensions, "ServiceName")
                if metric.namespace == APPRUNNER_NS and isinstance(dimension, str):
                    listed = self._by_dimension.setdefault((metric.name, dimension), [])
                    if not listed or listed[-1] is not alarm:
                        listed.append(alarm)
        self._checks: ValueIndex[PolicyResource] = ValueIndex()  # by their id
        self._by_fqdn: ValueIndex[PolicyResource] = ValueIndex()
        for check in self.stack.of_type(HEALTH_CHECK):
            self._checks.add(get(check.props, "id"), check)
            self._by_fqdn.add(get(check.props, "fqdn"), check)
        self._by_url: ValueIndex[PolicyResource] = ValueIndex()
        for service in self.services:
            self._by_url.add(get(service.props, "serviceUrl"), service)
        self._linked: dict[int, list[PolicyResource]] = {}
        self._alarms_on: dict[int, list[Alarm]] | None = None  # health check -> its alarms

    def alarms_pointing_at(self, service: PolicyResource) -> list[Alarm]:
        return [self._alarm_of[id(r)] for r in self.stack.pointing_at(service, ALARM)]

    def watching(self, metric: str) -> Candidates:
        """The alarms on `metric` of a service (`is_metric`): those with the service's name in
        their ServiceName dimension, and those that depend on it (`alarms.for_service`)."""
        select = is_metric(metric)

        def candidates(service: PolicyResource, service_name: Any) -> list[Alarm]:
            named: list[Alarm] = []
            if isinstance(service_name, str):
                # selected by construction: an App Runner metric named so, for this name
                named = self._by_dimension.get((metric, service_name), [])
            pointing = [
                a for a in self.alarms_pointing_at(service) if select(a, service, service_name)
            ]
            if not pointing:
                return named  # the same list for every service of this name
            return self.stack.in_order([*named, *pointing], key=lambda a: a.resource)

        return candidates

    def linked_checks(self, alarm: Alarm) -> list[PolicyResource]:
        """Health checks of this stack the alarm watches: by HealthCheckId value or dependency."""
        cached = self._linked.get(id(alarm))
        if cached is None:
            ids = [get(m.dimensions, "HealthCheckId") for m in alarm.metrics]
            found = self.stack.pointed_at_by(alarm.resource, HEALTH_CHECK)
            for value in ids:
                found.extend(self._checks.get(value))
            cached = self._linked[id(alarm)] = self.stack.in_order(found)
        return cached

    def probing(self, service: PolicyResource) -> list[PolicyResource]:
        """Health checks that probe `service`: by its URL as their fqdn, or a dependency."""
        found = self.stack.pointing_at(service, HEALTH_CHECK)
        found.extend(self._by_fqdn.get(get(service.props, "serviceUrl")))
        return self.stack.in_order(found)

    def probes_a_service(self, check: PolicyResource) -> bool:
        fqdn = get(check.props, "fqdn")
        return bool(
            self.stack.pointed_at_by(check, SERVICE) or (known(fqdn) and self._by_url.get(fqdn))
        )

    def on_health_checks_of(self, service: PolicyResource) -> list[Alarm]:
        """The alarms on a health check that probes `service`."""
        if self._alarms_on is None:  # built on first use: only the availability policy asks
            self._alarms_on = {}
            for alarm in self.alarms:
                for check in self.linked_checks(alarm):
                    self._alarms_on.setdefault(id(check), []).append(alarm)
        alarms_on = self._alarms_on
        found = [a for c in self.probing(service) for a in alarms_on.get(id(c), ())]
        return self.stack.in_order(found, key=lambda a: a.resource)


def is_availability(alarm: Alarm) -> bool:
    return any(m.namespace == ROUTE53_NS and m.name in AVAILABILITY_METRICS for m in alarm.metrics)


def is_metric(name: str) -> Select:
    def select(alarm: Alarm, service: PolicyResource, service_name: Any) -> bool:
        return any(
            m.name == name and for_service(alarm, m, service, service_name) for m in alarm.metrics
        )

    return select


def per_service(
    index: AlarmIndex,
    config: Mapping[str, Any],
    candidates_for: Candidates,
    judge: Judge,
    missing: Callable[[str], str],
) -> Iterator[tuple[str, str]]:
    """For each service: some candidate alarm must pass `judge`; report the closest misses.

    Each alarm is judged once, and its problems reported once, however many services it
    counts for; services with the same candidates (the same list) share one verdict."""
    verdicts: dict[int, tuple[list[str], list[str]]] = {}
    shared: dict[int, tuple[list[Alarm], str, list[Any]]] = {}
    undecided: list[str] | None = None
    reported: set[tuple[str, str]] = set()
    pending: list[str] = []
    for service in index.services:
        service_name = get(service.props, "serviceName")
        label = service_name if isinstance(service_name, str) else service.name
        candidates = candidates_for(service, service_name)
        if not candidates:
            if undecided is None:
                undecided = [
                    f"what alarm {a.label} watches ({', '.join(sorted(set(a.undecided)))}) is"
                    for a in index.alarms
                    if a.undecided
                ]
            if undecided:  # one of them may be the alarm: not a miss
                pending.extend(undecided)
            else:
                yield service.urn, missing(label)
            continue
        known = shared.get(id(candidates))
        if known is not None and known[0] is candidates:
            if known[1] == "pending":
                pending.extend(known[2])
            continue  # its findings are reported already
        outcome, found = _verdict(candidates, verdicts, judge, config)
        shared[id(candidates)] = (candidates, outcome, found)
        if outcome == "pending":
            pending.extend(found)
        for alarm, problems in found if outcome == "findings" else ():
            for problem in problems:
                if (alarm.resource.urn, problem) not in reported:
                    reported.add((alarm.resource.urn, problem))
                    yield alarm.resource.urn, problem
    if pending:
        raise PendingUnknowns(pending)


def _verdict(
    candidates: list[Alarm],
    verdicts: dict[int, tuple[list[str], list[str]]],
    judge: Judge,
    config: Mapping[str, Any],
) -> tuple[str, list[Any]]:
    """("ok", []) if a candidate passes; else ("pending", unknown values) if one may pass
    once deployed; else ("findings", [(alarm, its problems)])."""
    findings: list[tuple[Alarm, list[str]]] = []
    unknown: list[str] = []
    for alarm in candidates:
        verdict = verdicts.get(id(alarm))
        if verdict is None:
            problems = judge(alarm, config)
            problems.extend(shared_problems(alarm, config))
            verdict = verdicts[id(alarm)] = (problems, shared_gaps(alarm))
        problems, gaps = verdict
        if not problems and not gaps:
            return "ok", []
        if problems:
            findings.append((alarm, problems))
        else:
            unknown.extend(gaps)
    if unknown:
        return "pending", unknown
    return "findings", findings
