"""CloudWatch: the runbook's targets as alarms with actions, the dashboard, log retention."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policies import compliant as c
from tests.policies.conftest import Pack, only, resource


def stack_with(name: str, props: dict[str, Any] | None) -> list[Any]:
    return c.stack(**{name: props})


# --- latency ------------------------------------------------------------------------------
def test_missing_latency_alarm(pack: Pack) -> None:
    diagnostic = only(
        pack.analyze_stack(stack_with("latency", None)), "aws-cloudwatch-latency-alarm"
    )
    assert "App Runner service spendsense-api has no p95 latency alarm" in diagnostic.message
    assert diagnostic.urn.endswith("::service")


def test_latency_threshold_of_two_seconds(pack: Pack) -> None:
    found = pack.analyze_stack(
        stack_with("latency", c.changed(c.latency_alarm(), "threshold", 2000))
    )
    message = only(found, "aws-cloudwatch-latency-alarm").message
    assert "fires only above 2000 ms p95 latency; the runbook's target is 500 ms" in message


def test_latency_alarm_on_average(pack: Pack) -> None:
    alarm = c.changed(
        c.changed(c.latency_alarm(), "extendedStatistic", "-"), "statistic", "Average"
    )
    found = pack.analyze_stack(stack_with("latency", alarm))
    assert "with statistic Average" in only(found, "aws-cloudwatch-latency-alarm").message


def test_latency_alarm_without_action(pack: Pack) -> None:
    found = pack.analyze_stack(
        stack_with("latency", c.changed(c.latency_alarm(), "alarmActions", []))
    )
    assert (
        "has no alarmActions, so it notifies nobody"
        in only(found, "aws-cloudwatch-latency-alarm").message
    )


def test_latency_alarm_for_another_service_does_not_count(pack: Pack) -> None:
    alarm = c.changed(c.latency_alarm(), "dimensions.ServiceName", "some-other-service")
    assert (
        "has no p95 latency alarm"
        in only(
            pack.analyze_stack(stack_with("latency", alarm)), "aws-cloudwatch-latency-alarm"
        ).message
    )


def test_unknown_latency_threshold_cannot_be_checked(pack: Pack) -> None:
    found = pack.analyze_stack(
        stack_with("latency", c.changed(c.latency_alarm(), "threshold", c.UNKNOWN))
    )
    diagnostic = only(found, "aws-cloudwatch-latency-alarm")
    assert diagnostic.level == "advisory"
    assert diagnostic.message.startswith("cannot be checked until deployment")


# --- error rate ---------------------------------------------------------------------------
def test_missing_error_rate_alarm(pack: Pack) -> None:
    found = pack.analyze_stack(stack_with("errors", None))
    assert "has no 5xx error-rate alarm" in only(found, "aws-cloudwatch-error-rate-alarm").message


def test_error_rate_threshold_of_five_percent(pack: Pack) -> None:
    found = pack.analyze_stack(
        stack_with("errors", c.changed(c.error_rate_alarm(), "threshold", 5))
    )
    assert (
        "fires only above 5 % 5xx error rate; the runbook's target is 1 %"
        in only(found, "aws-cloudwatch-error-rate-alarm").message
    )


def test_error_rate_as_a_fraction_is_read_as_percent(pack: Pack) -> None:
    """errors / requests with threshold 0.05 is 5 %."""
    alarm = c.changed(
        c.changed(c.error_rate_alarm(), "metricQueries.2.expression", "errors / requests"),
        "threshold",
        0.05,
    )
    assert (
        "fires only above 5 % 5xx error rate"
        in only(
            pack.analyze_stack(stack_with("errors", alarm)), "aws-cloudwatch-error-rate-alarm"
        ).message
    )


def test_error_count_without_requests_is_not_a_rate(pack: Pack) -> None:
    alarm = c.error_rate_alarm()
    alarm["metricQueries"] = [alarm["metricQueries"][0] | {"returnData": True}]
    found = pack.analyze_stack(stack_with("errors", alarm))
    assert "without dividing by Requests" in only(found, "aws-cloudwatch-error-rate-alarm").message


# --- availability -------------------------------------------------------------------------
def test_missing_availability_alarm(pack: Pack) -> None:
    found = pack.analyze_stack(stack_with("availability", None))
    assert "has no availability alarm" in only(found, "aws-cloudwatch-availability-alarm").message


def test_availability_alarm_without_action(pack: Pack) -> None:
    found = pack.analyze_stack(
        stack_with("availability", c.changed(c.availability_alarm(), "alarmActions", []))
    )
    assert "notifies nobody" in only(found, "aws-cloudwatch-availability-alarm").message


def test_percentage_healthy_alarm_at_the_target(pack: Pack) -> None:
    alarm = c.changed(
        c.changed(c.availability_alarm(), "metricName", "HealthCheckPercentageHealthy"),
        "threshold",
        99.9,
    )
    assert pack.analyze_stack(stack_with("availability", alarm)) == []


def test_percentage_healthy_alarm_below_the_target(pack: Pack) -> None:
    alarm = c.changed(
        c.changed(c.availability_alarm(), "metricName", "HealthCheckPercentageHealthy"),
        "threshold",
        90,
    )
    found = pack.analyze_stack(stack_with("availability", alarm))
    assert (
        "fires only below 90 % healthy; the runbook's target is 99.9 % uptime"
        in only(found, "aws-cloudwatch-availability-alarm").message
    )


def test_loose_percentage_alarm_fails_even_beside_a_passing_down_alarm(pack: Pack) -> None:
    """A daily 90 % alarm next to a good HealthCheckStatus alarm still claims the wrong target."""
    loose = c.changed(
        c.changed(
            c.changed(c.availability_alarm(), "metricName", "HealthCheckPercentageHealthy"),
            "threshold",
            90,
        ),
        "name",
        "spendsense-api-availability-daily",
    )
    resources = c.stack()
    check = next(r for r in resources if r.name == "health-check")
    extra = resource(c.ALARM, "availability-daily", loose, dependencies=[check.urn])
    diagnostic = only(pack.analyze_stack([*resources, extra]), "aws-cloudwatch-availability-alarm")
    assert diagnostic.message == (
        'alarm "spendsense-api-availability-daily" fires only below 90 % healthy; the runbook\'s '
        "target is 99.9 % uptime: set spendsense:monitoring.availabilityPercent to 99.9 or higher"
    )
    assert diagnostic.urn == extra.urn
    at_target = c.changed(loose, "threshold", 99.9)
    fixed = resource(c.ALARM, "availability-daily", at_target, dependencies=[check.urn])
    assert pack.analyze_stack([*resources, fixed]) == []


@pytest.mark.parametrize(("threshold", "verdict"), [(0.9, "90"), (0.999, None)])
def test_daily_health_check_status_average_is_judged_as_a_share_of_minutes(
    pack: Pack, threshold: float, verdict: str | None
) -> None:
    """HealthCheckStatus is 1 or 0 a minute: a daily average below 0.999 misses 99.9 %."""
    daily = c.changed(
        c.changed(c.availability_alarm(), "statistic", "Average"), "threshold", threshold
    )
    daily = c.changed(
        c.changed(daily, "period", 86400), "name", "spendsense-api-availability-daily"
    )
    resources = c.stack()
    check = next(r for r in resources if r.name == "health-check")
    extra = resource(c.ALARM, "availability-daily", daily, dependencies=[check.urn])
    found = pack.analyze_stack([*resources, extra])
    if verdict is None:
        assert found == []
    else:
        message = only(found, "aws-cloudwatch-availability-alarm").message
        assert message.startswith(
            f'alarm "spendsense-api-availability-daily" fires only below {verdict} % healthy'
        )


def test_availability_alarm_firing_when_healthy(pack: Pack) -> None:
    alarm = c.changed(c.availability_alarm(), "comparisonOperator", "GreaterThanThreshold")
    found = pack.analyze_stack(stack_with("availability", alarm))
    assert (
        "uses GreaterThanThreshold; it must fire when health drops"
        in only(found, "aws-cloudwatch-availability-alarm").message
    )


def test_frontend_availability_alarm_does_not_count_for_the_api(pack: Pack) -> None:
    """An alarm on a health check of another endpoint (the frontend's "/") is not the API's."""
    frontend_check = resource(
        c.HEALTH_CHECK, "frontend-check", c.changed(c.health_check(), "resourcePath", "/")
    )
    frontend_alarm = resource(
        c.ALARM, "frontend-availability", c.availability_alarm(), dependencies=[frontend_check.urn]
    )
    resources = [*c.stack(availability=None), frontend_check, frontend_alarm]
    diagnostic = only(pack.analyze_stack(resources), "aws-cloudwatch-availability-alarm")
    assert "has no availability alarm" in diagnostic.message and diagnostic.urn.endswith(
        "::service"
    )
    assert pack.analyze_stack([*c.stack(), frontend_check, frontend_alarm]) == []


def test_health_check_on_wrong_path(pack: Pack) -> None:
    found = pack.analyze_stack(
        stack_with("health-check", c.changed(c.health_check(), "resourcePath", "/"))
    )
    assert (
        'probes "/"; the API answers on "/health"'
        in only(found, "aws-cloudwatch-availability-alarm").message
    )


def test_health_check_without_resource_path_probes_root(pack: Pack) -> None:
    """Route 53 probes "/" when resourcePath is missing: that is not the API's /health."""
    found = pack.analyze_stack(
        stack_with("health-check", c.changed(c.health_check(), "resourcePath", "-"))
    )
    assert (
        'health check health-check probes "/"; the API answers on "/health"'
        in only(found, "aws-cloudwatch-availability-alarm").message
    )


def test_tcp_health_check_is_not_an_http_probe(pack: Pack) -> None:
    found = pack.analyze_stack(
        stack_with("health-check", c.changed(c.health_check(), "type", "TCP"))
    )
    assert (
        "health check health-check is of type TCP; probe the API over HTTPS on /health"
        in only(found, "aws-cloudwatch-availability-alarm").message
    )


def test_alarm_on_a_literal_health_check_id_does_not_count(pack: Pack) -> None:
    """With one service, an alarm on HealthCheckId "hc-123" linked to nothing in the stack may
    watch anything: only an alarm linked to a health check probing the service counts."""
    unlinked = resource(c.ALARM, "availability", c.availability_alarm())
    diagnostic = only(
        pack.analyze_stack([*c.stack(availability=None), unlinked]),
        "aws-cloudwatch-availability-alarm",
    )
    assert "App Runner service spendsense-api has no availability alarm" in diagnostic.message


# --- utilization --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "builder", "threshold", "expected"),
    [
        (
            "cpu",
            c.cpu_alarm,
            90,
            "fires only above 90 % CPU utilization; the runbook's target is 70 %",
        ),
        (
            "memory",
            c.memory_alarm,
            95,
            "fires only above 95 % memory utilization; the runbook's target is 80 %",
        ),
    ],
)
def test_utilization_thresholds(
    pack: Pack, name: str, builder: Any, threshold: int, expected: str
) -> None:
    found = pack.analyze_stack(stack_with(name, c.changed(builder(), "threshold", threshold)))
    assert expected in only(found, "aws-cloudwatch-utilization-alarms").message


@pytest.mark.parametrize(
    ("name", "expected"), [("cpu", "has no CPU alarm"), ("memory", "has no memory alarm")]
)
def test_missing_utilization_alarm(pack: Pack, name: str, expected: str) -> None:
    found = pack.analyze_stack(stack_with(name, None))
    assert expected in only(found, "aws-cloudwatch-utilization-alarms").message


def test_utilization_alarm_firing_below_threshold_is_wrong(pack: Pack) -> None:
    found = pack.analyze_stack(
        stack_with("cpu", c.changed(c.cpu_alarm(), "comparisonOperator", "LessThanThreshold"))
    )
    assert "uses LessThanThreshold" in only(found, "aws-cloudwatch-utilization-alarms").message


# --- dashboard ----------------------------------------------------------------------------
def test_missing_dashboard(pack: Pack) -> None:
    found = pack.analyze_stack(stack_with("dashboard", None))
    assert (
        "has no CloudWatch dashboard named SpendSense-API"
        in only(found, "aws-cloudwatch-dashboard").message
    )


def test_dashboard_without_the_service(pack: Pack) -> None:
    found = pack.analyze_stack(
        stack_with("dashboard", c.changed(c.dashboard(), "dashboardBody", '{"widgets": []}'))
    )
    assert (
        "shows no metric of App Runner service spendsense-api"
        in only(found, "aws-cloudwatch-dashboard").message
    )


def test_dashboard_with_another_name(pack: Pack) -> None:
    found = pack.analyze_stack(
        stack_with("dashboard", c.changed(c.dashboard(), "dashboardName", "Misc"))
    )
    assert "has no CloudWatch dashboard" in only(found, "aws-cloudwatch-dashboard").message


# --- log retention ------------------------------------------------------------------------
def test_compliant_log_group(pack: Pack) -> None:
    assert pack.analyze(c.LOG_GROUP, c.log_group()) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("-", "retentionInDays is not set, so the logs are kept (and paid for) forever"),
        (0, "retentionInDays is not set"),
        (45, "retentionInDays is 45, which CloudWatch Logs does not accept"),
        (3, "retentionInDays is 3; logs must be kept at least 7 days"),
    ],
)
def test_log_retention_violations(pack: Pack, value: Any, expected: str) -> None:
    found = pack.analyze(c.LOG_GROUP, c.changed(c.log_group(), "retentionInDays", value))
    assert expected in only(found, "aws-cloudwatch-log-retention").message


def test_retention_of_log_groups_app_runner_creates(pack: Pack) -> None:
    """App Runner creates its own log groups; a dynamic resource that sets their retention
    (logGroupNames + retentionDays) is judged like a log group."""
    dynamic = "pulumi-python:dynamic:Resource"
    props = {
        "logGroupNames": ["/aws/apprunner/spendsense-api/abc/application"],
        "retentionDays": 90,
    }
    assert pack.analyze(dynamic, props) == []
    found = pack.analyze(dynamic, c.changed(props, "retentionDays", 3))
    assert (
        "retentionDays is 3; logs must be kept at least 7 days"
        in only(found, "aws-cloudwatch-log-retention").message
    )
    assert pack.analyze(dynamic, {"something": "else"}) == []


# --- values unknown during preview ----------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "props", "policy", "what"),
    [
        (
            "latency",
            c.changed(c.latency_alarm(), "metricName", c.UNKNOWN),
            "aws-cloudwatch-latency-alarm",
            'what alarm "spendsense-api-latency-p95" watches (metricName) is',
        ),
        (
            "latency",
            c.changed(c.latency_alarm(), "extendedStatistic", c.UNKNOWN),
            "aws-cloudwatch-latency-alarm",
            '"spendsense-api-latency-p95" extendedStatistic is',
        ),
        (
            "errors",
            c.changed(c.error_rate_alarm(), "metricQueries", c.UNKNOWN),
            "aws-cloudwatch-error-rate-alarm",
            'what alarm "spendsense-api-error-rate" watches (metricQueries) is',
        ),
        (
            "errors",
            c.changed(c.error_rate_alarm(), "metricQueries.0.metric", c.UNKNOWN),
            "aws-cloudwatch-error-rate-alarm",
            'what alarm "spendsense-api-error-rate" watches (metric) is',
        ),
    ],
)
def test_unknown_alarm_is_pending_not_missing(
    pack: Pack, name: str, props: dict[str, Any], policy: str, what: str
) -> None:
    """An alarm whose metric or statistic is unknown during preview may be the one the rule
    needs: an advisory "cannot be checked until deployment", never a mandatory "no alarm"."""
    diagnostic = only(pack.analyze_stack(stack_with(name, props)), policy)
    assert diagnostic.level == "advisory"
    assert (
        diagnostic.message == f"cannot be checked until deployment: {what} not known during preview"
    )


# --- smaller gaps -----------------------------------------------------------------------------
@pytest.mark.parametrize("actions", [[""], ["  "]])
def test_empty_alarm_action_notifies_nobody(pack: Pack, actions: list[str]) -> None:
    found = pack.analyze_stack(stack_with("cpu", c.changed(c.cpu_alarm(), "alarmActions", actions)))
    assert (
        'alarm "spendsense-api-cpu" has no alarmActions, so it notifies nobody'
        in only(found, "aws-cloudwatch-utilization-alarms").message
    )


def test_alarm_without_service_id_gets_no_data(pack: Pack) -> None:
    alarm = c.changed(c.latency_alarm(), "dimensions", {"ServiceName": c.SERVICE_NAME})
    found = pack.analyze_stack(stack_with("latency", alarm))
    assert (
        'alarm "spendsense-api-latency-p95" watches AWS/AppRunner RequestLatency without a '
        "ServiceID dimension" in only(found, "aws-cloudwatch-latency-alarm").message
    )


def test_error_rate_with_100_only_inside_max_is_a_fraction(pack: Pack) -> None:
    """errors / MAX([requests, 100]) is a fraction: threshold 1 there means 100 %."""
    alarm = c.changed(
        c.error_rate_alarm(), "metricQueries.2.expression", "errors / MAX([requests, 100])"
    )
    found = pack.analyze_stack(stack_with("errors", alarm))
    assert (
        'alarm "spendsense-api-error-rate" fires only above 100 % 5xx error rate'
        in only(found, "aws-cloudwatch-error-rate-alarm").message
    )


@pytest.mark.parametrize("expression", ["errors / MAX([requests, 1]) * 100", "100*errors/requests"])
def test_error_rate_times_100_is_a_percentage(pack: Pack, expression: str) -> None:
    alarm = c.changed(c.error_rate_alarm(), "metricQueries.2.expression", expression)
    assert pack.analyze_stack(stack_with("errors", alarm)) == []


# --- App Runner's own log groups --------------------------------------------------------------
APPRUNNER_LOGS = "aws-apprunner-log-retention"


def test_apprunner_service_log_group_without_retention(pack: Pack) -> None:
    diagnostic = only(pack.analyze_stack(stack_with("service-logs", None)), APPRUNNER_LOGS)
    assert diagnostic.message.startswith(
        "App Runner service spendsense-api writes to /aws/apprunner/spendsense-api/<service "
        "id>/{service}, "
        "which App Runner creates with no retention"
    )
    assert diagnostic.urn.endswith("::service")


def _retention_resource(names: object) -> Any:
    return resource(c.DYNAMIC, "api-log-retention", {"logGroupNames": names, "retentionDays": 90})


def test_retention_resource_covers_apprunner_log_groups(pack: Pack) -> None:
    """The program's shape: a dynamic resource sets the retention of both groups."""
    names = [
        f"/aws/apprunner/{c.SERVICE_NAME}/abc123/{kind}" for kind in ("application", "service")
    ]
    resources = [*c.stack(logs=None, **{"service-logs": None}), _retention_resource(names)]
    assert [d for d in pack.analyze_stack(resources) if d.policy == APPRUNNER_LOGS] == []


def test_unknown_log_group_names_are_pending(pack: Pack) -> None:
    """In a real preview the names hold the unknown service id: pending, never a miss."""
    service_urn = next(r.urn for r in c.stack() if r.name == "service")
    retention = resource(
        c.DYNAMIC,
        "api-log-retention",
        {"logGroupNames": c.UNKNOWN, "retentionDays": 90},
        dependencies=[service_urn],
    )
    resources = [*c.stack(logs=None, **{"service-logs": None}), retention]
    diagnostic = only(pack.analyze_stack(resources), APPRUNNER_LOGS)
    assert diagnostic.level == "advisory"
    assert diagnostic.message == (
        "cannot be checked until deployment: the log groups whose retention is set for "
        "spendsense-api are not known during preview"
    )
