"""`spendsense backup list|verify` against the GCS emulator, with exports laid out as
Firestore writes them (complete, incomplete, too old, too new)."""

from __future__ import annotations

import json

import pytest
from spendsense.cli import main
from spendsense.ops.backups.listing import newest_daily_export

from tests.scripts.scripted_peers import lay_out_export

NOW = "2026-11-27T09:00:00Z"
# What a failed or cancelled export's folder means: it cannot be deleted (the bucket's
# retention policy, locked in production), restore refuses it, nothing needs doing.
INCOMPLETE = (
    "the folder has no .overall_export_metadata, so `spendsense restore` refuses it and "
    "`spendsense backup list` shows it INCOMPLETE; the bucket's retention policy forbids "
    "deleting it before its retention ends and the lifecycle rule removes it later: nothing "
    "needs doing"
)


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """The real clock at NOW: `backup create --yes` names its folder after the real time
    (--now, a rehearsal, is refused with --yes)."""
    from datetime import datetime

    moment = datetime.fromisoformat(NOW.replace("Z", "+00:00"))
    monkeypatch.setattr("spendsense.ops.window.utc_now", lambda: moment)


@pytest.fixture
def outputs(gcs, write_stack_outputs):
    return write_stack_outputs("production", backup_bucket=gcs.bucket)


def run(*args: str) -> int:
    return main(list(args))


def test_list_shows_daily_and_manual_newest_first_with_completeness(gcs, outputs, capsys):
    """list: every export, newest first, with kind, completeness, size and object count."""
    lay_out_export(gcs, "daily/20261126_020000")
    lay_out_export(gcs, "daily/20261127_020000", complete=False)
    lay_out_export(gcs, "manual-20261126_153000", outputs=1)
    gcs.put("daily/README.txt")  # not an export folder: ignored
    gcs.put("daily/2026-11-25/output-0")  # not the layout: ignored
    assert run("backup", "list", "--stack", "production", "--outputs", outputs, "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["bucket"] == gcs.bucket
    assert data["exports"] == [
        {
            "path": f"gs://{gcs.bucket}/daily/20261127_020000/",
            "kind": "daily",
            "time": "2026-11-27T02:00:00Z",
            "complete": False,
            "size_bytes": 210,
            "objects": 3,
        },
        {
            "path": f"gs://{gcs.bucket}/manual-20261126_153000/",
            "kind": "manual",
            "time": "2026-11-26T15:30:00Z",
            "complete": True,
            "size_bytes": 115,
            "objects": 3,
        },
        {
            "path": f"gs://{gcs.bucket}/daily/20261126_020000/",
            "kind": "daily",
            "time": "2026-11-26T02:00:00Z",
            "complete": True,
            "size_bytes": 215,
            "objects": 4,
        },
    ]


def test_list_text_marks_incomplete_exports(gcs, outputs, capsys):
    """The text listing says INCOMPLETE for an export without its metadata file."""
    lay_out_export(gcs, "daily/20261127_020000", complete=False)
    assert run("backup", "list", "--stack", "production", "--outputs", outputs) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("2026-11-27 02:00:00Z  daily   INCOMPLETE")
    assert line.endswith(f"gs://{gcs.bucket}/daily/20261127_020000/")


def test_newest_daily_export_reads_the_time_from_the_folder_name(gcs):
    """newest_daily_export (used by `status`): newest by folder name, manual ones excluded."""
    lay_out_export(gcs, "daily/20261125_020000")
    lay_out_export(gcs, "daily/20261126_020000", complete=False)
    lay_out_export(gcs, "manual-20261127_080000")
    export = newest_daily_export(gcs.client, gcs.bucket)
    assert export is not None
    assert export.path == f"gs://{gcs.bucket}/daily/20261126_020000/"
    assert export.time.isoformat() == "2026-11-26T02:00:00+00:00"
    assert (export.kind, export.complete, export.objects) == ("daily", False, 3)
    assert newest_daily_export(gcs.client, gcs.bucket, prefix="nothing/") is None


def test_verify_passes_for_a_fresh_complete_export(gcs, outputs, capsys):
    """verify: newest daily export complete and younger than 26 h, none past retention: exit 0."""
    lay_out_export(gcs, "daily/20261127_020000")
    lay_out_export(gcs, "daily/20261028_020000")  # 30 days + 7 h: within retention + 2 days
    code = run("backup", "verify", "--stack", "production", "--outputs", outputs, "--now", NOW)
    assert code == 0, capsys.readouterr().err
    assert capsys.readouterr().out.startswith(
        f"ok: newest daily export gs://{gcs.bucket}/daily/20261127_020000/ is complete and 7.0 h "
        "old"
    )


def test_verify_fails_when_the_newest_export_is_incomplete(gcs, outputs, capsys):
    """An incomplete newest daily export: exit 1, naming it, even if an older one is fine."""
    lay_out_export(gcs, "daily/20261126_020000")
    lay_out_export(gcs, "daily/20261127_020000", complete=False)
    assert run("backup", "verify", "--stack", "production", "--outputs", outputs, "--now", NOW) == 1
    assert capsys.readouterr().err == (
        f"error: backups not verified: the newest daily export gs://{gcs.bucket}/daily/"
        "20261127_020000/ is incomplete (no .overall_export_metadata): it failed or is still "
        "running\n"
    )


def test_verify_fails_when_the_newest_export_is_too_old(gcs, outputs, capsys):
    """Newest daily export older than --max-age: exit 1 with its age and the limit."""
    lay_out_export(gcs, "daily/20261126_020000")  # 31 h before NOW
    assert run("backup", "verify", "--stack", "production", "--outputs", outputs, "--now", NOW) == 1
    assert "is 31.0 h old, over the limit of 26.0 h" in capsys.readouterr().err
    # A longer limit accepts it.
    assert (
        run(
            "backup",
            "verify",
            "--stack",
            "production",
            "--outputs",
            outputs,
            "--now",
            NOW,
            "--max-age",
            "2d",
        )
        == 0
    )


def test_verify_fails_when_the_lifecycle_rule_keeps_old_exports(gcs, outputs, capsys):
    """A daily export older than retention + 2 days: exit 1 blaming the lifecycle rule."""
    lay_out_export(gcs, "daily/20261127_020000")
    lay_out_export(gcs, "daily/20261025_020000")  # 33 days old
    assert (
        run(
            "backup",
            "verify",
            "--stack",
            "production",
            "--outputs",
            outputs,
            "--now",
            NOW,
            "--json",
        )
        == 1
    )
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    assert data["problems"] == [
        f"1 daily export(s) older than the 30-day retention plus 2 days (oldest gs://{gcs.bucket}/"
        "daily/20261025_020000/): the bucket's lifecycle rule is not deleting them"
    ]


def test_verify_allows_the_lifecycle_two_days_past_the_retention(gcs, outputs, capsys):
    """The boundary: a daily export named 30 days + 1 day 23 h 59 min before now passes (the
    lifecycle deletes up to a day late and its objects were written after the folder's
    time); one named 30 days + 2 days + 1 min before now fails."""
    base = ["backup", "verify", "--stack", "production", "--outputs", outputs, "--now", NOW]
    lay_out_export(gcs, "daily/20261127_020000")
    lay_out_export(gcs, "daily/20261026_090100")  # 31 d 23 h 59 min before NOW
    assert run(*base) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.rstrip().endswith("none older than 30 days + 2")
    lay_out_export(gcs, "daily/20261026_085900")  # 32 d 1 min before NOW
    assert run(*base) == 1
    assert capsys.readouterr().err == (
        "error: backups not verified: 1 daily export(s) older than the 30-day retention plus 2 "
        f"days (oldest gs://{gcs.bucket}/daily/20261026_085900/): the bucket's lifecycle rule is "
        "not deleting them\n"
    )


def test_verify_uses_the_stacks_own_retention_from_the_outputs(gcs, write_stack_outputs, capsys):
    """backup_retention_days from the stack outputs (contract 3) is the retention verify
    checks: with 7 days, a 10-day-old daily export fails; limits.json's 30 is not used."""
    lay_out_export(gcs, "daily/20261127_020000")
    lay_out_export(gcs, "daily/20261117_020000")  # 10 days before NOW
    seven = write_stack_outputs("production", backup_bucket=gcs.bucket, backup_retention_days=7)
    base = ["backup", "verify", "--stack", "production", "--now", NOW, "--json"]
    assert run(*base, "--outputs", seven) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["retention_days"] == 7
    assert data["retention_source"] == "stack outputs" and data["notes"] == []
    assert data["problems"] == [
        f"1 daily export(s) older than the 7-day retention plus 2 days (oldest gs://{gcs.bucket}/"
        "daily/20261117_020000/): the bucket's lifecycle rule is not deleting them"
    ]
    fourteen = write_stack_outputs("production", backup_bucket=gcs.bucket, backup_retention_days=14)
    assert run(*base, "--outputs", fourteen) == 0
    assert json.loads(capsys.readouterr().out)["retention_days"] == 14


def test_verify_falls_back_to_limits_json_with_a_note_for_an_older_outputs_file(
    gcs, write_stack_outputs, capsys
):
    """An outputs file without backup_retention_days: policies/limits.json's retention (30),
    and the output says so (text and JSON)."""
    lay_out_export(gcs, "daily/20261127_020000")
    lay_out_export(gcs, "daily/20261117_020000")
    old = write_stack_outputs("production", backup_bucket=gcs.bucket, backup_retention_days=None)
    base = ["backup", "verify", "--stack", "production", "--outputs", old, "--now", NOW]
    assert run(*base) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        f"note: the stack outputs ({old}) have no backup_retention_days (an outputs file from "
        "before it was exported?); using 30 days from policies/limits.json "
        "backup.retentionDays instead of the stack's own number"
    )
    assert out[1].endswith("none older than 30 days + 2")
    assert run(*base, "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["retention_days"] == 30 and data["retention_source"] == "policies/limits.json"
    assert data["notes"] == [out[0]]


@pytest.mark.parametrize("value", ["30", 0, -5, 99999, True, 7.5])
def test_a_bad_retention_output_is_bad_input(gcs, write_stack_outputs, capsys, value):
    """backup_retention_days that is not a whole number of days from 1 to 3650: exit 2 naming
    the output, never a traceback or a silent fallback."""
    lay_out_export(gcs, "daily/20261127_020000")
    outputs = write_stack_outputs(
        "production", backup_bucket=gcs.bucket, backup_retention_days=value
    )
    assert run("backup", "verify", "--stack", "production", "--outputs", outputs, "--now", NOW) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: stack output 'backup_retention_days' in {outputs}: must be")
    assert len(err.splitlines()) == 1


def test_verify_fails_for_an_export_dated_in_the_future(gcs, outputs, capsys):
    """A daily export named after a time still to come: exit 1 (a clock or naming fault)."""
    lay_out_export(gcs, "daily/20261127_020000")
    lay_out_export(gcs, "daily/20261128_020000")
    assert run("backup", "verify", "--stack", "production", "--outputs", outputs, "--now", NOW) == 1
    assert "dated in the future" in capsys.readouterr().err


def test_verify_fails_with_no_export_at_all(gcs, outputs, capsys):
    """An empty bucket: exit 1 pointing at the scheduler job."""
    assert run("backup", "verify", "--stack", "production", "--outputs", outputs, "--now", NOW) == 1
    assert capsys.readouterr().err == (
        "error: backups not verified: no daily export found; check the Cloud Scheduler export job\n"
    )


def test_verify_rejects_a_bad_max_age(outputs, capsys):
    """--max-age that is not a duration: exit 2 with the expected form."""
    assert (
        run("backup", "verify", "--stack", "production", "--outputs", outputs, "--max-age", "soon")
        == 2
    )
    assert capsys.readouterr().err == (
        "error: --max-age: 'soon' is not a duration; use a positive number and a unit "
        "s, m, h or d (e.g. 26h)\n"
    )


def test_create_without_yes_names_the_folder_and_does_nothing(gcs, outputs, capsys):
    """create without --yes: 'Would export ... to gs://<bucket>/manual-<now>/'; bucket unchanged."""
    assert run("backup", "create", "--stack", "production", "--outputs", outputs, "--now", NOW) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        f"Would export database spendsense-production/(default) to gs://{gcs.bucket}/manual-20261127_090000/"
    )
    assert gcs.names() == []


@pytest.mark.parametrize(
    ("at", "message"),
    [
        (
            "yesterday",
            "--at: 'yesterday' is not an ISO 8601 time with an offset; e.g. 2026-11-27T03:15:00Z",
        ),
        (
            "2026-11-27T03:15:30Z",
            "--at: '2026-11-27T03:15:30Z' is not on a whole minute; Firestore exports snapshots by "
            "the minute (e.g. 2026-11-27T03:15Z)",
        ),
        ("2026-11-27T10:00:00Z", "--at: '2026-11-27T10:00:00Z' is not in the past"),
        (
            "2026-11-19T09:00:00Z",
            "--at: '2026-11-19T09:00:00Z' is more than 7 days ago, outside the "
            "point-in-time-recovery window; restore a daily export instead (`spendsense backup "
            "list`)",
        ),
    ],
)
def test_create_rejects_a_bad_at(outputs, capsys, at, message):
    """--at must be an offset time on a whole minute, in the past, within 7 days: else exit 2."""
    assert (
        run(
            "backup",
            "create",
            "--stack",
            "production",
            "--outputs",
            outputs,
            "--now",
            NOW,
            "--at",
            at,
        )
        == 2
    )
    assert capsys.readouterr().err == f"error: {message}\n"


# --- backup create through the Admin API (a local server that answers like it, and writes
# the export into the GCS emulator the way Firestore does) -----------------------------------

DB_PATH = "/v1/projects/spendsense-production/databases/(default)"
OP_NAME = "projects/spendsense-production/databases/(default)/operations/ASAexport1"


@pytest.fixture
def admin_api(http_server, gcs, monkeypatch):
    import requests

    monkeypatch.setenv("SPENDSENSE_FIRESTORE_API", http_server.url)
    monkeypatch.setattr("spendsense.ops.firestore.backends.google_session", requests.Session)
    return http_server


def create(outputs: str, *extra: str) -> int:
    """`backup create --stack production --yes` without sleeping between polls."""
    base = ["backup", "create", "--stack", "production", "--outputs", outputs, "--yes"]
    return run(*base, "--poll-interval", "0", *extra)


def partial_export_that_ends(admin_api, gcs, state: str, error: dict) -> None:
    """exportDocuments writes part of manual-20261127_090000/ (no metadata) and answers
    PROCESSING; the operation then ends `state` with `error`."""

    def export(request):
        lay_out_export(gcs, "manual-20261127_090000", complete=False)
        return 200, {"name": OP_NAME, "metadata": {"operationState": "PROCESSING"}}

    admin_api.on("POST", f"{DB_PATH}:exportDocuments", export)
    ended = {"name": OP_NAME, "done": True, "metadata": {"operationState": state}, "error": error}
    admin_api.on("GET", f"/v1/{OP_NAME}", (200, ended))


def test_create_at_a_time_exports_that_snapshot_through_the_admin_api(
    admin_api, gcs, outputs, capsys
):
    """create --at --yes: exportDocuments with outputUriPrefix manual-<at> and snapshotTime;
    the operation is followed until done and the folder checked complete."""

    def export(request):
        folder = request.body["outputUriPrefix"].split(f"gs://{gcs.bucket}/", 1)[1]
        lay_out_export(gcs, folder)
        return 200, {"name": OP_NAME, "metadata": {"operationState": "PROCESSING"}}

    admin_api.on("GET", DB_PATH, (200, {"earliestVersionTime": "2026-11-20T09:00:00Z"}))
    admin_api.on("POST", f"{DB_PATH}:exportDocuments", export)
    admin_api.on(
        "GET",
        f"/v1/{OP_NAME}",
        (
            200,
            {
                "name": OP_NAME,
                "done": True,
                "metadata": {"operationState": "SUCCESSFUL"},
                "response": {},
            },
        ),
    )
    code = create(outputs, "--at", "2026-11-27T03:15:00Z", "--json")
    assert code == 0, capsys.readouterr().err
    created = json.loads(capsys.readouterr().out)
    post = next(r for r in admin_api.requests if r.method == "POST")
    assert post.body == {
        "outputUriPrefix": f"gs://{gcs.bucket}/manual-20261127_031500",
        "snapshotTime": "2026-11-27T03:15:00Z",
    }
    assert created["path"] == f"gs://{gcs.bucket}/manual-20261127_031500/"
    assert created["complete"] is True and created["created"] is True


def test_a_cancelled_create_names_the_folder_with_partial_data(admin_api, gcs, outputs, capsys):
    """An export cancelled part-way: exit 1, saying partial data may be in the folder."""
    partial_export_that_ends(
        admin_api, gcs, "CANCELLED", {"code": 1, "message": "cancelled by user"}
    )
    code = create(outputs)
    assert code == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: export operation {OP_NAME} was cancelled; it may have left partial data in "
        f"gs://{gcs.bucket}/manual-20261127_090000/: {INCOMPLETE}"
    )


def test_create_refuses_an_existing_folder(gcs, outputs, capsys):
    """A manual folder of the same name already exists: exit 2 before any export starts."""
    lay_out_export(gcs, "manual-20261127_090000")
    code = run("backup", "create", "--stack", "production", "--outputs", outputs, "--yes")
    assert code == 2
    assert capsys.readouterr().err == (
        f"error: gs://{gcs.bucket}/manual-20261127_090000/ already exists; wait a second and run "
        "it again, or pick another --at\n"
    )


# --- an export that does not end well says what its folder holds ------------------------------


def test_a_refused_export_request_says_nothing_was_exported(admin_api, gcs, outputs, capsys):
    """exportDocuments refused with 429 RESOURCE_EXHAUSTED (no operation): exit 1, 'nothing
    was exported', and the folder is empty."""
    admin_api.on(
        "POST",
        f"{DB_PATH}:exportDocuments",
        (429, {"error": {"code": 429, "message": "Quota.", "status": "RESOURCE_EXHAUSTED"}}),
    )
    assert create(outputs) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "error: start the export of spendsense-production/(default): HTTP 429: "
        "RESOURCE_EXHAUSTED: Quota. -- nothing was exported to "
        f"gs://{gcs.bucket}/manual-20261127_090000/"
    )
    assert gcs.names() == []


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_server_error_on_the_export_request_says_an_export_may_have_started(
    admin_api, gcs, outputs, capsys, status
):
    """exportDocuments answered 5xx: the server may have created the operation anyway, so
    exit 1 saying an export may have started and how to check, never 'nothing was
    exported'."""
    admin_api.on(
        "POST",
        f"{DB_PATH}:exportDocuments",
        (status, {"error": {"code": status, "message": "Try again.", "status": "UNAVAILABLE"}}),
    )
    assert create(outputs) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: start the export of spendsense-production/(default): HTTP {status}: "
        f"UNAVAILABLE: Try again. -- an export may have started anyway (its request was "
        f"answered HTTP {status}): check `gcloud firestore operations list --project "
        f"spendsense-production`; if one runs, gs://{gcs.bucket}/manual-20261127_090000/ is "
        "usable once `spendsense backup list` shows it complete"
    )


def test_an_unexpected_error_after_the_export_started_still_says_where_it_writes(
    admin_api, gcs, outputs, monkeypatch, capsys
):
    """An unexpected exception (a bug, an unforeseen library error) while the export is
    followed: exit 1 with the folder's state, not a traceback without it."""
    admin_api.on(
        "POST",
        f"{DB_PATH}:exportDocuments",
        (200, {"name": OP_NAME, "metadata": {"operationState": "PROCESSING"}}),
    )

    def broken(value):
        raise RuntimeError("boom")

    monkeypatch.setattr("spendsense.ops.firestore.managed.int64", broken)
    assert create(outputs) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[-1] == (
        f"error: unexpected error: RuntimeError: boom -- export operation {OP_NAME} may still "
        f"be writing to gs://{gcs.bucket}/manual-20261127_090000/: it is usable once "
        "`spendsense backup list` shows it complete; if it stays INCOMPLETE, "
        + INCOMPLETE.replace("the folder has", "it has", 1)
    )


def test_a_failed_export_names_its_partial_folder_which_restore_refuses(
    admin_api, gcs, outputs, capsys
):
    """The export operation ends with an error after writing part of its folder: exit 1,
    naming the folder and saying it stays (the retention policy forbids deleting it) and
    restore refuses it; restore does refuse it (exit 2)."""
    partial_export_that_ends(admin_api, gcs, "FAILED", {"code": 13, "message": "internal"})
    assert create(outputs) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: export operation {OP_NAME} failed: internal -- it may have left partial data "
        f"in gs://{gcs.bucket}/manual-20261127_090000/: {INCOMPLETE}"
    )
    restore = ["restore", "--stack", "production", "--outputs", outputs]
    assert run(*restore, "--from", "manual-20261127_090000") == 2
    assert capsys.readouterr().err == (
        f"error: --from: gs://{gcs.bucket}/manual-20261127_090000/ is not a complete export (no "
        ".overall_export_metadata object: the export failed or is still running); pick a "
        "complete one from `spendsense backup list`\n"
    )


def test_an_export_still_running_at_the_timeout_says_where_it_is_writing(
    admin_api, gcs, outputs, capsys
):
    """PROCESSING after --timeout: exit 1; the export keeps writing its folder, which is
    usable once `backup list` shows it complete."""
    processing = (200, {"name": OP_NAME, "metadata": {"operationState": "PROCESSING"}})
    admin_api.on("POST", f"{DB_PATH}:exportDocuments", processing)
    admin_api.on("GET", f"/v1/{OP_NAME}", processing)
    code = create(outputs, "--timeout", "1", "--poll-interval", "0.2")
    assert code == 1
    assert (
        capsys.readouterr()
        .err.splitlines()[-1]
        .endswith(
            f"-- export operation {OP_NAME} may still be writing to gs://{gcs.bucket}/"
            "manual-20261127_090000/: it is usable once `spendsense backup list` shows it "
            "complete; if it stays INCOMPLETE, " + INCOMPLETE.replace("the folder has", "it has", 1)
        )
    )


def test_create_refuses_now_with_yes(outputs, capsys):
    """--now names the folder after a pretend time: refused with --yes (a manual export named
    after the wrong time would mislead every later restore)."""
    code = run(
        "backup", "create", "--stack", "production", "--outputs", outputs, "--now", NOW, "--yes"
    )
    assert code == 2
    assert capsys.readouterr().err == (
        "error: --now is for rehearsing (without --yes); a real export is named after the real "
        "time: leave --now out (use --at for an export of an earlier time)\n"
    )
