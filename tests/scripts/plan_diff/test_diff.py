"""The comparison itself (spendsense/plan/diff.py), on plan-JSON-shaped resources."""

from __future__ import annotations

from typing import Any

from spendsense.plan import diff


def _r(type_: str, name: str, inputs: dict[str, Any], protect: bool = False) -> dict[str, Any]:
    return {
        "urn": f"urn:x::{type_}::{name}",
        "type": type_,
        "name": name,
        "protect": protect,
        "inputs": inputs,
    }


BUCKET = "gcp:storage/bucket:Bucket"


def test_paths_are_dotted_into_inputs_and_numbers_stay_numbers() -> None:
    old = {"lifecycleRules": [{"condition": {"age": 30}}], "cpu": {"n": 1}, "gone": True}
    new = {"lifecycleRules": [{"condition": {"age": 7}}], "cpu": {"n": 1.0}, "added": "x"}
    assert diff.input_diffs(old, new) == [
        {"path": "added", "old": None, "new": "x"},
        {"path": "gone", "old": True, "new": None},
        {"path": "lifecycleRules.0.condition.age", "old": 30, "new": 7},
    ]
    assert diff.input_diffs({"a": 1}, {"a": True}) == [{"path": "a", "old": 1, "new": True}]


def test_a_replace_forcing_input_replaces_and_others_update_in_place() -> None:
    base = [_r(BUCKET, "b", {"name": "x", "labels": {"a": "1"}}, protect=True)]
    renamed = diff.compare_resources(
        [_r(BUCKET, "b", {"name": "y", "labels": {"a": "1"}}, True)], base
    )
    relabelled = diff.compare_resources(
        [_r(BUCKET, "b", {"name": "x", "labels": {"a": "2"}}, True)], base
    )
    assert (renamed[0].op, renamed[0].replace, renamed[0].forced_by) == ("replace", None, ["name"])
    assert (relabelled[0].op, relabelled[0].replace) == ("update", None)


def test_an_unknown_type_is_an_update_that_may_replace() -> None:
    base = [_r("aws:ec2/instance:Instance", "i", {"ami": "a"})]
    (change,) = diff.compare_resources([_r("aws:ec2/instance:Instance", "i", {"ami": "b"})], base)
    assert (change.op, change.replace) == ("update", "maybe")


def test_the_rules_release_updates_in_place_unless_its_project_changes() -> None:
    dyn = "pulumi-python:dynamic:Resource"
    base = [_r(dyn, "firestore-rules-release", {"rulesetName": "r1", "project": "p"})]
    (new_rules,) = diff.compare_resources(
        [_r(dyn, "firestore-rules-release", {"rulesetName": "r2", "project": "p"})], base
    )
    (moved,) = diff.compare_resources(
        [_r(dyn, "firestore-rules-release", {"rulesetName": "r1", "project": "q"})], base
    )
    assert (new_rules.op, new_rules.replace) == ("update", None)
    assert moved.op == "replace"


def test_without_a_base_everything_is_a_create_and_gone_resources_are_deletes() -> None:
    head = [_r(BUCKET, "a", {}), _r(BUCKET, "b", {})]
    assert [c.op for c in diff.compare_resources(head, None)] == ["create", "create"]
    changes = diff.compare_resources(head[:1], [*head, _r(BUCKET, "c", {}, protect=True)])
    assert [(c.name, c.op) for c in changes] == [("a", "same"), ("b", "delete"), ("c", "delete")]
    (violation,) = diff.protected_violations(changes)
    assert violation.policy == "stack-protected-not-replaced" and violation.level == "mandatory"
    assert "c (gcp:storage/bucket:Bucket) is protected" in violation.message


def test_secure_values_compare_by_ciphertext_and_never_show_it() -> None:
    base = {"vercel:apiToken": {"secure": "v1:AAA"}, "gone:key": {"secure": "v1:B"}, "x": 1}
    head = {"vercel:apiToken": {"secure": "v1:CCC"}, "x": 2}
    assert diff.secret_changes(head, base) == [
        {"path": "config.gone:key", "old": "[secret]", "new": None},
        {"path": "config.vercel:apiToken", "old": "[secret]", "new": "[secret]"},
    ]


def test_violations_are_new_unchanged_or_fixed_by_policy_and_resource() -> None:
    base = [
        {"policy": "p", "level": "advisory", "urn": "u1", "message": "old text"},
        {"policy": "q", "level": "mandatory", "urn": "u2", "message": "m"},
    ]
    head = [
        {"policy": "p", "level": "advisory", "urn": "u1", "message": "new text"},
        {"policy": "r", "level": "mandatory", "urn": "u3", "message": "m"},
    ]
    marks, fixed = diff.violation_changes(head, base)
    assert marks == ["unchanged", "new"]
    assert [v["policy"] for v in fixed] == ["q"]


def test_every_replacement_rule_names_its_source() -> None:
    for key, rule in diff.replacement_rules().items():
        assert rule["source"].startswith(("https://github.com/", "infra/components/")), key
        assert isinstance(rule["forces"], list), key


def _bucket_change(old: dict[str, Any], new: dict[str, Any]) -> diff.Change:
    (change,) = diff.compare_resources(
        [_r(BUCKET, "b", new, protect=True)], [_r(BUCKET, "b", old, protect=True)]
    )
    return change


def test_unlocking_a_locked_retention_policy_certainly_replaces_the_bucket() -> None:
    """terraform-provider-google: ForceNewIfChange("retention_policy.0.is_locked", isPolicyLocked)
    replaces when the old policy is locked and the new one is not; locking updates in place."""
    unlock = _bucket_change(
        {"retentionPolicy": {"isLocked": True, "retentionPeriod": 1}},
        {"retentionPolicy": {"isLocked": False, "retentionPeriod": 1}},
    )
    assert (unlock.op, unlock.replace, unlock.forced_by) == (
        "replace",
        None,
        ["retentionPolicy.isLocked"],
    )
    (violation,) = diff.protected_violations([unlock])
    assert violation.level == "mandatory"
    assert "retentionPolicy.isLocked changes from true to false" in violation.message
    lock = _bucket_change(
        {"retentionPolicy": {"isLocked": False, "retentionPeriod": 1}},
        {"retentionPolicy": {"isLocked": True, "retentionPeriod": 1}},
    )
    assert (lock.op, lock.replace) == ("update", None)


def test_a_letter_case_change_of_the_bucket_location_is_no_change() -> None:
    """The provider upper-cases location and data_locations (StateFunc strings.ToUpper)."""
    same = _bucket_change(
        {"location": "US", "customPlacementConfig": {"dataLocations": ["US-EAST1"]}},
        {"location": "us", "customPlacementConfig": {"dataLocations": ["us-east1"]}},
    )
    assert (same.op, same.diffs) == ("same", [])
    moved = _bucket_change({"location": "US"}, {"location": "eu"})
    assert (moved.op, moved.forced_by) == ("replace", ["location"])


def test_the_bucket_and_kms_key_force_new_fields_replace() -> None:
    dual = _bucket_change(
        {"customPlacementConfig": {"dataLocations": ["US-EAST1", "US-WEST1"]}},
        {"customPlacementConfig": {"dataLocations": ["US-EAST1", "US-CENTRAL1"]}},
    )
    assert dual.op == "replace"
    hns = _bucket_change({}, {"hierarchicalNamespace": {"enabled": True}})
    assert (hns.op, hns.forced_by) == ("replace", ["hierarchicalNamespace"])
    key = "aws:kms/key:Key"
    for field, old, new in [
        ("customerMasterKeySpec", "SYMMETRIC_DEFAULT", "RSA_2048"),
        ("keyUsage", "ENCRYPT_DECRYPT", "SIGN_VERIFY"),
        ("customKeyStoreId", "cks-1", "cks-2"),
        ("multiRegion", False, True),
        ("xksKeyId", "a", "b"),
    ]:
        (change,) = diff.compare_resources(
            [_r(key, "k", {field: new})], [_r(key, "k", {field: old})]
        )
        assert (change.op, change.forced_by) == ("replace", [field]), field
    (rotated,) = diff.compare_resources(
        [_r(key, "k", {"enableKeyRotation": True})], [_r(key, "k", {"enableKeyRotation": False})]
    )
    assert (rotated.op, rotated.replace) == ("update", None)
