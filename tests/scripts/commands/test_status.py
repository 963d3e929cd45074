"""`spendsense status`: frontend, API health, App Runner service, alarms in ALARM (moto) and the
newest daily backup (GCS emulator) in one table; exit 1 if anything is failing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from spendsense.cli import main

from tests.scripts.live_api import (
    ACCOUNT,
    SERVICE_ARN,
    SERVICE_NAME,
    outputs_values,
    service,
)

TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:spendsense-alarms-staging"  # outputs_values' topic
PRODUCTION_TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:spendsense-alarms-production"


def backup_check(out: str) -> dict:
    return next(c for c in json.loads(out)["checks"] if c["name"] == "backup")


def backup_line(out: str) -> str:
    (line,) = [line for line in out.splitlines() if line.startswith("  backup ")]
    return line


@pytest.fixture
def cloudwatch(aws_env, aws_admin):
    """alarm(name, state, topic=TOPIC): a metric alarm notifying `topic`, in `state`."""
    client = aws_admin("cloudwatch")

    def alarm(name: str, state: str, topic: str | None = TOPIC) -> None:
        client.put_metric_alarm(
            AlarmName=name,
            AlarmActions=[topic] if topic else [],
            MetricName="RequestLatency",
            Namespace="AWS/AppRunner",
            Statistic="Average",
            Period=60,
            EvaluationPeriods=1,
            Threshold=500,
            ComparisonOperator="GreaterThanThreshold",
        )
        client.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")

    return alarm


def put_export(bucket, age: timedelta, complete: bool = True) -> str:
    stamp = (datetime.now(UTC) - age).strftime("%Y%m%d_%H%M%S")
    folder = f"daily/{stamp}/"
    bucket.blob(folder + "all_namespaces/all_kinds/output-0").upload_from_string(b"x")
    if complete:
        bucket.blob(f"{folder}{stamp}.overall_export_metadata").upload_from_string(b"m")
    return f"gs://{bucket.name}/{folder}"


@pytest.fixture
def run(write_outputs, gcs_bucket, capsys):
    def run(*extra: str, **overrides):
        overrides.setdefault("backup_bucket", gcs_bucket.name)
        path = write_outputs(**overrides)
        code = main(["status", "--stack", "staging", "--outputs", path, "--timeout", "2", *extra])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_everything_ok_exits_0_with_one_row_per_part(
    apprunner, cloudwatch, gcs_bucket, api_server, run
):
    apprunner.add_response("describe_service", {"Service": service()}, {"ServiceArn": SERVICE_ARN})
    cloudwatch(f"{SERVICE_NAME}-latency-p95", "OK")
    cloudwatch("some-other-service-latency-p95", "ALARM", topic=None)  # not this stack's
    cloudwatch(f"{SERVICE_NAME}-old-manual", "ALARM", topic=f"{TOPIC}-old")  # a prefix only
    path = put_export(gcs_bucket, timedelta(hours=3))
    code, out, err = run("--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["ok"] is True
    states = {check["name"]: check["state"] for check in data["checks"]}
    assert states == {
        "frontend": "ok",
        "api": "ok",
        "service": "ok",
        "alarms": "ok",
        "backup": "ok",
        # outputs_values has no firestore_usage_caps (test_status_usage.py has the row)
        "usage": "not checked",
    }
    backup = next(check for check in data["checks"] if check["name"] == "backup")
    assert backup["path"] == path
    assert 2.9 < backup["age_hours"] < 3.1
    apprunner.assert_no_pending_responses()


def test_failing_parts_are_shown_and_exit_1(apprunner, cloudwatch, gcs_bucket, api_server, run):
    apprunner.add_response("describe_service", {"Service": service(status="PAUSED")})
    cloudwatch(f"{SERVICE_NAME}-latency-p95", "ALARM")
    cloudwatch(f"{SERVICE_NAME}-error-rate", "ALARM")
    cloudwatch(f"{SERVICE_NAME}-cpu", "OK")
    cloudwatch("spendsense-alerts-staging-delivery-failures", "ALARM")  # not named after the API
    put_export(gcs_bucket, timedelta(hours=30))
    api_server[1].answer(503, {"status": "unhealthy", "database": "unhealthy"})
    api_server[1].frontend_code = 404
    code, out, err = run()
    assert code == 1
    assert err == "error: 5 check(s) failing: frontend, api, service, alarms, backup\n"
    lines = out.splitlines()
    assert lines[0].startswith("stack staging (outputs from ")
    url = api_server[0]
    assert lines[1] == f"  frontend  FAIL  {url}/: HTTP 404"
    assert lines[2].startswith(f"  api       FAIL  {url}/health: unhealthy: HTTP 503 (")
    assert lines[3].startswith(f"  service   FAIL  {SERVICE_NAME} PAUSED, image ")
    assert lines[4] == (
        "  alarms    FAIL  3 in ALARM: spendsense-alerts-staging-delivery-failures, "
        f"{SERVICE_NAME}-error-rate, {SERVICE_NAME}-latency-p95"
    )
    assert lines[5].startswith(
        f"  backup    FAIL  newest daily export gs://{gcs_bucket.name}/daily/"
    )
    assert lines[5].endswith(" h old (older than 26 h)")


def test_an_incomplete_old_export_is_failing(apprunner, cloudwatch, gcs_bucket, run):
    apprunner.add_response("describe_service", {"Service": service()})
    put_export(gcs_bucket, timedelta(hours=30))
    put_export(gcs_bucket, timedelta(hours=5), complete=False)
    code, out, _ = run("--json")
    assert code == 1
    backup = backup_check(out)
    assert backup["state"] == "failing"
    assert backup["detail"].endswith("h old and incomplete (no export metadata)")


def test_no_daily_export_at_all_is_failing(apprunner, cloudwatch, gcs_bucket, run):
    apprunner.add_response("describe_service", {"Service": service()})
    code, out, _ = run("--json")
    assert code == 1
    assert backup_check(out)["detail"] == f"no daily export under gs://{gcs_bucket.name}/daily/"


def test_without_a_backup_bucket_output_the_backup_is_not_checked(apprunner, cloudwatch, run):
    apprunner.add_response("describe_service", {"Service": service()})
    code, out, _ = run(backup_bucket=None)
    assert code == 0
    assert backup_line(out) == "  backup    --    stack output 'backup_bucket' is missing"


def test_refused_credentials_make_a_not_checked_row_and_exit_2_when_nothing_fails(
    apprunner, cloudwatch, run
):
    """Refused credentials keep the service row from running (the others still show): it says
    "not checked: <reason>", and with no other row failing the command exits 2."""
    apprunner.add_client_error(
        "describe_service",
        service_error_code="AccessDeniedException",
        service_message="no",
        http_status_code=403,
    )
    code, out, err = run(backup_bucket=None)
    assert code == 2
    reason = (
        "describe the App Runner service: AWS refused the credentials (AccessDeniedException: no)"
    )
    assert f"  service   --    not checked: {reason}" in out.splitlines()
    assert err == (
        f"error: 1 check(s) not checked: service (nothing failing otherwise); service: {reason}\n"
    )


def test_an_outage_is_exit_1_even_when_a_row_cannot_be_checked_for_lack_of_credentials(
    apprunner, cloudwatch, api_server, write_outputs, monkeypatch, capsys
):
    """During a real outage (the API answers 503) a missing Google credential for the backup
    row must not turn the exit code into 2 (bad input): the outage is exit 1, and the backup
    row says why it was not checked."""
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/credentials.json")
    apprunner.add_response("describe_service", {"Service": service()}, {"ServiceArn": SERVICE_ARN})
    api_server[1].answer(503, {"status": "unhealthy", "database": "unhealthy"})
    path = write_outputs()
    code = main(["status", "--stack", "staging", "--outputs", path, "--timeout", "2"])
    captured = capsys.readouterr()
    assert code == 1
    backup = backup_line(captured.out)
    assert backup.startswith("  backup    --    not checked: no Google credentials (")
    assert captured.err == "error: 1 check(s) failing: api; 1 check(s) not checked: backup\n"
    apprunner.assert_no_pending_responses()


def test_a_missing_output_makes_its_rows_not_checked_the_others_still_show_and_exit_2(
    apprunner, cloudwatch, api_server, write_outputs, capsys
):
    apprunner.add_response("describe_service", {"Service": service()}, {"ServiceArn": SERVICE_ARN})
    path = write_outputs(frontend_url=None, backup_bucket=None)
    assert main(["status", "--stack", "staging", "--outputs", path, "--json"]) == 2
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    states = {check["name"]: check["state"] for check in data["checks"]}
    assert states == {
        "frontend": "not checked",
        "api": "ok",
        "service": "ok",
        "alarms": "ok",
        "backup": "not checked",
        "usage": "not checked",
    }
    assert data["ok"] is False
    message = (
        f"stack output 'frontend_url' is missing or unknown in {path}; "
        "run `pulumi up` for stack staging or pass --outputs FILE that has it"
    )
    assert data["checks"][0]["detail"] == f"not checked: {message}"
    assert captured.err == (
        "error: 1 check(s) not checked: frontend (nothing failing otherwise); frontend: "
        f"{message}\n"
    )
    apprunner.assert_no_pending_responses()


def test_unknown_stack_is_bad_input(capsys):
    assert main(["status", "--stack", "prod"]) == 2
    assert capsys.readouterr().err == (
        "error: Invalid value for '--stack': 'prod' is not one of 'staging', 'production'. "
        "(see `spendsense status --help`)\n"
    )


def test_help_has_an_example(capsys):
    assert main(["status", "--help"]) == 0
    assert "spendsense status --stack production" in capsys.readouterr().out


def test_without_the_backup_commands_the_backup_row_says_not_checked(
    apprunner, cloudwatch, run, monkeypatch
):
    import sys

    monkeypatch.setitem(sys.modules, "spendsense.ops.backups.listing", None)  # import fails
    apprunner.add_response("describe_service", {"Service": service()})
    code, out, _ = run()
    assert code == 0
    assert backup_line(out) == "  backup    --    the backup commands are not installed"


def test_a_frontend_url_urllib3_cannot_parse_is_a_not_checked_row(apprunner, cloudwatch, run):
    """requests lets urllib3's LocationParseError (a ValueError) through for a host label over
    63 characters; the row says the output is not a valid URL and the command exits 2."""
    apprunner.add_response("describe_service", {"Service": service()})
    bad = "http://" + "a" * 70 + ".com/"
    code, out, err = run("--json", frontend_url=bad, backup_bucket=None)
    assert code == 2, err
    frontend = json.loads(out)["checks"][0]
    assert frontend["name"] == "frontend"
    assert frontend["state"] == "not checked"
    assert frontend["detail"].startswith("not checked: stack output 'frontend_url' in ")
    assert "is not a DNS name or IP address" in frontend["detail"]


def test_production_does_not_count_stagings_alarms(
    apprunner, cloudwatch, api_server, tmp_path, capsys
):
    """Production's service is `spendsense-api`, so staging's `spendsense-api-staging-*` alarms
    share its name prefix (same account and region): only the alarms that notify production's
    alarm topic count."""
    production_arn = SERVICE_ARN.replace(f"service/{SERVICE_NAME}/", "service/spendsense-api/")
    running = {**service(), "ServiceName": "spendsense-api", "ServiceArn": production_arn}
    apprunner.add_response("describe_service", {"Service": running}, {"ServiceArn": production_arn})
    cloudwatch("spendsense-api-staging-latency-p95", "ALARM")  # staging's, in ALARM
    cloudwatch("spendsense-api-latency-p95", "OK", topic=PRODUCTION_TOPIC)
    path = tmp_path / "outputs-production.json"
    values = outputs_values(
        api_server[0],
        environment="production",
        api_service_arn=production_arn,
        api_service_name="spendsense-api",
        alarm_topic_arn=PRODUCTION_TOPIC,
        backup_bucket=None,
    )
    path.write_text(json.dumps(values), encoding="utf-8")
    code = main(["status", "--stack", "production", "--outputs", str(path), "--json"])
    captured = capsys.readouterr()
    assert (code, captured.err) == (0, "")
    alarms = next(c for c in json.loads(captured.out)["checks"] if c["name"] == "alarms")
    assert alarms == {
        "name": "alarms",
        "state": "ok",
        "detail": "none of the alarms that notify spendsense-alarms-production in ALARM",
        "topic": PRODUCTION_TOPIC,
        "in_alarm": [],
    }
    # while production's own alarm in ALARM does fail it
    cloudwatch("spendsense-api-latency-p95", "ALARM", topic=PRODUCTION_TOPIC)
    assert main(["status", "--stack", "production", "--outputs", str(path), "--json"]) == 1
    alarms = next(c for c in json.loads(capsys.readouterr().out)["checks"] if c["name"] == "alarms")
    assert alarms["in_alarm"] == ["spendsense-api-latency-p95"]
    apprunner.assert_no_pending_responses()


def test_a_frontend_that_trickles_its_headers_is_a_timeout_not_a_hang(
    apprunner, cloudwatch, raw_server, run
):
    """The frontend row's timeout bounds the whole answer: a server sending its status line and
    headers a byte every 0.2 s (about 25 s) fails the row at the timeout, and is hung up on."""
    apprunner.add_response("describe_service", {"Service": service()})
    server = raw_server("trickle headers", b"<html></html>")
    code, out, _ = run("--json", frontend_url=server.base_url + "/", backup_bucket=None)
    assert code == 1
    frontend = json.loads(out)["checks"][0]
    assert (frontend["state"], frontend["detail"]) == (
        "failing",
        f"{server.base_url}/: no answer within 2 s",
    )
    assert server.closed_early.wait(10)


@pytest.mark.parametrize(
    "bad",
    [12345, "12345", "ftp://spendsense.example.com", ["https://app.example.com"], "not a url"],
    ids=["number", "digits", "ftp", "list", "words"],
)
def test_a_malformed_frontend_url_is_not_checked_with_the_reason(
    apprunner, cloudwatch, api_server, run, bad
):
    """Issue 14 item 8: a frontend_url that breaks the outputs contract is "not checked" with
    the reason (docs/operations.md), never a failing row, and nothing is requested with it."""
    apprunner.add_response("describe_service", {"Service": service()})
    code, out, err = run("--json", frontend_url=bad, backup_bucket=None)
    assert code == 2, err
    frontend = json.loads(out)["checks"][0]
    assert frontend["name"] == "frontend" and frontend["state"] == "not checked", frontend
    assert frontend["detail"].startswith("not checked: stack output 'frontend_url' in "), frontend
    assert "must be an http(s) URL" in frontend["detail"]
    assert "frontend: stack output 'frontend_url'" in err and len(err.splitlines()) == 1
    assert [p for p in api_server[1].requests if not p.startswith("/health")] == []
