"""`spendsense status`'s `usage` row: today's Firestore reads, writes, deletes and stored bytes
against the caps of the `firestore_usage_caps` output, read from Cloud Monitoring's
timeSeries.list (a local server answering in the shape of Google's discovery document)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from spendsense.cli import main
from spendsense.ops import firestore_usage
from spendsense.ops.status import FAILING, NOT_CHECKED, OK

from infra.components import firestore_quota
from tests.scripts.monitoring_peer import MonitoringPeer, serve

READS, WRITES, DELETES = (
    firestore_usage.OPERATION_METRICS[k] for k in ("reads", "writes", "deletes")
)
GIB = 2**30
CAPS = {
    "reads": 1000,
    "writes": 500,
    "deletes": 100,
    "storage_bytes": 10 * GIB,
    "warning_fraction": 0.8,
    "time_zone": "America/Los_Angeles",
}
# 15:00 UTC on 3 December is 07:00 in Los Angeles (UTC-8): the day began at 08:00 UTC.
NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
MIDNIGHT = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def minutes(start: datetime, count: int, value: int) -> list[tuple[datetime, int]]:
    """`count` per-minute DELTA points of `value`, the first ending a minute after `start`."""
    return [(start + timedelta(minutes=i + 1), value) for i in range(count)]


@pytest.fixture
def peer(monkeypatch: pytest.MonkeyPatch) -> Iterator[MonitoringPeer]:
    peer = MonitoringPeer()
    with serve(peer) as url:
        monkeypatch.setenv("SPENDSENSE_MONITORING_API", url)
        yield peer
    assert peer.violations == []


def check(caps: Any = CAPS, now: datetime = NOW) -> Any:
    return firestore_usage.usage_check(
        caps, lambda: "spendsense-staging", lambda: "(default)", now=now, timeout=5
    )


def test_today_counts_from_midnight_in_the_caps_time_zone(peer: MonitoringPeer) -> None:
    # Yesterday evening in Los Angeles (before 08:00 UTC) is not today.
    peer.add(READS, minutes(MIDNIGHT - timedelta(hours=2), 120, 50), type="QUERY")
    peer.add(READS, minutes(MIDNIGHT, 60, 3), type="QUERY")
    peer.add(READS, minutes(MIDNIGHT, 20, 5), type="LOOKUP")
    peer.add(WRITES, minutes(MIDNIGHT, 10, 4), op="CREATE")
    peer.add(
        firestore_usage.STORAGE_METRIC,
        [(NOW - timedelta(hours=3), 2 * GIB), (NOW - timedelta(hours=1), 3 * GIB)],
        kind="GAUGE",
    )
    row = check()
    assert row.state == OK
    assert row.data["reads"] == {"used": 280, "cap": 1000, "percent": 28.0}
    assert row.data["writes"] == {"used": 40, "cap": 500, "percent": 8.0}
    assert row.data["deletes"] == {"used": 0, "cap": 100, "percent": 0.0}
    assert row.data["storage"] == {"used": 3 * GIB, "cap": 10 * GIB, "percent": 30.0}
    assert row.data["day_start"] == "2026-12-03T08:00:00Z"
    assert row.detail == (
        "since 2026-12-03 00:00 America/Los_Angeles: reads 280/1,000 (28%), writes 40/500 (8%), "
        "deletes 0/100 (0%), storage 3.00 GiB/10.00 GiB (30%)"
    )
    first = peer.requests[0]
    assert first["interval.startTime"] == ["2026-12-03T08:00:00Z"]
    assert first["interval.endTime"] == ["2026-12-03T15:00:00Z"]
    assert first["aggregation.perSeriesAligner"] == ["ALIGN_SUM"]
    assert first["aggregation.crossSeriesReducer"] == ["REDUCE_SUM"]
    assert 'resource.label.database_id = "(default)"' in first["filter"][0]


def test_a_utc_day_starts_at_midnight_utc(peer: MonitoringPeer) -> None:
    peer.add(DELETES, minutes(NOW - timedelta(hours=16), 60, 1))  # 23:00-24:00 UTC yesterday
    peer.add(DELETES, minutes(NOW - timedelta(hours=15), 30, 1))  # today from 00:00 UTC
    row = check(dict(CAPS, time_zone="UTC"))
    assert row.data["deletes"]["used"] == 30
    assert row.data["day_start"] == "2026-12-03T00:00:00Z"


def test_past_the_warning_fraction_the_row_fails_and_says_which(peer: MonitoringPeer) -> None:
    peer.add(READS, minutes(MIDNIGHT, 100, 9))  # 900 of 1000: over 80%
    peer.add(DELETES, minutes(MIDNIGHT, 120, 1))  # 120 of 100: over the cap
    row = check()
    assert row.state == FAILING
    assert row.detail.endswith(" - reads over 80% of the cap; deletes over the cap")
    assert "storage no data/10.00 GiB" in row.detail


def test_every_page_of_the_answer_is_read(peer: MonitoringPeer) -> None:
    # Without a reducer the peer sends one series a page: storage of two series is summed.
    peer.add(firestore_usage.STORAGE_METRIC, [(NOW, GIB)], kind="GAUGE", database="(default)")
    peer.add(firestore_usage.STORAGE_METRIC, [(NOW, 2 * GIB)], kind="GAUGE", database="(default)")
    row = check()
    assert row.data["storage"]["used"] == 3 * GIB
    storage_calls = [q for q in peer.requests if "storage" in q["filter"][0]]
    assert [q.get("pageToken") for q in storage_calls] == [None, ["1"]]


def test_a_refused_call_is_a_not_checked_line_naming_the_permission(
    peer: MonitoringPeer,
) -> None:
    peer.refuse(403, "PERMISSION_DENIED", "Permission monitoring.timeSeries.list denied")
    from spendsense.errors import BadInput

    with pytest.raises(BadInput) as caught:
        check()
    assert str(caught.value) == (
        "Cloud Monitoring timeSeries.list on project spendsense-staging refused "
        "(PERMISSION_DENIED: Permission monitoring.timeSeries.list denied); the identity needs "
        "monitoring.timeSeries.list on the project (the CI checks account: its custom role "
        "spendsenseChecksMetricsReader)"
    )


@pytest.mark.parametrize(
    ("caps", "got"),
    [
        ([1, 2], "(got list)"),
        (dict(CAPS, reads=0), "(got reads=0)"),
        (dict(CAPS, writes="500"), "(got writes='500')"),
        (dict(CAPS, warning_fraction=80), "(got warning_fraction=80)"),
        (dict(CAPS, time_zone="Pacific"), "(got time_zone='Pacific')"),
    ],
)
def test_a_malformed_caps_output_names_the_output(caps: Any, got: str) -> None:
    from spendsense.errors import BadInput

    with pytest.raises(BadInput) as caught:
        check(caps)
    message = str(caught.value)
    assert message.startswith("stack output 'firestore_usage_caps' must be an object with ")
    assert message.endswith(got)


def test_without_the_caps_output_the_row_is_not_checked_but_not_an_error() -> None:
    row = check(None)
    assert row.state == NOT_CHECKED
    assert not row.bad_input
    assert "'firestore_usage_caps' is missing" in row.detail


def test_the_cli_and_the_alert_policies_read_the_same_metrics() -> None:
    assert firestore_usage.OPERATION_METRICS == firestore_quota.OPERATION_METRICS
    assert firestore_usage.STORAGE_METRIC == firestore_quota.STORAGE_METRIC
    assert firestore_usage.RESOURCE_TYPE == firestore_quota.RESOURCE_TYPE


# -- through `spendsense status` ---------------------------------------------------------------
@pytest.fixture
def status(write_outputs, gcs_bucket, apprunner, aws_env, capsys):
    def run(*extra: str, **overrides: Any) -> tuple[int, str, str]:
        overrides.setdefault("backup_bucket", gcs_bucket.name)
        path = write_outputs(**overrides)
        code = main(["status", "--stack", "staging", "--outputs", path, "--timeout", "2", *extra])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def usage_row(out: str) -> dict[str, Any]:
    return next(c for c in json.loads(out)["checks"] if c["name"] == "usage")


def test_status_shows_todays_usage_against_the_caps(peer: MonitoringPeer, status) -> None:
    now = datetime.now(UTC)
    peer.add(WRITES, [(now - timedelta(seconds=1), 7)])
    _, out, _ = status("--json", firestore_usage_caps=CAPS)
    row = usage_row(out)
    assert row["state"] == "ok", row
    assert row["writes"] == {"used": 7, "cap": 500, "percent": 1.4}
    assert row["time_zone"] == "America/Los_Angeles"
    _code, out, err = status(firestore_usage_caps=CAPS)
    (line,) = [line for line in out.splitlines() if line.startswith("  usage ")]
    assert " ok " in line and "writes 7/500 (1%)" in line
    assert "Traceback" not in err


def test_status_turns_a_refusal_into_one_not_checked_line(peer: MonitoringPeer, status) -> None:
    peer.refuse(403, "PERMISSION_DENIED", "The caller does not have permission")
    code, out, err = status(firestore_usage_caps=CAPS)
    (line,) = [line for line in out.splitlines() if line.startswith("  usage ")]
    assert line.split(None, 2)[1] == "--"
    assert "not checked: Cloud Monitoring timeSeries.list on project spendsense-staging " in line
    assert "monitoring.timeSeries.list on the project" in line
    assert "roles/monitoring.viewer" not in line
    assert "Traceback" not in out + err
    assert code in (1, 2)


def test_status_with_no_monitoring_answer_fails_the_row(status, monkeypatch) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("SPENDSENSE_MONITORING_API", f"http://127.0.0.1:{port}")
    code, out, _err = status("--json", firestore_usage_caps=CAPS)
    row = usage_row(out)
    assert row["state"] == "failing"
    assert row["detail"].startswith(
        "Cloud Monitoring timeSeries.list on project spendsense-staging: no answer ("
    )
    assert code == 1


def test_in_the_first_minute_of_the_day_nothing_is_asked_and_nothing_counted(
    peer: MonitoringPeer,
) -> None:
    peer.add(READS, minutes(MIDNIGHT - timedelta(hours=1), 60, 5))  # all of it yesterday
    row = check(now=MIDNIGHT + timedelta(seconds=20))
    assert row.data["reads"]["used"] == 0
    assert [q for q in peer.requests if "ops_count" in q["filter"][0]] == []
