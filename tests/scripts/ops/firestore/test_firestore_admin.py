"""The managed export/import (Firestore Admin REST API) at the request level, against a local
server that answers like the Admin API: exact request bodies, operation polling, and the
three ways an operation ends (done, error, cancelled)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests
from spendsense.errors import BadInput, OperationFailed
from spendsense.ops.firestore.errors import AdminTimedOut, ExportCancelled
from spendsense.ops.firestore.managed import ManagedExportImport

DB = "/v1/projects/spendsense-production/databases/(default)"
OP = (
    "projects/spendsense-production/databases/(default)/operations/"
    "ASA3NDEwOTg0NjExChp0bHVhZmVkBxJsYXJ0bmVjc3Utc2Jvai1uaW1kYRQKLRI"
)
EXPORT_TYPE = "type.googleapis.com/google.firestore.admin.v1.ExportDocumentsMetadata"
IMPORT_TYPE = "type.googleapis.com/google.firestore.admin.v1.ImportDocumentsMetadata"


def operation(state: str, done: bool = False, kind: str = EXPORT_TYPE, **extra) -> dict:
    body = {
        "name": OP,
        "metadata": {
            "@type": kind,
            "startTime": "2026-11-27T05:00:00.000Z",
            "operationState": state,
            "progressDocuments": {"completedWork": "120", "estimatedWork": "300"},
            "progressBytes": {"completedWork": "4096", "estimatedWork": "10240"},
            "outputUriPrefix": "gs://spendsense-backups/manual-20261127_050000",
        },
    }
    if done:
        body["done"] = True
    body.update(extra)
    return body


@pytest.fixture
def admin(http_server):
    sleeps: list[float] = []
    backend = ManagedExportImport(
        requests.Session(),
        http_server.url,
        timeout=60,
        poll=2,
        sleep=sleeps.append,
        clock=lambda: 0.0,
    )
    backend.sleeps = sleeps  # type: ignore[attr-defined]
    return backend


def test_export_sends_the_output_prefix_and_follows_the_operation_until_done(http_server, admin):
    """exportDocuments gets exactly {outputUriPrefix}; the operation is polled until done."""
    http_server.on("POST", f"{DB}:exportDocuments", (200, operation("PROCESSING")))
    http_server.on(
        "GET",
        f"/v1/{OP}",
        (200, operation("PROCESSING")),
        (
            200,
            operation(
                "SUCCESSFUL", done=True, response={"@type": "x", "outputUriPrefix": "gs://b/m"}
            ),
        ),
    )
    lines: list[str] = []
    result = admin.export_documents(
        "spendsense-production",
        "(default)",
        "gs://spendsense-backups/manual-20261127_050000/",
        progress=lines.append,
    )
    post = http_server.requests[0]
    assert (post.method, post.path) == ("POST", f"{DB}:exportDocuments")
    assert post.body == {"outputUriPrefix": "gs://spendsense-backups/manual-20261127_050000"}
    assert [r.path for r in http_server.requests[1:]] == [f"/v1/{OP}", f"/v1/{OP}"]
    assert result.state == "SUCCESSFUL" and result.documents == 120 and result.bytes == 4096
    assert lines[0].endswith(": PROCESSING, 120/300 documents")
    assert admin.sleeps == [2, 2]


def test_export_at_a_time_sends_snapshot_time_after_checking_the_earliest_version(
    http_server, admin
):
    """--at adds snapshotTime (RFC 3339, whole minute) once the database keeps that version."""
    http_server.on(
        "GET", DB, (200, {"name": DB[4:], "earliestVersionTime": "2026-11-20T05:00:00Z"})
    )
    http_server.on("POST", f"{DB}:exportDocuments", (200, operation("SUCCESSFUL", done=True)))
    admin.export_documents(
        "spendsense-production",
        "(default)",
        "gs://spendsense-backups/manual-20261127_031500",
        snapshot_time=datetime(2026, 11, 27, 3, 15, tzinfo=UTC),
    )
    post = next(r for r in http_server.requests if r.method == "POST")
    assert post.body == {
        "outputUriPrefix": "gs://spendsense-backups/manual-20261127_031500",
        "snapshotTime": "2026-11-27T03:15:00Z",
    }


def test_export_at_a_time_older_than_the_earliest_version_is_bad_input(http_server, admin):
    """A snapshot before earliestVersionTime: exit-2 error, and no export is started."""
    http_server.on("GET", DB, (200, {"earliestVersionTime": "2026-11-27T04:00:00Z"}))
    with pytest.raises(BadInput) as caught:
        admin.export_documents(
            "spendsense-production",
            "(default)",
            "gs://b/manual-20261127_031500",
            snapshot_time=datetime(2026, 11, 27, 3, 15, tzinfo=UTC),
        )
    assert str(caught.value) == (
        "--at: 2026-11-27T03:15:00Z is before the earliest version the database keeps "
        "(2026-11-27T04:00:00Z); point-in-time recovery keeps 7 days (1 hour without it)"
    )
    assert not [r for r in http_server.requests if r.method == "POST"]


def test_a_cancelled_export_says_it_may_have_left_partial_data_and_where(http_server, admin):
    """done with error code 1 (CANCELLED): ExportCancelled naming the folder with partial data."""
    http_server.on("POST", f"{DB}:exportDocuments", (200, operation("PROCESSING")))
    http_server.on(
        "GET",
        f"/v1/{OP}",
        (
            200,
            operation(
                "CANCELLED", done=True, error={"code": 1, "message": "The operation was cancelled."}
            ),
        ),
    )
    with pytest.raises(ExportCancelled) as caught:
        admin.export_documents(
            "spendsense-production", "(default)", "gs://spendsense-backups/manual-20261127_050000/"
        )
    assert str(caught.value) == (
        f"export operation {OP} was cancelled; it may have left partial data in "
        "gs://spendsense-backups/manual-20261127_050000/: the folder has no "
        ".overall_export_metadata, so `spendsense restore` refuses it and `spendsense backup "
        "list` shows it INCOMPLETE; the bucket's retention policy forbids deleting it before its "
        "retention ends and the lifecycle rule removes it later: nothing needs doing"
    )


def test_a_failed_import_reports_the_operation_error(http_server, admin):
    """importDocuments gets exactly {inputUriPrefix}; an error ends it with the API's message."""
    http_server.on(
        "POST", f"{DB}:importDocuments", (200, operation("PROCESSING", kind=IMPORT_TYPE))
    )
    http_server.on(
        "GET",
        f"/v1/{OP}",
        (
            200,
            operation(
                "FAILED",
                done=True,
                kind=IMPORT_TYPE,
                error={"code": 9, "message": "Bucket not readable"},
            ),
        ),
    )
    with pytest.raises(OperationFailed) as caught:
        admin.import_documents(
            "spendsense-production", "(default)", "gs://spendsense-backups/daily/20261127_020000/"
        )
    assert http_server.requests[0].body == {
        "inputUriPrefix": "gs://spendsense-backups/daily/20261127_020000"
    }
    assert str(caught.value) == f"import operation {OP} failed: Bucket not readable"


def test_an_operation_that_outlives_the_timeout_names_how_to_follow_it(http_server):
    """Still PROCESSING at the deadline: AdminTimedOut with the gcloud command to follow it."""
    ticks = iter([0.0, 0.0, 30.0, 61.0, 61.0])
    backend = ManagedExportImport(
        requests.Session(),
        http_server.url,
        timeout=60,
        poll=30,
        sleep=lambda s: None,
        clock=lambda: next(ticks),
    )
    http_server.on(
        "POST", f"{DB}:importDocuments", (200, operation("PROCESSING", kind=IMPORT_TYPE))
    )
    http_server.on("GET", f"/v1/{OP}", (200, operation("PROCESSING", kind=IMPORT_TYPE)))
    with pytest.raises(AdminTimedOut) as caught:
        backend.import_documents(
            "spendsense-production", "(default)", "gs://b/daily/20261127_020000"
        )
    assert str(caught.value) == (
        f"import operation {OP} still PROCESSING after 60 s; it keeps running: follow it with "
        f"`gcloud firestore operations describe {OP}`"
    )


def test_permission_denied_is_bad_input(http_server, admin):
    """HTTP 403 from the Admin API: exit-2 error naming the role that is missing."""
    http_server.on(
        "POST",
        f"{DB}:exportDocuments",
        (
            403,
            {
                "error": {
                    "code": 403,
                    "message": "The caller does not have permission",
                    "status": "PERMISSION_DENIED",
                }
            },
        ),
    )
    with pytest.raises(BadInput) as caught:
        admin.export_documents(
            "spendsense-production", "(default)", "gs://b/manual-20261127_050000"
        )
    assert "permission denied (PERMISSION_DENIED: The caller does not have permission)" in str(
        caught.value
    )


def test_odd_answers_are_one_line_errors_not_crashes(http_server):
    """An operation answer that is not an object, a count that is not a number, a collection
    list that is not a list: each a one-line OperationFailed or an empty result, no crash."""
    from spendsense.ops.firestore.data import DataApi

    http_server.on("POST", f"{DB}:importDocuments", (200, ["not", "an", "operation"]))
    backend = ManagedExportImport(requests.Session(), http_server.url, poll=0)
    with pytest.raises(OperationFailed, match="the import request answered no operation name"):
        backend.import_documents("spendsense-production", "(default)", "gs://b/daily/x")
    docs = f"{DB}/documents"
    http_server.on("POST", f"{docs}:listCollectionIds", (200, {"collectionIds": "users"}))
    http_server.on(
        "POST",
        f"{docs}:runAggregationQuery",
        (200, [{"result": {"aggregateFields": {"n": {"integerValue": "many"}}}}]),
    )
    data = DataApi(requests.Session(), http_server.url, "spendsense-production", "(default)")
    assert data.collection_ids() == []
    with pytest.raises(OperationFailed, match="the answer's count is not a number"):
        data.count("users")


def test_an_operation_error_of_an_odd_shape_still_ends_the_operation(http_server, admin):
    """`done` with an `error` that is a string: AdminOperationFailed with that text."""
    from spendsense.ops.firestore.errors import AdminOperationFailed

    http_server.on(
        "POST",
        f"{DB}:importDocuments",
        (200, {"name": OP, "done": True, "error": "quota exceeded"}),
    )
    with pytest.raises(AdminOperationFailed) as caught:
        admin.import_documents("spendsense-production", "(default)", "gs://b/daily/x")
    assert str(caught.value) == f"import operation {OP} failed: quota exceeded"


def test_deleting_documents_sends_batches_of_500_and_never_another_databases_names(http_server):
    """delete_documents: `:commit` with at most 500 `delete` writes each; a name outside this
    project's database is refused before any request."""
    from spendsense.ops.firestore.data import DataApi

    docs = "/v1/projects/spendsense-test/databases/(default)/documents"
    http_server.on("POST", f"{docs}:commit", (200, {"writeResults": []}))
    data = DataApi(requests.Session(), http_server.url, "spendsense-test", "(default)")
    root = "projects/spendsense-test/databases/(default)/documents"
    names = [f"{root}/users/u{i}" for i in range(501)]
    data.delete_documents(names)
    commits = [r.body for r in http_server.requests if r.path == f"{docs}:commit"]
    assert [len(c["writes"]) for c in commits] == [500, 1]
    assert commits[1] == {"writes": [{"delete": f"{root}/users/u500"}]}
    http_server.requests.clear()
    other = "projects/spendsense-production/databases/(default)/documents/users/u1"
    with pytest.raises(OperationFailed, match="refusing to delete"):
        data.delete_documents([f"{root}/users/u1", other])
    assert http_server.requests == []
