"""The maintenance window: Tuesdays 02:00-04:00 America/New_York, across DST changes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from spendsense.cli import main
from spendsense.ops.window import load_window, window_status

from infra.limits import limits


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@pytest.fixture(scope="module")
def window():
    return load_window()


def test_window_is_read_from_runbook_json(window):
    """The window comes from runbook.json: Tuesday 02:00-04:00 America/New_York."""
    assert window.describe() == "Tuesdays 02:00-04:00 America/New_York"


@pytest.mark.parametrize(
    ("now", "inside"),
    [
        # Winter (EST, UTC-5): the window is 07:00-09:00 UTC.
        ("2026-11-10T06:59:59Z", False),
        ("2026-11-10T07:00:00Z", True),
        ("2026-11-10T08:59:59Z", True),
        ("2026-11-10T09:00:00Z", False),
        # Summer (EDT, UTC-4): the window is 06:00-08:00 UTC.
        ("2026-10-27T05:59:59Z", False),
        ("2026-10-27T06:00:00Z", True),
        ("2026-10-27T07:59:59Z", True),
        ("2026-10-27T08:00:00Z", False),
        # 02:00-04:00 on another weekday is outside.
        ("2026-11-11T07:30:00Z", False),
    ],
)
def test_inside_follows_new_york_wall_clock(window, now, inside):
    """Inside means local Tuesday 02:00 <= now < 04:00 in New York, whatever the UTC offset."""
    assert window_status(window, at(now)).inside is inside


def test_next_start_across_the_november_dst_change(window):
    """DST ends Sunday 2026-11-01: the next window after it starts at 07:00 UTC, not 06:00."""
    status = window_status(window, at("2026-10-31T12:00:00Z"))  # Saturday, still EDT
    assert status.inside is False
    assert status.next_start == at("2026-11-03T07:00:00Z")
    assert status.next_end == at("2026-11-03T09:00:00Z")


def test_next_start_across_the_march_dst_change(window):
    """DST starts Sunday 2027-03-14: the next window after it starts at 06:00 UTC, not 07:00."""
    status = window_status(window, at("2027-03-13T12:00:00Z"))  # Saturday, still EST
    assert status.next_start == at("2027-03-16T06:00:00Z")
    # And the week before, still in winter time:
    before = window_status(window, at("2027-03-08T12:00:00Z"))
    assert before.next_start == at("2027-03-09T07:00:00Z")


def test_inside_reports_the_end_and_the_following_week(window):
    """Inside a window, the status names this window's end and next week's start."""
    status = window_status(window, at("2026-11-10T08:00:00Z"))
    assert status.current_end == at("2026-11-10T09:00:00Z")
    assert status.next_start == at("2026-11-17T07:00:00Z")


def test_window_cli_json_is_stable(capsys):
    """`spendsense window --json` prints the documented keys with UTC times."""
    assert main(["window", "--json", "--now", "2026-11-10T07:30:00Z"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == {
        "window": "Tuesdays 02:00-04:00 America/New_York",
        "time_zone": "America/New_York",
        "now": "2026-11-10T07:30:00Z",
        "inside": True,
        "current_end": "2026-11-10T09:00:00Z",
        "next_start": "2026-11-17T07:00:00Z",
        "next_start_local": "2026-11-17T02:00:00-05:00",
        "next_end": "2026-11-17T09:00:00Z",
    }


def test_window_cli_text_names_the_next_start(capsys):
    """Outside the window the text names the next start in New York time and UTC."""
    assert main(["window", "--now", "2027-03-13T12:00:00Z"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("outside the maintenance window")
    assert "Tue 2027-03-16 02:00 EDT (06:00 UTC)" in out


def test_window_cli_rejects_a_time_without_offset(capsys):
    """A --now without a UTC offset is bad input: exit 2 and one line."""
    assert main(["window", "--now", "2026-11-10T07:30:00"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: --now: '2026-11-10T07:30:00' is not an ISO 8601 time with an offset; "
        "e.g. 2026-11-03T07:30:00Z\n"
    )


def test_the_help_names_the_setting_and_types_no_window(capsys):
    """`window --help` points at runbook.json's maintenanceWindow instead of typing the window
    again, so changing runbook.json leaves no stale copy in the help."""
    assert main(["window", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "`maintenanceWindow` in runbook.json" in text
    data = limits().maintenance_window
    for quoted in (data.weekday, data.start, data.end, data.time_zone):
        assert quoted not in text
