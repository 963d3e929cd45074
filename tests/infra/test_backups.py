"""Backups as the engine would see them: a bucket nobody can empty early, and a daily export.

Runbook "Automated Backups": daily at 02:00 UTC into gs://spendsense-backups/daily/, kept 30
days; the restore drill imports into spendsense-test.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from spendsense.plan.recorder import (
    RecordedResource,
    Recording,
    _kebab,
    _project_number,
    _short_hash,
)

from infra.components.backups import firestore_agent, missing_export_query
from infra.settings import SettingsError, parse_settings
from tests.infra.conftest import DELETE, record, with_changes

Recorded = Callable[[str], Recording]
BUCKET = "gcp:storage/bucket:Bucket"
BUCKET_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
ACCOUNT = "gcp:serviceaccount/account:Account"
WORKFLOW = "gcp:workflows/workflow:Workflow"
JOB = "gcp:cloudscheduler/job:Job"
POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
CUSTOM_ROLE = "gcp:projects/iAMCustomRole:IAMCustomRole"
SERVICE_IDENTITY = "gcp:projects/serviceIdentity:ServiceIdentity"
AUDIT_CONFIG = "gcp:projects/iAMAuditConfig:IAMAuditConfig"
DAY = 86_400
IAM_TYPES = {
    BUCKET_MEMBER,
    PROJECT_MEMBER,
    "gcp:storage/bucketIAMBinding:BucketIAMBinding",
    "gcp:storage/bucketIAMPolicy:BucketIAMPolicy",
    "gcp:projects/iAMBinding:IAMBinding",
    "gcp:projects/iAMPolicy:IAMPolicy",
    "gcp:serviceaccount/iAMMember:IAMMember",
}


def backup_bucket(rec: Recording) -> dict[str, Any]:
    return rec.one(BUCKET, "backups-bucket").inputs


def account_member(rec: Recording, role: str) -> str:
    account = rec.one(ACCOUNT, f"backups-{role}-sa").inputs
    return f"serviceAccount:{account['accountId']}@{account['project']}.iam.gserviceaccount.com"


def grants_to(rec: Recording, member: str) -> set[tuple[str, str]]:
    """Every IAM grant in the stack to `member`, as (where, role)."""
    found = set()
    for resource in rec.resources:
        if resource.type not in IAM_TYPES:
            continue
        members = [resource.inputs.get("member"), *resource.inputs.get("members", [])]
        if member in members:
            where = resource.inputs.get("bucket") or f"project {resource.inputs.get('project')}"
            found.add((where, resource.inputs["role"]))
    return found


def rec_id(resource: RecordedResource) -> str:
    """The id the mock cloud gives a resource (what another resource's input receives)."""
    return f"{_kebab(resource.name)}-{_short_hash(resource.type + resource.name)}"


def settings_error(changes: dict[str, Any], stack: str = "production") -> str:
    with pytest.raises(SettingsError) as caught:
        parse_settings(with_changes(stack, changes))
    return str(caught.value)


# -- the bucket --------------------------------------------------------------------------------
def test_production_bucket_is_the_runbooks_and_private(recorded: Recorded) -> None:
    bucket = backup_bucket(recorded("production"))
    assert (bucket["name"], bucket["location"]) == ("spendsense-backups", "US")
    assert bucket["uniformBucketLevelAccess"] is True
    assert bucket["publicAccessPrevention"] == "enforced"
    assert bucket["requesterPays"] is False
    assert bucket["forceDestroy"] is False
    assert bucket["labels"] == {
        "project": "spendsense",
        "environment": "production",
        "managed-by": "pulumi",
    }


def test_daily_exports_are_deleted_after_30_days_and_manual_ones_kept_longer(
    recorded: Recorded,
) -> None:
    """Runbook: retention 30 days for daily/; manual-* exports live manualRetentionDays."""
    rules = backup_bucket(recorded("production"))["lifecycleRules"]
    deletes = {
        tuple(r["condition"].get("matchesPrefixes", [])): r["condition"]["age"]
        for r in rules
        if r["action"]["type"] == "Delete"
    }
    assert deletes == {("daily/",): 30, ("manual-",): 365}


def test_nobody_can_delete_or_overwrite_a_backup_for_30_days(recorded: Recorded) -> None:
    """A retention policy of 30 days, locked in production, plus soft delete."""
    production, staging = backup_bucket(recorded("production")), backup_bucket(recorded("staging"))
    assert production["retentionPolicy"] == {"retentionPeriod": str(30 * DAY), "isLocked": True}
    assert staging["retentionPolicy"] == {"retentionPeriod": str(30 * DAY), "isLocked": False}
    assert production["softDeletePolicy"] == {"retentionDurationSeconds": 30 * DAY}
    assert staging["softDeletePolicy"] == {"retentionDurationSeconds": 7 * DAY}
    # A retention policy and versioning exclude each other.
    assert production["versioning"] == {"enabled": False}


def test_the_retention_period_follows_retention_days() -> None:
    rec = record("staging", {"spendsense:backup.retentionDays": 14})
    bucket = backup_bucket(rec)
    assert bucket["retentionPolicy"]["retentionPeriod"] == str(14 * DAY)
    daily = [
        r for r in bucket["lifecycleRules"] if r["condition"].get("matchesPrefixes") == ["daily/"]
    ]
    assert daily[0]["condition"]["age"] == 14


def test_bucket_access_is_logged_to_a_private_log_bucket(recorded: Recorded) -> None:
    rec = recorded("production")
    bucket = backup_bucket(rec)
    log_bucket = rec.one(BUCKET, "backups-access-logs").inputs
    assert log_bucket["name"] == "spendsense-backups-logs"
    assert bucket["logging"] == {
        "logBucket": "spendsense-backups-logs",
        "logObjectPrefix": "spendsense-backups",
    }
    assert log_bucket["publicAccessPrevention"] == "enforced"
    assert log_bucket["uniformBucketLevelAccess"] is True
    assert grants_to(rec, "group:cloud-storage-analytics@google.com") == {
        ("spendsense-backups-logs", "roles/storage.objectCreator")
    }


def test_production_protects_both_buckets_staging_does_not(recorded: Recorded) -> None:
    for stack, protected in (("production", True), ("staging", False)):
        for bucket in recorded(stack).by_type(BUCKET):
            assert (bucket.protect, bucket.retain_on_delete) == (protected, protected), bucket.name


def test_no_bucket_grant_is_public(each_stack: Recording) -> None:
    for resource in each_stack.by_type(BUCKET_MEMBER):
        assert resource.inputs["member"] not in ("allUsers", "allAuthenticatedUsers")


# -- the export schedule -----------------------------------------------------------------------
def test_export_runs_daily_at_02_00_utc(each_stack: Recording) -> None:
    job = each_stack.one(JOB).inputs
    assert (job["schedule"], job["timeZone"]) == ("0 2 * * *", "UTC")
    assert each_stack.outputs["backup_schedule"] == "0 2 * * *"
    assert each_stack.outputs["backup_time_zone"] == "UTC"


def test_the_retention_the_lifecycle_enforces_is_an_output(each_stack: Recording) -> None:
    """`backup verify` flags exports older than this stack's retention, not a global number."""
    assert each_stack.outputs["backup_retention_days"] == 30


def test_the_drill_project_is_an_output(each_stack: Recording) -> None:
    """`spendsense drill` restores into the project the program grants read access to."""
    assert each_stack.outputs["backup_test_project"] == "spendsense-test"


def test_the_scheduler_starts_the_export_workflow_as_its_own_account(recorded: Recorded) -> None:
    rec = recorded("production")
    target = rec.one(JOB).inputs["httpTarget"]
    workflow = rec.one(WORKFLOW).inputs
    assert target["httpMethod"] == "POST"
    assert target["uri"] == (
        "https://workflowexecutions.googleapis.com/v1/projects/spendsense-production"
        f"/locations/{workflow['region']}/workflows/{workflow['name']}/executions"
    )
    assert (
        target["oauthToken"]["serviceAccountEmail"]
        == account_member(rec, "scheduler").split(":")[1]
    )
    assert json.loads(base64.b64decode(target["body"]))["argument"]


def test_the_workflow_runs_as_the_export_account_and_writes_under_daily(recorded: Recorded) -> None:
    rec = recorded("production")
    workflow = rec.one(WORKFLOW).inputs
    assert workflow["serviceAccount"] == account_member(rec, "export").split(":")[1]
    assert workflow["userEnvVars"] == {
        "BACKUP_BUCKET": "spendsense-backups",
        "BACKUP_PREFIX": "daily/",
        "FIRESTORE_DATABASE": "(default)",
    }
    assert "exportDocuments" in workflow["sourceContents"]
    assert workflow["labels"]["environment"] == "production"


def test_the_schedule_and_place_follow_the_settings() -> None:
    rec = record(
        "staging",
        {
            "spendsense:backup.schedule": "30 3 * * *",
            "spendsense:backup.timeZone": "America/New_York",
            "spendsense:backup.region": "us-east1",
        },
    )
    job = rec.one(JOB).inputs
    assert (job["schedule"], job["timeZone"], job["region"]) == (
        "30 3 * * *",
        "America/New_York",
        "us-east1",
    )
    assert rec.one(WORKFLOW).inputs["region"] == "us-east1"


# -- identities --------------------------------------------------------------------------------
def test_the_export_account_can_export_but_never_import(each_stack: Recording) -> None:
    """Issue 13.5: a custom role with export, getMetadata and operations get/list only (no
    datastore.databases.import); on the bucket, metadata and the hold on the newest export."""
    project = each_stack.outputs["firestore_project"]
    bucket = each_stack.outputs["backup_bucket"]
    assert grants_to(each_stack, account_member(each_stack, "export")) == {
        (f"project {project}", f"projects/{project}/roles/spendsenseFirestoreExport"),
        (bucket, "roles/storage.legacyBucketReader"),
        (bucket, f"projects/{project}/roles/spendsenseFirestoreExportHolds"),
    }
    roles = {r.inputs["roleId"]: r.inputs for r in each_stack.by_type(CUSTOM_ROLE)}
    assert set(roles) == {"spendsenseFirestoreExport", "spendsenseFirestoreExportHolds"}
    assert sorted(roles["spendsenseFirestoreExport"]["permissions"]) == [
        "datastore.databases.export",
        "datastore.databases.getMetadata",
        "datastore.operations.get",
        "datastore.operations.list",
    ]
    assert roles["spendsenseFirestoreExportHolds"]["permissions"] == ["storage.objects.update"]
    assert all(r["project"] == project for r in roles.values())
    every_role = {r.inputs.get("role") for r in each_stack.resources if r.type in IAM_TYPES}
    assert "roles/datastore.importExportAdmin" not in every_role


def test_the_scheduler_account_can_only_start_workflows(each_stack: Recording) -> None:
    project = each_stack.outputs["firestore_project"]
    assert grants_to(each_stack, account_member(each_stack, "scheduler")) == {
        (f"project {project}", "roles/workflows.invoker")
    }


def test_the_firestore_service_agent_can_write_and_read_exports(recorded: Recorded) -> None:
    agent = firestore_agent(_project_number("spendsense-production"))
    assert grants_to(recorded("production"), agent) == {
        ("spendsense-backups", "roles/storage.objectCreator"),
        ("spendsense-backups", "roles/storage.objectViewer"),
        ("spendsense-backups", "roles/storage.legacyBucketReader"),
    }


def test_the_restore_drills_test_project_can_only_read(recorded: Recorded) -> None:
    """Runbook: test restores import into spendsense-test; its agent reads, nothing more."""
    agent = firestore_agent(_project_number("spendsense-test"))
    assert agent.startswith("serviceAccount:service-") and "gcp-sa-firestore" in agent
    assert grants_to(recorded("production"), agent) == {
        ("spendsense-backups", "roles/storage.objectViewer"),
        ("spendsense-backups", "roles/storage.legacyBucketReader"),
    }


def test_without_a_test_project_nothing_is_granted_for_it() -> None:
    rec = record("staging", {"spendsense:backup.testProject": DELETE})
    agent = firestore_agent(_project_number("spendsense-test"))
    assert grants_to(rec, agent) == set()
    assert not [r for r in rec.by_type(BUCKET_MEMBER) if "test-agent" in r.name]


# -- alerts ------------------------------------------------------------------------------------
def _policy(rec: Recording, role: str) -> RecordedResource:
    return rec.one(POLICY, f"backups-alert-{role}")


def test_a_failed_export_alerts_the_p1_route(recorded: Recorded) -> None:
    rec = recorded("production")
    policy = _policy(rec, "export-failed").inputs
    (condition,) = policy["conditions"]
    text = condition["conditionThreshold"]["filter"]
    assert 'metric.type = "workflows.googleapis.com/finished_execution_count"' in text
    assert 'resource.label.workflow_id = "firestore-daily-export"' in text
    assert 'metric.label.status = one_of("FAILED", "CANCELLED")' in text
    assert condition["conditionThreshold"]["thresholdValue"] == 0
    # P1 (a backup failed / stopped): production's P1 route is the e-mail and the pager.
    assert policy["userLabels"]["severity"] == "p1"
    p1 = [rec_id(c) for c in rec.by_type(CHANNEL) if "severity-p1" in c.inputs["userLabels"]]
    assert len(p1) == 2 and sorted(policy["notificationChannels"]) == sorted(p1)


def test_no_export_for_26_hours_alerts(recorded: Recorded) -> None:
    rec = recorded("production")
    policy = _policy(rec, "export-missing").inputs
    (condition,) = policy["conditions"]
    query = condition["conditionPrometheusQueryLanguage"]["query"]
    assert query == missing_export_query("firestore-daily-export", 26)
    assert "[26h]" in query and 'status="SUCCEEDED"' in query
    assert 'workflow_id="firestore-daily-export"' in query
    # P1 (a backup failed / stopped): production's P1 route is the e-mail and the pager.
    assert policy["userLabels"]["severity"] == "p1"
    p1 = [rec_id(c) for c in rec.by_type(CHANNEL) if "severity-p1" in c.inputs["userLabels"]]
    assert len(p1) == 2 and sorted(policy["notificationChannels"]) == sorted(p1)


def test_the_missing_export_window_follows_the_setting() -> None:
    rec = record("staging", {"spendsense:backup.maxExportAgeHours": 30})
    (condition,) = _policy(rec, "export-missing").inputs["conditions"]
    assert "[30h]" in condition["conditionPrometheusQueryLanguage"]["query"]


# -- outputs -----------------------------------------------------------------------------------
def test_backup_outputs_of_contract_3(each_stack: Recording) -> None:
    settings = parse_settings(with_changes(each_stack.stack, {}))
    outputs = each_stack.outputs
    assert outputs["backup_bucket"] == settings.backup.bucket_name
    assert outputs["backup_prefix"] == "daily/"
    assert outputs["firestore_project"] == settings.gcp_project
    assert outputs["firestore_database"] == "(default)"
    assert outputs["backup_workflow"] == "firestore-daily-export"


# -- settings ----------------------------------------------------------------------------------
BACKUP_MESSAGES = [
    (
        {"spendsense:backup.region": "US"},
        'spendsense:backup.region: must be a GCP region such as us-central1 (got "US")',
    ),
    (
        {"spendsense:backup.workflowName": "Export"},
        "spendsense:backup.workflowName: must be a workflow name: 3-63 lower-case letters, "
        'digits and dashes, starting with a letter (got "Export")',
    ),
    (
        {"spendsense:backup.maxExportAgeHours": 24},
        "spendsense:backup.maxExportAgeHours: must be between 25 and 168 (got 24)",
    ),
    (
        {"spendsense:backup.accessLogBucketName": "spendsense-backups"},
        "spendsense:backup.accessLogBucketName: must differ from bucketName (got "
        '"spendsense-backups")',
    ),
    (
        {"spendsense:backup.accessLogBucketName": "Logs!"},
        "spendsense:backup.accessLogBucketName: must be a GCS bucket name (lower case, digits, "
        '. _ -, 3-63 characters) (got "Logs!")',
    ),
    (
        {"spendsense:backup.bucketName": "b" * 60},
        "spendsense:backup.accessLogBucketName: is required when bucketName is longer than 58 "
        f"characters (the default {'b' * 60}-logs is over 63)",
    ),
    (
        {"spendsense:backup.accessLogRetentionDays": 0},
        "spendsense:backup.accessLogRetentionDays: must be between 1 and 3650 (got 0)",
    ),
    (
        {"spendsense:backup.retentionDays": 0},
        "spendsense:backup.retentionDays: must be between 1 and 3650 (got 0)",
    ),
    (
        {"spendsense:backup.softDeleteDays": 3},
        "spendsense:backup.softDeleteDays: must be between 7 and 90 (got 3)",
    ),
]


@pytest.mark.parametrize(("changes", "message"), BACKUP_MESSAGES)
def test_bad_backup_settings_name_the_key(changes: dict[str, Any], message: str) -> None:
    assert settings_error(changes) == message


def test_a_long_bucket_name_works_with_an_explicit_log_bucket() -> None:
    settings = parse_settings(
        with_changes(
            "production",
            {
                "spendsense:backup.bucketName": "b" * 60,
                "spendsense:backup.accessLogBucketName": "b-logs",
            },
        )
    )
    assert settings.backup.log_bucket_name == "b-logs"


# -- issue 13: the first real deployment -------------------------------------------------------
def test_no_export_alert_is_armed_by_the_scheduler_jobs_attempts(recorded: Recorded) -> None:
    """Issue 13.4: `absent_over_time` alone pages on every fresh stack; the condition is armed
    by the Cloud Scheduler job's attempts more than 26 h ago (not by a finished execution,
    which a scheduler broken from day one never produces), for the job the program creates."""
    rec = recorded("production")
    (condition,) = _policy(rec, "export-missing").inputs["conditions"]
    query = condition["conditionPrometheusQueryLanguage"]["query"]
    attempts = (
        "cloudscheduler_googleapis_com:job_attempt_count{"
        'monitored_resource="cloud_scheduler_job",'
        f'job_id="{rec.one(JOB).inputs["name"]}"' + "}"
    )
    assert query.endswith(f" and on() (sum(count_over_time({attempts}[365d] offset 26h)) > 0)")
    missing, _, _armed = query.rpartition(" and on() ")
    assert missing.startswith("(") and missing.endswith(")")
    assert "absent_over_time(" in missing and 'status="SUCCEEDED"' in missing


def test_the_scheduler_job_is_named_and_an_output(each_stack: Recording) -> None:
    """Issue 13.8: `gcloud scheduler jobs run/pause` needs the job's name."""
    job = each_stack.one(JOB).inputs
    assert job["name"] == "firestore-daily-export-schedule"
    assert each_stack.outputs["backup_scheduler_job"] == "firestore-daily-export-schedule"


def test_the_test_projects_firestore_agent_is_made_before_its_binding(recorded: Recorded) -> None:
    """Issue 13.8: a project that never used Firestore has no agent yet; binding a missing
    account is refused, so ServiceIdentity creates it first."""
    rec = recorded("production")
    identity = rec.one(SERVICE_IDENTITY, "test-firestore-agent")
    assert identity.inputs["project"] == "spendsense-test"
    assert identity.inputs["service"] == "firestore.googleapis.com"
    bindings = [r for r in rec.by_type(BUCKET_MEMBER) if "test-agent" in r.name]
    assert len(bindings) == 2
    assert all(identity.urn in binding.dependencies for binding in bindings)


def test_without_usage_logs_the_bucket_is_audited_instead(recorded: Recorded) -> None:
    """Issue 13.8: Domain Restricted Sharing refuses cloud-storage-analytics@google.com."""
    rec = record("production", {"spendsense:backup.usageLogs": False})
    members = {r.inputs["member"] for r in rec.by_type(BUCKET_MEMBER)}
    assert "group:cloud-storage-analytics@google.com" not in members
    assert [b.name for b in rec.by_type(BUCKET)] == ["backups-bucket"]
    assert not backup_bucket(rec).get("logging")
    audit = rec.one(AUDIT_CONFIG).inputs
    assert audit["service"] == "storage.googleapis.com"
    assert {c["logType"] for c in audit["auditLogConfigs"]} == {
        "ADMIN_READ",
        "DATA_READ",
        "DATA_WRITE",
    }
    # The default keeps the usage logs (and no audit config).
    assert recorded("production").by_type(AUDIT_CONFIG) == []


def test_only_an_unprotected_stack_empties_its_buckets_on_destroy(recorded: Recorded) -> None:
    """Issue 13.8: staging's teardown; production's buckets are never emptied by Pulumi."""
    for stack, force in (("production", False), ("staging", True)):
        for bucket in recorded(stack).by_type(BUCKET):
            assert bucket.inputs["forceDestroy"] is force, (stack, bucket.name)
