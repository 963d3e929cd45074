"""Issue 14 item 8: every stack output a command uses is checked against the outputs contract
(spendsense.outputs_contract) before use, through the `spendsense` entry point.

A number or a bare word must never become `https://12345`, a list must never slip past the
other-stack guard, and nothing is requested with a value that breaks the contract.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spendsense.cli import main


def _one_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err and "unexpected" not in captured.err
    return lines[0]


@pytest.mark.parametrize(
    "bad",
    [12345, "12345", "api.example.com", ["https://api.example.com"], {"url": "x"}, 1.5, True],
    ids=["number", "digits", "no-scheme", "list", "object", "float", "bool"],
)
def test_health_refuses_an_api_url_of_the_wrong_type_before_any_request(
    write_outputs, api_server, capsys, bad
) -> None:
    path = write_outputs(api_url=bad)
    code = main(["health", "--stack", "staging", "--outputs", path, "--timeout", "2"])
    line = _one_error(capsys)
    assert code == 2, line
    assert line.startswith(f"error: stack output 'api_url' in {path}: must be an http(s) URL")
    assert api_server[1].requests == []


@pytest.mark.parametrize(
    "environment",
    [["staging"], ["production"], {"name": "production"}, 1, True, "", "Production"],
    ids=["list-this", "list-other", "object", "number", "bool", "empty", "capitalised"],
)
def test_the_other_stack_guard_judges_a_checked_environment(
    tmp_path: Path, capsys, environment
) -> None:
    """`environment: ["staging"]` used to pass the guard (only a string was compared)."""
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"environment": environment, "region": "us-east-1"}))
    code = main(["outputs", "--stack", "production", "--outputs", str(path)])
    line = _one_error(capsys)
    assert code == 2, line
    assert "--outputs" in line and "'environment'" in line and str(path) in line, line


@pytest.mark.parametrize(
    ("output", "bad"),
    [
        ("region", "us-east-1; rm -rf /"),
        ("region", 7),
        ("api_service_arn", "arn:aws:apprunner:us-east-1:123456789012:service/../x"),
        ("api_service_arn", ["arn:aws:apprunner:us-east-1:123456789012:service/a/b"]),
    ],
)
def test_scale_now_refuses_outputs_of_the_wrong_shape_before_any_call(
    write_outputs, capsys, monkeypatch, output, bad
) -> None:
    monkeypatch.setenv(
        "AWS_ENDPOINT_URL", "http://127.0.0.1:9"
    )  # nothing listens: a call is exit 1
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    path = write_outputs(**{output: bad})
    code = main(["scale", "--stack", "staging", "--outputs", path, "--min", "3", "--now"])
    line = _one_error(capsys)
    assert code == 2, line
    assert f"stack output '{output}' in {path}: must be" in line


def test_alert_topic_arns_must_map_each_severity_to_a_topic_arn() -> None:
    """Issue 17: `alert_topic_arns` has exactly the keys P0..P3, each an SNS topic ARN."""
    from spendsense.outputs_contract import problem

    arn = "arn:aws:sns:us-east-1:123456789012:spendsense-api-alerts-"
    good = {s: arn + s.lower() for s in ("P0", "P1", "P2", "P3")}
    assert problem("alert_topic_arns", good) is None
    assert problem("alert_topic_arns", json.dumps(good)) is None
    missing = {k: v for k, v in good.items() if k != "P3"}
    assert "keys ['P0', 'P1', 'P2'], not ['P0', 'P1', 'P2', 'P3']" in str(
        problem("alert_topic_arns", missing)
    )
    assert "P1: not of that shape" in str(problem("alert_topic_arns", {**good, "P1": "topic"}))
    assert "a list, not a mapping" in str(problem("alert_topic_arns", list(good.values())))
