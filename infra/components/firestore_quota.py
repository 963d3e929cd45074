"""Firestore usage against the team's own daily caps: four Cloud Monitoring alert policies.

The runbook's "Quota exceeded". The project is on the Blaze plan (exports need billing), so no
Firestore quota stops the app: the caps are the team's budget (`spendsense:firestore`
`dailyReadCap`, `dailyWriteCap`, `dailyDeleteCap`, `storageCapGib`, infra/settings/
firestore_quota.py), and each policy fires at `quotaWarningFraction` of its cap, with the
severity of its row in infra/severities.py (`firestore-reads-quota`, `-writes-quota`,
`-deletes-quota`: P2; `firestore-storage`: P3) as its `severity` user label.

Metrics (Google's list, https://cloud.google.com/monitoring/api/metrics_gcp_d_h#gcp-firestore;
Firestore's guide, https://cloud.google.com/firestore/docs/understand-performance-monitoring),
all on the monitored resource `firestore.googleapis.com/Database` (label `database_id`):
`firestore.googleapis.com/document/read_ops_count`, `.../write_ops_count`,
`.../delete_ops_count` (DELTA, INT64: operations since the previous point) and
`firestore.googleapis.com/storage/data_and_index_storage_bytes` (GAUGE: stored bytes). The
older `document/read_count` family is on `firestore_instance`, which has no database label.

How "a day" is measured. A threshold condition aligns each series with an *alignment period*
that is a sliding window (https://cloud.google.com/monitoring/alerts/concepts-indepth: "At
1:01 PM, the alignment period slides one minute"), and the Monitoring API allows at most
90,000 s (25 h) of it in an alerting policy (`Aggregation.alignmentPeriod` in the API's
discovery document, https://monitoring.googleapis.com/$discovery/rest?version=v3). So the
operations are summed with `ALIGN_SUM` over 86,400 s: a *rolling 24 hours*, re-evaluated every
minute. No threshold condition can start its window at a calendar midnight, and PromQL range
selectors are fixed durations too (calendar windows would need MQL, which Google has
deprecated). The rolling sum is the stricter measure: at any moment it covers all of today
since midnight (in any time zone) plus the end of yesterday, so a day that reaches its cap is
always caught, no later than a calendar-day sum would be; it can fire early after a busy
evening, which for a budget warning is the right way to err. `spendsense status` shows the
calendar day (since midnight in `usageTimeZone`). Ingestion delay (a few minutes) does not
matter against a 24-hour window. Storage is a gauge: the largest value of the last 24 hours
(`ALIGN_MAX` over 86,400 s), which still has a point if the metric is sampled rarely.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp

from infra.components.common import Channels, child, gcp_labels
from infra.settings import Settings
from infra.severities import severity_of

RESOURCE_TYPE = "firestore.googleapis.com/Database"
# What the CLI reads too (scripts/spendsense/ops/firestore_usage.py; a test checks they agree).
OPERATION_METRICS = {
    "reads": "firestore.googleapis.com/document/read_ops_count",
    "writes": "firestore.googleapis.com/document/write_ops_count",
    "deletes": "firestore.googleapis.com/document/delete_ops_count",
}
STORAGE_METRIC = "firestore.googleapis.com/storage/data_and_index_storage_bytes"
# The rolling day: the longest alignment period an alerting policy accepts is 90,000 s.
DAY_SECONDS = 86_400
MAX_ALERT_ALIGNMENT_SECONDS = 90_000
ROLES = {
    "reads": "firestore-reads-quota",
    "writes": "firestore-writes-quota",
    "deletes": "firestore-deletes-quota",
    "storage": "firestore-storage",
}


def quota_filter(metric: str, database: str) -> str:
    return " AND ".join(
        [
            f'resource.type = "{RESOURCE_TYPE}"',
            f'resource.label.database_id = "{database}"',
            f'metric.type = "{metric}"',
        ]
    )


def _day(aligner: str) -> list[dict[str, Any]]:
    return [
        {
            "alignment_period": f"{DAY_SECONDS}s",
            "per_series_aligner": aligner,
            "cross_series_reducer": "REDUCE_SUM",
            "group_by_fields": ["resource.label.database_id"],
        }
    ]


@dataclass
class FirestoreQuotaArgs:
    settings: Settings
    provider: pulumi.ProviderResource | None
    # The notification channel ids of a severity's route (docs/alerting.md).
    channels: Channels


class FirestoreQuota(pulumi.ComponentResource):
    """Alert policies on a day's document reads, writes and deletes and on stored bytes
    nearing the team's caps (type `spendsense:gcp:FirestoreQuota`)."""

    alert_policies: dict[str, gcp.monitoring.AlertPolicy]

    def __init__(
        self, name: str, args: FirestoreQuotaArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("spendsense:gcp:FirestoreQuota", name, None, opts)
        self._name = name
        self._args = args
        fs = args.settings.firestore
        percent = f"{fs.quota_warning_fraction:.0%}"
        caps = {
            "reads": fs.daily_read_cap,
            "writes": fs.daily_write_cap,
            "deletes": fs.daily_delete_cap,
        }
        self.alert_policies = {}
        for kind, metric in OPERATION_METRICS.items():
            cap = caps[kind]
            limit = cap * fs.quota_warning_fraction
            self.alert_policies[kind] = self._policy(
                kind,
                f"Firestore document {kind} near the daily cap ({args.settings.environment})",
                f"Document {kind} in 24 hours over {percent} of {cap:,}",
                {
                    "filter": quota_filter(metric, fs.database),
                    "comparison": "COMPARISON_GT",
                    "threshold_value": limit,
                    "duration": "0s",
                    "aggregations": _day("ALIGN_SUM"),
                },
                f"Document {kind} in the last 24 hours passed {percent} of the team's daily "
                f"cap of {cap:,} (`spendsense:firestore` setting). The project is on Blaze: "
                'nothing stops, but the bill grows. See docs/operations-data.md, "Quota '
                "exceeded\": run `spendsense status` for today's numbers, then find what "
                f"makes the {kind} (a listener or query without a limit, a loop, a bulk job).",
            )
        storage_cap = int(fs.storage_cap_gib * 2**30)
        self.alert_policies["storage"] = self._policy(
            "storage",
            f"Firestore storage near the cap ({args.settings.environment})",
            f"Stored data and indexes over {percent} of {fs.storage_cap_gib:g} GiB",
            {
                "filter": quota_filter(STORAGE_METRIC, fs.database),
                "comparison": "COMPARISON_GT",
                "threshold_value": storage_cap * fs.quota_warning_fraction,
                "duration": "0s",
                "aggregations": _day("ALIGN_MAX"),
            },
            f"Stored data and indexes passed {percent} of the team's cap of "
            f'{fs.storage_cap_gib:g} GiB. See docs/operations-data.md, "Quota exceeded": '
            "look for collections that grow without bound and unused composite indexes, or "
            "raise `storageCapGib` if the growth is expected.",
        )
        self.register_outputs({k: p.name for k, p in self.alert_policies.items()})

    def _policy(
        self,
        kind: str,
        title: str,
        condition: str,
        threshold: dict[str, Any],
        runbook: str,
    ) -> gcp.monitoring.AlertPolicy:
        settings = self._args.settings
        severity = severity_of(ROLES[kind])
        return gcp.monitoring.AlertPolicy(
            f"{self._name}-alert-{kind}",
            project=settings.gcp_project,
            display_name=title,
            combiner="OR",
            conditions=[{"display_name": condition, "condition_threshold": threshold}],
            notification_channels=list(self._args.channels(severity)),
            documentation={"content": runbook, "mime_type": "text/markdown"},
            # Closes a day after the rolling sum falls back under the threshold at the latest.
            alert_strategy={"auto_close": f"{DAY_SECONDS}s"},
            user_labels=gcp_labels(settings, severity=severity.label),
            opts=child(self, self._args.provider),
        )
