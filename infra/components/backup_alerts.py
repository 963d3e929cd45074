"""The daily export's two alerts: an export failed, and no export has succeeded for a while.

"No export" must not page on a stack that has never exported: on a fresh stack there is no
execution series at all, and `absent_over_time` alone is true until the first export succeeds.
It must page, though, when the export never worked (wrong method, wrong workflow, a refused
invoker binding): so the condition is *armed* by the Cloud Scheduler job's own attempts, not by
a finished execution. It fires when the scheduler attempted the job more than
`backup.maxExportAgeHours` ago (within `ARMED_LOOKBACK`) and no execution succeeded in the last
`backup.maxExportAgeHours`: silent before the schedule first fires and for a day after it;
paging if the attempts never produce a successful export, or if exports stop after working.
Metric names: `cloudscheduler.googleapis.com/job/attempt_count` (resource `cloud_scheduler_job`,
label `job_id`) and `workflows.googleapis.com/finished_execution_count` (resource
`workflows.googleapis.com/Workflow`, labels `workflow_id`, `status`), both DELTA, from Google's
metrics list (https://cloud.google.com/monitoring/api/metrics_gcp_c#gcp-cloudscheduler and
https://cloud.google.com/monitoring/api/metrics_gcp_p_z#gcp-workflows); in PromQL the first `/`
becomes `:` and the others `_` (https://cloud.google.com/monitoring/promql/promql-mapping).
PromQL conditions may look back up to two years of data
(https://cloud.google.com/monitoring/alerts/using-promql), so a year is allowed.

Not covered by metrics: a scheduler job paused (or never created) from day one makes no attempts
at all, and an attempt series is the only sign of the job a metric gives. The first
deployment's checks (README, "Checks after the first deployment") confirm the job is ENABLED
and has attempted; after that, a pause is caught like any stop.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_gcp as gcp

from infra.components.common import Channels, child, gcp_labels
from infra.limits import limits
from infra.settings import Settings
from infra.severities import severity_of

# Where the daily exports go: the runbook's layout, which the policy pack checks too.
DAILY_PREFIX = limits().backup.prefix
# How far back a scheduler attempt arms the missing-export condition.
ARMED_LOOKBACK = "365d"
_METRIC = "workflows_googleapis_com:finished_execution_count"
_ATTEMPTS = "cloudscheduler_googleapis_com:job_attempt_count"


def _series(workflow: str, status: str | None = None) -> str:
    labels = [
        'monitored_resource="workflows.googleapis.com/Workflow"',
        f'workflow_id="{workflow}"',
    ]
    if status:
        labels.append(f'status="{status}"')
    return _METRIC + "{" + ",".join(labels) + "}"


def _attempts(job: str) -> str:
    return _ATTEMPTS + '{monitored_resource="cloud_scheduler_job",job_id="' + job + '"}'


def schedule_job_id(workflow: str) -> str:
    """The Cloud Scheduler job that starts `workflow` (named so in backups.py)."""
    return f"{workflow}-schedule"


def missing_export_query(workflow: str, hours: int, job: str | None = None) -> str:
    """PromQL: no execution of `workflow` succeeded in `hours` hours, while scheduler `job`
    has been attempting it for longer than that.

    A metric-absence condition would be simpler but stops at 23.5 hours; PromQL conditions
    may look back further. `absent_over_time` covers "no success in the window" (no series),
    the `increase` half a series that exists but did not grow; `and on()` with the scheduler's
    attempts between `hours` and `ARMED_LOOKBACK` + `hours` ago arms it (the `offset`: the
    first attempt gets `hours` to produce an export before anyone is paged).
    """
    succeeded = _series(workflow, "SUCCEEDED")
    missing = (
        f"(sum(increase({succeeded}[{hours}h])) < 1) "
        f"or on() absent_over_time({succeeded}[{hours}h])"
    )
    attempts = _attempts(job or schedule_job_id(workflow))
    armed = f"sum(count_over_time({attempts}[{ARMED_LOOKBACK}] offset {hours}h)) > 0"
    return f"({missing}) and on() ({armed})"


def _doc(content: str) -> Mapping[str, str]:
    return {"content": content, "mime_type": "text/markdown"}


def export_alerts(
    parent: pulumi.Resource,
    name: str,
    settings: Settings,
    provider: pulumi.ProviderResource | None,
    channels: Channels,
) -> list[gcp.monitoring.AlertPolicy]:
    """The two export alerts, each labelled and routed by its row in infra/severities.py."""
    failed_severity = severity_of("backup-export-failed")
    missing_severity = severity_of("backup-export-missing")
    backup = settings.backup
    workflow = backup.workflow_name
    failed = gcp.monitoring.AlertPolicy(
        f"{name}-alert-export-failed",
        project=settings.gcp_project,
        display_name=f"Firestore daily export failed ({settings.environment})",
        combiner="OR",
        conditions=[
            {
                "display_name": "An export workflow execution failed or was cancelled",
                "condition_threshold": {
                    "filter": " AND ".join(
                        [
                            'resource.type = "workflows.googleapis.com/Workflow"',
                            f'resource.label.workflow_id = "{workflow}"',
                            'metric.type = "workflows.googleapis.com/finished_execution_count"',
                            'metric.label.status = one_of("FAILED", "CANCELLED")',
                        ]
                    ),
                    "comparison": "COMPARISON_GT",
                    "threshold_value": 0,
                    "duration": "0s",
                    "aggregations": [
                        {"alignment_period": "300s", "per_series_aligner": "ALIGN_SUM"}
                    ],
                },
            }
        ],
        notification_channels=list(channels(failed_severity)),
        documentation=_doc(
            f"The daily Firestore export (workflow `{workflow}` in {backup.region}) failed. "
            "Look at the failed execution's error, fix it, then run "
            f"`gcloud workflows run {workflow} --location {backup.region}` and check that "
            f"a new folder appeared under gs://{backup.bucket_name}/{DAILY_PREFIX}."
        ),
        user_labels=gcp_labels(settings, severity=failed_severity.label),
        opts=child(parent, provider),
    )
    hours = backup.max_export_age_hours
    missing = gcp.monitoring.AlertPolicy(
        f"{name}-alert-export-missing",
        project=settings.gcp_project,
        display_name=f"No Firestore export in {hours} hours ({settings.environment})",
        combiner="OR",
        conditions=[
            {
                "display_name": f"No successful export workflow execution in {hours} h",
                "condition_prometheus_query_language": {
                    "query": missing_export_query(workflow, hours),
                    "duration": "0s",
                    "evaluation_interval": "300s",
                },
            }
        ],
        notification_channels=list(channels(missing_severity)),
        documentation=_doc(
            f"No daily Firestore export has succeeded for {hours} hours: the newest backup "
            f"under gs://{backup.bucket_name}/{DAILY_PREFIX} is getting old (the newest good "
            "one keeps a temporary hold, so the lifecycle rule cannot take it). Check that the "
            f"Cloud Scheduler job `{schedule_job_id(workflow)}` is enabled and that workflow "
            f"`{workflow}` ran, then run it by hand "
            f"(`gcloud workflows run {workflow} --location {backup.region}`)."
        ),
        user_labels=gcp_labels(settings, severity=missing_severity.label),
        opts=child(parent, provider),
    )
    return [failed, missing]
