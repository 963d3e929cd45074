"""Cloud Storage: the backup bucket keeps daily exports exactly the runbook's retention, privately.

Runbook, "Automated Backups": daily exports into the backup bucket's daily folder, kept a fixed
number of days (the bucket, prefix and days: `limits.json` ``backup``). Deleting sooner loses
backups the runbook promises; never deleting them grows the bill and keeps personal data longer
than promised.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import Policy

from spendsense_policies.base import Props, fmt, number, resource_policy
from spendsense_policies.config import limit, limit_number, schema

BUCKET = "gcp:storage/bucket:Bucket"
IAM_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"
IAM_BINDING = "gcp:storage/bucketIAMBinding:BucketIAMBinding"
IAM_POLICY = "gcp:storage/bucketIAMPolicy:BucketIAMPolicy"
ACCESS_CONTROL = "gcp:storage/bucketAccessControl:BucketAccessControl"
BUCKET_ACL = "gcp:storage/bucketACL:BucketACL"
PUBLIC = ("allUsers", "allAuthenticatedUsers")
DAY = 86400


# Condition keys that narrow nothing when they hold these values (a provider may send them).
_NEUTRAL: dict[str, tuple[Any, ...]] = {"withState": ("ANY",)}
_RETENTION_KEYS = {"age", "matchesPrefixes"}


def _prefixes(condition: Mapping[str, Any]) -> list[str]:
    value = condition.get("matchesPrefixes") or []
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [str(p) for p in value]
    return [str(value)]


def _empty(value: Any) -> bool:
    if value is None or value is False or value == "":
        return True
    return isinstance(value, (Sequence, Mapping)) and len(value) == 0


def _applies_to(condition: Mapping[str, Any], prefix: str) -> bool:
    prefixes = _prefixes(condition)
    if not prefixes:
        return True
    return any(prefix.startswith(p) or p.startswith(prefix) for p in prefixes)


def _condition_keys(condition: Mapping[str, Any]) -> set[str]:
    """The condition's keys that restrict the rule (empty and neutral values left out)."""
    return {
        key
        for key, value in condition.items()
        if not _empty(value)
        and value not in _NEUTRAL.get(key, ())
        and not key.startswith("send")  # sendAgeIfZero & co. only shape the API request
    }


def _is_backup_bucket(props: Props, config: Mapping[str, Any]) -> bool:
    name = props.get("name")
    configured = str(config.get("bucketName") or "")
    if isinstance(name, str):
        if configured:
            if name == configured:
                return True
        elif re.search(str(config["backupBucketPattern"]), name):
            return True
    prefix = str(config["prefix"])
    for rule in props.get("lifecycleRules") or []:
        if not isinstance(rule, Mapping):
            continue
        condition = rule.get("condition") or {}
        if isinstance(condition, Mapping) and any(
            p.startswith(prefix.rstrip("/")) for p in _prefixes(condition)
        ):
            return True
    return False


def check_backup_retention(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    """Exactly one kind of rule deletes the prefix: age=<retention> and nothing but the prefix.

    A Delete rule with more conditions (matchesSuffixes, withState ARCHIVED, ...) may never
    fire, so it is no retention rule; a Delete rule without an age (createdBefore, ...) or
    with a shorter one that can reach the prefix deletes backups sooner. GCS ANDs a rule's
    conditions, so another rule with age >= the retention can never delete sooner.
    """
    if not _is_backup_bucket(props, config):
        return
    prefix = str(config["prefix"])
    days = number(config["retentionDays"]) or limit_number("backup", "retentionDays")
    retention_ages: list[float] = []
    ages: list[float] = []
    sooner: list[str] = []
    rules = props.get("lifecycleRules") or []
    if not isinstance(rules, Sequence) or isinstance(rules, str):
        raise ValueError("lifecycleRules is not a list")
    for index, rule in enumerate(rules):
        if not isinstance(rule, Mapping):
            raise ValueError(f"lifecycleRules[{index}] is not an object")
        action = rule.get("action") or {}
        if not isinstance(action, Mapping) or str(action.get("type", "")).lower() != "delete":
            continue
        condition = rule.get("condition") or {}
        if not isinstance(condition, Mapping):
            raise ValueError(f"lifecycleRules[{index}].condition is not an object")
        if not _applies_to(condition, prefix):
            continue
        keys = _condition_keys(condition)
        age = number(condition.get("age"))
        prefixes = _prefixes(condition)
        if age is not None and keys <= _RETENTION_KEYS:
            ages.append(age)
            if not prefixes or prefix in prefixes:
                retention_ages.append(age)
        elif age is None or age < days:
            extra = ", ".join(sorted(keys - _RETENTION_KEYS)) or "no age"
            sooner.append(
                f"lifecycleRules[{index}] (Delete, conditions: {extra}) can delete {prefix} "
                f"objects before {fmt(days)} days; the runbook keeps daily backups exactly "
                f"{fmt(days)} days: remove it or give it matchesPrefixes that exclude {prefix}"
            )
    if not retention_ages:
        yield (
            f"no lifecycle rule deletes {prefix} objects, so daily backups are kept forever; add "
            f"a Delete rule whose only conditions are age={fmt(days)} and "
            f'matchesPrefixes=["{prefix}"] '
            "(spendsense:backup.retentionDays)"
        )
    else:
        soonest = min(ages)
        retention = min(retention_ages)
        found = soonest if soonest < days else retention
        if found != days:
            effect = (
                "backups the runbook promises are lost"
                if found < days
                else "backups are kept too long"
            )
            yield (
                f"{prefix} objects are deleted after {fmt(found)} days; the runbook keeps daily "
                f"backups exactly {fmt(days)} days ({effect}): set spendsense:backup.retentionDays "
                f"to {fmt(days)}"
            )
    yield from sooner
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


def check_policy_private(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    """A whole bucket IAM policy (policyData JSON) must not grant anything to the public."""
    data = props.get("policyData")
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            return
    if not isinstance(data, Mapping):
        return
    for binding in data.get("bindings") or []:
        if not isinstance(binding, Mapping):
            continue
        for member in binding.get("members") or []:
            if member in PUBLIC:
                yield (
                    f"policyData grants {binding.get('role')} to {member}, which makes the bucket "
                    "public (Checkov CKV_GCP_28); grant it to a service account or group instead"
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
            f"The backup bucket must delete {limit('backup', 'prefix')} exports after exactly the "
            f"configured retention (the runbook's {fmt(limit_number('backup', 'retentionDays'))} "
            "days): neither sooner nor never.",
            {BUCKET: check_backup_retention},
            config=schema(
                {
                    "retentionDays": (
                        limit("backup", "retentionDays"),
                        "Days a daily export is kept.",
                    ),
                    "prefix": (limit("backup", "prefix"), "Where the daily exports are written."),
                    "bucketName": (
                        limit("backup", "bucketName"),
                        "The backup bucket's name (per stack, in policies/config/<stack>.json).",
                    ),
                    "backupBucketPattern": (
                        "backups?$",
                        "Regex for bucket names that hold backups, used only when bucketName is "
                        "empty.",
                    ),
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
                IAM_POLICY: check_policy_private,
                ACCESS_CONTROL: check_acl_private,
                BUCKET_ACL: check_acl_private,
            },
        ),
    ]
