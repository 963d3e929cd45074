"""Failed authentications (infra/components/auth_failures.py): the metric filter on the API's
application log group, its P1 alarm, the dashboard's widgets, and `spendsense:security`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from spendsense.plan.recorder import Recording

from infra.settings import SettingsError, parse_settings
from infra.severities import severity_of
from tests.infra.conftest import DELETE, record, stack_values, with_changes

Recorded = Callable[[str], Recording]
FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def test_the_filter_counts_401_and_403_on_the_application_group(each_stack: Recording) -> None:
    found = each_stack.one(FILTER, "auth-failures")
    inputs = found.inputs
    assert inputs["logGroupName"] == each_stack.outputs["log_group_names"][0]
    assert inputs["logGroupName"].endswith("/application")
    assert inputs["pattern"] == "{ $.status = 401 || $.status = 403 }"
    service = each_stack.outputs["api_service_name"]
    assert inputs["metricTransformation"] == {
        "name": f"{service}-auth-failures",
        "namespace": "SpendSense/Security",
        "value": "1",
        "unit": "Count",
    }
    # No dimensions (one custom metric per client address) and no default value.
    assert "dimensions" not in inputs["metricTransformation"]


def test_the_filter_waits_for_the_resource_that_makes_the_group_exist(
    each_stack: Recording,
) -> None:
    found = each_stack.one(FILTER, "auth-failures")
    retention = each_stack.one("pulumi-python:dynamic:Resource", "api-log-retention")
    assert retention.urn in found.dependencies, "PutMetricFilter fails on a missing group"


def test_the_spike_alarm_is_p1_and_notifies_on_alarm_and_ok(each_stack: Recording) -> None:
    alarm = each_stack.one(ALARM, "auth-failures").inputs
    service = each_stack.outputs["api_service_name"]
    assert alarm["name"] == f"{service}-auth-failures"
    assert severity_of("auth-failures").value == "P1"
    assert alarm["tags"]["Severity"] == "P1"
    assert (alarm["namespace"], alarm["metricName"]) == (
        "SpendSense/Security",
        f"{service}-auth-failures",
    )
    assert (alarm["statistic"], alarm["period"], alarm["evaluationPeriods"]) == ("Sum", 300, 1)
    assert alarm["threshold"] == 50
    assert alarm["comparisonOperator"] == "GreaterThanThreshold"
    assert alarm["treatMissingData"] == "notBreaching"
    # The P1 route (the pager in production) and the all-alerts stream the CLI selects by.
    routed = [each_stack.outputs["alert_topic_arns"]["P1"], each_stack.outputs["alarm_topic_arn"]]
    assert alarm["alarmActions"] == routed and alarm["okActions"] == routed


def test_the_dashboard_shows_the_count_against_the_threshold(each_stack: Recording) -> None:
    body = json.loads(each_stack.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    service = each_stack.outputs["api_service_name"]
    metric = next(
        w for w in body["widgets"] if "Failed authentications (" in w["properties"]["title"]
    )
    assert metric["properties"]["metrics"][0][:2] == [
        "SpendSense/Security",
        f"{service}-auth-failures",
    ]
    assert metric["properties"]["period"] == 300
    assert metric["properties"]["annotations"]["horizontal"][0]["value"] == 50
    assert (metric["x"], metric["y"]) == (0, 18), "below the six existing widgets (rows 0-17)"


def test_settings_drive_the_pattern_the_alarm_and_the_query() -> None:
    rec = record(
        "staging",
        {
            "spendsense:security.statusField": "http.status_code",
            "spendsense:security.failureStatuses": [401],
            "spendsense:security.alarmThreshold": 7,
            "spendsense:security.alarmPeriodMinutes": 10,
            "spendsense:security.metricNamespace": "Custom/Auth",
        },
    )
    assert rec.one(FILTER).inputs["pattern"] == "{ $.http.status_code = 401 }"
    alarm = rec.one(ALARM, "auth-failures").inputs
    assert (alarm["threshold"], alarm["period"], alarm["namespace"]) == (7, 600, "Custom/Auth")
    body = json.loads(rec.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    widget = body["widgets"][-1]["properties"]
    assert widget["metrics"][0][0] == "Custom/Auth" and widget["period"] == 600


def test_a_pattern_for_a_log_that_is_not_json_is_used_as_given() -> None:
    pattern = "[ip, id, user, ts, request, status_code=401 || status_code=403, size]"
    rec = record("staging", {"spendsense:security.filterPattern": pattern})
    assert rec.one(FILTER).inputs["pattern"] == pattern


def test_a_stack_without_the_section_gets_the_defaults() -> None:
    settings = parse_settings(with_changes("staging", {"spendsense:security": DELETE}))
    assert settings.security.pattern == "{ $.status = 401 || $.status = 403 }"
    assert settings.security == parse_settings(stack_values("staging")).security


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"spendsense:security.statusField": "status code"},
            "spendsense:security.statusField: must be a JSON field name such as status or "
            'http.status_code (letters, digits, _ and .) (got "status code")',
        ),
        (
            {"spendsense:security.clientField": "$.client"},
            "spendsense:security.clientField: must be a JSON field name such as status or "
            'http.status_code (letters, digits, _ and .) (got "$.client")',
        ),
        (
            {"spendsense:security.failureStatuses": [401, 500]},
            "spendsense:security.failureStatuses: must be HTTP 4xx statuses such as 401 and 403 "
            "(got 500)",
        ),
        (
            {"spendsense:security.failureStatuses": []},
            "spendsense:security.failureStatuses: must list at least one HTTP status, such as "
            "[401, 403] (got [])",
        ),
        (
            {"spendsense:security.failureStatuses": [401, 401]},
            "spendsense:security.failureStatuses: must list each status once (got [401, 401])",
        ),
        (
            {"spendsense:security.alarmThreshold": 0},
            "spendsense:security.alarmThreshold: must be between 1 and 1000000 (got 0)",
        ),
        (
            {"spendsense:security.alarmPeriodMinutes": 90},
            "spendsense:security.alarmPeriodMinutes: must be between 1 and 60 (got 90)",
        ),
        (
            {"spendsense:security.metricNamespace": "Spend:Sense"},
            "spendsense:security.metricNamespace: must be a CloudWatch namespace without : * or $ "
            '(got "Spend:Sense")',
        ),
        (
            {"spendsense:security.filterPattern": "x" * 1025},
            "spendsense:security.filterPattern: must be a CloudWatch Logs filter pattern of "
            "1-1024 printable characters, such as { $.status = 401 || $.status = 403 } "
            f'(got "{"x" * 80}")',
        ),
        (
            {"spendsense:security.threshold": 5},
            "spendsense:security.threshold: is not a known setting (allowed: statusField, "
            "clientField, pathField, failureStatuses, filterPattern, metricNamespace, "
            "alarmThreshold, alarmPeriodMinutes); check the spelling",
        ),
    ],
)
def test_a_bad_security_setting_is_one_line_naming_the_key(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings(with_changes("production", changes))
    assert str(caught.value) == message
