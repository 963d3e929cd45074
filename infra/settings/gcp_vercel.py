"""The GCP and Vercel side's settings: `spendsense:firestore`, `backup` (GCS, Cloud Workflows,
Cloud Scheduler) and `frontend` (Vercel). docs/gcp-vercel.md explains what they drive.

Each field's `description` is its row in docs/configuration.md (generated: see
infra/settings/reference.py); runbook numbers in them come from `infra.limits.limits()`.
"""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from infra.settings.firestore_quota import FirestoreQuotaFields
from infra.settings.rules import (
    LIMITS,
    FieldError,
    Model,
    _got,
    between,
    cron,
    existing_file,
    https_url,
    iana_time_zone,
    matches,
    one_of,
    optional,
    resolve_repo_path,
    site_url,
)

_BUCKET = r"[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]"
_BUCKET_WHAT = "a GCS bucket name (lower case, digits, . _ -, 3-63 characters)"
_backup = LIMITS.backup


class FirestoreSettings(FirestoreQuotaFields):
    location: Annotated[
        str,
        AfterValidator(matches(r"[a-z0-9-]+", "a Firestore location such as nam5 or us-east1")),
        Field(description="The database's location (`nam5`, `us-east1`, ...)."),
    ]
    rules_file: Annotated[
        str,
        AfterValidator(existing_file),
        Field(
            description=(
                "The security rules file released to the database: an existing file, relative to "
                "the repository root or absolute."
            )
        ),
    ]
    indexes_file: Annotated[
        str | None,
        AfterValidator(optional(existing_file)),
        Field(
            description=(
                "Composite indexes and field overrides: an existing file in the "
                "`firestore.indexes.json` format (`firebase firestore:indexes`); none: no managed "
                "indexes."
            )
        ),
    ] = None
    database: Annotated[
        str,
        AfterValidator(
            matches(
                r"\(default\)|[a-z][a-z0-9-]{2,61}[a-z0-9]",
                "(default) or a database id: 4-63 lower-case letters, digits and dashes, starting "
                "with a letter",
            )
        ),
        Field(
            description=(
                "`(default)` or a database id: 4-63 lower-case letters, digits and dashes, "
                "starting with a letter."
            )
        ),
    ] = "(default)"
    delete_protection: Annotated[
        bool, Field(description="Firestore's delete protection on the database.")
    ] = True
    point_in_time_recovery: Annotated[
        bool, Field(description="Point-in-time recovery (7 days of versions) on the database.")
    ] = True
    read_latency_ms: Annotated[
        int,
        AfterValidator(between(1, 60000)),
        Field(description="Read latency alert threshold in ms (p95 over 5 minutes): 1-60000."),
    ] = 100
    write_latency_ms: Annotated[
        int,
        AfterValidator(between(1, 60000)),
        Field(description="Write latency alert threshold in ms (p95 over 5 minutes): 1-60000."),
    ] = 200
    denied_requests_per_minute: Annotated[
        int,
        AfterValidator(between(1, 1_000_000)),
        Field(
            description=(
                "Security-rules denials per minute that count as a spike (the runbook's "
                '"Permission Denied"): 1-1000000.'
            )
        ),
    ] = 50
    concurrency_mode: Annotated[
        str,
        AfterValidator(one_of("PESSIMISTIC", "OPTIMISTIC")),
        Field(
            description=(
                "`PESSIMISTIC` (Native mode's default) or `OPTIMISTIC`, which changes how every "
                "transaction behaves (docs/gcp-vercel.md)."
            )
        ),
    ] = "PESSIMISTIC"

    @model_validator(mode="after")
    def _indexes_format(self) -> FirestoreSettings:
        """The indexes file must be the Firebase CLI's firestore.indexes.json format."""
        if self.indexes_file is None:
            return self
        path = resolve_repo_path(self.indexes_file)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise FieldError(
                "indexesFile",
                f"must be a JSON file in the firestore.indexes.json format (got {path}: {exc})",
            ) from None
        if (
            not isinstance(document, dict)
            or not isinstance(document.get("indexes", []), list)
            or not isinstance(document.get("fieldOverrides", []), list)
        ):
            raise FieldError(
                "indexesFile",
                'must hold an object with "indexes" and "fieldOverrides" lists, as '
                f"`firebase firestore:indexes` writes it (got {path})",
            )
        return self


class BackupSettings(Model):
    bucket_name: Annotated[
        str,
        AfterValidator(matches(_BUCKET, _BUCKET_WHAT)),
        Field(
            description=(
                f"The backup bucket: {_BUCKET_WHAT}. The policy pack expects "
                f"`{_backup.bucket_name}` unless its per-stack config names another."
            )
        ),
    ]
    location: Annotated[
        str,
        AfterValidator(matches(r"[A-Za-z0-9-]+", "a GCS location such as US or us-east1")),
        Field(description="The bucket's GCS location (`US`, `us-east1`, ...)."),
    ]
    retention_days: Annotated[
        int,
        AfterValidator(between(1, 3650)),
        Field(
            description=(
                f"Days the daily exports (`{_backup.prefix}`) are kept and undeletable: 1-3650. "
                f"The runbook keeps them {_backup.retention_days} days, which the policy pack "
                "requires."
            )
        ),
    ]
    schedule: Annotated[
        str,
        AfterValidator(cron),
        Field(
            description=(
                "When the daily export runs: a 5-field cron expression. The policy pack requires "
                f"the runbook's `{_backup.schedule}`."
            )
        ),
    ]
    time_zone: Annotated[
        str,
        AfterValidator(iana_time_zone),
        Field(
            description=(
                "The schedule's IANA time zone. The policy pack requires the runbook's "
                f"`{_backup.time_zone}`."
            )
        ),
    ]
    manual_retention_days: Annotated[
        int,
        AfterValidator(between(1, 3650)),
        Field(
            description=(
                "Days manual exports (`manual-*`) are kept: 1-3650, at least `retentionDays`."
            )
        ),
    ] = 365
    lock_retention_policy: Annotated[
        bool,
        Field(
            description=(
                "Lock the bucket's retention policy. Permanent: a locked policy can never be "
                "shortened or removed."
            )
        ),
    ] = False
    soft_delete_days: Annotated[
        int,
        AfterValidator(between(7, 90)),
        Field(description="Days a deleted object can still be restored: 7-90."),
    ] = 7
    test_project: Annotated[
        str | None,
        AfterValidator(optional(matches(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", "a GCP project id"))),
        Field(description="The GCP project restore drills import into; none: no drill project."),
    ] = None
    region: Annotated[
        str,
        AfterValidator(matches(r"[a-z]+-[a-z]+[0-9]+", "a GCP region such as us-central1")),
        Field(
            description=(
                "Where the export's Cloud Workflows workflow and Cloud Scheduler job run: a "
                "region, not a multi-region (us-central1 is inside nam5)."
            )
        ),
    ] = "us-central1"
    workflow_name: Annotated[
        str,
        AfterValidator(
            matches(
                r"[a-z][a-z0-9-]{2,62}",
                "a workflow name: 3-63 lower-case letters, digits and dashes, starting with a "
                "letter",
            )
        ),
        Field(
            description=(
                "The export workflow's name (3-63 lower-case letters, digits and dashes); alerts "
                "and `gcloud workflows run` refer to it."
            )
        ),
    ] = "firestore-daily-export"
    max_export_age_hours: Annotated[
        int,
        AfterValidator(between(25, 168)),
        Field(
            description=(
                "Alert when no export has completed for this many hours: 25-168 (a daily schedule "
                "plus some slack)."
            )
        ),
    ] = 26
    access_log_bucket_name: Annotated[
        str | None,
        AfterValidator(optional(matches(_BUCKET, _BUCKET_WHAT))),
        Field(
            description=(
                "The bucket that receives the backup bucket's access logs (default "
                "`<bucketName>-logs`), a bucket name other than `bucketName`."
            )
        ),
    ] = None
    access_log_retention_days: Annotated[
        int,
        AfterValidator(between(1, 3650)),
        Field(description="Days access logs are kept: 1-3650."),
    ] = 365
    usage_logs: Annotated[
        bool,
        Field(
            description=(
                "Usage logs to the access-log bucket; `false` where Domain Restricted Sharing "
                "refuses `cloud-storage-analytics@google.com`: Cloud Audit Logs (data access, "
                "`storage.googleapis.com`) record the bucket's access instead."
            )
        ),
    ] = True

    @model_validator(mode="after")
    def _manual_kept_longer(self) -> BackupSettings:
        if self.manual_retention_days < self.retention_days:
            raise FieldError(
                "manualRetentionDays",
                f"must be at least retentionDays ({self.retention_days}) (got "
                f"{self.manual_retention_days})",
            )
        if self.access_log_bucket_name is None and len(self.log_bucket_name) > 63:
            raise FieldError(
                "accessLogBucketName",
                f"is required when bucketName is longer than 58 characters "
                f"(the default {self.log_bucket_name} is over 63)",
            )
        if self.access_log_bucket_name == self.bucket_name:
            raise FieldError(
                "accessLogBucketName",
                f"must differ from bucketName (got {_got(self.access_log_bucket_name)})",
            )
        return self

    @property
    def log_bucket_name(self) -> str:
        """The access-log bucket: the setting, or `<bucketName>-logs`."""
        return self.access_log_bucket_name or f"{self.bucket_name}-logs"


class FrontendSettings(Model):
    url: Annotated[
        str,
        AfterValidator(site_url),
        Field(
            description=(
                "The site's https root (`https://host`, no port, path or query): the Route 53 "
                "check probes it on 443 at `/`."
            )
        ),
    ]
    vercel_project_id: Annotated[
        str,
        AfterValidator(matches(r"\S+", "a Vercel project id such as prj_...")),
        Field(description="The Vercel project (`prj_...`)."),
    ]
    vercel_team_id: Annotated[
        str | None,
        AfterValidator(
            optional(matches(r"team_[A-Za-z0-9]+", "a Vercel team id such as team_abc123"))
        ),
        Field(description="The Vercel team (`team_...`); none: a personal account."),
    ] = None
    api_url: Annotated[
        str | None,
        AfterValidator(optional(https_url)),
        Field(
            description=(
                "The API URL the frontend is given (an https URL); default: App Runner's URL."
            )
        ),
    ] = None
    target: Annotated[
        str,
        AfterValidator(one_of("production", "preview")),
        Field(
            description=(
                "Which Vercel deployments read this stack's API: `production` or pull-request "
                "`preview`s."
            )
        ),
    ] = "production"
    sensitive_variables: Annotated[
        bool,
        Field(description="`true` where the Vercel team enforces sensitive environment variables."),
    ] = False
