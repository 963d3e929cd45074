"""Firestore: no open rules, delete protection and PITR in production, the daily export."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.policies import compliant as c
from tests.policies.conftest import Pack, only, resource

OPEN = "gcp-firestore-rules-no-open-access"


def test_compliant_rules(pack: Pack) -> None:
    assert pack.analyze(c.RULESET, c.ruleset()) == []


def test_the_repository_rules_file_passes(pack: Pack) -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "firestore" / "firestore.rules").read_text()
    assert pack.analyze(c.RULESET, c.ruleset(text)) == []


@pytest.mark.parametrize(
    ("replacement", "expected"),
    [
        ("allow read, write: if true;", "`allow read, write` is `if true`"),
        ("allow read: if (true);", "`allow read` is `if true`"),
        ("allow read, write;", "`allow read, write` has no condition"),
        (
            "allow read, write: if request.time < timestamp.date(2026, 12, 31);",
            "is only a time limit (the test-mode leftover)",
        ),
        ("allow write: if request.auth != null || true;", "`allow write` is `if true`"),
    ],
)
def test_open_rules(pack: Pack, replacement: str, expected: str) -> None:
    content = c.GOOD_RULES.replace("allow read, write: if false;", replacement)
    message = only(pack.analyze(c.RULESET, c.ruleset(content)), OPEN).message
    assert expected in message and "firestore.rules line 9" in message


@pytest.mark.parametrize(
    ("replacement", "expected"),
    [
        ("allow read: if timestamp.date(2030, 1, 1) > request.time;", "is only a time limit"),
        (
            "allow read: if request.time < timestamp.date(2030, 1, 1) + duration.value(1, 'd');",
            "is only a time limit",
        ),
        (
            "allow read: if !false;",
            "has an alternative that does not require request.auth (`! false`)",
        ),
        (
            "allow read: if true == true;",
            "has an alternative that does not require request.auth (`true == true`)",
        ),
        (
            "allow read: if request.auth != null && request.auth.token.email == 'x//y' || true;",
            "`allow read` is `if true`",
        ),
        (
            "allow read: if request.auth.token.name == 'a;b' || true;",
            "`allow read` is `if true`",
        ),
    ],
)
def test_rules_that_fool_a_pattern_match(pack: Pack, replacement: str, expected: str) -> None:
    """Reversed or padded time limits, constant-true expressions, and `//` or `;` inside a
    string literal are open: each `||` alternative must be false or require request.auth."""
    content = c.GOOD_RULES.replace("allow read, write: if false;", replacement)
    message = only(pack.analyze(c.RULESET, c.ruleset(content)), OPEN).message
    assert expected in message and "firestore.rules line 9" in message


def test_open_function_is_open(pack: Pack) -> None:
    """`if isOpen()` with `function isOpen() { return true; }` does not require request.auth."""
    content = c.GOOD_RULES.replace(
        "allow read, write: if false;",
        "function isOpen() { return true; }\n      allow read: if isOpen();",
    )
    message = only(pack.analyze(c.RULESET, c.ruleset(content)), OPEN).message
    assert (
        "line 10: `allow read` has an alternative that does not require request.auth (`isOpen ( )`)"
        in message
    )


def test_function_requiring_auth_is_closed(pack: Pack) -> None:
    content = c.GOOD_RULES.replace(
        "allow read, write: if false;",
        "function signedIn() { return request.auth != null; }\n"
        "      function mine(uid) { return signedIn() && request.auth.uid == uid; }\n"
        "      allow read: if mine('x') || false;",
    )
    assert pack.analyze(c.RULESET, c.ruleset(content)) == []


def test_open_rule_in_a_comment_is_ignored(pack: Pack) -> None:
    content = c.GOOD_RULES.replace("// Operators", "// allow read, write: if true; Operators")
    assert pack.analyze(c.RULESET, c.ruleset(content)) == []


def test_time_limit_combined_with_auth_is_not_open(pack: Pack) -> None:
    content = c.GOOD_RULES.replace(
        "allow read, write: if request.auth != null && request.auth.uid == userId;",
        "allow read: if request.auth != null && request.time < timestamp.date(2027, 1, 1);",
    )
    assert pack.analyze(c.RULESET, c.ruleset(content)) == []


def test_rules_version_1(pack: Pack) -> None:
    content = c.GOOD_RULES.replace("rules_version = '2';\n", "")
    assert (
        "does not declare rules_version = '2'"
        in only(pack.analyze(c.RULESET, c.ruleset(content)), OPEN).message
    )


def test_compliant_database(pack: Pack) -> None:
    assert pack.analyze(c.DATABASE, c.database(), protect=True) == []


@pytest.mark.parametrize("value", ["DELETE_PROTECTION_DISABLED", "-"])
def test_production_database_without_delete_protection(pack: Pack, value: str) -> None:
    found = pack.analyze(
        c.DATABASE, c.changed(c.database(), "deleteProtectionState", value), protect=True
    )
    assert (
        "a production database must not be deletable"
        in only(found, "gcp-firestore-delete-protection").message
    )


def test_production_database_without_pitr(pack: Pack) -> None:
    props = c.changed(
        c.database(), "pointInTimeRecoveryEnablement", "POINT_IN_TIME_RECOVERY_DISABLED"
    )
    found = pack.analyze(c.DATABASE, props, protect=True)
    assert (
        'pointInTimeRecoveryEnablement is "POINT_IN_TIME_RECOVERY_DISABLED"'
        in only(found, "gcp-firestore-point-in-time-recovery").message
    )


# --- the daily export ---------------------------------------------------------------------
def test_no_export_job(pack: Pack) -> None:
    diagnostic = only(pack.analyze_stack(c.stack(job=None)), "gcp-firestore-export-schedule")
    assert "no Cloud Scheduler job exports Firestore" in diagnostic.message
    assert diagnostic.urn.endswith("::database")


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("schedule", "0 3 * * *", '"0 3 * * *" (UTC)'),
        ("timeZone", "America/New_York", '"0 2 * * *" (America/New_York)'),
    ],
)
def test_export_at_the_wrong_time(pack: Pack, field: str, value: str, shown: str) -> None:
    found = pack.analyze_stack(c.stack(job=c.changed(c.job(), field, value)))
    message = only(found, "gcp-firestore-export-schedule").message
    assert f"runs at {shown}; the runbook exports daily at 02:00 UTC" in message


def test_utc_alias_is_utc(pack: Pack) -> None:
    assert pack.analyze_stack(c.stack(job=c.changed(c.job(), "timeZone", "Etc/UTC"))) == []


def test_export_without_time_zone_is_utc(pack: Pack) -> None:
    assert pack.analyze_stack(c.stack(job=c.changed(c.job(), "timeZone", "-"))) == []


def test_export_not_into_daily(pack: Pack) -> None:
    source = c.workflow()["sourceContents"].replace("/daily/", "/exports/")
    found = pack.analyze_stack(c.stack(workflow=c.changed(c.workflow(), "sourceContents", source)))
    assert (
        "does not write under gs://spendsense-backups/daily/ (no outputUriPrefix starting with it)"
        in only(found, "gcp-firestore-export-schedule").message
    )


@pytest.mark.parametrize(
    "uri",
    [
        "gs://other-bucket/daily/",
        "gs://spendsense-backups/old/daily/",
        "gs://spendsense-backups-copy/daily/",
    ],
)
def test_export_into_daily_of_another_place(pack: Pack, uri: str) -> None:
    """A `daily/` somewhere in the text is not enough: the outputUriPrefix must start with
    gs://<backup bucket>/daily/."""
    source = c.workflow()["sourceContents"].replace("gs://spendsense-backups/daily/", uri)
    found = pack.analyze_stack(c.stack(workflow=c.changed(c.workflow(), "sourceContents", source)))
    assert (
        "does not write under gs://spendsense-backups/daily/"
        in only(found, "gcp-firestore-export-schedule").message
    )


def test_export_built_from_the_workflow_environment(pack: Pack) -> None:
    """The program's shape: `"gs://" + bucket + "/" + prefix` with the bucket and prefix in
    userEnvVars; a wrong bucket there is caught."""
    source = (
        'main:\n  steps:\n    - init:\n        assign:\n          - uri: ${"gs://" + '
        'sys.get_env("BACKUP_BUCKET") + "/" + sys.get_env("BACKUP_PREFIX")}\n    - '
        "export:\n        args:\n          body:\n            outputUriPrefix: ${uri}\n"
    )
    workflow = {
        **c.workflow(),
        "sourceContents": source,
        "userEnvVars": {"BACKUP_BUCKET": "spendsense-backups", "BACKUP_PREFIX": "daily/"},
    }
    assert pack.analyze_stack(c.stack(workflow=workflow)) == []
    wrong = c.changed(workflow, "userEnvVars.BACKUP_BUCKET", "elsewhere")
    found = pack.analyze_stack(c.stack(workflow=wrong))
    assert (
        "does not write under gs://spendsense-backups/daily/"
        in only(found, "gcp-firestore-export-schedule").message
    )


def test_direct_export_call_is_an_export_job(pack: Pack) -> None:
    body = base64.b64encode(b'{"outputUriPrefix": "gs://spendsense-backups/daily/"}').decode()
    job: dict[str, Any] = c.changed(
        c.job(),
        "httpTarget.uri",
        "https://firestore.googleapis.com/v1/projects/p/databases/(default):exportDocuments",
    )
    job = c.changed(job, "httpTarget.body", body)
    assert pack.analyze_stack(c.stack(job=job, workflow=None)) == []


@pytest.mark.parametrize("paused", [True, "true", "True"])
def test_paused_export(pack: Pack, paused: object) -> None:
    found = pack.analyze_stack(c.stack(job=c.changed(c.job(), "paused", paused)))
    assert (
        "the export job job is paused; set paused=False"
        in only(found, "gcp-firestore-export-schedule").message
    )


@pytest.mark.parametrize("field", ["httpTarget", "httpTarget.uri"])
def test_unknown_job_target_is_pending_not_missing(pack: Pack, field: str) -> None:
    """A job whose target is unknown during preview (and no dependency names the workflow) may
    be the export: "cannot be checked until deployment", never "no job exports Firestore"."""
    job = resource(c.JOB, "job", c.changed(c.job(), field, c.UNKNOWN))  # no dependency
    resources = [r for r in c.stack() if r.name != "job"] + [job]
    diagnostic = only(pack.analyze_stack(resources), "gcp-firestore-export-schedule")
    assert diagnostic.level == "advisory"
    assert diagnostic.message.startswith("cannot be checked until deployment: what job job runs is")
