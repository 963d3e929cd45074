"""The daily export's two alerts: an export failed, and no export has succeeded for a while.

"No export" must not page on a stack that has never exported: on a fresh stack (or after the
workflow is re-created under a new name) there is no execution series at all, and
`absent_over_time` alone is true until the first export succeeds. The condition is therefore
*armed* only once the workflow has finished at least one execution (any status) in the last
`ARMED_LOOKBACK`: before the first run it stays silent; after it, no success within
`backup.maxExportAgeHours` pages, whether the runs fail (the failed-export alert fires too) or
stop altogether. PromQL conditions may look back up to two years of data
(https://cloud.google.com/monitoring/alerts/using-promql), so a year is allowed. The first
deployment's steps (docs/gcp-vercel.md) run the workflow once by hand, which arms it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_gcp as gcp

from infra.components.common import child, gcp_labels
from infra.limits import limits
from infra.settings import Settings

# Where the daily exports go: the runbook's layout, which the policy pack checks too.
DAILY_PREFIX = limits().backup.prefix
# How far back a finished execution arms the missing-export condition.
ARMED_LOOKBACK = "365d"
_METRIC = "workflows_googleapis_com:finished_execution_count"


def _series(workflow: str, status: str | None = None) -> str:
    labels = [
        'monitored_resource="workflows.googleapis.com/Workflow"',
        f'workflow_id="{workflow}"',
    ]
    if status:
        labels.append(f'status="{status}"')
    return _METRIC + "{" + ",".join(labels) + "}"


def missing_export_query(workflow: str, hours: int) -> str:
    """PromQL: no execution of `workflow` succeeded in `hours` hours, once it has ever run.

    A metric-absence condition would be simpler but stops at 23.5 hours; PromQL conditions
    may look back further. `absent_over_time` covers "no success in the window" (no series),
    the `increase` half a series that exists but did not grow; `and on()` with the count of
    any finished execution over `ARMED_LOOKBACK` keeps it silent before the first run.
    """
    succeeded = _series(workflow, "SUCCEEDED")
    missing = (
        f"(sum(increase({succeeded}[{hours}h])) < 1) "
        f"or on() absent_over_time({succeeded}[{hours}h])"
    )
    armed = f"sum(count_over_time({_series(workflow)}[{ARMED_LOOKBACK}])) > 0"
    return f"({missing}) and on() ({armed})"


def _doc(content: str) -> Mapping[str, str]:
    return {"content": content, "mime_type": "text/markdown"}


def export_alerts(
    parent: pulumi.Resource,
    name: str,
    settings: Settings,
    provider: pulumi.ProviderResource | None,
    channels: Sequence[pulumi.Input[str]],
) -> list[gcp.monitoring.AlertPolicy]:
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
        notification_channels=list(channels),
        documentation=_doc(
            f"The daily Firestore export (workflow `{workflow}` in {backup.region}) failed. "
            "Look at the failed execution's error, fix it, then run "
            f"`gcloud workflows run {workflow} --location {backup.region}` and check that "
            f"a new folder appeared under gs://{backup.bucket_name}/{DAILY_PREFIX}."
        ),
        user_labels=gcp_labels(settings),
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
        notification_channels=list(channels),
        documentation=_doc(
            f"No daily Firestore export has succeeded for {hours} hours: the newest backup "
            f"under gs://{backup.bucket_name}/{DAILY_PREFIX} is getting old (the newest good "
            "one keeps a temporary hold, so the lifecycle rule cannot take it). Check that the "
            f"Cloud Scheduler job `{backup.workflow_name}-schedule` is enabled and that workflow "
            f"`{workflow}` ran, then run it by hand "
            f"(`gcloud workflows run {workflow} --location {backup.region}`)."
        ),
        user_labels=gcp_labels(settings),
        opts=child(parent, provider),
    )
    return [failed, missing]
