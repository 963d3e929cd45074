"""`spendsense restore`: the guards (whose project, the window, --force, --keep-paused) and the
closing statement when the pause, the import request or the import itself goes wrong.

The Firestore Admin API is a local server that answers like it (request level); the export is
laid out in the GCS emulator; App Runner is the model-checked Stubber (any call a test did not
expect fails it); the alarms are in moto."""

from __future__ import annotations

import itertools
import json

import pytest
import requests
from spendsense import repo
from spendsense.cli import main
from spendsense.errors import OperationFailed
from spendsense.ops import restore
from spendsense.ops.firestore.emulated import EmulatorExportImport
from spendsense.ops.firestore.managed import ManagedExportImport
from spendsense.ops.stack_projects import stack_projects

from infra.limits import limits, number
from tests.scripts.scripted_peers import (
    ALARMS,
    DROP,
    PARAMS,
    PAUSE_OP,
    RESUME_OP,
    SERVICE_ARN,
    actions_enabled,
    expect_pause,
    expect_pause_and_resume,
    expect_resume,
    lay_out_export,
    put_alarm,
    run_restore,
    service,
    silenced_state,
    unique_project,
)

DB = "/v1/projects/spendsense-production/databases/(default)"
OP = "projects/spendsense-production/databases/(default)/operations/ASAimport1"
FOLDER = "daily/20261124_020000"
INSIDE = "2026-12-01T07:30:00Z"  # Tuesday 02:30 New York
OUTSIDE = "2026-11-27T15:00:00Z"  # Friday
RESUME_HINT = f"resume it with `aws apprunner resume-service --service-arn {SERVICE_ARN}`"
ALARMS_HINT = (
    f"enable them with `aws cloudwatch enable-alarm-actions --alarm-names {' '.join(ALARMS)}`"
)

AVAILABILITY = number(limits().cloudwatch.availability_percent)  # policies/limits.json


@pytest.fixture
def admin_api(http_server, monkeypatch):
    """The Admin API and the data API on a local server, for an empty database."""
    monkeypatch.delenv("FIRESTORE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("SPENDSENSE_FIRESTORE_API", http_server.url)
    monkeypatch.setattr("spendsense.ops.firestore.backends.google_session", requests.Session)
    http_server.on("POST", f"{DB}/documents:listCollectionIds", (200, {}))
    return http_server


@pytest.fixture
def production(gcs, write_stack_outputs, apprunner_stub, cloudwatch, monkeypatch):
    """Production's outputs, an export of no documents in the bucket, App Runner stubbed."""
    lay_out_export(gcs, FOLDER)  # zero-filled output files: a valid export of no documents
    monkeypatch.setattr(
        "spendsense.commands.restore.apprunner_client", lambda: apprunner_stub.client
    )
    return write_stack_outputs("production", backup_bucket=gcs.bucket)


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """The real clock's seam, inside the window unless a test moves it (a restore with --yes
    judges the window on the real clock, never on --now)."""
    from datetime import datetime

    def set_time(text: str) -> None:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        monkeypatch.setattr("spendsense.ops.window.utc_now", lambda: moment)

    set_time(INSIDE)
    return set_time


def args(outputs: str, *extra: str, source: str = FOLDER) -> list[str]:
    return [
        "restore",
        "--stack",
        "production",
        "--outputs",
        outputs,
        "--from",
        source,
        "--yes",
        "--poll-interval",
        "0",
        *extra,
    ]


def statement(err: str) -> str:
    """The closing statement of a failed restore (after ' -- ' on the error line)."""
    line = err.strip().splitlines()[-1]
    assert line.startswith("error: restore failed: "), err
    assert "Traceback" not in err
    return line.split(" -- ", 1)[1]


def import_done() -> tuple[int, dict]:
    return 200, {"name": OP, "done": True, "metadata": {"operationState": "SUCCESSFUL"}}


# --- whose project (defect: another stack's project skipped every guard) -----------------------


def test_stack_projects_are_read_from_the_stack_files():
    """Every Pulumi.<stack>.yaml's gcp:project belongs to that stack."""
    assert stack_projects() == {
        "spendsense-production": "production",
        "spendsense-staging": "staging",
    }


@pytest.mark.parametrize(
    ("stack", "own", "target", "owner"),
    [
        ("staging", "spendsense-staging", "spendsense-production", "production"),
        ("production", "spendsense-production", "spendsense-staging", "staging"),
    ],
)
def test_another_stacks_project_is_refused_even_with_force(
    write_stack_outputs, apprunner_stub, capsys, stack, own, target, owner
):
    """--target-project naming another stack's Firestore project: exit 2, one line, nothing
    touched (no App Runner call), and --force does not override it."""
    outputs = write_stack_outputs(stack, firestore_project=own)
    code = main(
        [
            "restore",
            "--stack",
            stack,
            "--outputs",
            outputs,
            "--from",
            FOLDER,
            "--target-project",
            target,
            "--yes",
            "--force",
        ]
    )
    assert code == 2
    assert capsys.readouterr().err == (
        f"error: --target-project: {target} is the Firestore project of stack {owner}; "
        f"restoring it from --stack {stack} would skip that stack's pause, alarm and "
        f"maintenance-window guards: run `spendsense restore --stack {owner} --from ...` instead\n"
    )
    apprunner_stub.assert_no_pending_responses()


def test_the_stacks_own_project_named_as_target_keeps_every_guard(production, clock, capsys):
    """--target-project equal to the stack's own project is the guarded restore: outside the
    window in production it is refused without --force."""
    clock(OUTSIDE)
    code = main(args(production, "--target-project", "spendsense-production"))
    assert code == 2
    assert capsys.readouterr().err.startswith(
        "error: restore into production spendsense-production refused: outside the maintenance "
        "window"
    )


@pytest.mark.parametrize("target", ["", " spendsense-production", "Spendsense-Production", "ab"])
def test_a_target_that_is_not_a_project_id_is_bad_input(write_stack_outputs, capsys, target):
    """An empty (unset variable), padded or upper-case --target-project: exit 2, never read as
    'the stack's own project' or as 'another project'."""
    outputs = write_stack_outputs("production")
    code = main(
        [
            "restore",
            "--stack",
            "production",
            "--outputs",
            outputs,
            "--from",
            FOLDER,
            "--target-project",
            target,
        ]
    )
    assert code == 2
    assert capsys.readouterr().err == (
        f"error: --target-project: {target!r} is not a GCP project id (6-30 lowercase letters, "
        "digits and hyphens, starting with a letter)\n"
    )


def test_a_project_of_no_stack_is_imported_without_pause_alarms_or_window(
    firestore_emulator,
    gcs,
    write_stack_outputs,
    apprunner_stub,
    cloudwatch,
    monkeypatch,
    clock,
    capsys,
):
    """--target-project of no stack (a scratch project), production, outside the window, no
    --force: the export is imported there; App Runner is not called, the alarms not touched."""
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host)
    source, scratch = unique_project("prod"), unique_project("scratch")
    firestore_emulator.rest(source).set("users/alice", {"name": "Alice"})
    EmulatorExportImport(firestore_emulator.host, gcs.client).export_documents(
        source, "(default)", f"gs://{gcs.bucket}/{FOLDER}"
    )
    monkeypatch.setattr(
        "spendsense.commands.restore.apprunner_client", lambda: apprunner_stub.client
    )
    outputs = write_stack_outputs("production", backup_bucket=gcs.bucket)
    clock(OUTSIDE)
    code = main(args(outputs, "--target-project", scratch))
    assert code == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == (
        "service spendsense-api: not touched; alarm actions: not touched; data: imported from "
        f"gs://{gcs.bucket}/{FOLDER}/ and verified"
    )
    assert firestore_emulator.rest(scratch).get("users/alice").ok
    assert all(actions_enabled(cloudwatch).values())
    apprunner_stub.assert_no_pending_responses()


# --- the managed Admin API end to end through the CLI ---------------------------------------


def test_a_managed_restore_through_the_cli_follows_the_operation_and_counts(
    firestore_emulator, gcs, admin_api, production, apprunner_stub, cloudwatch, capsys
):
    """The production path, request by request: a real export (written by the Firestore
    emulator into the GCS emulator) is read and counted, importDocuments gets exactly the
    folder, the operation is polled (GET /v1/{name}) until done, every collection is counted
    with runAggregationQuery, and the service is paused, resumed and its alarms restored."""
    source = unique_project("prod")
    rest = firestore_emulator.rest(source)
    for uid in ("alice", "bob", "carol"):
        rest.set(f"users/{uid}", {"name": uid})
    rest.set("users/alice/accounts/a1", {"balance": 1})
    folder = "manual-20261125_020000"
    EmulatorExportImport(firestore_emulator.host, gcs.client).export_documents(
        source, "(default)", f"gs://{gcs.bucket}/{folder}"
    )
    processing = {"name": OP, "metadata": {"operationState": "PROCESSING"}}
    admin_api.on("POST", f"{DB}:importDocuments", (200, processing))
    admin_api.on(
        "GET",
        f"/v1/{OP}",
        (200, processing),
        (200, {"name": OP, "done": True, "metadata": {"operationState": "SUCCESSFUL"}}),
    )
    admin_api.on("POST", f"{DB}/documents:listCollectionIds", (200, {"collectionIds": ["users"]}))
    in_database = {"users": 3, "accounts": 1}

    def count(request):
        collection = request.body["structuredAggregationQuery"]["structuredQuery"]["from"][0]
        n = in_database[collection["collectionId"]]
        return 200, [{"result": {"aggregateFields": {"n": {"integerValue": str(n)}}}}]

    admin_api.on("POST", f"{DB}/documents:runAggregationQuery", count)
    expect_pause_and_resume(apprunner_stub)
    code = main(args(production, "--json", source=folder))
    assert code == 0, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)
    assert report["collections"] == [
        {"collection": "accounts", "expected": 1, "actual": 1, "status": "ok"},
        {"collection": "users", "expected": 3, "actual": 3, "status": "ok"},
    ]
    assert report["verified"] is True and report["restored"] is True
    post = next(r for r in admin_api.requests if r.path.endswith(":importDocuments"))
    assert post.body == {"inputUriPrefix": f"gs://{gcs.bucket}/{folder}"}
    assert [r.path for r in admin_api.requests if r.method == "GET"] == [f"/v1/{OP}"] * 2
    counted = sorted(
        r.body["structuredAggregationQuery"]["structuredQuery"]["from"][0]["collectionId"]
        for r in admin_api.requests
        if r.path.endswith(":runAggregationQuery")
    )
    assert counted == ["accounts", "users"]
    assert report["state"]["service"] == "RUNNING"
    assert all(actions_enabled(cloudwatch).values())
    apprunner_stub.assert_no_pending_responses()


# --- the window and the flags ------------------------------------------------------------------


def test_force_restores_production_outside_the_window(
    admin_api, production, apprunner_stub, cloudwatch, clock, capsys
):
    """Production outside the window with --force: the whole guarded restore runs (pause,
    silence, import, verify, resume, un-silence) and exits 0."""
    admin_api.on("POST", f"{DB}:importDocuments", import_done())
    expect_pause_and_resume(apprunner_stub)
    clock(OUTSIDE)
    code = main(args(production, "--force"))
    assert code == 0, capsys.readouterr().err
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"service spendsense-api: RUNNING; alarm actions: enabled again on {', '.join(ALARMS)}; "
        f"data: imported from gs://{production_bucket(admin_api)}/{FOLDER}/ and verified"
    )
    post = next(r for r in admin_api.requests if r.path.endswith(":importDocuments"))
    assert post.body == {"inputUriPrefix": f"gs://{production_bucket(admin_api)}/{FOLDER}"}
    assert all(actions_enabled(cloudwatch).values())
    apprunner_stub.assert_no_pending_responses()


def test_only_this_stacks_service_alarms_are_silenced_and_the_daily_one_stays_off(
    admin_api, production, apprunner_stub, cloudwatch, capsys
):
    """Production's restore silences the spendsense-api-* alarms that notify production's
    topic, never staging's spendsense-api-staging-* (same prefix, staging's topic) nor the
    frontend's availability alarms; after the resume the daily availability alarm stays off
    (the pause spent its 24-hour budget) and the statement gives the command and the time."""
    put_alarm(cloudwatch, "spendsense-api-availability-daily")
    seen: dict[str, bool] = {}

    def import_and_look(request):
        seen.update(actions_enabled(cloudwatch))
        return import_done()

    admin_api.on("POST", f"{DB}:importDocuments", import_and_look)
    expect_pause_and_resume(apprunner_stub)
    code = main(args(production))
    assert code == 0, capsys.readouterr().err
    daily = "spendsense-api-availability-daily"
    assert seen == {**silenced_state(*ALARMS, daily)}
    assert actions_enabled(cloudwatch) == silenced_state(daily)
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"service spendsense-api: RUNNING; alarm actions: enabled again on {', '.join(ALARMS)}; "
        f"kept disabled on {daily} (the pause spent the day's {AVAILABILITY} % budget of its "
        "24-hour average, so it would page now): after 2026-12-02 07:30 UTC, run `aws cloudwatch "
        f"enable-alarm-actions --alarm-names {daily}`; data: imported from "
        f"gs://{production_bucket(admin_api)}/{FOLDER}/ and verified"
    )
    apprunner_stub.assert_no_pending_responses()


def test_a_restore_that_stops_paused_names_the_daily_alarm_apart(
    admin_api, production, apprunner_stub, cloudwatch, capsys
):
    """--keep-paused with a daily availability alarm silenced: the hint enables the other
    alarms after the resume and the daily one only 24 h after it."""
    daily = "spendsense-api-availability-daily"
    put_alarm(cloudwatch, daily)
    admin_api.on("POST", f"{DB}:importDocuments", import_done())
    expect_pause(apprunner_stub)
    apprunner_stub.add_response("describe_service", {"Service": service("PAUSED")}, PARAMS)
    assert main(args(production, "--keep-paused")) == 0
    out = capsys.readouterr().out.splitlines()[-1]
    assert (
        f"alarm actions: still disabled on {', '.join(sorted([*ALARMS, daily]))} (--keep-paused); "
        f"{ALARMS_HINT}; 24 h after the resume, enable {daily} with `aws cloudwatch "
        f"enable-alarm-actions --alarm-names {daily}`; data: "
    ) in out
    assert actions_enabled(cloudwatch) == silenced_state(*ALARMS, daily)


def production_bucket(server) -> str:
    post = next(r for r in server.requests if r.path.endswith(":importDocuments"))
    return post.body["inputUriPrefix"].split("/")[2]


def test_the_window_is_judged_again_after_the_export_was_read(
    admin_api, production, apprunner_stub, cloudwatch, clock, monkeypatch, capsys
):
    """Reading the export takes time: a restore that starts at 03:59 New York but finishes
    reading the export after 04:00 is refused (exit 2) before the pause, with nothing
    touched (the Stubber has no responses: any App Runner call fails the test)."""
    from spendsense.commands import restore as command
    from spendsense.ops.backups.listing import export_counts

    clock("2026-12-01T08:59:00Z")  # Tuesday 03:59 EST: inside

    def slow_read(storage, export):
        clock("2026-12-01T09:00:30Z")  # 04:00:30 EST: the window is over
        return export_counts(storage, export)

    monkeypatch.setattr(command, "export_counts", slow_read)
    assert main(args(production)) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith(
        "error: restore into production spendsense-production refused: outside the maintenance "
        "window"
    )
    assert err.endswith(
        f"pass --force to restore now (the window ended while gs://{production_bucket_of(production)}"
        f"/{FOLDER}/ was read)"
    )
    assert not [r for r in admin_api.requests if r.path.endswith(":importDocuments")]
    assert all(actions_enabled(cloudwatch).values())
    apprunner_stub.assert_no_pending_responses()


def production_bucket_of(outputs: str) -> str:
    return json.loads(open(outputs, encoding="utf-8").read())["backup_bucket"]


def test_keep_paused_from_the_cli_leaves_service_and_alarms_as_they_are(
    admin_api, production, apprunner_stub, cloudwatch, capsys
):
    """--keep-paused: exit 0; no ResumeService; the statement says PAUSED and the actions off,
    with the commands that undo both."""
    admin_api.on("POST", f"{DB}:importDocuments", import_done())
    expect_pause(apprunner_stub)
    apprunner_stub.add_response("describe_service", {"Service": service("PAUSED")}, PARAMS)
    code = main(args(production, "--keep-paused"))
    assert code == 0, capsys.readouterr().err
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"service spendsense-api: PAUSED (--keep-paused); {RESUME_HINT}; alarm actions: still "
        f"disabled on {', '.join(ALARMS)} (--keep-paused); {ALARMS_HINT}; data: imported from "
        f"gs://{production_bucket(admin_api)}/{FOLDER}/ and verified"
    )
    assert actions_enabled(cloudwatch) == silenced_state(*ALARMS)
    apprunner_stub.assert_no_pending_responses()


# --- the import request fails: not touched when refused, unknown after a server error ----------


def test_a_refused_import_request_leaves_the_data_not_touched(
    admin_api, production, apprunner_stub, cloudwatch, capsys
):
    """importDocuments refused (403, no operation): exit 1; the service is resumed, the actions
    enabled again, and the data is 'not touched', never 'import started'."""
    body = {
        "error": {
            "code": 403,
            "message": "The caller does not have permission",
            "status": "PERMISSION_DENIED",
        }
    }
    admin_api.on("POST", f"{DB}:importDocuments", (403, body))
    expect_pause_and_resume(apprunner_stub)
    assert main(args(production)) == 1
    err = capsys.readouterr().err
    assert (
        "start the import into spendsense-production/(default): permission denied "
        "(PERMISSION_DENIED: The caller does not have permission)"
    ) in err
    assert statement(err) == (
        f"service spendsense-api: RUNNING; alarm actions: enabled again on {', '.join(ALARMS)}; "
        "data: not touched (no import was started)"
    )
    assert all(actions_enabled(cloudwatch).values())
    apprunner_stub.assert_no_pending_responses()


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_server_error_on_the_import_request_keeps_the_service_paused(
    admin_api, production, apprunner_stub, cloudwatch, capsys, status
):
    """importDocuments answered 5xx: the operation may have been created anyway, so (as for
    a request without an answer) the data is 'unknown' with the operations-list command, the
    service stays paused and the actions off: never 'not touched' and resumed."""
    body = {"error": {"code": status, "message": "Internal error.", "status": "INTERNAL"}}
    admin_api.on("POST", f"{DB}:importDocuments", (status, body))
    expect_pause(apprunner_stub)
    apprunner_stub.add_response("describe_service", {"Service": service("PAUSED")}, PARAMS)
    assert main(args(production)) == 1
    err = capsys.readouterr().err
    assert f"start the import into spendsense-production/(default): HTTP {status}: INTERNAL" in err
    assert statement(err) == (
        f"service spendsense-api: PAUSED, kept paused because the import request was answered "
        f"HTTP {status}, so an import may be running; when it has ended, {RESUME_HINT}; alarm "
        f"actions: still disabled on {', '.join(ALARMS)} because the service is not running; "
        f"after resuming it, {ALARMS_HINT}; data: unknown: the request to import "
        f"gs://{production_bucket(admin_api)}/{FOLDER}/ was answered HTTP {status}, so the "
        "import may have started; check `gcloud firestore operations list --project "
        "spendsense-production` before anything else"
    )
    assert actions_enabled(cloudwatch) == silenced_state(*ALARMS)
    apprunner_stub.assert_no_pending_responses()


def test_an_import_request_without_an_answer_keeps_the_service_paused(
    admin_api, production, apprunner_stub, cloudwatch, capsys
):
    """The connection drops before importDocuments answers: the import may have started, so
    the service stays paused, the actions off, and the data is 'unknown' with what to check."""

    admin_api.on("POST", f"{DB}:importDocuments", DROP)
    expect_pause(apprunner_stub)
    apprunner_stub.add_response("describe_service", {"Service": service("PAUSED")}, PARAMS)
    assert main(args(production)) == 1
    assert statement(capsys.readouterr().err) == (
        "service spendsense-api: PAUSED, kept paused because the import request got no answer, "
        f"so an import may be running; when it has ended, {RESUME_HINT}; alarm actions: still "
        f"disabled on {', '.join(ALARMS)} because the service is not running; after resuming it, "
        f"{ALARMS_HINT}; data: unknown: the request to import "
        f"gs://{production_bucket(admin_api)}/{FOLDER}/ got no answer, so the import may have "
        "started; check `gcloud firestore operations list --project spendsense-production` "
        "before anything else"
    )
    apprunner_stub.assert_no_pending_responses()


# --- the import outlives the timeout: the service stays paused ---------------------------------


def test_an_import_still_processing_at_the_timeout_keeps_the_service_paused(
    admin_api, production, apprunner_stub, cloudwatch, capsys
):
    """The Admin API answers PROCESSING forever: after --timeout the restore exits 1; the
    statement says the service is still paused and why, the alarm actions are still off, and
    names the operation to follow. No ResumeService (the Stubber has none)."""
    processing = (200, {"name": OP, "metadata": {"operationState": "PROCESSING"}})
    admin_api.on("POST", f"{DB}:importDocuments", processing)
    admin_api.on("GET", f"/v1/{OP}", processing)
    expect_pause(apprunner_stub)
    apprunner_stub.add_response("describe_service", {"Service": service("PAUSED")}, PARAMS)
    code = main(args(production, "--timeout", "1", "--poll-interval", "0.2"))
    assert code == 1
    err = capsys.readouterr().err
    assert (
        f"error: restore failed: import operation {OP} still PROCESSING after 1 s; it keeps "
        f"running: follow it with `gcloud firestore operations describe {OP}` -- "
    ) in err
    bucket = production_bucket(admin_api)
    assert statement(err) == (
        f"service spendsense-api: PAUSED, kept paused because import operation {OP} may still "
        f"be running; when it has ended, {RESUME_HINT}; alarm actions: still disabled on "
        f"{', '.join(ALARMS)} because the service is not running; after resuming it, "
        f"{ALARMS_HINT}; data: import operation {OP} may still be running on the server: the "
        f"database may hold part of gs://{bucket}/{FOLDER}/; follow it with "
        f"`gcloud firestore operations describe {OP}`"
    )
    assert len([r for r in admin_api.requests if r.method == "GET"]) >= 2  # it was followed
    assert actions_enabled(cloudwatch)[ALARMS[0]] is False
    apprunner_stub.assert_no_pending_responses()


# --- the pause goes wrong: nothing half-done, and the statement says exactly what -------------


def test_a_pause_that_times_out_stops_before_the_import(http_server, apprunner_stub, cloudwatch):
    """The pause operation is still IN_PROGRESS at the timeout: no import is started; the
    statement says the service is mid-operation, the actions stay off (turning them on would
    page for the pause), and the data is not touched."""
    expect_pause(apprunner_stub, status="IN_PROGRESS")
    apprunner_stub.add_response(
        "describe_service", {"Service": service("OPERATION_IN_PROGRESS")}, PARAMS
    )
    ticks = itertools.count(0, 100)
    with pytest.raises(OperationFailed) as caught:
        run_restore(
            http_server.url,
            apprunner_stub.client,
            cloudwatch,
            timeout=60,
            clock=lambda: next(ticks),
        )
    message = str(caught.value)
    assert PAUSE_OP in message.split(" -- ")[0] and "60 s" in message.split(" -- ")[0]
    assert message.split(" -- ", 1)[1] == (
        f"service spendsense-api: OPERATION_IN_PROGRESS; when it settles, {RESUME_HINT}; alarm "
        f"actions: still disabled on {', '.join(ALARMS)} because the service is not running; "
        f"after resuming it, {ALARMS_HINT}; data: not touched (no import was started)"
    )
    assert not http_server.requests  # no import request
    apprunner_stub.assert_no_pending_responses()


def test_a_failed_pause_request_leaves_the_service_running_and_the_alarms_on(
    http_server, apprunner_stub, cloudwatch
):
    """PauseService itself fails: the service is still RUNNING, so the alarm actions are turned
    back on; no import; the statement says exactly that."""
    apprunner_stub.add_response("describe_service", {"Service": service("RUNNING")}, PARAMS)
    apprunner_stub.add_client_error(
        "pause_service",
        service_error_code="InvalidRequestException",
        service_message="Service cannot be paused",
        http_status_code=400,
        expected_params=PARAMS,
    )
    apprunner_stub.add_response("describe_service", {"Service": service("RUNNING")}, PARAMS)
    with pytest.raises(OperationFailed) as caught:
        run_restore(http_server.url, apprunner_stub.client, cloudwatch)
    message = str(caught.value)
    assert "InvalidRequestException" in message.split(" -- ")[0]
    assert message.split(" -- ", 1)[1] == (
        f"service spendsense-api: RUNNING (not paused); alarm actions: enabled again on "
        f"{', '.join(ALARMS)}; data: not touched (no import was started)"
    )
    assert all(actions_enabled(cloudwatch).values())
    assert not http_server.requests
    apprunner_stub.assert_no_pending_responses()


def test_a_failed_resume_keeps_the_alarms_off_and_says_how_to_finish(
    http_server, apprunner_stub, cloudwatch
):
    """Import and verify succeed, ResumeService fails: exit 1 (the service is down), PAUSED
    and the resume command, the actions still off with the command to turn them on."""
    http_server.on("POST", f"{DB}:importDocuments", import_done())
    http_server.on("POST", f"{DB}/documents:listCollectionIds", (200, {}))
    expect_pause(apprunner_stub)
    apprunner_stub.add_response("describe_service", {"Service": service("PAUSED")}, PARAMS)
    apprunner_stub.add_client_error(
        "resume_service",
        service_error_code="InvalidRequestException",
        service_message="Service cannot be resumed",
        http_status_code=400,
        expected_params=PARAMS,
    )
    with pytest.raises(OperationFailed) as caught:
        run_restore(http_server.url, apprunner_stub.client, cloudwatch)
    message = str(caught.value)
    tail = message.split(" -- ", 1)[1]
    assert tail.startswith("service spendsense-api: PAUSED, resume failed (")
    assert tail.endswith(
        f"{RESUME_HINT}; alarm actions: still disabled on {', '.join(ALARMS)} because the "
        f"service is not running; after resuming it, {ALARMS_HINT}; data: imported from "
        "gs://spendsense-backups/daily/20261124_020000/ and verified"
    )
    apprunner_stub.assert_no_pending_responses()


# --- interrupted (Ctrl-C): the statement is still printed, nothing is left half-said ----------


def test_an_interrupt_during_the_resume_still_ends_with_the_statement(
    http_server, apprunner_stub, cloudwatch
):
    """Ctrl-C while the resume is being followed: OperationFailed (not a bare interrupt) whose
    statement says the resume was requested but not confirmed, the actions are still off and
    the data is verified."""
    http_server.on("POST", f"{DB}:importDocuments", import_done())
    http_server.on("POST", f"{DB}/documents:listCollectionIds", (200, {}))
    expect_pause(apprunner_stub)
    expect_resume(apprunner_stub, status="IN_PROGRESS")

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(OperationFailed) as caught:
        run_restore(
            http_server.url,
            apprunner_stub.client,
            cloudwatch,
            sleep=interrupt,
        )
    assert str(caught.value) == (
        "restore failed: the import is verified, but the service is not resumed -- service "
        f"spendsense-api: resume requested (operation {RESUME_OP}) but not confirmed "
        "(interrupted); check it with `spendsense status`, and if it is still PAUSED, "
        f"{RESUME_HINT}; alarm actions: still disabled on {', '.join(ALARMS)} because the "
        f"service is not running; after resuming it, {ALARMS_HINT}; data: imported from "
        "gs://spendsense-backups/daily/20261124_020000/ and verified"
    )
    apprunner_stub.assert_no_pending_responses()


def test_an_interrupt_while_the_import_runs_keeps_the_service_paused(
    http_server, apprunner_stub, cloudwatch
):
    """Ctrl-C while the import operation is followed: it keeps running on the server, so the
    service stays paused and the statement names the operation (no ResumeService)."""
    processing = (200, {"name": OP, "metadata": {"operationState": "PROCESSING"}})
    http_server.on("POST", f"{DB}:importDocuments", processing)
    expect_pause(apprunner_stub)
    apprunner_stub.add_response("describe_service", {"Service": service("PAUSED")}, PARAMS)

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    backend = ManagedExportImport(requests.Session(), http_server.url, poll=1, sleep=interrupt)
    with pytest.raises(OperationFailed) as caught:
        run_restore(
            http_server.url,
            apprunner_stub.client,
            cloudwatch,
            backend=backend,
        )
    message = str(caught.value)
    assert message.startswith(
        "restore failed: interrupted -- service spendsense-api: PAUSED, kept "
    )
    assert f"kept paused because import operation {OP} may still be running" in message
    assert message.endswith(f"follow it with `gcloud firestore operations describe {OP}`")
    apprunner_stub.assert_no_pending_responses()


def test_a_service_that_is_neither_running_nor_paused_stops_the_restore(
    http_server, apprunner_stub, cloudwatch
):
    """A service in CREATE_FAILED: nothing is paused, silenced or imported; the statement
    says nothing was touched."""
    apprunner_stub.add_response("describe_service", {"Service": service("CREATE_FAILED")}, PARAMS)
    with pytest.raises(OperationFailed) as caught:
        run_restore(http_server.url, apprunner_stub.client, cloudwatch)
    assert str(caught.value) == (
        "restore failed: service spendsense-api is CREATE_FAILED, neither RUNNING nor PAUSED; "
        "fix the service first (`spendsense status`), or restore into a scratch project with "
        "--target-project -- service spendsense-api: not touched; alarm actions: not touched; "
        "data: not touched (no import was started)"
    )
    assert all(actions_enabled(cloudwatch).values())
    assert not http_server.requests
    apprunner_stub.assert_no_pending_responses()


def test_outputs_that_name_another_stacks_project_as_their_own_are_refused(
    write_stack_outputs, apprunner_stub, capsys
):
    """Staging's outputs claiming production's project as staging's own database (a wrong or
    hand-edited file): exit 2 before anything, since staging's guards (no window) would apply
    to production's data."""
    outputs = write_stack_outputs("staging", firestore_project="spendsense-production")
    code = main(["restore", "--stack", "staging", "--outputs", outputs, "--from", FOLDER, "--yes"])
    assert code == 2
    assert capsys.readouterr().err == (
        f"error: stack output 'firestore_project' in {outputs} is spendsense-production, the "
        "Firestore project of stack production (Pulumi.production.yaml), not of stack "
        "staging; pass the outputs of stack staging\n"
    )
    apprunner_stub.assert_no_pending_responses()


# --- emulators and real services are never mixed ----------------------------------------------


def test_a_leftover_firestore_emulator_never_pauses_real_app_runner(
    gcs, write_stack_outputs, apprunner_stub, monkeypatch, capsys
):
    """FIRESTORE_EMULATOR_HOST set (a leftover in the shell) while AWS is real: the restore of
    the stack's own database is refused before the service is touched, since the import would
    go to a local emulator while production is paused."""
    lay_out_export(gcs, FOLDER)
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:9")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setattr(
        "spendsense.commands.restore.apprunner_client", lambda: apprunner_stub.client
    )
    outputs = write_stack_outputs("production", backup_bucket=gcs.bucket)
    assert main(args(outputs)) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "error: FIRESTORE_EMULATOR_HOST is set, so the import would go to a local emulator "
        "while the App Runner pause and the alarms are real AWS; unset FIRESTORE_EMULATOR_HOST "
        "and STORAGE_EMULATOR_HOST (or point AWS_ENDPOINT_URL at an emulator too)"
    )
    apprunner_stub.assert_no_pending_responses()


def test_an_emulated_bucket_with_a_real_firestore_is_refused(
    gcs, write_stack_outputs, monkeypatch, clock, capsys
):
    """STORAGE_EMULATOR_HOST without FIRESTORE_EMULATOR_HOST: the real import would read
    another bucket than the one listed; exit 2 before any import."""
    lay_out_export(gcs, FOLDER)
    monkeypatch.delenv("FIRESTORE_EMULATOR_HOST", raising=False)
    monkeypatch.delenv("SPENDSENSE_FIRESTORE_API", raising=False)
    outputs = write_stack_outputs("production", backup_bucket=gcs.bucket)
    clock(OUTSIDE)
    code = main(args(outputs, "--target-project", "spendsense-scratch"))
    assert code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "error: STORAGE_EMULATOR_HOST is set but FIRESTORE_EMULATOR_HOST is not: Firestore and "
        "the backup bucket must both be emulators or both be real; unset STORAGE_EMULATOR_HOST "
        "(or set FIRESTORE_EMULATOR_HOST too)"
    )


def test_a_failed_restore_with_json_prints_the_state_as_data(
    admin_api, production, apprunner_stub, cloudwatch, capsys
):
    """--json: a failed restore prints {"restored": false, "state": {...}} on stdout (the same
    state as the error line on stderr), so automation can read it."""
    admin_api.on(
        "POST",
        f"{DB}:importDocuments",
        (403, {"error": {"code": 403, "message": "Denied.", "status": "PERMISSION_DENIED"}}),
    )
    expect_pause_and_resume(apprunner_stub)
    assert main(args(production, "--json")) == 1
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["restored"] is False
    assert data["target"] == "spendsense-production/(default)"
    assert data["state"] == {
        "service": "RUNNING",
        "alarms": f"enabled again on {', '.join(ALARMS)}",
        "data": "not touched (no import was started)",
    }
    assert statement(captured.err).endswith("data: not touched (no import was started)")


def test_stack_projects_reads_both_spellings_and_refuses_an_unreadable_stack_file(tmp_path):
    """`gcp:project` and `spendsense:gcp.project` both name a stack's project; a stack file
    that cannot be read is exit 2 (the guard must see every stack)."""
    from spendsense.errors import BadInput

    (tmp_path / "Pulumi.alpha.yaml").write_text("config:\n  gcp:project: alpha-project\n")
    (tmp_path / "Pulumi.beta.yaml").write_text(
        "config:\n  spendsense:gcp:\n    project: beta-project\n"
    )
    (tmp_path / "Pulumi.yaml").write_text("name: spendsense\n")  # the project file: no stack
    stacks = ("alpha", "beta")
    assert stack_projects(tmp_path, stacks) == {"alpha-project": "alpha", "beta-project": "beta"}
    (tmp_path / "Pulumi.gamma.yaml").write_text("config: [unclosed\n")
    with pytest.raises(
        BadInput, match=r"stack file: .*Pulumi\.gamma\.yaml: not valid YAML at line 2"
    ):
        stack_projects(tmp_path, stacks)


def test_stack_projects_refuses_when_a_stack_file_is_missing(tmp_path):
    """No Pulumi.<stack>.yaml for one of the known stacks (an installed copy of the CLI finds
    none at all): exit 2 saying how to fix it, never an empty map that opens the guards."""
    from spendsense.errors import BadInput

    with pytest.raises(BadInput) as caught:
        stack_projects(tmp_path)
    assert str(caught.value) == (
        f"no stack file with a gcp:project for stack(s) staging, production in {tmp_path} "
        "(looked for Pulumi.staging.yaml, Pulumi.production.yaml); the guards that keep one "
        "stack's command off another stack's database need every stack's project: run "
        "spendsense from the repository checkout (`make setup` installs it editable into .venv)"
    )
    (tmp_path / "Pulumi.staging.yaml").write_text("config:\n  gcp:project: spendsense-staging\n")
    with pytest.raises(BadInput, match=r"for stack\(s\) production in "):
        stack_projects(tmp_path)


def test_restore_and_drill_refuse_when_the_stack_files_are_not_found(
    write_stack_outputs, tmp_path, monkeypatch, capsys
):
    """Run outside the repository (no stack files where the CLI looks): restore and drill
    exit 2 before touching anything, instead of letting another stack's project through."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for marker in ("Pulumi.yaml", "pyproject.toml"):
        (checkout / marker).write_text("")
    monkeypatch.setenv("SPENDSENSE_REPO", str(checkout))
    outputs = write_stack_outputs("staging")
    restore_args = ["restore", "--stack", "staging", "--outputs", outputs, "--from", FOLDER]
    assert main([*restore_args, "--target-project", "spendsense-production"]) == 2
    assert "no stack file with a gcp:project for stack(s)" in capsys.readouterr().err
    drill_args = ["drill", "--stack", "staging", "--outputs", outputs]
    assert main([*drill_args, "--target-project", "spendsense-production"]) == 2
    assert "no stack file with a gcp:project for stack(s)" in capsys.readouterr().err


def test_an_interrupt_while_the_import_request_is_in_flight_is_not_not_touched(
    http_server, apprunner_stub, cloudwatch
):
    """Ctrl-C while importDocuments has not answered yet: the import may have started, so the
    data is 'unknown' (never 'not touched') and the service stays paused."""

    class InterruptedPost(requests.Session):
        def request(self, method, url, *args, **kwargs):
            if method == "POST" and url.endswith(":importDocuments"):
                raise KeyboardInterrupt
            return super().request(method, url, *args, **kwargs)

    expect_pause(apprunner_stub)
    apprunner_stub.add_response("describe_service", {"Service": service("PAUSED")}, PARAMS)
    with pytest.raises(OperationFailed) as caught:
        run_restore(
            http_server.url,
            apprunner_stub.client,
            cloudwatch,
            backend=ManagedExportImport(InterruptedPost(), http_server.url, poll=0),
        )
    message = str(caught.value)
    assert message.startswith(
        "restore failed: interrupted -- service spendsense-api: PAUSED, kept paused because "
        "the import request got no answer"
    )
    assert "data: unknown: the request to import gs://spendsense-backups/" in message
    assert "not touched" not in message.split("data:")[1]
    apprunner_stub.assert_no_pending_responses()


def test_now_cannot_move_a_real_restore_into_the_window(production, apprunner_stub, capsys):
    """--now is for rehearsing the plan: with --yes it is refused (exit 2), so a pretend time
    cannot let a production restore through outside the window; without --yes it still
    shows what would happen at that time."""
    code = main(args(production, "--now", INSIDE))
    assert code == 2
    assert capsys.readouterr().err == (
        "error: --now is for rehearsing the plan (without --yes); a restore with --yes is "
        "judged on the real clock: leave --now out (or pass --force outside the window)\n"
    )
    apprunner_stub.assert_no_pending_responses()


def test_the_statement_quotes_the_availability_target_of_limits_json(tmp_path, monkeypatch):
    """The daily alarm's budget is the runbook's availability target, read from the limits
    file at run time, not typed into the statement."""
    data = json.loads(repo.limits_file().read_text(encoding="utf-8"))
    data["cloudwatch"]["availabilityPercent"] = 99.95
    changed = tmp_path / "limits.json"
    changed.write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setattr(repo, "limits_file", lambda: changed)
    assert restore._availability() == "99.95 %"
