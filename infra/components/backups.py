"""Backups that cannot be lost: the export bucket, the daily export and its alerts.

Owns:
- the bucket `backup.bucketName`: uniform bucket-level access, public access prevention
  enforced, not requester-pays, no versioning (a retention policy excludes it), access logs to
  a second bucket; a lifecycle rule deletes `daily/` objects after `backup.retentionDays` and
  `manual-*` objects after `backup.manualRetentionDays`; a bucket retention policy of
  `backup.retentionDays` (locked when `backup.lockRetentionPolicy`) and soft delete, so no
  object can be deleted or overwritten early by anyone, whatever key leaks or prefix is wrong;
- the daily export: a Cloud Scheduler job `<workflowName>-schedule` (`backup.schedule` in
  `backup.timeZone`) that starts a Cloud Workflows workflow
  (`infra/workflows/firestore_export.yaml`) which names the folder `daily/YYYYMMDD_HHMMSS/`,
  calls the Firestore export connector and waits for the export, never runs two exports at
  once, and keeps a temporary hold on the newest good export (so the `daily/` lifecycle rule
  cannot take the last backup if exports stop);
- two service accounts: the workflow's, with only the custom roles of `backup_iam.py` (export,
  never import; holds on this bucket) and bucket metadata read on the bucket; and the
  scheduler's, with only `roles/workflows.invoker`, so the account that can export cannot
  also start workflows;
- the Firestore service agents' bucket access: this project's (write exports, read them for a
  restore) and the restore drill's test project's (`backup.testProject`: read only; its agent
  is created first if the project never used Firestore);
- with `backup.usageLogs: false` (Domain Restricted Sharing), Cloud Audit Logs data access
  logs for Cloud Storage instead of usage logs;
- the export's alerts (`backup_alerts.py`).

Deliberately not here: the database (`firestore.py`, which also owns the e-mail notification
channels these alerts reuse), restores (a runbook procedure run by people, `spendsense`), and
the IAM of the people who deploy this program (they need `iam.serviceAccounts.actAs` on the
workflow's account).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp

from infra.components.backup_alerts import DAILY_PREFIX, export_alerts, missing_export_query
from infra.components.backup_iam import custom_role_name, export_roles
from infra.components.common import Channels, child, gcp_labels, stateful
from infra.paths import program_file
from infra.settings import Settings

__all__ = ["DAILY_PREFIX", "Backups", "BackupsArgs", "missing_export_query"]

MANUAL_PREFIX = "manual-"
WORKFLOW_SOURCE = program_file("workflows", "firestore_export.yaml")
# Bucket metadata and object listing, no object content: enough for the export call to check
# the destination, not enough to read or change a backup.
EXPORT_BUCKET_ROLE = "roles/storage.legacyBucketReader"
# The Firestore service agent does the writing (export) and the reading (import).
AGENT_WRITE_ROLES = ("roles/storage.objectCreator", "roles/storage.legacyBucketReader")
AGENT_READ_ROLES = ("roles/storage.objectViewer", "roles/storage.legacyBucketReader")
# Cloud Storage writes usage logs as this group (docs: "Usage logs & storage logs").
STORAGE_ANALYTICS = "group:cloud-storage-analytics@google.com"
DAY_SECONDS = 86_400


def firestore_agent(project_number: str) -> str:
    """The Firestore service agent of a project, as an IAM member."""
    return f"serviceAccount:service-{project_number}@gcp-sa-firestore.iam.gserviceaccount.com"


def workflow_source() -> str:
    return WORKFLOW_SOURCE.read_text(encoding="utf-8")


def scheduler_body() -> str:
    """The executions.create body Cloud Scheduler posts, base64-encoded as the API wants."""
    body = {"argument": json.dumps({"trigger": "cloud-scheduler"})}
    return base64.b64encode(json.dumps(body).encode()).decode()


@dataclass
class BackupsArgs:
    settings: Settings
    provider: pulumi.ProviderResource
    database: gcp.firestore.Database
    # The notification channels of a severity (alert_channels.AlertChannels.channels_for).
    channels: Channels


class Backups(pulumi.ComponentResource):
    """The backup bucket, the scheduled export and its alerts (`spendsense:gcp:Backups`)."""

    bucket: gcp.storage.Bucket
    log_bucket: gcp.storage.Bucket | None
    export_account: gcp.serviceaccount.Account
    scheduler_account: gcp.serviceaccount.Account
    workflow: gcp.workflows.Workflow
    job: gcp.cloudscheduler.Job
    export_role: gcp.projects.IAMCustomRole
    hold_role: gcp.projects.IAMCustomRole

    def __init__(
        self, name: str, args: BackupsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("spendsense:gcp:Backups", name, None, opts)
        self._name = name
        self._settings = args.settings
        self._provider = args.provider
        settings = args.settings
        backup = settings.backup

        project = gcp.organizations.get_project_output(
            project_id=settings.gcp_project,
            opts=pulumi.InvokeOutputOptions(provider=self._provider),
        )
        self.log_bucket = self._log_bucket()
        self.bucket = self._bucket()
        self.export_account, self.scheduler_account = self._accounts()
        # This project's agent exists once its Firestore database does.
        self._agent_access(
            project.number, AGENT_WRITE_ROLES + AGENT_READ_ROLES, "agent", [args.database]
        )
        if backup.test_project:
            self._test_agent_access(backup.test_project)
        self.workflow = self._workflow()
        self.job = self._schedule()
        self.alert_policies = export_alerts(self, name, settings, self._provider, args.channels)

        self.prefix = DAILY_PREFIX
        self.schedule = backup.schedule
        self.time_zone = backup.time_zone
        self.register_outputs(
            {
                "bucket": self.bucket.name,
                "prefix": self.prefix,
                "schedule": self.schedule,
                "time_zone": self.time_zone,
                "workflow": self.workflow.name,
                "scheduler_job": self.job.name,
            }
        )

    # -- buckets ---------------------------------------------------------------------------
    def _common_bucket_args(self) -> dict[str, Any]:
        settings = self._settings
        return {
            "project": settings.gcp_project,
            "location": settings.backup.location,
            "storage_class": "STANDARD",
            "uniform_bucket_level_access": True,
            "public_access_prevention": "enforced",
            "requester_pays": False,
            # A stack that may be torn down (staging) empties its buckets on destroy, once
            # the retention policy allows it (docs/gcp-vercel.md, "Tearing down staging").
            "force_destroy": not settings.protect_stateful_resources,
            "labels": gcp_labels(settings),
        }

    def _log_bucket(self) -> gcp.storage.Bucket | None:
        settings = self._settings
        if not settings.backup.usage_logs:
            # Domain Restricted Sharing refuses the Google group that writes usage logs: record
            # the bucket's reads and writes in Cloud Audit Logs instead (data access logs).
            gcp.projects.IAMAuditConfig(
                f"{self._name}-storage-data-access-logs",
                project=settings.gcp_project,
                service="storage.googleapis.com",
                audit_log_configs=[
                    {"log_type": "ADMIN_READ"},
                    {"log_type": "DATA_READ"},
                    {"log_type": "DATA_WRITE"},
                ],
                opts=child(self, self._provider),
            )
            return None
        log_bucket = gcp.storage.Bucket(
            f"{self._name}-access-logs",
            name=settings.backup.log_bucket_name,
            lifecycle_rules=[
                {
                    "action": {"type": "Delete"},
                    "condition": {"age": settings.backup.access_log_retention_days},
                }
            ],
            **self._common_bucket_args(),
            opts=child(self, self._provider, **stateful(settings)),
        )
        gcp.storage.BucketIAMMember(
            f"{self._name}-access-logs-writer",
            bucket=log_bucket.name,
            role="roles/storage.objectCreator",
            member=STORAGE_ANALYTICS,
            opts=child(self, self._provider),
        )
        return log_bucket

    def _bucket(self) -> gcp.storage.Bucket:
        settings = self._settings
        backup = settings.backup
        return gcp.storage.Bucket(
            f"{self._name}-bucket",
            name=backup.bucket_name,
            # A retention policy and object versioning cannot be used together; the retention
            # policy is what stops early deletes and overwrites.
            versioning={"enabled": False},
            retention_policy={
                "retention_period": str(backup.retention_days * DAY_SECONDS),
                "is_locked": backup.lock_retention_policy,
            },
            soft_delete_policy={
                "retention_duration_seconds": backup.soft_delete_days * DAY_SECONDS
            },
            lifecycle_rules=[
                {
                    "action": {"type": "Delete"},
                    "condition": {"age": backup.retention_days, "matches_prefixes": [DAILY_PREFIX]},
                },
                {
                    "action": {"type": "Delete"},
                    "condition": {
                        "age": backup.manual_retention_days,
                        "matches_prefixes": [MANUAL_PREFIX],
                    },
                },
                {
                    "action": {"type": "AbortIncompleteMultipartUpload"},
                    "condition": {"age": 1},
                },
            ],
            logging={"log_bucket": self.log_bucket.name, "log_object_prefix": backup.bucket_name}
            if self.log_bucket is not None
            else None,
            **self._common_bucket_args(),
            opts=child(self, self._provider, **stateful(settings)),
        )

    # -- identities ------------------------------------------------------------------------
    def _accounts(self) -> tuple[gcp.serviceaccount.Account, gcp.serviceaccount.Account]:
        settings = self._settings
        export = gcp.serviceaccount.Account(
            f"{self._name}-export-sa",
            project=settings.gcp_project,
            account_id="firestore-backup-export",
            display_name="Firestore daily export (Cloud Workflows)",
            description="Runs the daily Firestore export workflow: export only, never import.",
            opts=child(self, self._provider),
        )
        self.export_role, self.hold_role = export_roles(self, self._name, settings, self._provider)
        gcp.projects.IAMMember(
            f"{self._name}-export-sa-export",
            project=settings.gcp_project,
            role=custom_role_name(settings.gcp_project, self.export_role),
            member=export.member,
            opts=child(self, self._provider),
        )
        gcp.storage.BucketIAMMember(
            f"{self._name}-export-sa-holds",
            bucket=self.bucket.name,
            role=custom_role_name(settings.gcp_project, self.hold_role),
            member=export.member,
            opts=child(self, self._provider),
        )
        gcp.storage.BucketIAMMember(
            f"{self._name}-export-sa-bucket",
            bucket=self.bucket.name,
            role=EXPORT_BUCKET_ROLE,
            member=export.member,
            opts=child(self, self._provider),
        )
        scheduler = gcp.serviceaccount.Account(
            f"{self._name}-scheduler-sa",
            project=settings.gcp_project,
            account_id="firestore-backup-scheduler",
            display_name="Firestore daily export (Cloud Scheduler)",
            description="Starts the daily Firestore export workflow. Only workflows.invoker.",
            opts=child(self, self._provider),
        )
        gcp.projects.IAMMember(
            f"{self._name}-scheduler-sa-invoker",
            project=settings.gcp_project,
            role="roles/workflows.invoker",
            member=scheduler.member,
            opts=child(self, self._provider),
        )
        return export, scheduler

    def _agent_access(
        self,
        project_number: pulumi.Output[str],
        roles: Sequence[str],
        role_name: str,
        depends: Sequence[pulumi.Resource],
    ) -> None:
        """Bucket roles for a project's Firestore service agent (it reads and writes exports)."""
        member = project_number.apply(firestore_agent)
        for role in dict.fromkeys(roles):
            short = role.removeprefix("roles/storage.").replace(".", "-").lower()
            gcp.storage.BucketIAMMember(
                f"{self._name}-{role_name}-{short}",
                bucket=self.bucket.name,
                role=role,
                member=member,
                opts=child(self, self._provider, depends_on=list(depends)),
            )

    def _test_agent_access(self, test_project: str) -> None:
        """Read access for the restore drill's project's Firestore service agent.

        The agent may not exist yet in a project that never used Firestore, and a binding to
        an account that does not exist is refused. ServiceIdentity
        (services.generateServiceIdentity) creates it if needed; the bindings wait for it.
        The agent's address is fixed by the project number (`firestore_agent`).
        """
        agent = gcp.projects.ServiceIdentity(
            f"{self._name}-test-firestore-agent",
            project=test_project,
            service="firestore.googleapis.com",
            opts=child(self, self._provider),
        )
        test = gcp.organizations.get_project_output(
            project_id=test_project, opts=pulumi.InvokeOutputOptions(provider=self._provider)
        )
        self._agent_access(test.number, AGENT_READ_ROLES, "test-agent", [agent])

    # -- the export ------------------------------------------------------------------------
    def _workflow(self) -> gcp.workflows.Workflow:
        settings = self._settings
        backup = settings.backup
        return gcp.workflows.Workflow(
            f"{self._name}-export-workflow",
            project=settings.gcp_project,
            region=backup.region,
            name=backup.workflow_name,
            description=(
                f"Exports Firestore {settings.firestore.database} to "
                f"gs://{backup.bucket_name}/{DAILY_PREFIX}YYYYMMDD_HHMMSS/ and waits for it."
            ),
            service_account=self.export_account.email,
            source_contents=workflow_source(),
            user_env_vars={
                "FIRESTORE_DATABASE": settings.firestore.database,
                "BACKUP_BUCKET": self.bucket.name,
                "BACKUP_PREFIX": DAILY_PREFIX,
            },
            labels=gcp_labels(settings),
            deletion_protection=False,
            opts=child(self, self._provider),
        )

    def _schedule(self) -> gcp.cloudscheduler.Job:
        settings = self._settings
        backup = settings.backup
        uri = pulumi.Output.concat(
            "https://workflowexecutions.googleapis.com/v1/projects/",
            settings.gcp_project,
            "/locations/",
            backup.region,
            "/workflows/",
            self.workflow.name,
            "/executions",
        )
        return gcp.cloudscheduler.Job(
            f"{self._name}-export-schedule",
            project=settings.gcp_project,
            region=backup.region,
            # Named, so the alerts, the docs and `gcloud scheduler jobs run` can refer to it.
            name=f"{backup.workflow_name}-schedule",
            description=(
                f"Daily Firestore export at {backup.schedule} {backup.time_zone} "
                f"into gs://{backup.bucket_name}/{DAILY_PREFIX}"
            ),
            schedule=backup.schedule,
            time_zone=backup.time_zone,
            attempt_deadline="180s",
            # Retries cover only starting the workflow (a non-2xx answer or no answer within
            # attempt_deadline); a retry after a start whose answer was lost starts a second
            # execution, which sees the running export and ends without starting another.
            retry_config={"retry_count": 3, "min_backoff_duration": "60s"},
            http_target={
                "http_method": "POST",
                "uri": uri,
                "body": scheduler_body(),
                "headers": {"Content-Type": "application/json"},
                "oauth_token": {
                    "service_account_email": self.scheduler_account.email,
                    "scope": "https://www.googleapis.com/auth/cloud-platform",
                },
            },
            opts=child(self, self._provider),
        )
