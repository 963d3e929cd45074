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


def test_a_locked_retention_policy_change_may_replace_a_protected_bucket() -> None:
    base = [_r(BUCKET, "b", {"retentionPolicy": {"isLocked": True}}, protect=True)]
    changes = diff.compare_resources(
        [_r(BUCKET, "b", {"retentionPolicy": {"isLocked": False}}, True)], base
    )
    assert (changes[0].op, changes[0].replace) == ("update", "maybe")
    (violation,) = diff.protected_violations(changes)
    assert violation.level == "advisory" and "retentionPolicy.isLocked changes" in violation.message


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
