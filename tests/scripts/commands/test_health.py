"""`spendsense health` and `check_health`: healthy only on 200 + JSON + status/database healthy."""

from __future__ import annotations

import json

import pytest
from spendsense.cli import main
from spendsense.ops.health import check_health, health_url


def test_healthy_answer_is_healthy_with_latency_and_version(api_server):
    url, _ = api_server
    result = check_health(url + "/health", timeout=2)
    assert result.healthy, result
    assert result.status_code == 200
    assert result.api_version == "1.0.0"
    assert result.latency_ms is not None and result.latency_ms >= 0
    assert result.reason is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            {"status": "healthy", "database": "unhealthy", "api_version": "1.0.0"},
            "database is 'unhealthy'",
        ),
        ({"status": "degraded", "database": "healthy"}, "status is 'degraded'"),
        ({"api_version": "1.0.0"}, "status is None, database is None"),
    ],
)
def test_a_field_that_is_not_healthy_is_named(api_server, body, reason):
    url, behaviour = api_server
    behaviour.answer(200, body)
    result = check_health(url + "/health", timeout=2)
    assert not result.healthy
    assert result.reason == f"{reason} (expected 'healthy')"


def test_http_500_is_unhealthy_with_the_code(api_server):
    url, behaviour = api_server
    behaviour.answer(500, {"status": "healthy", "database": "healthy"})
    result = check_health(url + "/health", timeout=2)
    assert (result.healthy, result.reason, result.status_code) == (False, "HTTP 500", 500)


def test_body_that_is_not_json_is_unhealthy(api_server):
    url, behaviour = api_server
    behaviour.answer(200, b"<html>OK</html>")
    result = check_health(url + "/health", timeout=2)
    assert (result.healthy, result.reason) == (False, "body is not a JSON object")


def test_slow_answer_is_a_timeout(api_server):
    url, behaviour = api_server
    behaviour.delay = 1.0
    result = check_health(url + "/health", timeout=0.2)
    assert not result.healthy
    assert result.reason == "no answer within 0.2 s (timeout)"


def test_nobody_listening_is_connection_refused(refused_url):
    result = check_health(refused_url + "/health", timeout=2)
    assert (result.healthy, result.reason) == (False, "connection refused")


def test_health_url_adds_the_path_and_scheme():
    assert health_url("abc.awsapprunner.com") == "https://abc.awsapprunner.com/health"
    assert health_url("https://x.example/") == "https://x.example/health"
    assert health_url("http://x.example/health") == "http://x.example/health"


def test_cli_healthy_exits_0_and_prints_latency_and_version(api_server, capsys):
    url, _ = api_server
    assert main(["health", "--url", url]) == 0
    out = capsys.readouterr().out
    assert f"{url}/health: healthy (" in out
    assert "api_version 1.0.0" in out


def test_cli_reads_api_url_from_the_stack_outputs(api_server, write_outputs, capsys):
    url, behaviour = api_server
    assert main(["health", "--stack", "staging", "--outputs", write_outputs(), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["healthy"] is True
    assert data["url"] == f"{url}/health"
    assert data["api_version"] == "1.0.0"
    assert "/health" in behaviour.requests


def test_cli_unhealthy_exits_1_with_the_reason(api_server, capsys):
    url, behaviour = api_server
    behaviour.answer(503, {"status": "unhealthy"})
    assert main(["health", "--url", url]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{url}/health: unhealthy: HTTP 503 (")
    assert captured.err == f"error: the API at {url}/health is unhealthy: HTTP 503\n"


def test_cli_refused_exits_1(refused_url, capsys):
    assert main(["health", "--url", refused_url, "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert (data["healthy"], data["reason"]) == (False, "connection refused")


def test_cli_without_stack_or_url_is_bad_input(capsys):
    assert main(["health"]) == 2
    assert capsys.readouterr().err == (
        "error: pass --stack S (to read api_url from its outputs) or --url URL\n"
    )


def test_cli_with_both_stack_and_url_is_bad_input(capsys):
    assert main(["health", "--stack", "staging", "--url", "http://x"]) == 2
    assert capsys.readouterr().err == "error: pass either --stack or --url, not both\n"


def test_cli_bad_url_is_bad_input(capsys):
    assert main(["health", "--url", "ftp://x"]) == 2
    assert capsys.readouterr().err == (
        "error: --url: 'ftp://x' is not an http(s) URL (scheme 'ftp'); "
        "pass e.g. https://api.example.com\n"
    )


def test_cli_non_positive_timeout_is_bad_input(capsys):
    assert main(["health", "--url", "http://x", "--timeout", "0"]) == 2
    assert capsys.readouterr().err == (
        "error: Invalid value for '--timeout': '0' is not a number of seconds, more than 0 and "
        "at most 600 (e.g. 10) (see `spendsense health --help`)\n"
    )


def test_cli_outputs_without_api_url_is_bad_input(write_outputs, capsys):
    path = write_outputs(api_url=None)
    assert main(["health", "--stack", "staging", "--outputs", path]) == 2
    assert capsys.readouterr().err == (
        f"error: stack output 'api_url' is missing or unknown in {path}; "
        "run `pulumi up` for stack staging or pass --outputs FILE that has it\n"
    )


def test_help_has_an_example(capsys):
    assert main(["health", "--help"]) == 0
    assert "spendsense health --stack production" in capsys.readouterr().out


def test_a_url_urllib3_cannot_parse_is_unhealthy_not_a_crash():
    """check_health never raises for its URL: urllib3's LocationParseError becomes the reason."""
    url = "http://" + "a" * 70 + ".com/health"
    result = check_health(url, timeout=1)
    assert (result.healthy, result.reason) == (False, "not a valid URL (LocationParseError)")


HEALTHY_BODY = json.dumps({"status": "healthy", "database": "healthy", "api_version": "1.0.0"})


def test_a_trickling_answer_is_a_timeout_and_the_connection_is_dropped(raw_server):
    """--timeout bounds the whole answer, not each read: a server that sends a byte every
    0.2 s for 30 s (each read well within the timeout) is a timeout, and the client hangs up
    rather than reading on to the end."""
    body = (" " * (150 - len(HEALTHY_BODY)) + HEALTHY_BODY).encode()  # 150 bytes: 30 s
    server = raw_server("trickle", body)
    result = check_health(server.url, timeout=1)
    assert (result.healthy, result.reason, result.status_code) == (
        False,
        "no answer within 1 s (timeout)",
        200,
    )
    assert server.closed_early.wait(10), "the client kept the connection open"
    assert not server.sent_all.is_set()


def test_trickling_status_line_and_headers_are_a_timeout_too(raw_server):
    """The deadline covers the whole request, not only the body: headers sent a byte every
    0.2 s (about 25 s in all) end in a timeout, and the client hangs up."""
    server = raw_server("trickle headers", HEALTHY_BODY.encode())
    result = check_health(server.url, timeout=1)
    assert (result.healthy, result.reason, result.status_code) == (
        False,
        "no answer within 1 s (timeout)",
        None,
    )
    assert server.closed_early.wait(10), "the client kept the connection open"
    assert not server.sent_all.is_set()


def test_a_body_that_stalls_is_a_timeout_not_a_connection_failure(raw_server, capsys):
    server = raw_server("stall", HEALTHY_BODY.encode())
    assert main(["health", "--url", server.url, "--timeout", "0.5", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert (data["healthy"], data["reason"]) == (False, "no answer within 0.5 s (timeout)")
    assert server.closed_early.wait(10)


def test_a_body_over_64_kb_is_not_read_whole(raw_server):
    server = raw_server("at once", b"{" + b" " * (100 * 1024) + b"}")
    result = check_health(server.url, timeout=5)
    assert (result.healthy, result.reason) == (
        False,
        "body is larger than 64 KB (not a health answer)",
    )


def test_a_healthy_answer_sent_at_once_by_the_raw_server_is_healthy(raw_server):
    """The raw server itself speaks HTTP well enough: the same body sent at once is healthy."""
    server = raw_server("at once", HEALTHY_BODY.encode())
    result = check_health(server.url, timeout=5)
    assert (result.healthy, result.api_version) == (True, "1.0.0")
    assert server.sent_all.wait(5)
