"""`spendsense security report`: Logs Insights (botocore's Stubber, model-checked: moto runs no
`stats` queries), App Runner's 4xx metric (moto's CloudWatch) and Firestore rules denials (a
local HTTP server answering like Cloud Monitoring's projects.timeSeries.list)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from botocore.stub import ANY
from spendsense.cli import main
from spendsense.ops import security_logs, security_metrics
from spendsense.ops.security_report import window
from spendsense.repo import repo_root

from tests.apprunner_stub import ModelCheckedStubber

SERVICE = "spendsense-api-staging"
SERVICE_ID = "8fe1e10304f84fd2b0df550fe98a71fa"
ARN = f"arn:aws:apprunner:us-east-1:123456789012:service/{SERVICE}/{SERVICE_ID}"
GROUP = f"/aws/apprunner/{SERVICE}/{SERVICE_ID}/application"
TIME_SERIES = "/v3/projects/spendsense-staging/timeSeries"


def cell_rows(*rows: dict[str, str]) -> list[list[dict[str, str]]]:
    return [[{"field": k, "value": v} for k, v in row.items()] for row in rows]


@pytest.fixture
def logs_stub(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A real logs client under a model-checked Stubber; CloudWatch stays moto's."""
    import spendsense.clients as clients

    real = clients.make_client
    logs = real("logs")
    stubber = ModelCheckedStubber(logs)
    monkeypatch.setattr(
        clients,
        "make_client",
        lambda service, *a, **k: logs if service == "logs" else real(service),
    )
    stubber.activate()
    yield stubber
    stubber.deactivate()


def expect_queries(stubber: Any, by_day: list, by_client: list, by_path: list) -> list[str]:
    """StartQuery three times, then GetQueryResults (Running once for the first, then
    Complete); returns the query strings sent, filled in as the calls happen."""
    sent: list[str] = []
    for n in range(3):
        stubber.add_response(
            "start_query",
            {"queryId": f"q{n}"},
            {
                "logGroupName": GROUP,
                "startTime": ANY,
                "endTime": ANY,
                "queryString": ANY,
            },
        )
    stubber.add_response("get_query_results", {"status": "Running", "results": []})
    for n, rows in enumerate((by_day, by_client, by_path)):
        stubber.add_response(
            "get_query_results",
            {"status": "Complete", "results": rows},
            {"queryId": f"q{n}"},
        )
    return sent


@pytest.fixture
def monitoring(http_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("SPENDSENSE_MONITORING_API", http_server.url)
    monkeypatch.setattr(security_metrics, "google_session", requests.Session)
    return http_server


def denials_page(*points: tuple[str, str], token: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "timeSeries": [
            {
                "metric": {"type": security_metrics.DENIALS_METRIC},
                "resource": {"type": "firestore.googleapis.com/Database", "labels": {}},
                "metricKind": "DELTA",
                "valueType": "INT64",
                "points": [
                    {
                        "interval": {"startTime": end, "endTime": end},
                        "value": {"int64Value": value},
                    }
                    for end, value in points
                ],
            }
        ],
        "unit": "1",
    }
    if token:
        body["nextPageToken"] = token
    return body


def put_4xx(aws_admin: Any, *points: tuple[datetime, float]) -> None:
    dims = [{"Name": "ServiceName", "Value": SERVICE}, {"Name": "ServiceID", "Value": SERVICE_ID}]
    aws_admin("cloudwatch").put_metric_data(
        Namespace="AWS/AppRunner",
        MetricData=[
            {"MetricName": "4xxStatusResponses", "Dimensions": dims, "Timestamp": t, "Value": v}
            for t, v in points
        ],
    )


@pytest.fixture
def outputs(write_stack_outputs: Any) -> str:
    return write_stack_outputs(
        "staging",
        api_service_arn=ARN,
        api_service_name=SERVICE,
        log_group_names=[GROUP, GROUP.replace("/application", "/service")],
    )


def run(capsys: Any, outputs: str, *args: str) -> tuple[int, str, str]:
    base = ["security", "report", "--stack", "staging", "--outputs", outputs]
    code = main([*base, "--poll-seconds", "0", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_report_counts_all_three_sources(
    logs_stub: Any, monitoring: Any, aws_admin: Any, outputs: str, capsys: Any
) -> None:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    d1, d2 = (today - timedelta(days=2)), (today - timedelta(days=1))
    expect_queries(
        logs_stub,
        cell_rows(
            {"day": d1.strftime("%Y-%m-%d 00:00:00.000"), "failures": "12"},
            {"day": d2.strftime("%Y-%m-%d 00:00:00.000"), "failures": "30"},
        ),
        cell_rows(
            {"client": "203.0.113.7", "failures": "35"},
            {"client": "198.51.100.2", "failures": "7"},
        ),
        cell_rows({"path": "/api/login", "failures": "40"}, {"path": "/api/me", "failures": "2"}),
    )
    monitoring.on(
        "GET",
        TIME_SERIES,
        (200, denials_page((d2.strftime("%Y-%m-%dT00:00:00Z"), "4"), token="next")),
        (200, denials_page((today.strftime("%Y-%m-%dT00:00:00Z"), "5"))),
    )
    put_4xx(aws_admin, (d1 + timedelta(hours=3), 20), (d2 + timedelta(hours=5), 22))

    code, out, err = run(capsys, outputs, "--json")
    assert (code, err) == (0, ""), err
    report = json.loads(out)
    auth = report["auth_failures"]
    assert auth["total"] == 42
    assert auth["by_day"] == [
        {"day": d1.strftime("%Y-%m-%d"), "count": 12},
        {"day": d2.strftime("%Y-%m-%d"), "count": 30},
    ]
    assert auth["top_clients"][0] == {"client": "203.0.113.7", "count": 35}
    assert auth["top_paths"][0] == {"path": "/api/login", "count": 40}
    assert auth["fields"] == {
        "status": "status",
        "client": "client_ip",
        "path": "path",
        "statuses": [401, 403],
    }
    denials = report["firestore_rules_denials"]
    assert denials["total"] == 9
    # A bucket ending at 00:00 belongs to the day before.
    assert denials["by_day"] == [
        {"day": (d2 - timedelta(days=1)).strftime("%Y-%m-%d"), "count": 4},
        {"day": d2.strftime("%Y-%m-%d"), "count": 5},
    ]
    assert report["api_4xx"]["total"] == 42
    assert [d["count"] for d in report["api_4xx"]["by_day"]] == [20, 22]
    assert report["window"]["since"] == "1w"
    assert report["window"]["start"].endswith("T00:00:00Z")

    # Cloud Monitoring was asked for the alert policy's metric on the stack's database, per day.
    first, second = monitoring.requests
    assert first.query["filter"] == [security_metrics.denials_filter("(default)")]
    assert 'metric.label.result = "DENY"' in first.query["filter"][0]
    assert first.query["aggregation.alignmentPeriod"] == ["86400s"]
    assert first.query["aggregation.perSeriesAligner"] == ["ALIGN_SUM"]
    assert first.query["aggregation.crossSeriesReducer"] == ["REDUCE_SUM"]
    assert second.query["pageToken"] == ["next"]


def test_the_text_report_names_the_fields_and_the_top_lists(
    logs_stub: Any, monitoring: Any, aws_env: str, outputs: str, capsys: Any
) -> None:
    expect_queries(
        logs_stub,
        cell_rows({"day": "2026-12-01 00:00:00.000", "failures": "3"}),
        cell_rows({"client": "203.0.113.7", "failures": "3"}),
        [],
    )
    monitoring.on("GET", TIME_SERIES, (200, {}))
    code, out, err = run(capsys, outputs, "--since", "1d")
    assert (code, err) == (0, "")
    assert "Failed authentications (HTTP 401, 403 in field status): 3" in out
    assert "top client addresses (client_ip):" in out and "203.0.113.7" in out
    assert "top paths (path): none" in out
    assert "Firestore security-rules denials: 0" in out
    assert "API 4xx responses (App Runner): 0" in out


def test_the_queries_use_the_stack_files_fields(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    logs_stub: Any,
    monitoring: Any,
    outputs: str,
    capsys: Any,
) -> None:
    root = repo_root()
    for name in ("Pulumi.yaml", "pyproject.toml"):
        (tmp_path / name).write_bytes((root / name).read_bytes())
    stack = yaml.safe_load((root / "Pulumi.staging.yaml").read_text())
    stack["config"]["spendsense:security"] = {
        "statusField": "http.status_code",
        "clientField": "remote_addr",
        "pathField": "route",
        "failureStatuses": [401],
    }
    (tmp_path / "Pulumi.staging.yaml").write_text(yaml.safe_dump(stack))
    monkeypatch.setenv("SPENDSENSE_REPO", str(tmp_path))
    expect_queries(logs_stub, [], [], [])
    monitoring.on("GET", TIME_SERIES, (200, {}))
    sent: list[str] = []
    logs_stub.client.meta.events.register(
        "provide-client-params.logs.StartQuery",
        lambda params, **_: sent.append(params["queryString"]),
    )
    code, _, err = run(capsys, outputs)
    assert (code, err) == (0, "")
    assert sent == [
        "filter http.status_code in [401] | stats count(*) as failures by bin(1d) as day "
        "| sort day asc",
        "filter http.status_code in [401] | stats count(*) as failures by remote_addr as client "
        "| sort failures desc | limit 10",
        "filter http.status_code in [401] | stats count(*) as failures by route as path "
        "| sort failures desc | limit 10",
    ]


def test_a_bad_field_in_the_stack_file_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, outputs: str, capsys: Any
) -> None:
    root = repo_root()
    for name in ("Pulumi.yaml", "pyproject.toml"):
        (tmp_path / name).write_bytes((root / name).read_bytes())
    stack = yaml.safe_load((root / "Pulumi.staging.yaml").read_text())
    stack["config"]["spendsense:security"] = {"clientField": "client ip"}
    (tmp_path / "Pulumi.staging.yaml").write_text(yaml.safe_dump(stack))
    monkeypatch.setenv("SPENDSENSE_REPO", str(tmp_path))
    code, out, err = run(capsys, outputs)
    assert (code, out) == (2, "")
    assert err == (
        "error: Pulumi.staging.yaml: spendsense:security.clientField: must be a JSON field name "
        'such as status or http.status_code (letters, digits, _ and .) (got "client ip"); fix '
        "the stack file\n"
    )


@pytest.mark.parametrize(
    ("since", "message"),
    [
        ("32d", "error: --since: '32d' is longer than the limit of 31d; pass at most 31d\n"),
        (
            "soon",
            "error: --since: 'soon' is not a duration; use a positive whole number and a "
            "unit s, m, h, d or w (e.g. 1d, 7d, 2w)\n",
        ),
    ],
)
def test_a_bad_since_is_one_line_exit_2(
    outputs: str, capsys: Any, since: str, message: str
) -> None:
    code, out, err = run(capsys, outputs, "--since", since)
    assert (code, out, err) == (2, "", message)


def test_permission_denied_by_cloud_monitoring_names_the_permission(
    logs_stub: Any, monitoring: Any, outputs: str, capsys: Any
) -> None:
    expect_queries(logs_stub, [], [], [])
    monitoring.on(
        "GET",
        TIME_SERIES,
        (403, {"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "denied"}}),
    )
    code, out, err = run(capsys, outputs)
    assert (code, out) == (2, "")
    assert err.startswith("error: read Firestore rules denials of spendsense-staging/(default)")
    assert "monitoring.timeSeries.list" in err and err.count("\n") == 1


def test_expired_google_credentials_are_one_line_with_the_fix(
    logs_stub: Any,
    http_server: Any,
    outputs: str,
    capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A refresh token Google's token endpoint refuses (a local server answering like it):
    google.auth raises RefreshError inside the request; one line, exit 2, how to fix it."""

    expect_queries(logs_stub, [], [], [])
    http_server.on(
        "POST",
        "/token",
        (
            400,
            {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
        ),
    )
    monkeypatch.setenv("SPENDSENSE_MONITORING_API", http_server.url)
    _session_refreshing_at(monkeypatch, f"{http_server.url}/token")
    code, out, err = run(capsys, outputs)
    assert (code, out) == (2, "")
    assert err.startswith("error: read Firestore rules denials of spendsense-staging/(default)")
    assert "RefreshError" in err and "gcloud auth application-default login" in err
    assert err.count("\n") == 1


def _session_refreshing_at(monkeypatch: pytest.MonkeyPatch, token_uri: str) -> None:
    """The report's Google session: user credentials that must refresh at `token_uri` first."""
    from google.auth.transport.requests import AuthorizedSession
    from google.oauth2.credentials import Credentials

    credentials = Credentials(
        token=None,
        refresh_token="refresh",
        token_uri=token_uri,
        client_id="client",
        client_secret="secret",
    )
    monkeypatch.setattr(security_metrics, "google_session", lambda: AuthorizedSession(credentials))


def test_an_unreachable_token_endpoint_is_a_failure_not_a_credentials_fix(
    logs_stub: Any, outputs: str, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """google.auth's TransportError (nobody answers at the token endpoint) is exit 1 saying
    so, not advice to log in again."""

    from tests.scripts.scripted_peers import free_port

    expect_queries(logs_stub, [], [], [])
    _session_refreshing_at(monkeypatch, f"http://127.0.0.1:{free_port()}/token")
    code, out, err = run(capsys, outputs)
    assert (code, out) == (1, "")
    assert "Google's token endpoint did not answer" in err
    assert "gcloud auth" not in err and err.count("\n") == 1


def test_a_failed_query_is_one_line_exit_1(logs_stub: Any, outputs: str, capsys: Any) -> None:
    for n in range(3):
        logs_stub.add_response("start_query", {"queryId": f"q{n}"})
    logs_stub.add_response("get_query_results", {"status": "Failed", "results": []})
    code, out, err = run(capsys, outputs)
    assert (code, out) == (1, "")
    assert err == (
        "error: read the Logs Insights query by_day (q0): the query ended Failed; run the "
        "report again\n"
    )


def test_a_missing_log_group_names_the_output_to_check(
    logs_stub: Any, outputs: str, capsys: Any
) -> None:
    """The same words as `spendsense logs` for the same mistake; no query left running."""
    logs_stub.add_client_error(
        "start_query", "ResourceNotFoundException", "Log group does not exist"
    )
    code, out, err = run(capsys, outputs)
    assert (code, out) == (2, "")
    assert err.startswith("error: log group /aws/apprunner/") and err.count("\n") == 1
    assert "does not exist (stack output log_group_names); check the stack outputs" in err
    logs_stub.assert_no_pending_responses()


def test_the_denials_filter_is_the_alert_policys(recorded_production_policy: str) -> None:
    assert security_metrics.denials_filter("(default)") == recorded_production_policy


@pytest.fixture(scope="module")
def recorded_production_policy() -> str:
    from tests.infra.conftest import record

    rec = record("production")
    policy = rec.one("gcp:monitoring/alertPolicy:AlertPolicy", "rules-denials")
    database = rec.outputs["firestore_database"]
    text = policy.inputs["conditions"][0]["conditionThreshold"]["filter"]
    return str(text).replace(f'"{database}"', '"(default)"')


def test_a_window_of_days_starts_at_midnight() -> None:
    now = datetime(2026, 12, 7, 7, 30, 12, tzinfo=UTC)
    assert window(timedelta(days=7), now) == (datetime(2026, 11, 30, tzinfo=UTC), now)
    assert window(timedelta(hours=6), now)[0] == datetime(2026, 12, 7, 1, 30, 12, tzinfo=UTC)


def test_rows_of_an_unexpected_shape_are_skipped_not_crashed() -> None:
    assert security_logs._rows([[{"field": "a", "value": "1"}], "x", [{"value": "2"}]]) == [
        {"a": "1"},
        {},
        {},
    ]


def test_values_a_client_chose_cannot_drive_the_terminal_or_break_the_fence(
    logs_stub: Any, monitoring: Any, aws_env: str, outputs: str, capsys: Any
) -> None:
    hostile = "/login\x1b[2J`````\n# fake heading"
    expect_queries(
        logs_stub,
        cell_rows({"day": "2026-12-01 00:00:00.000", "failures": "1"}),
        [],
        cell_rows({"path": hostile, "failures": "1"}),
    )
    monitoring.on("GET", TIME_SERIES, (200, {}))
    code, out, _ = run(capsys, outputs, "--since", "1d")
    assert code == 0
    assert "\x1b" not in out and "`" not in out
    assert "/login\\x1b[2J\\x60\\x60\\x60\\x60\\x60\\n# fake heading" in out
