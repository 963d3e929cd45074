"""Cloud Storage: the backup bucket keeps daily exports exactly 30 days and is private.

Runbook, "Automated Backups": daily exports to ``gs://spendsense-backups/daily/``, retention
30 days. Deleting sooner loses backups the runbook promises; never deleting them grows the bill
and keeps personal data longer than promised.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Policy

from spendsense_policies.base import Props, fmt, number, resource_policy
from spendsense_policies.config import limit, schema

BUCKET = "gcp:storage/bucket:Bucket"
IAM_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"
IAM_BINDING = "gcp:storage/bucketIAMBinding:BucketIAMBinding"
ACCESS_CONTROL = "gcp:storage/bucketAccessControl:BucketAccessControl"
BUCKET_ACL = "gcp:storage/bucketACL:BucketACL"
PUBLIC = ("allUsers", "allAuthenticatedUsers")
DAY = 86400


def _applies_to(condition: Mapping[str, Any], prefix: str) -> bool:
    prefixes = list(condition.get("matchesPrefixes") or [])
    if not prefixes:
        return True
    return any(prefix.startswith(p) or p.startswith(prefix) for p in prefixes)


def _is_backup_bucket(props: Props, config: Mapping[str, Any]) -> bool:
    name = props.get("name")
    if isinstance(name, str) and re.search(str(config["backupBucketPattern"]), name):
        return True
    prefix = str(config["prefix"])
    for rule in props.get("lifecycleRules") or []:
        prefixes = (rule.get("condition") or {}).get("matchesPrefixes") or []
        if any(p.startswith(prefix.rstrip("/")) for p in prefixes):
            return True
    return False


def check_backup_retention(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    if not _is_backup_bucket(props, config):
        return
    prefix = str(config["prefix"])
    days = number(config["retentionDays"]) or 30
    ages: list[float] = []
    for rule in props.get("lifecycleRules") or []:
        if str((rule.get("action") or {}).get("type", "")).lower() != "delete":
            continue
        condition = rule.get("condition") or {}
        age = number(condition.get("age"))
        if age is not None and _applies_to(condition, prefix):
            ages.append(age)
    if not ages:
        yield (
            f"no lifecycle rule deletes {prefix} objects, so daily backups are kept forever; add "
            f'a Delete rule with condition age={fmt(days)} and matchesPrefixes=["{prefix}"] '
            "(spendsense:backup.retentionDays)"
        )
        return
    soonest = min(ages)
    if soonest != days:
        effect = (
            "backups the runbook promises are lost"
            if soonest < days
            else "backups are kept too long"
        )
        yield (
            f"{prefix} objects are deleted after {fmt(soonest)} days; the runbook keeps daily "
            f"backups exactly {fmt(days)} days ({effect}): set spendsense:backup.retentionDays "
            f"to {fmt(days)}"
        )
    lock = props.get("retentionPolicy") or {}
    period = number(lock.get("retentionPeriod"))
    if period is not None and period > days * DAY:
        yield (
            f"retentionPolicy.retentionPeriod holds every object {fmt(period / DAY)} days, so "
            f"{prefix} objects cannot be deleted after {fmt(days)} days; set it to "
            f"{fmt(days * DAY)} seconds or less"
        )


def check_bucket_private(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    if props.get("uniformBucketLevelAccess") is not True:
        yield (
            "uniformBucketLevelAccess is not true, so object ACLs can make single objects public "
            "(Checkov CKV_GCP_29); set uniformBucketLevelAccess=True"
        )
    prevention = props.get("publicAccessPrevention")
    if prevention != "enforced":
        yield (
            f'publicAccessPrevention is "{prevention or "inherited"}", so the bucket can be made '
            'public (Checkov CKV_GCP_114); set publicAccessPrevention="enforced"'
        )


def check_member_private(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    members = [props.get("member"), *list(props.get("members") or [])]
    for member in members:
        if member in PUBLIC:
            yield (
                f"grants {props.get('role')} to {member}, which makes the bucket public "
                "(Checkov CKV_GCP_28); grant it to a service account or group instead"
            )


def check_acl_private(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    entities = [props.get("entity"), *list(props.get("roleEntities") or [])]
    for entity in entities:
        if isinstance(entity, str) and any(p.lower() in entity.lower() for p in PUBLIC):
            yield (
                f'ACL entry "{entity}" makes the bucket public (Checkov CKV_GCP_28); remove it and '
                "use uniform bucket-level access"
            )


def policies() -> list[Policy]:
    return [
        resource_policy(
            "gcp-storage-backup-retention",
            "The backup bucket must delete daily/ exports after exactly the configured retention "
            "(the runbook's 30 days): neither sooner nor never.",
            {BUCKET: check_backup_retention},
            config=schema(
                {
                    "retentionDays": (
                        limit("backup", "retentionDays"),
                        "Days a daily export is kept.",
                    ),
                    "prefix": (limit("backup", "prefix"), "Where the daily exports are written."),
                    "backupBucketPattern": ("backups?$", "Regex: bucket names that hold backups."),
                }
            ),
        ),
        resource_policy(
            "gcp-storage-bucket-private",
            "Cloud Storage buckets must be private: uniform bucket-level access (Checkov "
            "CKV_GCP_29), public access prevention enforced (CKV_GCP_114), no allUsers grants "
            "(CKV_GCP_28).",
            {
                BUCKET: check_bucket_private,
                IAM_MEMBER: check_member_private,
                IAM_BINDING: check_member_private,
                ACCESS_CONTROL: check_acl_private,
                BUCKET_ACL: check_acl_private,
            },
        ),
    ]
