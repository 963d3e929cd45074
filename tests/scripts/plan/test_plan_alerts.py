"""Issue 17: `spendsense plan --json` (and its text, with or without --verbose) shows every
alarm, alert rule, budget and alert policy with its severity and route, never a secret."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.scripts.plan.conftest import plan_json

Run = Callable[..., tuple[int, str, str]]
ALERT_TYPES = {
    "aws:cloudwatch/metricAlarm:MetricAlarm": "alarm",
    "aws:cloudwatch/eventRule:EventRule": "event-rule",
    "aws:budgets/budget:Budget": "budget",
    "gcp:monitoring/alertPolicy:AlertPolicy": "alert-policy",
}


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_every_alert_resource_is_listed_with_its_severity_and_route(
    run_cli: Run, stack: str
) -> None:
    _code, out, _ = run_cli("plan", "--stack", stack, "--json")
    document = plan_json(out)
    expected = {r["urn"] for r in document["resources"] if r["type"] in ALERT_TYPES}
    alerts = document["alerts"]
    assert {a["urn"] for a in alerts} == expected and len(alerts) == len(expected) >= 20
    for alert in alerts:
        assert set(alert) == {"name", "type", "severity", "route", "urn"}
        assert alert["severity"] in {"P0", "P1", "P2", "P3"}, alert
        assert alert["route"]["endpoints"], alert
    by_name = {a["name"]: a for a in alerts}
    service = document["outputs"]["api_service_name"]
    availability = by_name[f"{service}-availability"]
    assert availability["severity"] == "P0"
    assert availability["route"]["topics"] == [f"{service}-alerts-p0", f"{service}-alerts"]
    assert by_name[f"{service}-monthly"]["route"]["topics"] == [f"{service}-alerts-p3"]


def test_production_routes_show_the_pager_without_its_url(run_cli: Run) -> None:
    _code, out, _ = run_cli("plan", "--stack", "production", "--json")
    alerts = plan_json(out)["alerts"]
    p0 = [a for a in alerts if a["severity"] == "P0"]
    assert p0 and all(
        a["route"]["endpoints"] == ["email:oncall@spendsense.example.com", "https:[secret]"]
        for a in p0
    )
    p2 = [a for a in alerts if a["severity"] == "P2"]
    assert all(a["route"]["endpoints"] == ["email:oncall@spendsense.example.com"] for a in p2)
    gcp_p1 = [a for a in alerts if a["type"] == "alert-policy" and a["severity"] == "P1"]
    assert gcp_p1 and all("webhook_tokenauth:[secret]" in a["route"]["endpoints"] for a in gcp_p1)
    assert "pager.invalid" not in json.dumps(alerts)


def test_text_shows_the_alerts_by_severity(run_cli: Run, tmp_path: Path) -> None:
    _code, out, _ = run_cli("plan", "--stack", "production")
    assert "Alerts by severity (" in out
    assert (
        "  P0   alarm        spendsense-api-availability  -> "
        "email:oncall@spendsense.example.com, https:[secret]"
    ) in out
    document = tmp_path / "base.json"
    _code, saved, _ = run_cli("plan", "--stack", "production", "--json")
    document.write_text(saved)
    _code, verbose, _ = run_cli(
        "plan", "--stack", "production", "--base-plan", str(document), "--verbose"
    )
    assert "Alerts by severity (" in verbose
    assert "spendsense-api-monthly  -> email:oncall@spendsense.example.com" in verbose


def test_a_project_without_alerts_gets_no_alerts_section() -> None:
    """The CI trust stack creates no alarm: its plan text has no empty "Alerts" heading."""
    from spendsense.plan import alerts

    assert alerts.as_text([]) == []
