"""`spendsense restore` end to end: the Firestore emulator and the GCS emulator hold real
documents and a real export; App Runner is the model-checked Stubber; CloudWatch is moto."""

from __future__ import annotations

import json

import pytest
import requests
from spendsense.cli import main
from spendsense.errors import OperationFailed
from spendsense.ops.backups.layout import Export
from spendsense.ops.backups.listing import ExportContents
from spendsense.ops.firestore.emulated import EmulatorExportImport
from spendsense.ops.firestore.managed import ManagedExportImport
from spendsense.ops.restore import restore

from tests.scripts.scripted_peers import (
    ALARMS,
    PARAMS,
    SERVICE_ARN,
    TOPIC,
    actions_enabled,
    expect_pause,
    expect_pause_and_resume,
    make_export,
    run_restore,
    service,
    silenced_state,
    unique_project,
)


@pytest.fixture
def project(firestore_emulator, monkeypatch):
    """A fresh project in the emulator, seeded; FIRESTORE_EMULATOR_HOST points at it."""
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host)
    name = unique_project("prod")
    rest = firestore_emulator.rest(name)
    for uid in ("alice", "bob", "carol"):
        rest.set(f"users/{uid}", {"name": uid})
    rest.set("users/alice/accounts/a1", {"balance": 100})
    rest.set("recommendations/r1", {"status": "pending"})
    rest.set("recommendations/r2", {"status": "accepted"})
    return name


@pytest.fixture
def stack(project, gcs, write_stack_outputs, apprunner_stub, monkeypatch):
    monkeypatch.setattr(
        "spendsense.commands.restore.apprunner_client", lambda: apprunner_stub.client
    )
    return write_stack_outputs("staging", firestore_project=project, backup_bucket=gcs.bucket)


def test_restore_pauses_silences_imports_verifies_resumes(
    stack, project, gcs, firestore_emulator, cloudwatch, apprunner_stub, capsys
):
    """The complete restore: deleted documents come back, newer ones stay and are named, the
    service is paused then resumed, and only the service's alarms are silenced then restored."""
    assert (
        main(["backup", "create", "--stack", "staging", "--outputs", stack, "--yes", "--json"]) == 0
    )
    created = json.loads(capsys.readouterr().out)
    assert created["complete"] is True and created["kind"] == "manual"
    rest = firestore_emulator.rest(project)
    # The "bad write": a user deleted, a newer recommendation and a new collection added.
    assert rest.delete("users/bob").ok
    rest.set("recommendations/r3", {"status": "new"})
    rest.set("audit/e1", {"what": "deleted bob"})
    expect_pause_and_resume(apprunner_stub)

    code = main(
        [
            "restore",
            "--stack",
            "staging",
            "--outputs",
            stack,
            "--from",
            created["path"],
            "--yes",
            "--json",
            "--poll-interval",
            "0",
        ]
    )
    assert code == 0, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)
    assert rest.get("users/bob").ok
    assert report["verified"] is True
    assert report["collections"] == [
        {"collection": "accounts", "expected": 1, "actual": 1, "status": "ok"},
        {"collection": "audit", "expected": 0, "actual": 1, "status": "more"},
        {"collection": "recommendations", "expected": 2, "actual": 3, "status": "more"},
        {"collection": "users", "expected": 3, "actual": 3, "status": "ok"},
    ]
    assert report["more_than_export"] == ["audit", "recommendations"]
    assert report["state"]["service"] == "RUNNING"
    assert report["state"]["alarms"] == f"enabled again on {', '.join(ALARMS)}"
    assert report["state"]["data"].startswith(f"imported from {created['path']} and verified")
    apprunner_stub.assert_no_pending_responses()
    assert all(actions_enabled(cloudwatch).values())


def test_a_failed_import_still_resumes_and_states_everything(
    http_server, cloudwatch, apprunner_stub
):
    """The import fails after the pause: the service is resumed, the alarm actions come back,
    and the error ends with the state of the service, the alarms and the data."""
    op = "projects/spendsense-production/databases/(default)/operations/op1"
    http_server.on(
        "POST",
        "/v1/projects/spendsense-production/databases/(default):importDocuments",
        (200, {"name": op, "metadata": {"operationState": "PROCESSING"}}),
    )
    http_server.on(
        "GET",
        f"/v1/{op}",
        (
            200,
            {
                "name": op,
                "done": True,
                "metadata": {"operationState": "FAILED"},
                "error": {"code": 9, "message": "Export metadata not readable"},
            },
        ),
    )
    expect_pause_and_resume(apprunner_stub)
    export = make_export("daily/20261127_020000/", 1000)
    seen_during_import: dict[str, bool] = {}

    class Watching(ManagedExportImport):
        def import_documents(self, *args, **kwargs):
            seen_during_import.update(actions_enabled(cloudwatch))
            return super().import_documents(*args, **kwargs)

    with pytest.raises(OperationFailed) as caught:
        run_restore(
            http_server.url,
            apprunner_stub.client,
            cloudwatch,
            export=export,
            expected=ExportContents({"users": 3}),
            backend=Watching(requests.Session(), http_server.url, poll=0, sleep=lambda s: None),
        )
    assert str(caught.value) == (
        f"restore failed: import operation {op} failed: Export metadata not readable -- "
        "service spendsense-api: RUNNING; alarm actions: enabled again on "
        f"{', '.join(ALARMS)}; data: import operation {op} ended without success: the "
        f"database may hold part of {export.path}; import it again"
    )
    assert seen_during_import == silenced_state(*ALARMS)
    assert all(actions_enabled(cloudwatch).values())
    apprunner_stub.assert_no_pending_responses()


def test_keep_paused_leaves_the_service_paused_and_says_how_to_undo(
    http_server, cloudwatch, apprunner_stub
):
    """--keep-paused: success, but the service stays PAUSED and the actions off, with the
    commands to undo both; counts come from runAggregationQuery / listCollectionIds."""
    op = "projects/spendsense-production/databases/(default)/operations/op2"
    docs = "/v1/projects/spendsense-production/databases/(default)/documents"
    http_server.on(
        "POST",
        "/v1/projects/spendsense-production/databases/(default):importDocuments",
        (
            200,
            {
                "name": op,
                "done": True,
                "metadata": {"operationState": "SUCCESSFUL"},
                "response": {},
            },
        ),
    )
    http_server.on("POST", f"{docs}:listCollectionIds", (200, {"collectionIds": ["users"]}))
    http_server.on(
        "POST",
        f"{docs}:runAggregationQuery",
        (
            200,
            [
                {
                    "result": {"aggregateFields": {"n": {"integerValue": "3"}}},
                    "readTime": "2026-11-27T05:00:00Z",
                }
            ],
        ),
    )
    expect_pause(apprunner_stub)
    apprunner_stub.add_response("describe_service", {"Service": service("PAUSED")}, PARAMS)
    report = run_restore(
        http_server.url,
        apprunner_stub.client,
        cloudwatch,
        export=make_export("daily/20261127_020000/", 1000),
        expected=ExportContents({"users": 3}),
        backend=ManagedExportImport(
            requests.Session(), http_server.url, poll=0, sleep=lambda s: None
        ),
        keep_paused=True,
    )
    assert report.verification is not None and report.verification.ok
    count_request = next(r for r in http_server.requests if r.path.endswith(":runAggregationQuery"))
    assert count_request.body == {
        "structuredAggregationQuery": {
            "structuredQuery": {"from": [{"collectionId": "users", "allDescendants": True}]},
            "aggregations": [{"alias": "n", "count": {}}],
        }
    }
    assert report.state.service == (
        "PAUSED (--keep-paused); resume it with `aws apprunner resume-service --service-arn "
        f"{SERVICE_ARN}`"
    )
    assert report.state.alarms.startswith(f"still disabled on {', '.join(ALARMS)} (--keep-paused)")
    assert actions_enabled(cloudwatch) == silenced_state(*ALARMS)
    apprunner_stub.assert_no_pending_responses()


def test_fewer_documents_than_the_export_fails_verification_and_names_them(
    firestore_emulator, gcs, monkeypatch
):
    """A collection with fewer documents than the export after the import: restore fails,
    naming the collection and its counts (not own project: service and alarms untouched)."""
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host)
    name = unique_project("scratch")
    firestore_emulator.rest(name).set("users/alice", {"n": 1})
    export = Export(gcs.bucket, "manual-20261127_050000/", "manual", None, True, 0, 0)  # type: ignore[arg-type]
    backend = EmulatorExportImport(firestore_emulator.host, gcs.client)
    backend.export_documents(name, "(default)", export.path)
    from spendsense.ops.firestore.backends import data_api

    with pytest.raises(OperationFailed) as caught:
        restore(
            export=export,
            expected=ExportContents({"users": 2}),  # as if the export held two users
            backend=backend,
            data=data_api(name, "(default)"),
            project=name,
            database="(default)",
            own=False,
            service_arn="",
            service_name="spendsense-api",
            alarm_topic_arn=TOPIC,
        )
    assert str(caught.value) == (
        "restore failed: verification failed -- service spendsense-api: not touched; alarm "
        f"actions: not touched; data: imported from {export.path} but NOT verified: users has 1 of "
        "2"
    )


# --- guards -------------------------------------------------------------------------------


def test_production_outside_the_window_is_refused_without_force(
    gcs, write_stack_outputs, monkeypatch, capsys
):
    """Production, outside Tuesday 02:00-04:00 New York (the real clock), --yes without
    --force: exit 2."""
    from datetime import UTC, datetime

    from tests.scripts.scripted_peers import lay_out_export

    monkeypatch.setattr(
        "spendsense.ops.window.utc_now", lambda: datetime(2026, 11, 27, 15, tzinfo=UTC)
    )
    lay_out_export(gcs, "daily/20261127_020000")
    outputs = write_stack_outputs("production", backup_bucket=gcs.bucket)
    args = [
        "restore",
        "--stack",
        "production",
        "--outputs",
        outputs,
        "--from",
        f"gs://{gcs.bucket}/daily/20261127_020000/",
    ]
    assert main([*args, "--yes"]) == 2
    assert capsys.readouterr().err == (
        "error: restore into production spendsense-production refused: outside the maintenance "
        "window (Tuesdays 02:00-04:00 America/New_York); the next one starts Tue 2026-12-01 02:00 "
        "EST (07:00 UTC), in 88.0 h; pass --force to restore now\n"
    )
    # Without --yes the plan says it would refuse; rehearsed (--now) inside the window it
    # would not.
    assert main(args) == 0
    assert "Would refuse: restore into production" in capsys.readouterr().out
    assert main([*args, "--now", "2026-12-01T07:30:00Z"]) == 0
    assert "Would refuse" not in capsys.readouterr().out


def test_a_path_that_is_not_an_export_is_bad_input(gcs, write_stack_outputs, capsys):
    """--from naming something that is not an export folder: exit 2, one line."""
    outputs = write_stack_outputs("staging", backup_bucket=gcs.bucket)
    assert (
        main(
            [
                "restore",
                "--stack",
                "staging",
                "--outputs",
                outputs,
                "--from",
                f"gs://{gcs.bucket}/daily/latest",
            ]
        )
        == 2
    )
    assert capsys.readouterr().err == (
        f"error: --from: 'gs://{gcs.bucket}/daily/latest' is not an export folder; expected "
        "gs://<bucket>/daily/YYYYMMDD_HHMMSS/ or gs://<bucket>/manual-YYYYMMDD_HHMMSS/ (or the "
        "same without gs://<bucket>/; see `spendsense backup list`)\n"
    )


def test_an_incomplete_or_missing_export_is_bad_input(gcs, write_stack_outputs, capsys):
    """--from an export without .overall_export_metadata, or with no objects: exit 2."""
    from tests.scripts.scripted_peers import lay_out_export

    lay_out_export(gcs, "daily/20261127_020000", complete=False)
    outputs = write_stack_outputs("staging", backup_bucket=gcs.bucket)
    base = ["restore", "--stack", "staging", "--outputs", outputs, "--from"]
    assert main([*base, "daily/20261127_020000"]) == 2
    assert "is not a complete export (no .overall_export_metadata object" in capsys.readouterr().err
    assert main([*base, "manual-20261101_000000/"]) == 2
    assert capsys.readouterr().err == (
        f"error: --from: gs://{gcs.bucket}/manual-20261101_000000/ holds no objects; pass an "
        "export listed by `spendsense backup list`\n"
    )
    assert main([*base, "gs://another-bucket/daily/20261127_020000/"]) == 2
    assert "is in bucket 'another-bucket', not the stack's backup bucket" in capsys.readouterr().err


def test_a_damaged_export_is_refused_before_the_service_is_touched(
    stack, gcs, apprunner_stub, capsys
):
    """An export whose output file is not Firestore's format: exit 1 before any App Runner
    call (the Stubber has no responses: any call would fail the test)."""
    from tests.scripts.scripted_peers import lay_out_export

    lay_out_export(gcs, "daily/20261127_020000")  # output-N files full of zeros
    gcs.put(
        "daily/20261127_020000/all_namespaces/all_kinds/output-0",
        b"\x01\x02\x03\x04\x05\x06\x07garbage",
    )
    code = main(
        [
            "restore",
            "--stack",
            "staging",
            "--outputs",
            stack,
            "--from",
            "daily/20261127_020000",
            "--yes",
        ]
    )
    assert code == 1
    assert (
        capsys.readouterr()
        .err.splitlines()[-1]
        .startswith(
            f"error: gs://{gcs.bucket}/daily/20261127_020000/all_namespaces/all_kinds/output-0 is "
        )
    )
    apprunner_stub.assert_no_pending_responses()


def test_a_service_paused_before_the_restore_is_left_paused_with_its_alarms(
    http_server, cloudwatch, apprunner_stub
):
    """A service someone paused before: no pause, no resume, alarms untouched (the Stubber
    has only the DescribeService response: any other App Runner call fails the test)."""
    op = "projects/spendsense-production/databases/(default)/operations/op3"
    docs = "/v1/projects/spendsense-production/databases/(default)/documents"
    http_server.on(
        "POST",
        "/v1/projects/spendsense-production/databases/(default):importDocuments",
        (200, {"name": op, "done": True, "metadata": {"operationState": "SUCCESSFUL"}}),
    )
    http_server.on("POST", f"{docs}:listCollectionIds", (200, {}))
    http_server.on(
        "POST",
        f"{docs}:runAggregationQuery",
        (200, [{"result": {"aggregateFields": {"n": {"integerValue": "3"}}}}]),
    )
    apprunner_stub.add_response(
        "describe_service", {"Service": service("PAUSED")}, {"ServiceArn": SERVICE_ARN}
    )
    report = run_restore(
        http_server.url,
        apprunner_stub.client,
        cloudwatch,
        export=make_export("daily/20261127_020000/", 1000),
        expected=ExportContents({"users": 3}),
    )
    assert report.state.statement() == (
        "service spendsense-api: PAUSED before the restore, left as it was; alarm actions: "
        "left as they were (the service was already paused); data: imported from "
        "gs://spendsense-backups/daily/20261127_020000/ and verified"
    )
    assert all(actions_enabled(cloudwatch).values())
    apprunner_stub.assert_no_pending_responses()
