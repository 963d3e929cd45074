"""Cloud Storage: backups kept exactly the retention; buckets private."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.policies import compliant as c
from tests.policies.conftest import Pack, only


def test_compliant_backup_bucket(pack: Pack) -> None:
    assert pack.analyze(c.BUCKET, c.bucket(), protect=True) == []


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (
            7,
            "daily/ objects are deleted after 7 days; the runbook keeps daily backups exactly 30 "
            "days (backups the runbook promises are lost)",
        ),
        (
            90,
            "daily/ objects are deleted after 90 days; the runbook keeps daily backups exactly 30 "
            "days (backups are kept too long)",
        ),
    ],
)
def test_backup_deleted_at_wrong_age(pack: Pack, age: int, expected: str) -> None:
    found = pack.analyze(
        c.BUCKET, c.changed(c.bucket(), "lifecycleRules.0.condition.age", age), protect=True
    )
    assert expected in only(found, "gcp-storage-backup-retention").message


def test_backups_never_deleted(pack: Pack) -> None:
    props = c.changed(c.bucket(), "lifecycleRules", [c.bucket()["lifecycleRules"][1]])
    found = pack.analyze(c.BUCKET, props, protect=True)
    assert (
        "no lifecycle rule deletes daily/ objects, so daily backups are kept forever"
        in only(found, "gcp-storage-backup-retention").message
    )


def test_rule_for_every_object_deletes_backups_sooner(pack: Pack) -> None:
    """A Delete rule without a prefix applies to daily/ too."""
    rules = [
        *c.bucket()["lifecycleRules"],
        {"action": {"type": "Delete"}, "condition": {"age": 14}},
    ]
    found = pack.analyze(c.BUCKET, c.changed(c.bucket(), "lifecycleRules", rules), protect=True)
    assert "deleted after 14 days" in only(found, "gcp-storage-backup-retention").message


def test_bucket_lock_longer_than_retention(pack: Pack) -> None:
    props = c.changed(
        c.bucket(), "retentionPolicy", {"retentionPeriod": str(365 * 86400), "isLocked": True}
    )
    found = pack.analyze(c.BUCKET, props, protect=True)
    assert (
        "retentionPolicy.retentionPeriod holds every object 365 days"
        in only(found, "gcp-storage-backup-retention").message
    )


def test_bucket_lock_equal_to_retention_is_fine(pack: Pack) -> None:
    props = c.changed(
        c.bucket(), "retentionPolicy", {"retentionPeriod": str(30 * 86400), "isLocked": True}
    )
    assert pack.analyze(c.BUCKET, props, protect=True) == []


def test_retention_is_policy_config(pack: Pack) -> None:
    props = c.changed(c.bucket(), "lifecycleRules.0.condition.age", 7)
    with pack.configured({"gcp-storage-backup-retention": {"retentionDays": 7}}):
        assert pack.analyze(c.BUCKET, props, protect=True) == []


def test_other_buckets_need_no_backup_rule(pack: Pack) -> None:
    props = c.changed(c.changed(c.bucket(), "name", "spendsense-assets"), "lifecycleRules", [])
    assert pack.analyze(c.BUCKET, props, protect=True) == []


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("uniformBucketLevelAccess", False, "uniformBucketLevelAccess is not true"),
        ("uniformBucketLevelAccess", "-", "CKV_GCP_29"),
        ("publicAccessPrevention", "inherited", 'publicAccessPrevention is "inherited"'),
        ("publicAccessPrevention", "-", "CKV_GCP_114"),
    ],
)
def test_bucket_not_private(pack: Pack, field: str, value: Any, expected: str) -> None:
    found = pack.analyze(c.BUCKET, c.changed(c.bucket(), field, value), protect=True)
    assert expected in only(found, "gcp-storage-bucket-private").message


@pytest.mark.parametrize("member", ["allUsers", "allAuthenticatedUsers"])
def test_public_grant(pack: Pack, member: str) -> None:
    props = {"bucket": "spendsense-backups", "role": "roles/storage.objectViewer", "member": member}
    found = pack.analyze(c.BUCKET_MEMBER, props)
    assert (
        f"grants roles/storage.objectViewer to {member}"
        in only(found, "gcp-storage-bucket-private").message
    )


def test_grant_to_a_service_account_is_fine(pack: Pack) -> None:
    props = {
        "bucket": "b",
        "role": "roles/storage.objectAdmin",
        "member": "serviceAccount:x@p.iam.gserviceaccount.com",
    }
    assert pack.analyze(c.BUCKET_MEMBER, props) == []


KEPT_FOREVER = "no lifecycle rule deletes daily/ objects, so daily backups are kept forever"


@pytest.mark.parametrize(
    "extra",
    [{"matchesSuffixes": [".never"]}, {"withState": "ARCHIVED"}, {"numNewerVersions": 3}],
)
def test_retention_rule_with_extra_conditions_does_not_count(
    pack: Pack, extra: dict[str, Any]
) -> None:
    """The retention rule's only conditions are age and matchesPrefixes: more may stop it firing."""
    condition = {"age": 30, "matchesPrefixes": ["daily/"], **extra}
    props = c.changed(c.bucket(), "lifecycleRules.0.condition", condition)
    found = pack.analyze(c.BUCKET, props, protect=True)
    assert KEPT_FOREVER in only(found, "gcp-storage-backup-retention").message


def test_neutral_condition_values_still_count(pack: Pack) -> None:
    """withState ANY and empty lists narrow nothing, so the rule is still the retention rule."""
    condition = {
        "age": 30,
        "matchesPrefixes": ["daily/"],
        "withState": "ANY",
        "matchesSuffixes": [],
    }
    props = c.changed(c.bucket(), "lifecycleRules.0.condition", condition)
    assert pack.analyze(c.BUCKET, props, protect=True) == []


def test_delete_rule_without_age_reaching_daily_is_sooner(pack: Pack) -> None:
    """A second Delete rule on daily/ by creation date deletes backups before the retention."""
    rules = [
        *c.bucket()["lifecycleRules"],
        {
            "action": {"type": "Delete"},
            "condition": {"createdBefore": "2026-12-01", "matchesPrefixes": ["daily/"]},
        },
    ]
    found = pack.analyze(c.BUCKET, c.changed(c.bucket(), "lifecycleRules", rules), protect=True)
    assert (
        "lifecycleRules[2] (Delete, conditions: createdBefore) can delete daily/ objects before 30 "
        "days" in only(found, "gcp-storage-backup-retention").message
    )


def test_narrower_prefix_is_not_the_retention_rule(pack: Pack) -> None:
    """matchesPrefixes ["daily/2026"] leaves every other year's exports forever."""
    props = c.changed(c.bucket(), "lifecycleRules.0.condition.matchesPrefixes", ["daily/2026"])
    found = pack.analyze(c.BUCKET, props, protect=True)
    assert KEPT_FOREVER in only(found, "gcp-storage-backup-retention").message


def test_backup_bucket_named_by_config(pack: Pack) -> None:
    """A bucket the name regex would miss is the backup bucket when the stack's config names it."""
    props = c.changed(
        c.changed(c.bucket(), "name", "spendsense-backups-staging"), "lifecycleRules", []
    )
    assert pack.analyze(c.BUCKET, props, protect=True) == []  # not named: not a backup bucket
    with pack.configured(
        {"gcp-storage-backup-retention": {"bucketName": "spendsense-backups-staging"}}
    ):
        found = pack.analyze(c.BUCKET, props, protect=True)
    assert KEPT_FOREVER in only(found, "gcp-storage-backup-retention").message


def test_malformed_lifecycle_rule_is_reported_not_a_crash(pack: Pack) -> None:
    """A rule that is not an object: the policy names what it could not read."""
    found = pack.analyze(c.BUCKET, c.changed(c.bucket(), "lifecycleRules", ["x"]), protect=True)
    assert (
        "gcp-storage-backup-retention could not read this gcp:storage/bucket:Bucket's properties "
        "(ValueError: lifecycleRules[0] is not an object)"
        in only(found, "gcp-storage-backup-retention").message
    )


@pytest.mark.parametrize("member", ["allUsers", "allAuthenticatedUsers"])
def test_public_member_in_a_bucket_iam_policy(pack: Pack, member: str) -> None:
    data = json.dumps({"bindings": [{"role": "roles/storage.objectViewer", "members": [member]}]})
    found = pack.analyze(
        "gcp:storage/bucketIAMPolicy:BucketIAMPolicy",
        {"bucket": "spendsense-backups", "policyData": data},
    )
    assert (
        f"policyData grants roles/storage.objectViewer to {member}, which makes the bucket public"
        in only(found, "gcp-storage-bucket-private").message
    )


@pytest.mark.parametrize(
    ("type_", "props"),
    [
        (
            "gcp:storage/bucketAccessControl:BucketAccessControl",
            {"bucket": "b", "entity": "allUsers", "role": "READER"},
        ),
        (
            "gcp:storage/bucketACL:BucketACL",
            {"bucket": "b", "roleEntities": ["READER:allAuthenticatedUsers"]},
        ),
    ],
)
def test_public_acl_entry(pack: Pack, type_: str, props: dict[str, Any]) -> None:
    entity = props.get("entity") or props["roleEntities"][0]
    found = pack.analyze(type_, props)
    assert (
        f'ACL entry "{entity}" makes the bucket public'
        in only(found, "gcp-storage-bucket-private").message
    )


def test_private_acl_entry_is_fine(pack: Pack) -> None:
    props = {"bucket": "b", "entity": "group-ops@example.com", "role": "READER"}
    assert pack.analyze("gcp:storage/bucketAccessControl:BucketAccessControl", props) == []
