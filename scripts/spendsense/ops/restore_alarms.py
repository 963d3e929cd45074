"""The alarms a restore silences while the service is paused, and how they come back.

The alarms named `<api_service_name>-*` that notify the stack's alarm topic, except the
frontend's availability alarms (the frontend is not paused); the daily availability alarms
(`*-daily`) stay silent for a day after the pause (see `spendsense.ops.restore`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from spendsense.clients import describe_aws_error

FRONTEND_ALARM_ROLE = "frontend-availability"  # `<service>-frontend-availability[-daily]`
DAILY_SUFFIX = "-daily"  # the availability alarms averaged over 24 hours
DAILY_HOLD = timedelta(hours=24)


def service_alarms(cloudwatch: Any, service_name: str, topic_arn: str) -> list[tuple[str, bool]]:
    """(name, actions enabled) of the alarms a restore silences: named `<service_name>-*`,
    notifying `topic_arn` (the stack's alarm topic), and not the frontend's availability
    alarms. The topic is checked here on every alarm: another stack's `<service_name>-staging-*`
    alarms share the name prefix but notify that stack's topic."""
    from botocore.exceptions import BotoCoreError, ClientError

    frontend = f"{service_name}-{FRONTEND_ALARM_ROLE}"
    found: list[tuple[str, bool]] = []
    try:
        paginator = cloudwatch.get_paginator("describe_alarms")
        for page in paginator.paginate(
            AlarmNamePrefix=f"{service_name}-", AlarmTypes=["MetricAlarm", "CompositeAlarm"]
        ):
            for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                name = str(alarm.get("AlarmName", ""))
                if (
                    name.startswith(f"{service_name}-")
                    and not name.startswith(frontend)
                    and topic_arn in (alarm.get("AlarmActions") or [])
                ):
                    found.append((name, bool(alarm.get("ActionsEnabled"))))
    except (ClientError, BotoCoreError) as exc:
        raise describe_aws_error(exc, f"list the alarms of {service_name}") from None
    return sorted(found)


def is_daily(name: str) -> bool:
    """A daily availability alarm (`<service>-availability-daily`)."""
    return name.endswith(DAILY_SUFFIX)


def enable_command(names: list[str]) -> str:
    return f"aws cloudwatch enable-alarm-actions --alarm-names {' '.join(names)}"


def set_alarm_actions(cloudwatch: Any, names: list[str], enabled: bool) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    method = cloudwatch.enable_alarm_actions if enabled else cloudwatch.disable_alarm_actions
    doing = ("enable" if enabled else "disable") + " alarm actions"
    try:
        for start in range(0, len(names), 100):  # the API takes at most 100 names per call
            method(AlarmNames=names[start : start + 100])
    except (ClientError, BotoCoreError) as exc:
        raise describe_aws_error(exc, doing) from None
