"""`spendsense logs --frontend` against a local server answering like Vercel's REST API
(tests/scripts/vercel_logs_peer.py: documented shapes, a streamed runtime-logs body, the
team-scoped `teamId`, `{"error": {"code", "message"}}` errors). The stack's project and team
come from Pulumi.production.yaml (`spendsense:frontend`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from spendsense.cli import main

from tests.scripts.vercel_logs_peer import (
    PROJECT,
    TEAM,
    TOKEN,
    Connection,
    VercelPeer,
    deployment,
    limit_marker,
    row,
    start,
)

NOW = int(time.time() * 1000)
MIN = 60_000
SERVING = "dpl_Serving0001"
NEWEST = "dpl_Newest00002"
PREVIEW = "dpl_Preview0003"


@pytest.fixture
def vercel(monkeypatch: pytest.MonkeyPatch) -> Iterator[VercelPeer]:
    peer = VercelPeer()
    server = start(peer)
    # After a rollback, production's domain serves an older deployment than the newest.
    peer.deployments = [
        deployment(NEWEST, "spendsense-newest.vercel.app", NOW - 10 * MIN),
        deployment(SERVING, "spendsense-serving.vercel.app", NOW - 90 * MIN),
    ]
    peer.aliases = {"spendsense.vercel.app": SERVING}
    peer.streams = {
        SERVING: [
            Connection(
                [
                    row("r1", NOW - 120 * MIN, "cold start (two hours ago)"),
                    row("r2", NOW - 30 * MIN, "GET summary ok"),
                    row(
                        "r3",
                        NOW - 20 * MIN,
                        "TypeError: x is undefined",
                        level="error",
                        path="/api/budget",
                        status=500,
                    ),
                    row("r4", NOW - 5 * MIN, "GET summary ok"),
                ]
            )
        ],
        NEWEST: [Connection([row("n1", NOW - 1 * MIN, "from the newest deployment")])],
        PREVIEW: [Connection([row("p1", NOW - 2 * MIN, "from the preview")])],
    }
    monkeypatch.setenv("SPENDSENSE_VERCEL_API", peer.url)
    monkeypatch.setenv("VERCEL_API_TOKEN", TOKEN)
    monkeypatch.delenv("VERCEL_TOKEN", raising=False)
    yield peer
    server.shutdown()
    server.server_close()
    assert peer.violations == []


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["logs", "--stack", "production", "--frontend", "--idle-seconds", "1", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def messages(out: str) -> list[str]:
    return [json.loads(line)["message"] for line in out.splitlines()]


def test_production_deployment_is_the_one_the_domain_serves(vercel, capsys):
    """Last hour by default, oldest first, from the deployment production's domain serves
    (not the newest one); every call carries the bearer token and the stack's teamId."""
    code, out, err = run(capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split(" ", 1)[0][:2] for line in lines] == ["20", "20", "20"]
    assert lines[1].split(" ", 1)[1] == (
        "serverless/error GET /api/budget 500 TypeError: x is undefined"
    )
    assert "cold start" not in out and "newest" not in out
    assert f"Runtime logs of {SERVING}" in err and "takes no time range" in err
    assert [r.path for r in vercel.requests] == [
        "/v13/deployments/spendsense.vercel.app",
        f"/v1/projects/{PROJECT}/deployments/{SERVING}/runtime-logs",
    ]
    assert all(r.query["teamId"] == [TEAM] for r in vercel.requests)
    assert all(r.auth == f"Bearer {TOKEN}" for r in vercel.requests)
    assert vercel.log_requests()[0].accept == "application/stream+json"


def test_since_filters_what_the_stream_sends_and_says_how_far_it_reached(vercel, capsys):
    code, out, err = run(capsys, "--since", "3h", "--json")
    assert code == 0, err
    assert messages(out)[0] == "cold start (two hours ago)"
    first = json.loads(out.splitlines()[0])
    assert set(first) >= {"time", "timestamp", "stream", "message", "event_id"}
    assert (first["event_id"], first["level"], first["path"], first["status"]) == (
        "r1",
        "info",
        "/api/summary",
        200,
    )
    _, out, err = run(capsys, "--since", "10m")
    assert [line.split(" ", 5)[5] for line in out.splitlines()] == ["GET summary ok"]
    assert "The earliest line Vercel sent is from" not in err  # it reached back past 10m
    vercel.streams[SERVING] = [Connection([row("late", NOW - 2 * MIN, "only recent")])]
    _, _, err = run(capsys, "--since", "1h")
    assert "The earliest line Vercel sent is from" in err


def test_filter_matches_text_in_the_message_or_the_path(vercel, capsys):
    _, out, _ = run(capsys, "--filter", "TypeError", "--json")
    assert messages(out) == ["TypeError: x is undefined"]
    _, out, _ = run(capsys, "--filter", "/api/budget", "--json")
    assert messages(out) == ["TypeError: x is undefined"]
    _, out, _ = run(capsys, "--filter", "typeerror")
    assert out == ""


def test_limit_keeps_the_newest(vercel, capsys):
    _, out, _ = run(capsys, "--limit", "1", "--json")
    assert [json.loads(line)["event_id"] for line in out.splitlines()] == ["r4"]


def test_without_a_serving_domain_the_newest_ready_production_deployment_with_a_warning(
    vercel, capsys
):
    vercel.aliases = {}
    code, out, err = run(capsys, "--json")
    assert code == 0, err
    assert messages(out) == ["from the newest deployment"]
    assert "warning: Vercel does not say which deployment" in err
    listing = next(r for r in vercel.requests if r.path == "/v6/deployments")
    assert {k: v[0] for k, v in listing.query.items()} == {
        "projectId": PROJECT,
        "target": "production",
        "state": "READY",
        "limit": "1",
        "teamId": TEAM,
    }


def test_a_deployment_url_resolves_through_v13(vercel, capsys):
    vercel.deployments.append(deployment(PREVIEW, "spendsense-git-fix.vercel.app", NOW))
    code, out, err = run(capsys, "--deployment", "https://spendsense-git-fix.vercel.app", "--json")
    assert code == 0, err
    assert messages(out) == ["from the preview"]
    assert vercel.requests[0].path == "/v13/deployments/spendsense-git-fix.vercel.app"
    assert vercel.log_requests()[0].path.endswith(f"/{PREVIEW}/runtime-logs")


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--deployment", "dpl_Unknown999"], {}, "--deployment: Vercel knows no deployment"),
        (["--deployment", "../../v2/user"], {}, "--deployment: '../../v2/user' is not a"),
        (["--since", "yesterday"], {}, "--since: 'yesterday' is not a duration"),
        ([], {"VERCEL_API_TOKEN": ""}, "VERCEL_API_TOKEN is not set"),
        ([], {"VERCEL_API_TOKEN": "wrong-token"}, "Vercel refused VERCEL_API_TOKEN"),
        ([], {"SPENDSENSE_VERCEL_API": "https://api.example.com"}, "SPENDSENSE_VERCEL_API="),
        (
            [],
            {"SPENDSENSE_VERCEL_API": "http://127.0.0.1.example.com:9"},
            "only points the Vercel client at a local test server",
        ),
    ],
)
def test_bad_input_is_one_line_naming_what_to_fix(vercel, capsys, monkeypatch, args, env, needle):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code, out, err = run(capsys, *args)
    assert code == 2
    assert out == ""
    assert needle in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    if "SPENDSENSE_VERCEL_API" in env or "--since" in args or "../../v2/user" in args:
        assert vercel.requests == []


def test_a_deployment_of_another_project_is_refused(vercel, capsys):
    vercel.deployments.append(deployment(PREVIEW, "other.vercel.app", NOW, project="prj_other"))
    code, _, err = run(capsys, "--deployment", PREVIEW)
    assert code == 2 and "is a deployment of Vercel project prj_other" in err
    assert vercel.log_requests() == []


def test_runtime_logs_404_names_the_deployment(vercel, capsys):
    del vercel.streams[SERVING]
    code, _, err = run(capsys)
    assert code == 2
    assert err.splitlines()[-1].startswith(
        f"error: deployment {SERVING}: Vercel has no runtime logs for it in project {PROJECT}"
    )


def test_deployment_without_frontend_is_refused(capsys):
    code = main(["logs", "--stack", "production", "--deployment", "dpl_Abc"])
    assert code == 2 and "use it with --frontend" in capsys.readouterr().err


def test_the_rollback_client_refuses_a_non_local_override_too(monkeypatch):
    from spendsense.errors import BadInput
    from spendsense.ops.vercel import VercelClient

    monkeypatch.setenv("SPENDSENSE_VERCEL_API", "https://collector.example.net")
    with pytest.raises(BadInput, match="local test server"):
        VercelClient("token")


def follow_process(vercel: VercelPeer, *flags: str) -> subprocess.Popen[str]:
    """`spendsense logs --stack production --frontend --follow --json` as a real process
    against the peer, so Ctrl-C (SIGINT) reaches it as it reaches a terminal's."""
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "SPENDSENSE_VERCEL_API": vercel.url, "VERCEL_API_TOKEN": TOKEN}
    command = ["logs", "--stack", "production", "--frontend", "--follow", "--json", *flags]
    return subprocess.Popen(
        [sys.executable, "-m", "spendsense", *command],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_follow_reopens_the_stream_skips_repeats_and_ends_cleanly_on_ctrl_c(vercel):
    """A real process: Vercel ends the first request with its limit marker, the second
    repeats a row and stays open; --follow prints each row once and Ctrl-C exits 0."""
    vercel.streams[SERVING] = [
        Connection([row("a", NOW - 2 * MIN, "first"), limit_marker(NOW)]),
        Connection([row("a", NOW - 2 * MIN, "first"), row("b", NOW, "second")], hold=30),
    ]
    process = follow_process(vercel, "--poll-seconds", "0.1", "--idle-seconds", "20")
    watchdog = threading.Timer(90, process.kill)  # a hang fails the test, never blocks it
    watchdog.start()
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline(), process.stdout.readline()]
        process.send_signal(signal.SIGINT)
        rest, err = process.communicate(timeout=30)
    finally:
        watchdog.cancel()
        process.kill()
    assert [json.loads(line)["message"] for line in lines] == ["first", "second"]
    assert rest == ""
    assert process.returncode == 0, err
    assert "Traceback" not in err and "error:" not in err
    assert len(vercel.log_requests()) == 2


def test_follow_keeps_a_quiet_stream_open_and_loses_no_line(vercel):
    """Vercel's tail is live: a line sent while no request is open is gone. Followed, a
    stream quiet for longer than the one-off idle time stays open, so the line that comes
    after the silence is printed (hanging up after --idle-seconds would lose it)."""
    vercel.streams[SERVING] = [
        Connection([row("a", NOW - MIN, "before")], hold=3, late=[row("b", NOW, "after")]),
        Connection([], hold=30),
    ]
    process = follow_process(vercel, "--idle-seconds", "1")
    lines: list[str] = []

    def collect() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    watchdog = threading.Timer(90, process.kill)
    watchdog.start()
    try:
        deadline = time.monotonic() + 20
        while len(lines) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    finally:
        watchdog.cancel()
        process.kill()
    reader.join(timeout=5)
    assert [json.loads(line)["message"] for line in lines] == ["before", "after"]
    assert process.returncode == 0


def test_without_follow_a_quiet_live_stream_ends_after_the_idle_time(vercel, capsys):
    """Vercel keeps the tail open with nothing new: the command prints what came and stops
    after --idle-seconds instead of waiting for Vercel's 5-minute limit."""
    vercel.streams[SERVING] = [Connection([row("q1", NOW - MIN, "then silence")], hold=20)]
    began = time.monotonic()
    code, out, err = run(capsys, "--json")
    assert code == 0, err
    assert messages(out) == ["then silence"]
    assert time.monotonic() - began < 10


@pytest.mark.parametrize(("lasted", "sleeps"), [(300.0, []), (0.5, [2.0])])
def test_follow_reopens_at_once_after_a_stream_that_lasted(
    monkeypatch: pytest.MonkeyPatch, lasted: float, sleeps: list[float]
) -> None:
    """The first reopen counts the caller's first read: after a 300 s stream it reconnects at
    once (a pause would lose the lines of the live tail); after one that ended at once it
    waits `poll` seconds, so a refusing endpoint is not hammered."""
    from spendsense.ops import vercel_logs as vl

    monkeypatch.setattr(vl, "read", lambda *args, **kwargs: None)
    slept: list[float] = []
    vl.follow(
        None,  # type: ignore[arg-type]
        "dpl_x",
        start_ms=0,
        text=None,
        emit=print,
        tally=vl.Tally(),
        seen=vl.Seen(),
        idle=1.0,
        poll=2.0,
        polls=1,
        sleep=slept.append,
        clock=lambda: 1000.0 + lasted,
        started=1000.0,
    )
    assert slept == sleeps
