"""Failed authentications of the API: a metric filter on its application log, a P1 alarm on a
spike, and the dashboard's widgets (runbook: "authentication failures" are P1; the weekly
security review, docs/security-review.md).

Owns: the `aws.cloudwatch.LogMetricFilter` on App Runner's `/application` log group that
counts the request log lines whose status is one of `security.failureStatuses` (401, 403),
publishing `<api.serviceName>-auth-failures` in `security.metricNamespace`; the alarm on that
count; `dashboard_widgets`, which monitoring.py puts on the API's dashboard.
Does not own: the log group (App Runner creates it; api.py's LogRetention makes sure it exists,
so the filter waits for it: PutMetricFilter on a missing group fails with
ResourceNotFoundException) or where the alarm's notifications go (the `actions` callable).

The pattern is a CloudWatch Logs JSON filter pattern, `{ $.status = 401 || $.status = 403 }`:
numbers compare as numbers, `||` joins terms
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html, "Using
filter patterns to match terms in JSON log events"). The provider's schema
(terraform-provider-aws, internal/service/logs/metric_filter.go:
https://github.com/hashicorp/terraform-provider-aws/blob/main/internal/service/logs/metric_filter.go):
`name` and `log_group_name` force a new filter (App Runner's group name carries the service id,
so a replaced service gets a new filter), `pattern` is at most 1024 characters, one
`metric_transformation` whose `value` is "1" here and whose `default_value` is left unset: the
metric then has data only for minutes with failures, and the alarm treats missing data as none.
No dimensions: a client-address dimension would make one custom metric per address.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components.common import Actions, aws_tags, child
from infra.settings import Settings
from infra.settings.security import SecuritySettings
from infra.severities import severity_of

ROLE = "auth-failures"


def metric_name(service_name: str) -> str:
    """One metric per stack (staging and production may share an account and a namespace)."""
    return f"{service_name}-{ROLE}"


def dashboard_widgets(
    security: SecuritySettings,
    service_name: str,
    region: str,
    y: int,
) -> list[dict[str, Any]]:
    """The count per alarm period, with the alarm's threshold drawn, at row `y`. (Who failed
    and where: `spendsense security report`; a Logs Insights table here would run a query on
    every dashboard refresh.)"""
    statuses = "/".join(str(s) for s in security.failure_statuses)
    minutes = security.alarm_period_minutes
    count = {
        "type": "metric",
        "x": 0,
        "y": y,
        "width": 12,
        "height": 6,
        "properties": {
            "title": f"Failed authentications ({statuses}) per {minutes} min",
            "region": region,
            "metrics": [
                [
                    security.metric_namespace,
                    metric_name(service_name),
                    {"stat": "Sum", "label": "failures"},
                ]
            ],
            # The alarm's period, so the line compares with the alarm's threshold as drawn.
            "period": minutes * 60,
            "annotations": {
                "horizontal": [{"label": "P1 alarm", "value": security.alarm_threshold}]
            },
        },
    }
    return [count]


@dataclass
class AuthFailuresArgs:
    settings: Settings
    provider: pulumi.ProviderResource
    log_group_name: pulumi.Input[str]
    # What guarantees the group exists (api.py's LogRetention, or the component holding it).
    log_group_ready: Sequence[pulumi.Resource]
    # Which ARNs an alarm of a severity notifies (ALARM and OK).
    actions: Actions


class AuthFailures(pulumi.ComponentResource):
    metric_filter: aws.cloudwatch.LogMetricFilter
    alarm: aws.cloudwatch.MetricAlarm

    def __init__(
        self, name: str, args: AuthFailuresArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("spendsense:aws:AuthFailures", name, None, opts)
        settings = args.settings
        security = settings.security
        service_name = settings.api.service_name
        metric = metric_name(service_name)
        self.metric_filter = aws.cloudwatch.LogMetricFilter(
            f"{name}-filter",
            name=metric,
            log_group_name=args.log_group_name,
            pattern=security.pattern,
            metric_transformation={
                "name": metric,
                "namespace": security.metric_namespace,
                "value": "1",
                "unit": "Count",
            },
            opts=child(self, args.provider, depends_on=list(args.log_group_ready)),
        )
        severity = severity_of(ROLE)
        actions = list(args.actions(severity))
        period = security.alarm_period_minutes * 60
        self.alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-alarm",
            name=f"{service_name}-{ROLE}",
            alarm_description=(
                f"{severity.value}: more than {security.alarm_threshold} failed authentications "
                f"(HTTP {', '.join(str(s) for s in security.failure_statuses)}) in "
                f"{security.alarm_period_minutes} min: credential stuffing, a leaked or expired "
                "signing key, or a broken login. Run `spendsense security report --since 1d` "
                "for the clients and paths (docs/security-review.md)."
            ),
            namespace=security.metric_namespace,
            metric_name=metric,
            statistic="Sum",
            period=period,
            evaluation_periods=1,
            threshold=security.alarm_threshold,
            comparison_operator="GreaterThanThreshold",
            # The filter publishes only when a line matches: no data is no failures.
            treat_missing_data="notBreaching",
            alarm_actions=actions,
            ok_actions=actions,
            tags=aws_tags(settings, Severity=severity.value),
            opts=child(self, args.provider, depends_on=[self.metric_filter]),
        )
        self.register_outputs({"metric_name": metric})
