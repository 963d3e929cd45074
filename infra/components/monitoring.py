"""The API's monitoring: the runbook's targets as alarms, its dashboard, and the monthly budget.

Owns: the CloudWatch dashboard (`monitoring.dashboardName`, `SpendSense-API` in production),
alarms on p95 latency, 5xx error rate, availability (Route 53 health checks of the API's
`/health` and of the frontend: App Runner has no health metric of its own; "down" pages within
minutes, the runbook's availability target is judged over 24 hours), CPU, memory and
saturation (active instances at `maxInstances`), and a monthly AWS budget whose alerts go
through the `budget` severity's topic.
Every alarm is tagged `Severity` from infra/severities.py and notifies that severity's route
(its topic and the all-alerts stream) on ALARM and on OK, and its missing-data behaviour is
chosen on purpose (see each alarm).
Does not own: the alert topic (alerts.py) or the Firestore side's alerts (firestore.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import pulumi
import pulumi_aws as aws

from infra.components import auth_failures
from infra.components.common import Actions, aws_tags, child
from infra.limits import limits, number
from infra.settings import SecuritySettings, Settings
from infra.severities import Severity, severity_of

# The runbook's targets, quoted in the alarm descriptions (policies/limits.json).
_CW = limits().cloudwatch

NAMESPACE = "AWS/AppRunner"
PERIOD = 60
DAY = 86_400


@dataclass
class ApiMonitoringArgs:
    settings: Settings
    provider: pulumi.ProviderResource
    service: aws.apprunner.Service
    # What an alert of a severity notifies (alerts.AlertRoutes.actions), and the one topic of
    # a severity (a budget notification takes a single SNS topic).
    actions: Actions
    severity_topic: Callable[[Severity], pulumi.Input[str]]


def dashboard_body(
    service_name: str, service_id: str, region: str, security: SecuritySettings | None = None
) -> str:
    """The dashboard's widgets: traffic, latency percentiles, status codes, instances,
    CPU, memory; with `security`, failed authentications (auth_failures.py)."""
    auth = auth_failures.dashboard_widgets(security, service_name, region, y=18) if security else []
    dims = ["ServiceName", service_name, "ServiceID", service_id]

    def widget(
        title: str, metrics: list[list[Any]], x: int, y: int, **extra: Any
    ) -> dict[str, Any]:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": 12,
            "height": 6,
            "properties": {
                "title": title,
                "region": region,
                "metrics": metrics,
                "period": PERIOD,
                **extra,
            },
        }

    return json.dumps(
        {
            "widgets": [
                widget("Requests", [[NAMESPACE, "Requests", *dims, {"stat": "Sum"}]], 0, 0),
                widget(
                    "Latency p50 / p95 / p99 (ms)",
                    [
                        [NAMESPACE, "RequestLatency", *dims, {"stat": stat, "label": stat}]
                        for stat in ("p50", "p95", "p99")
                    ],
                    12,
                    0,
                ),
                widget(
                    "Responses by status",
                    [
                        [NAMESPACE, f"{code}StatusResponses", *dims, {"stat": "Sum", "label": code}]
                        for code in ("2xx", "4xx", "5xx")
                    ],
                    0,
                    6,
                ),
                widget(
                    "Active instances",
                    [[NAMESPACE, "ActiveInstances", *dims, {"stat": "Maximum"}]],
                    12,
                    6,
                ),
                widget(
                    "CPU utilization (%)",
                    [[NAMESPACE, "CPUUtilization", *dims, {"stat": "Average"}]],
                    0,
                    12,
                ),
                widget(
                    "Memory utilization (%)",
                    [[NAMESPACE, "MemoryUtilization", *dims, {"stat": "Average"}]],
                    12,
                    12,
                ),
                *auth,
            ]
        }
    )


class ApiMonitoring(pulumi.ComponentResource):
    dashboard: aws.cloudwatch.Dashboard
    dashboard_url: str
    alarms: dict[str, aws.cloudwatch.MetricAlarm]

    def __init__(
        self, name: str, args: ApiMonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("spendsense:aws:ApiMonitoring", name, None, opts)
        self._args = args
        self._name = name
        self._options = child(self, args.provider)
        settings = args.settings
        monitoring = settings.monitoring
        service_name = settings.api.service_name

        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=monitoring.dashboard_name,
            dashboard_body=args.service.service_id.apply(
                lambda service_id: dashboard_body(
                    service_name, service_id, settings.aws_region, settings.security
                )
            ),
            opts=self._options,
        )
        self.dashboard_url = (
            f"https://console.aws.amazon.com/cloudwatch/home?region={settings.aws_region}"
            f"#dashboards:name={monitoring.dashboard_name}"
        )
        self.alarms = {}
        self._app_runner_alarms()
        self._availability_alarms()
        self._budget()
        self.register_outputs({"dashboard_name": self.dashboard.dashboard_name})

    # -- helpers ---------------------------------------------------------------------------
    def _alarm(self, role: str, description: str, **kwargs: Any) -> aws.cloudwatch.MetricAlarm:
        settings = self._args.settings
        # Tagged and routed by the role's row in infra/severities.py.
        severity = severity_of(role)
        actions = list(self._args.actions(severity))
        alarm = aws.cloudwatch.MetricAlarm(
            f"{self._name}-{role}",
            name=f"{settings.api.service_name}-{role}",
            alarm_description=description,
            alarm_actions=actions,
            ok_actions=actions,
            tags=aws_tags(settings, Severity=severity.value),
            opts=self._options,
            **kwargs,
        )
        self.alarms[role] = alarm
        return alarm

    def _dimensions(self) -> pulumi.Output[dict[str, str]]:
        service_name = self._args.settings.api.service_name
        return self._args.service.service_id.apply(
            lambda service_id: {"ServiceName": service_name, "ServiceID": service_id}
        )

    # -- the runbook's targets ---------------------------------------------------------------
    def _app_runner_alarms(self) -> None:
        settings = self._args.settings
        monitoring = settings.monitoring
        dims = self._dimensions()
        # 3 of the last 5 minutes: a sustained problem, not one slow request.
        sustained = {"period": PERIOD, "evaluation_periods": 5, "datapoints_to_alarm": 3}

        self._alarm(
            "latency-p95",
            f"p95 latency above {monitoring.latency_p95_ms} ms (runbook target: < "
            f"{number(_CW.latency_p95_ms)} ms p95)",
            namespace=NAMESPACE,
            metric_name="RequestLatency",
            dimensions=dims,
            extended_statistic="p95",
            threshold=monitoring.latency_p95_ms,
            comparison_operator="GreaterThanThreshold",
            # No requests means no latency to judge, not slowness; availability covers "down".
            treat_missing_data="notBreaching",
            # A p95 of a handful of requests is one slow request: too few samples, no verdict.
            evaluate_low_sample_count_percentiles="ignore",
            **sustained,
        )
        self._alarm(
            "error-rate",
            f"5xx responses above {monitoring.error_rate_percent:g}% of requests (runbook target: "
            f"< {number(_CW.error_rate_percent)}%)",
            metric_queries=[
                {
                    "id": "errors",
                    "metric": {
                        "namespace": NAMESPACE,
                        "metric_name": "5xxStatusResponses",
                        "dimensions": dims,
                        "period": PERIOD,
                        "stat": "Sum",
                    },
                },
                {
                    "id": "requests",
                    "metric": {
                        "namespace": NAMESPACE,
                        "metric_name": "Requests",
                        "dimensions": dims,
                        "period": PERIOD,
                        "stat": "Sum",
                    },
                },
                {
                    "id": "error_rate",
                    # Below errorRateMinRequests a minute, one 5xx is several percent: no verdict
                    # on so few requests (a real outage still pages through availability).
                    "expression": (
                        f"IF(requests >= {monitoring.error_rate_min_requests}, "
                        "100 * FILL(errors, 0) / requests, 0)"
                    ),
                    "label": "5xx error rate (%)",
                    "return_data": True,
                },
            ],
            threshold=monitoring.error_rate_percent,
            comparison_operator="GreaterThanThreshold",
            # No traffic: no errors. The expression already yields 0 then.
            treat_missing_data="notBreaching",
            evaluation_periods=5,
            datapoints_to_alarm=3,
        )
        self._alarm(
            "cpu",
            f"CPU above {monitoring.cpu_percent:g}% (runbook: scale when CPU > "
            f"{number(_CW.cpu_percent)}%)",
            namespace=NAMESPACE,
            metric_name="CPUUtilization",
            dimensions=dims,
            statistic="Average",
            threshold=monitoring.cpu_percent,
            comparison_operator="GreaterThanThreshold",
            # A paused service reports nothing; the availability alarm covers that case.
            treat_missing_data="notBreaching",
            **sustained,
        )
        self._alarm(
            "memory",
            f"Memory above {monitoring.memory_percent:g}% (runbook: scale when memory > "
            f"{number(_CW.memory_percent)}%)",
            namespace=NAMESPACE,
            metric_name="MemoryUtilization",
            dimensions=dims,
            statistic="Average",
            threshold=monitoring.memory_percent,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            **sustained,
        )
        if settings.api.min_instances == settings.api.max_instances:
            # A fixed fleet always runs at maxInstances: this alarm would never leave ALARM.
            # CPU and memory alarms still say when that fleet is too small.
            return
        self._alarm(
            "saturation",
            f"Running at maxInstances ({settings.api.max_instances}) for 15 minutes: "
            "autoscaling has no headroom left (`spendsense scale`)",
            namespace=NAMESPACE,
            metric_name="ActiveInstances",
            dimensions=dims,
            statistic="Maximum",
            period=300,
            evaluation_periods=3,
            threshold=settings.api.max_instances,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
        )

    def _availability_alarms(self) -> None:
        """Route 53 health checks from several regions; their metrics live in us-east-1."""
        settings = self._args.settings
        api_host = self._args.service.service_url
        frontend_host = urlparse(settings.frontend.url).hostname or settings.frontend.url
        targets: list[tuple[str, pulumi.Input[str], str, str | None]] = [
            # The API's body must say it is healthy (runbook: {"status":"healthy",...}).
            ("availability", api_host, settings.api.health_check_path, '"status":"healthy"'),
            ("frontend-availability", frontend_host, "/", None),
        ]
        for role, host, path, must_contain in targets:
            check = aws.route53.HealthCheck(
                f"{self._name}-{role}-check",
                type="HTTPS_STR_MATCH" if must_contain else "HTTPS",
                fqdn=host,
                port=443,
                resource_path=path,
                search_string=must_contain,
                request_interval=30,
                failure_threshold=3,
                measure_latency=True,
                enable_sni=True,
                tags=aws_tags(settings, Name=f"{settings.api.service_name}-{role}"),
                opts=self._options,
            )
            label = f"{host if isinstance(host, str) else 'API'}{path}"
            # The page: Route 53 itself judges the endpoint down (more than 82 % of its
            # checkers failing 3 probes in a row), for two minutes running. One checker region
            # losing its network moves HealthCheckPercentageHealthy but not this.
            self._alarm(
                role,
                f"{label} is down: Route 53's health checkers see it failing (runbook target: "
                f"{number(_CW.availability_percent)}% uptime)",
                namespace="AWS/Route53",
                metric_name="HealthCheckStatus",
                dimensions={"HealthCheckId": check.id},
                statistic="Minimum",
                period=PERIOD,
                evaluation_periods=2,
                datapoints_to_alarm=2,
                threshold=1,
                comparison_operator="LessThanThreshold",
                # No data from the health checkers means we cannot see the service: treat as down.
                treat_missing_data="breaching",
            )
            # The runbook's availability target over a day rather than a minute, on Route 53's
            # own verdict (1 healthy, 0 down, per minute): its daily average is the share of
            # minutes the endpoint was up, so about 86 s of downtime in 24 hours spends it, and
            # one checker region's trouble (which moves HealthCheckPercentageHealthy) does not.
            self._alarm(
                f"{role}-daily",
                f"{label} up less than {settings.monitoring.availability_percent:g}% of the "
                f"last 24 hours (runbook target: {number(_CW.availability_percent)}% uptime)",
                namespace="AWS/Route53",
                metric_name="HealthCheckStatus",
                dimensions={"HealthCheckId": check.id},
                statistic="Average",
                period=DAY,
                evaluation_periods=1,
                threshold=round(settings.monitoring.availability_percent / 100, 6),
                comparison_operator="LessThanThreshold",
                treat_missing_data="breaching",
            )

    def _budget(self) -> None:
        """The runbook's monthly cost review, with alerts before the month is over.

        `monitoring.budgetScope: environment` (the default, while stacks share an account)
        counts only resources tagged Environment=<environment>; `account` counts the whole
        account, right only when it holds this stack alone (docs/configuration.md).
        """
        settings = self._args.settings
        monitoring = settings.monitoring
        severity = severity_of("budget")
        aws.budgets.Budget(
            f"{self._name}-budget",
            name=f"{settings.api.service_name}-monthly",
            budget_type="COST",
            limit_amount=f"{monitoring.monthly_budget_usd:.2f}",
            limit_unit="USD",
            time_unit="MONTHLY",
            cost_filters=(
                [{"name": "TagKeyValue", "values": [f"user:Environment${settings.environment}"]}]
                if monitoring.budget_scope == "environment"
                else None
            ),
            notifications=[
                {
                    "comparison_operator": "GREATER_THAN",
                    "notification_type": kind,
                    "threshold": threshold,
                    "threshold_type": "PERCENTAGE",
                    # A budget notification takes one SNS subscriber (and up to 10 e-mail
                    # ones): "A notification can have one SNS subscriber and up to 10 email
                    # subscribers", https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_NotificationWithSubscribers.html;
                    # the provider's `subscriber_sns_topic_arns` passes them on as given:
                    # https://github.com/hashicorp/terraform-provider-aws/blob/main/internal/service/budgets/budget.go):
                    # the `budget` row's severity topic, not the all-alerts stream. Its key and
                    # topic policies admit budgets.amazonaws.com (alerts.py).
                    "subscriber_sns_topic_arns": [self._args.severity_topic(severity)],
                }
                for kind, threshold in (("ACTUAL", 80), ("FORECASTED", 100))
            ],
            tags=aws_tags(settings, Severity=severity.value),
            opts=self._options,
        )
