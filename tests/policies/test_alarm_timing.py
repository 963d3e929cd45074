"""Alarms that exist but cannot page in time, or watch a unit their metric is never published
in, do not count as the runbook's alarms (issue 14 point 3)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policies import compliant as c
from tests.policies.conftest import Pack, messages, only

ALARMS = {
    "latency": ("aws-cloudwatch-latency-alarm", c.latency_alarm),
    "errors": ("aws-cloudwatch-error-rate-alarm", c.error_rate_alarm),
    "cpu": ("aws-cloudwatch-utilization-alarms", c.cpu_alarm),
    "memory": ("aws-cloudwatch-utilization-alarms", c.memory_alarm),
    "availability": ("aws-cloudwatch-availability-alarm", c.availability_alarm),
}


def _timed(
    alarm: dict[str, Any], period: int, evaluation: int, datapoints: int | None
) -> dict[str, Any]:
    alarm = dict(alarm)
    if "metricQueries" in alarm:
        alarm["metricQueries"] = [
            {**q, "metric": {**q["metric"], "period": period}} if "metric" in q else q
            for q in alarm["metricQueries"]
        ]
    else:
        alarm["period"] = period
    alarm["evaluationPeriods"] = evaluation
    if datapoints is None:
        alarm.pop("datapointsToAlarm", None)
    else:
        alarm["datapointsToAlarm"] = datapoints
    return alarm


# P2 alarms (latency, errors, CPU, memory): at most 120 minutes.
SLOW_P2 = [
    (86_400, 1, None, "1440 minutes"),  # a statistic over a day
    (60, 1440, 1440, "1440 minutes"),  # 1440 of 1440 one-minute datapoints
    (3_600, 3, 3, "180 minutes"),
    (300, 30, 25, "125 minutes"),
    (21_600, 2, 1, "360 minutes"),
]


@pytest.mark.parametrize("name", ["latency", "errors", "cpu", "memory"])
@pytest.mark.parametrize(("period", "evaluation", "datapoints", "shown"), SLOW_P2)
def test_p2_alarm_that_fires_after_two_hours_does_not_count(
    pack: Pack, name: str, period: int, evaluation: int, datapoints: int | None, shown: str
) -> None:
    policy, build = ALARMS[name]
    found = pack.analyze_stack(c.stack(**{name: _timed(build(), period, evaluation, datapoints)}))
    message = only(found, policy).message
    assert f"fires only after {shown}" in message and "(120 minutes" in message


@pytest.mark.parametrize("name", ["latency", "errors", "cpu", "memory"])
@pytest.mark.parametrize(
    ("period", "evaluation", "datapoints"),
    [(60, 5, 3), (300, 24, 24), (3_600, 2, 2), (60, 1440, 1)],
)
def test_p2_alarm_within_two_hours_passes(
    pack: Pack, name: str, period: int, evaluation: int, datapoints: int
) -> None:
    policy, build = ALARMS[name]
    found = pack.analyze_stack(c.stack(**{name: _timed(build(), period, evaluation, datapoints)}))
    assert messages(found, policy) == []


@pytest.mark.parametrize(
    ("period", "evaluation", "datapoints", "shown"),
    [(86_400, 1, None, "1440 minutes"), (300, 2, 2, "10 minutes"), (60, 10, 6, "6 minutes")],
)
def test_outage_alarm_must_page_at_once(
    pack: Pack, period: int, evaluation: int, datapoints: int | None, shown: str
) -> None:
    alarm = _timed(c.availability_alarm(), period, evaluation, datapoints)
    message = only(
        pack.analyze_stack(c.stack(availability=alarm)), "aws-cloudwatch-availability-alarm"
    ).message
    assert f"fires only after {shown}" in message and "(5 minutes" in message


def test_a_slow_slo_alarm_beside_a_fast_one_is_fine(pack: Pack) -> None:
    """The program pairs a one-minute "down" alarm with a daily 99.9 % one: the fast one pages."""
    stack = c.stack()
    daily = _timed(c.changed(c.availability_alarm(), "name", "daily"), 86_400, 1, None)
    daily["statistic"], daily["threshold"] = "Average", 0.999
    stack.append(
        c.resource(c.ALARM, "daily", daily, dependencies=[c.urn(c.HEALTH_CHECK, "health-check")])
    )
    assert messages(pack.analyze_stack(stack), "aws-cloudwatch-availability-alarm") == []


def test_time_to_alarm_is_policy_config(pack: Pack) -> None:
    alarm = _timed(c.latency_alarm(), 3_600, 3, 3)
    with pack.configured({"aws-cloudwatch-latency-alarm": {"maxMinutesToAlarm": 180}}):
        assert (
            messages(pack.analyze_stack(c.stack(latency=alarm)), "aws-cloudwatch-latency-alarm")
            == []
        )
    assert (
        "fires only after 180 minutes"
        in only(pack.analyze_stack(c.stack(latency=alarm)), "aws-cloudwatch-latency-alarm").message
    )


@pytest.mark.parametrize("field", ["period", "evaluationPeriods", "datapointsToAlarm"])
def test_unknown_timing_is_pending(pack: Pack, field: str) -> None:
    alarm = c.changed(_timed(c.cpu_alarm(), 60, 5, 3), field, c.UNKNOWN)
    found = [
        d
        for d in pack.analyze_stack(c.stack(cpu=alarm))
        if d.policy == "aws-cloudwatch-utilization-alarms"
    ]
    assert [d.level for d in found] == [
        "advisory"
    ] and "cannot be checked until deployment" in found[0].message


@pytest.mark.parametrize(
    ("name", "unit", "published"),
    [
        ("latency", "Seconds", "Milliseconds"),
        ("latency", "Microseconds", "Milliseconds"),
        ("cpu", "Count", "Percent"),
        ("memory", "Bytes", "Percent"),
        ("availability", "Percent", "None"),
    ],
)
def test_alarm_on_a_unit_never_published_does_not_count(
    pack: Pack, name: str, unit: str, published: str
) -> None:
    policy, build = ALARMS[name]
    found = pack.analyze_stack(c.stack(**{name: {**build(), "unit": unit}}))
    message = only(found, policy).message
    assert f"in {unit}, but CloudWatch publishes it in {published}" in message


def test_metric_math_metric_in_the_wrong_unit(pack: Pack) -> None:
    alarm = c.changed(c.error_rate_alarm(), "metricQueries.0.metric.unit", "Percent")
    message = only(
        pack.analyze_stack(c.stack(errors=alarm)), "aws-cloudwatch-error-rate-alarm"
    ).message
    assert "5xxStatusResponses in Percent, but CloudWatch publishes it in Count" in message


@pytest.mark.parametrize(("name", "unit"), [("latency", "Milliseconds"), ("cpu", "Percent")])
def test_the_published_unit_passes(pack: Pack, name: str, unit: str) -> None:
    policy, build = ALARMS[name]
    assert messages(pack.analyze_stack(c.stack(**{name: {**build(), "unit": unit}})), policy) == []


def test_query_period_of_a_metrics_insights_expression_counts(pack: Pack) -> None:
    alarm = c.error_rate_alarm()
    alarm["metricQueries"] = [
        *alarm["metricQueries"][:2],
        {**alarm["metricQueries"][2], "period": 86_400},
    ]
    message = only(
        pack.analyze_stack(c.stack(errors=alarm)), "aws-cloudwatch-error-rate-alarm"
    ).message
    assert "fires only after 2880 minutes" in message
