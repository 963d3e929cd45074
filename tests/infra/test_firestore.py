"""Firestore as the engine would see it: the database, its rules release, indexes and alerts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
from spendsense.plan.recorder import RecordedResource, Recording, _kebab, _short_hash

from infra.components.firestore import IndexFileError, parse_indexes, release_name
from infra.settings import SettingsError, parse_settings, resolve_repo_path
from tests.infra.conftest import record, stack_values, with_changes

Recorded = Callable[[str], Recording]
DATABASE = "gcp:firestore/database:Database"
RULESET = "gcp:firebaserules/ruleset:Ruleset"
RELEASE = "pulumi-python:dynamic:Resource"
PROVIDER_RELEASE = "gcp:firebaserules/release:Release"
INDEX = "gcp:firestore/index:Index"
FIELD = "gcp:firestore/field:Field"
CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"

INDEXES = {
    "indexes": [
        {
            "collectionGroup": "recommendations",
            "queryScope": "COLLECTION",
            "fields": [
                {"fieldPath": "status", "order": "ASCENDING"},
                {"fieldPath": "created_at", "order": "DESCENDING"},
            ],
        },
        {
            "collectionGroup": "transactions",
            "queryScope": "COLLECTION_GROUP",
            "fields": [
                {"fieldPath": "tags", "arrayConfig": "CONTAINS"},
                {"fieldPath": "amount", "order": "ASCENDING"},
            ],
        },
    ],
    "fieldOverrides": [
        {
            "collectionGroup": "sessions",
            "fieldPath": "expires_at",
            "ttl": True,
            "indexes": [],
        }
    ],
}


def mock_id(resource: RecordedResource) -> str:
    """The id the mock cloud gives a resource (what another resource's input receives)."""
    return f"{_kebab(resource.name)}-{_short_hash(resource.type + resource.name)}"


def settings_error(changes: dict[str, Any], stack: str = "production") -> str:
    with pytest.raises(SettingsError) as caught:
        parse_settings(with_changes(stack, changes))
    return str(caught.value)


def alert(rec: Recording, role: str) -> dict[str, Any]:
    return rec.one(POLICY, f"firestore-alert-{role}").inputs


def threshold(rec: Recording, role: str) -> dict[str, Any]:
    (condition,) = alert(rec, role)["conditions"]
    return condition["conditionThreshold"]


# -- the database ------------------------------------------------------------------------------
def test_database_is_native_mode_in_the_settings_location(each_stack: Recording) -> None:
    db = each_stack.one(DATABASE).inputs
    assert (db["name"], db["locationId"], db["type"]) == ("(default)", "nam5", "FIRESTORE_NATIVE")
    assert db["project"] == parse_settings(stack_values(each_stack.stack)).gcp_project


def test_production_database_cannot_be_deleted_and_can_be_rewound(recorded: Recorded) -> None:
    """Delete protection, point-in-time recovery and Pulumi protection in production."""
    db = recorded("production").one(DATABASE)
    assert db.inputs["deleteProtectionState"] == "DELETE_PROTECTION_ENABLED"
    assert db.inputs["pointInTimeRecoveryEnablement"] == "POINT_IN_TIME_RECOVERY_ENABLED"
    assert db.inputs["deletionPolicy"] == "ABANDON"
    assert (db.protect, db.retain_on_delete) == (True, True)


def test_staging_database_follows_its_own_settings(recorded: Recorded) -> None:
    db = recorded("staging").one(DATABASE)
    assert db.inputs["deleteProtectionState"] == "DELETE_PROTECTION_DISABLED"
    assert db.inputs["pointInTimeRecoveryEnablement"] == "POINT_IN_TIME_RECOVERY_DISABLED"
    assert db.protect is False


def test_database_protection_follows_the_setting_not_the_stack_name() -> None:
    rec = record("staging", {"spendsense:protectStatefulResources": True})
    assert rec.one(DATABASE).protect is True


# -- rules -------------------------------------------------------------------------------------
def test_rules_file_is_deployed_as_the_cloud_firestore_release(each_stack: Recording) -> None:
    settings = parse_settings(stack_values(each_stack.stack))
    ruleset = each_stack.one(RULESET)
    (file,) = ruleset.inputs["source"]["files"]
    assert file["name"] == "firestore.rules"
    assert file["content"] == resolve_repo_path(settings.firestore.rules_file).read_text()
    release = each_stack.one(RELEASE, "firestore-rules-release")
    assert release.inputs["release"] == "cloud.firestore"
    assert release.inputs["project"] == settings.gcp_project
    assert release.inputs["rulesetName"] == mock_id(ruleset), "the release must serve the ruleset"
    assert ruleset.urn in release.dependencies


def test_a_rules_change_updates_the_live_release_in_place(recorded: Recorded) -> None:
    """Issue 13.1: the provider's Release replaces itself on a new ruleset and its create
    refuses an existing release, so a rules change could never be deployed. The program
    switches the release with UpdateRelease instead (tests/infra/test_rules_release.py runs
    that against a Rules API server) and never declares the provider's Release."""
    for stack in ("staging", "production"):
        rec = recorded(stack)
        assert rec.by_type(PROVIDER_RELEASE) == []
        release, ruleset = rec.one(RELEASE, "firestore-rules-release"), rec.one(RULESET)
        assert not release.delete_before_replace
        assert not ruleset.delete_before_replace
        assert ruleset.urn in release.dependencies


def test_only_a_stack_that_may_be_torn_down_deletes_its_release(recorded: Recorded) -> None:
    """Staging's destroy removes the release so its ruleset can be deleted; production never."""
    assert recorded("production").one(RELEASE, "rules-release").inputs["deleteOnDestroy"] is False
    assert recorded("staging").one(RELEASE, "rules-release").inputs["deleteOnDestroy"] is True


def test_the_database_uses_native_modes_pessimistic_transactions(each_stack: Recording) -> None:
    """Issue 13.7: PESSIMISTIC is Firestore Standard's default; set, not left to the API."""
    assert each_stack.one(DATABASE).inputs["concurrencyMode"] == "PESSIMISTIC"


def test_the_concurrency_mode_is_a_setting() -> None:
    rec = record("staging", {"spendsense:firestore.concurrencyMode": "OPTIMISTIC"})
    assert rec.one(DATABASE).inputs["concurrencyMode"] == "OPTIMISTIC"


def test_rules_come_from_the_file_the_settings_name(tmp_path: Path) -> None:
    rules = tmp_path / "other.rules"
    rules.write_text("rules_version = '2';\nservice cloud.firestore {}\n")
    rec = record("staging", {"spendsense:firestore.rulesFile": str(rules)})
    (file,) = rec.one(RULESET).inputs["source"]["files"]
    assert file["content"] == rules.read_text()


def test_a_named_database_gets_its_own_release_name() -> None:
    assert release_name("(default)") == "cloud.firestore"
    assert release_name("reports") == "cloud.firestore/reports"
    rec = record("staging", {"spendsense:firestore.database": "reports"})
    assert rec.one(RELEASE, "rules-release").inputs["release"] == "cloud.firestore/reports"
    assert rec.one(DATABASE).inputs["name"] == "reports"


# -- indexes -----------------------------------------------------------------------------------
def test_indexes_file_becomes_composite_indexes_and_field_overrides(tmp_path: Path) -> None:
    """The Firebase CLI's firestore.indexes.json, as code ("use Firestore indexes")."""
    path = tmp_path / "firestore.indexes.json"
    path.write_text(json.dumps(INDEXES))
    rec = record("staging", {"spendsense:firestore.indexesFile": str(path)})
    indexes = {r.inputs["collection"]: r.inputs for r in rec.by_type(INDEX)}
    assert set(indexes) == {"recommendations", "transactions"}
    assert indexes["recommendations"]["queryScope"] == "COLLECTION"
    assert indexes["recommendations"]["fields"] == [
        {"fieldPath": "status", "order": "ASCENDING"},
        {"fieldPath": "created_at", "order": "DESCENDING"},
    ]
    assert indexes["transactions"]["queryScope"] == "COLLECTION_GROUP"
    assert indexes["transactions"]["fields"][0] == {"fieldPath": "tags", "arrayConfig": "CONTAINS"}
    assert all(i["database"] == "(default)" for i in indexes.values())
    field = rec.one(FIELD).inputs
    assert (field["collection"], field["field"]) == ("sessions", "expires_at")
    assert field["indexConfig"] == {"indexes": []}
    assert "ttlConfig" in field


def test_index_names_are_stable_when_the_file_is_reordered(tmp_path: Path) -> None:
    """Reordering entries must not replace (drop and rebuild) every index."""
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps(INDEXES))
    reordered = {**INDEXES, "indexes": list(reversed(INDEXES["indexes"]))}
    second.write_text(json.dumps(reordered))
    names = [
        sorted(
            r.name
            for r in record("staging", {"spendsense:firestore.indexesFile": str(p)}).by_type(INDEX)
        )
        for p in (first, second)
    ]
    assert names[0] == names[1]


def test_the_shipped_indexes_file_is_valid(each_stack: Recording) -> None:
    settings = parse_settings(stack_values(each_stack.stack))
    assert settings.firestore.indexes_file is not None
    document = json.loads(resolve_repo_path(settings.firestore.indexes_file).read_text())
    assert len(each_stack.by_type(INDEX)) == len(parse_indexes(document).indexes)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {
                "indexes": [
                    {
                        "collectionGroup": "a",
                        "fields": [
                            {"fieldPath": "x", "order": "UP"},
                            {"fieldPath": "y", "order": "ASCENDING"},
                        ],
                    }
                ]
            },
            "f: indexes[0].fields[0].order: must be one of ASCENDING, DESCENDING (got 'UP')",
        ),
        (
            {
                "indexes": [
                    {"collectionGroup": "a", "fields": [{"fieldPath": "x", "order": "ASCENDING"}]}
                ]
            },
            "f: indexes[0]: a composite index needs at least two fields; single-field indexes "
            "belong in fieldOverrides",
        ),
        (
            {"indexes": [{"fields": []}]},
            "f: indexes[0]: needs a collectionGroup",
        ),
        (
            {"indexes": [{"collectionGroup": "a", "queryScope": "DATABASE", "fields": []}]},
            "f: indexes[0].queryScope: must be one of COLLECTION, COLLECTION_GROUP "
            "(got 'DATABASE')",
        ),
        (
            {
                "fieldOverrides": [
                    {
                        "collectionGroup": "a",
                        "fieldPath": "x",
                        "indexes": [{"queryScope": "COLLECTION"}],
                    }
                ]
            },
            "f: fieldOverrides[0].indexes[0]: needs order or arrayConfig",
        ),
    ],
)
def test_bad_index_entries_are_named(document: dict[str, Any], message: str) -> None:
    with pytest.raises(IndexFileError) as caught:
        parse_indexes(document, source="f")
    assert str(caught.value) == message


def test_a_bad_index_entry_stops_the_program_naming_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"indexes": [{"collectionGroup": "a", "fields": []}]}))
    with pytest.raises(pulumi.RunError) as caught:
        record("staging", {"spendsense:firestore.indexesFile": str(path)})
    assert str(caught.value) == (
        f"spendsense:firestore.indexesFile: {path}: indexes[0]: a composite index needs at "
        "least two fields; single-field indexes belong in fieldOverrides"
    )


# -- alerts ------------------------------------------------------------------------------------
def test_read_and_write_latency_alerts_hold_the_runbooks_targets(recorded: Recorded) -> None:
    """Runbook "Key Metrics": read latency < 100 ms, write latency < 200 ms."""
    rec = recorded("production")
    read, write = threshold(rec, "read-latency"), threshold(rec, "write-latency")
    assert (read["thresholdValue"], write["thresholdValue"]) == (0.1, 0.2)
    for condition in (read, write):
        assert condition["comparison"] == "COMPARISON_GT"
        assert (
            'metric.type = "firestore.googleapis.com/api/request_latencies"' in condition["filter"]
        )
        assert 'resource.label.database_id = "(default)"' in condition["filter"]
        assert condition["aggregations"][0]["perSeriesAligner"] == "ALIGN_PERCENTILE_95"
    assert '"RunQuery"' in read["filter"] and '"Commit"' not in read["filter"]
    assert '"Commit"' in write["filter"] and '"RunQuery"' not in write["filter"]


def test_latency_alerts_follow_the_settings() -> None:
    rec = record(
        "staging",
        {"spendsense:firestore.readLatencyMs": 250, "spendsense:firestore.writeLatencyMs": 400},
    )
    assert threshold(rec, "read-latency")["thresholdValue"] == 0.25
    assert threshold(rec, "write-latency")["thresholdValue"] == 0.4


def test_a_spike_of_rules_denials_alerts(recorded: Recorded) -> None:
    """The runbook's "Permission Denied Errors" incident: denials per minute over the limit."""
    condition = threshold(recorded("production"), "rules-denials")
    assert 'metric.type = "firestore.googleapis.com/rules/evaluation_count"' in condition["filter"]
    assert 'metric.label.result = "DENY"' in condition["filter"]
    assert condition["thresholdValue"] == 50
    assert condition["aggregations"][0]["alignmentPeriod"] == "60s"


def test_firestore_alerts_notify_their_severitys_channels(each_stack: Recording) -> None:
    channels = each_stack.by_type(CHANNEL)
    for role, severity in (
        ("read-latency", "p2"),
        ("write-latency", "p2"),
        ("rules-denials", "p1"),
    ):
        policy = alert(each_stack, role)
        expected = [
            mock_id(c) for c in channels if c.inputs["userLabels"].get(f"severity-{severity}")
        ]
        assert expected and sorted(policy["notificationChannels"]) == sorted(expected), role
        assert policy["userLabels"]["severity"] == severity, role
        assert policy["userLabels"]["environment"] == each_stack.stack
        assert "docs/runbook.md" in policy["documentation"]["content"]


# -- settings ----------------------------------------------------------------------------------
FIRESTORE_MESSAGES = [
    (
        {"spendsense:firestore.database": "Reports"},
        "spendsense:firestore.database: must be (default) or a database id: 4-63 lower-case "
        'letters, digits and dashes, starting with a letter (got "Reports")',
    ),
    (
        {"spendsense:firestore.deniedRequestsPerMinute": 0},
        "spendsense:firestore.deniedRequestsPerMinute: must be between 1 and 1000000 (got 0)",
    ),
    (
        {"spendsense:firestore.readLatencyMs": 0},
        "spendsense:firestore.readLatencyMs: must be between 1 and 60000 (got 0)",
    ),
    (
        {"spendsense:firestore.concurrencyMode": "LOOSE"},
        "spendsense:firestore.concurrencyMode: must be one of PESSIMISTIC, OPTIMISTIC "
        '(got "LOOSE")',
    ),
]


@pytest.mark.parametrize(("changes", "message"), FIRESTORE_MESSAGES)
def test_bad_firestore_settings_name_the_key(changes: dict[str, Any], message: str) -> None:
    assert settings_error(changes) == message


def test_an_indexes_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "indexes.json"
    path.write_text("{not json")
    message = settings_error({"spendsense:firestore.indexesFile": str(path)})
    assert message.startswith(
        f"spendsense:firestore.indexesFile: must be a JSON file in the firestore.indexes.json "
        f"format (got {path}: "
    )


def test_an_indexes_file_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "indexes.json"
    path.write_text('{"indexes": {}}')
    assert settings_error({"spendsense:firestore.indexesFile": str(path)}) == (
        'spendsense:firestore.indexesFile: must hold an object with "indexes" and '
        f'"fieldOverrides" lists, as `firebase firestore:indexes` writes it (got {path})'
    )
