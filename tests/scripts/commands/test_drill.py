"""`spendsense drill` end to end: a real export of seeded documents (Firestore emulator) laid
out as a daily export in the GCS emulator, imported into an empty test project and counted."""

from __future__ import annotations

import json

import pytest
from spendsense.cli import main
from spendsense.errors import BadInput
from spendsense.ops.backups.listing import newest_daily_export
from spendsense.ops.drill import run_drill
from spendsense.ops.firestore.backends import data_api
from spendsense.ops.firestore.emulated import EmulatorExportImport

from tests.scripts.scripted_peers import unique_project


@pytest.fixture
def daily_export(firestore_emulator, gcs, monkeypatch):
    """Production data exported to gs://<bucket>/daily/20261127_020000/ through the seam."""
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host)
    production = unique_project("prod")
    rest = firestore_emulator.rest(production)
    for index in range(5):
        rest.set(f"transactions/t{index}", {"amount": index})
    rest.set("users/alice", {"name": "Alice"})
    rest.set("users/alice/accounts/a1", {"balance": 10})
    rest.set("users/alice/accounts/a2", {"balance": 20})
    backend = EmulatorExportImport(firestore_emulator.host, gcs.client)
    backend.export_documents(production, "(default)", f"gs://{gcs.bucket}/daily/20261127_020000")
    return production


def test_drill_imports_the_newest_daily_export_and_counts_match(
    daily_export, gcs, write_stack_outputs, capsys
):
    """The drill: newest complete daily export -> empty test project; every collection's count
    equals the export's; the report times each step; after passing, the imported documents
    are deleted from the test project (only there), so the next drill finds it empty."""
    target = unique_project("test")
    outputs = write_stack_outputs(
        "production", firestore_project=daily_export, backup_bucket=gcs.bucket
    )
    args = ["drill", "--stack", "production", "--outputs", outputs, "--target-project", target]
    code = main([*args, "--yes", "--json"])
    assert code == 0, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    assert report["export"] == f"gs://{gcs.bucket}/daily/20261127_020000/"
    assert report["target"] == f"{target}/(default)"
    assert report["collections"] == [
        {"collection": "accounts", "expected": 2, "actual": 2, "status": "ok"},
        {"collection": "transactions", "expected": 5, "actual": 5, "status": "ok"},
        {"collection": "users", "expected": 1, "actual": 1, "status": "ok"},
    ]
    assert report["documents_expected"] == report["documents_found"] == 8
    assert set(report["seconds"]) == {"read export", "import", "count"}
    # A passing drill empties the test project again, so next month's drill can run.
    assert report["cleanup"] == {"emptied": True, "deleted": 8}
    assert data_api(target, "(default)").collection_ids() == []
    assert data_api(target, "(default)").document_names() == []
    # ... and the production project it was exported from is untouched.
    assert data_api(daily_export, "(default)").counts(["transactions", "users", "accounts"]) == {
        "accounts": 2,
        "transactions": 5,
        "users": 1,
    }
    # Next month's drill into the same project runs (it is empty); --keep-data keeps them.
    assert main([*args, "--yes", "--keep-data"]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"The imported documents stay in {target}/(default) (--keep-data); empty it before the "
        f"next drill with `spendsense drill --stack production --target-project {target} "
        "--clean --yes`."
    )
    assert data_api(target, "(default)").collection_ids() == ["transactions", "users"]


def test_drill_without_yes_names_the_export_and_imports_nothing(
    daily_export, gcs, write_stack_outputs, capsys
):
    """Without --yes: 'Would import <newest daily export> into <test project>'; nothing imported."""
    target = unique_project("test")
    outputs = write_stack_outputs(
        "production", firestore_project=daily_export, backup_bucket=gcs.bucket
    )
    assert (
        main(["drill", "--stack", "production", "--outputs", outputs, "--target-project", target])
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        f"Would import gs://{gcs.bucket}/daily/20261127_020000/ into {target}/(default) (which "
        "must be empty)"
    )
    assert lines[2] == (
        f"Would delete the imported documents from {target}/(default) after a passing drill "
        "(after a failing one they stay for inspection; `spendsense drill --stack production "
        f"--target-project {target} --clean --yes` empties it)"
    )
    assert data_api(target, "(default)").collection_ids() == []


def test_a_count_that_differs_fails_the_drill(daily_export, gcs, firestore_emulator, capsys):
    """An import that does not reproduce the export (here one document is lost): the report
    marks the collection and the drill is not ok."""
    target = unique_project("test")

    class Lossy(EmulatorExportImport):
        def import_documents(self, project, database, input_uri, **kwargs):
            result = super().import_documents(project, database, input_uri, **kwargs)
            firestore_emulator.rest(project).delete("transactions/t0")
            return result

    export = newest_daily_export(gcs.client, gcs.bucket)
    assert export is not None
    report = run_drill(
        storage=gcs.client,
        export=export,
        backend=Lossy(firestore_emulator.host, gcs.client),
        data=data_api(target, "(default)"),
        now=export.time,
    )
    assert report.ok is False
    lines = report.lines()
    assert lines[0].startswith(
        f"Restore drill FAILED: {export.path} (0.0 h old) into {target}/(default)"
    )
    assert "  transactions         5         4  <- missing" in lines


def test_a_target_that_is_not_empty_is_bad_input(
    daily_export, gcs, firestore_emulator, write_stack_outputs, capsys
):
    """A test project that already holds data: exit 2 naming its collections, nothing imported."""
    target = unique_project("test")
    firestore_emulator.rest(target).set("leftovers/x", {"n": 1})
    outputs = write_stack_outputs(
        "production", firestore_project=daily_export, backup_bucket=gcs.bucket
    )
    assert (
        main(
            [
                "drill",
                "--stack",
                "production",
                "--outputs",
                outputs,
                "--target-project",
                target,
                "--yes",
            ]
        )
        == 2
    )
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: --target-project: {target}/(default) is not empty (collections: leftovers); a "
        "drill needs an empty database: empty it with `spendsense drill --stack production "
        f"--target-project {target} --clean --yes` or pick another test project"
    )
    assert data_api(target, "(default)").collection_ids() == ["leftovers"]


def test_the_production_project_as_target_is_bad_input(write_stack_outputs, capsys):
    """--target-project equal to the stack's own project: exit 2 before anything else."""
    outputs = write_stack_outputs("production")
    assert (
        main(
            [
                "drill",
                "--stack",
                "production",
                "--outputs",
                outputs,
                "--target-project",
                "spendsense-production",
            ]
        )
        == 2
    )
    assert capsys.readouterr().err == (
        "error: --target-project: spendsense-production is the stack's own database; a drill "
        "imports into an empty test project (e.g. spendsense-test), never into production\n"
    )


def test_an_incomplete_newest_export_fails_the_drill(gcs, write_stack_outputs, capsys):
    """The newest daily export lacks its metadata: exit 1, the drill needs a complete one."""
    from tests.scripts.scripted_peers import lay_out_export

    lay_out_export(gcs, "daily/20261126_020000")
    lay_out_export(gcs, "daily/20261127_020000", complete=False)
    outputs = write_stack_outputs("production", backup_bucket=gcs.bucket)
    assert main(["drill", "--stack", "production", "--outputs", outputs]) == 1
    assert "the newest daily export" in capsys.readouterr().err


def test_emulator_export_rejects_a_snapshot_time(firestore_emulator, gcs):
    """The emulator has no point-in-time exports: --at is bad input in emulator mode."""
    from datetime import UTC, datetime

    backend = EmulatorExportImport(firestore_emulator.host, gcs.client)
    with pytest.raises(BadInput, match="the Firestore emulator has no point-in-time exports"):
        backend.export_documents(
            "p", "(default)", f"gs://{gcs.bucket}/manual-x", snapshot_time=datetime.now(UTC)
        )


def test_a_failing_drill_keeps_the_data_and_clean_empties_only_the_test_project(
    daily_export, gcs, firestore_emulator, write_stack_outputs, monkeypatch, capsys
):
    """A failing drill leaves the imported documents for inspection and prints the exact
    command that empties the test project; that command (--clean --yes) deletes them, and
    without --yes only says what it would delete."""
    target = unique_project("test")
    outputs = write_stack_outputs(
        "production", firestore_project=daily_export, backup_bucket=gcs.bucket
    )

    class Lossy(EmulatorExportImport):
        def import_documents(self, project, database, input_uri, **kwargs):
            result = super().import_documents(project, database, input_uri, **kwargs)
            firestore_emulator.rest(project).delete("transactions/t0")
            return result

    monkeypatch.setattr(
        "spendsense.ops.firestore.backends.export_import_backend",
        lambda storage, **kwargs: Lossy(firestore_emulator.host, storage),
    )
    args = ["drill", "--stack", "production", "--outputs", outputs, "--target-project", target]
    assert main([*args, "--yes"]) == 1
    captured = capsys.readouterr()
    command = f"spendsense drill --stack production --target-project {target} --clean --yes"
    assert captured.out.splitlines()[-1] == (
        f"The imported documents stay in {target}/(default) (kept for inspection: the drill "
        f"failed); empty it before the next drill with `{command}`."
    )
    assert captured.err.splitlines()[-1] == (
        "error: restore drill failed: document counts differ from the export in transactions; "
        f"the imported documents stay in {target}/(default): `{command}` empties it"
    )
    assert data_api(target, "(default)").collection_ids() == ["transactions", "users"]

    assert main([*args, "--clean"]) == 0
    assert capsys.readouterr().out == (
        f"Would delete every document in {target}/(default) (the drill's test project)\n"
        "Nothing changed. Run again with --yes to do it.\n"
    )
    assert data_api(target, "(default)").collection_ids() == ["transactions", "users"]
    assert main([*args, "--clean", "--yes"]) == 0
    assert capsys.readouterr().out == f"Emptied {target}/(default): deleted 7 documents.\n"
    assert data_api(target, "(default)").collection_ids() == []
    assert data_api(daily_export, "(default)").count("transactions") == 5


@pytest.mark.parametrize("target", ["spendsense-staging", "spendsense-production"])
@pytest.mark.parametrize("clean", [False, True])
def test_a_stacks_project_is_never_a_drill_target(write_stack_outputs, capsys, target, clean):
    """Any stack's Firestore project (from Pulumi.<stack>.yaml), not only the stack's own, is
    refused as the drill's target, for the drill and for --clean: exit 2 before anything."""
    outputs = write_stack_outputs("production")
    args = ["drill", "--stack", "production", "--outputs", outputs, "--target-project", target]
    assert main([*args, "--yes", *(["--clean"] if clean else [])]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --target-project: {target} is ")
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_emptying_refuses_a_stacks_project_whoever_calls_it(firestore_emulator, monkeypatch):
    """empty_test_database itself refuses a project in `forbidden`, and deletes nothing."""
    from spendsense.ops.drill import empty_test_database

    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host)
    production = unique_project("prod")
    firestore_emulator.rest(production).set("users/alice", {"n": 1})
    with pytest.raises(BadInput, match=f"refusing to empty {production}/\\(default\\)"):
        empty_test_database(data_api(production, "(default)"), forbidden={production: "production"})
    assert firestore_emulator.rest(production).get("users/alice").ok


def failed_drill(gcs, backend, data) -> str:
    """The error of a drill of the newest daily export that fails (its clean hint: CLEAN)."""
    from spendsense.errors import OperationFailed

    export = newest_daily_export(gcs.client, gcs.bucket)
    assert export is not None
    with pytest.raises(OperationFailed) as caught:
        run_drill(
            storage=gcs.client,
            export=export,
            backend=backend,
            data=data,
            now=export.time,
            clean_hint="CLEAN",
        )
    return str(caught.value)


def test_a_failed_import_says_whether_the_test_project_holds_part_of_the_export(
    daily_export, gcs, firestore_emulator
):
    """An import that fails after it started: the error says the test project may hold part of
    the export and gives the command that empties it; one refused before it started says the
    project was not touched."""
    from spendsense.errors import OperationFailed
    from spendsense.ops.firestore.errors import AdminOperationFailed

    export = newest_daily_export(gcs.client, gcs.bucket)
    assert export is not None

    class FailsAfterStart(EmulatorExportImport):
        def import_documents(self, project, database, input_uri, **kwargs):
            super().import_documents(project, database, input_uri, **kwargs)
            raise AdminOperationFailed("import operation op-1 failed: disk full")

    class RefusedBeforeStart(EmulatorExportImport):
        def import_documents(self, project, database, input_uri, **kwargs):
            raise OperationFailed("start the import: permission denied")

    target = unique_project("test")
    assert failed_drill(
        gcs, FailsAfterStart(firestore_emulator.host, gcs.client), data_api(target, "(default)")
    ) == (
        f"restore drill: import operation op-1 failed: disk full -- {target}/(default) may hold "
        f"part of {export.path}; empty it with `CLEAN`"
    )
    assert data_api(target, "(default)").collection_ids() == ["transactions", "users"]

    untouched = unique_project("test")
    assert failed_drill(
        gcs,
        RefusedBeforeStart(firestore_emulator.host, gcs.client),
        data_api(untouched, "(default)"),
    ) == (
        "restore drill: start the import: permission denied -- "
        f"{untouched}/(default) was not touched"
    )


@pytest.mark.parametrize("status", [500, 503, 504])
def test_a_server_error_on_the_import_request_says_the_import_may_have_started(
    daily_export, gcs, http_server, status
):
    """importDocuments (the Admin API, request level) answered 5xx: the import may have been
    created anyway, so the drill says the test project may hold part of the export, how to
    check for the operation and how to empty it; never 'not touched'."""
    import requests
    from spendsense.ops.firestore.data import DataApi
    from spendsense.ops.firestore.managed import ManagedExportImport

    export = newest_daily_export(gcs.client, gcs.bucket)
    assert export is not None
    target = unique_project("test")
    database = f"/v1/projects/{target}/databases/(default)"
    http_server.on("POST", f"{database}/documents:listCollectionIds", (200, {}))
    http_server.on(
        "POST",
        f"{database}:importDocuments",
        (status, {"error": {"code": status, "message": "Oops.", "status": "INTERNAL"}}),
    )
    assert failed_drill(
        gcs,
        ManagedExportImport(requests.Session(), http_server.url, poll=0),
        DataApi(requests.Session(), http_server.url, target, "(default)"),
    ) == (
        f"restore drill: start the import into {target}/(default): HTTP {status}: INTERNAL: "
        f"Oops. -- {target}/(default) may hold part of {export.path}; the import may have "
        f"started (its request was answered HTTP {status}): check `gcloud firestore operations "
        f"list --project {target}`; when it has ended, empty it with `CLEAN`"
    )


def test_an_unexpected_error_during_the_import_still_says_what_the_project_holds(
    daily_export, gcs, firestore_emulator
):
    """An unexpected exception (not one of the CLI's own errors) from the import: the drill
    still ends with OperationFailed saying the test project may hold part of the export and
    how to empty it, never a bare traceback."""

    export = newest_daily_export(gcs.client, gcs.bucket)
    assert export is not None

    class Broken(EmulatorExportImport):
        def import_documents(self, project, database, input_uri, **kwargs):
            raise RuntimeError("boom")

    target = unique_project("test")
    assert failed_drill(
        gcs, Broken(firestore_emulator.host, gcs.client), data_api(target, "(default)")
    ) == (
        f"restore drill: unexpected error: RuntimeError: boom -- {target}/(default) may hold "
        f"part of {export.path}; the import may have started (its request got no clear "
        f"answer): check `gcloud firestore operations list --project {target}`; when it has "
        "ended, empty it with `CLEAN`"
    )


def test_a_passing_drill_that_cannot_empty_the_project_exits_1_with_the_clean_command(
    daily_export, gcs, write_stack_outputs, monkeypatch, capsys
):
    """The drill passes but emptying the test project fails: the report is printed, then
    exit 1 naming the --clean command (next month's drill would find it not empty)."""
    from spendsense.errors import OperationFailed

    def fail(data, **kwargs):
        raise OperationFailed("delete documents in x: HTTP 503: UNAVAILABLE")

    monkeypatch.setattr("spendsense.commands.drill.empty_test_database", fail)
    target = unique_project("test")
    outputs = write_stack_outputs(
        "production", firestore_project=daily_export, backup_bucket=gcs.bucket
    )
    args = ["drill", "--stack", "production", "--outputs", outputs, "--target-project", target]
    assert main([*args, "--yes", "--json"]) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    command = f"spendsense drill --stack production --target-project {target} --clean --yes"
    assert report["ok"] is True
    assert report["cleanup"] == {
        "emptied": False,
        "error": "delete documents in x: HTTP 503: UNAVAILABLE",
        "clean_command": command,
    }
    assert captured.err.splitlines()[-1] == (
        f"error: restore drill passed, but {target}/(default) could not be emptied (delete "
        f"documents in x: HTTP 503: UNAVAILABLE); run `{command}` before the next drill"
    )
