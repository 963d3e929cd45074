"""`spendsense logs`: CloudWatch Logs (moto server) read page by page from the /application
group in `log_group_names`; --since, --filter, --limit, --json, and --follow with a cursor."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from spendsense.cli import main
from spendsense.ops import logs as ops_logs

from tests.scripts.live_api import SERVICE_NAME

GROUP = f"/aws/apprunner/{SERVICE_NAME}/0123456789abcdef/application"
NOW_MS = int(time.time() * 1000)
MINUTE = 60_000


@pytest.fixture
def logs(aws_env, aws_admin):
    """put(stream, [(minutes_ago, message), ...]) into the application group."""
    client = aws_admin("logs")
    client.create_log_group(logGroupName=GROUP)
    streams: set[str] = set()

    def put(stream: str, events: list[tuple[float, str]]) -> None:
        if stream not in streams:
            client.create_log_stream(logGroupName=GROUP, logStreamName=stream)
            streams.add(stream)
        client.put_log_events(
            logGroupName=GROUP,
            logStreamName=stream,
            logEvents=[
                {"timestamp": NOW_MS - int(ago * MINUTE), "message": message}
                for ago, message in events
            ],
        )

    put("instance/a", [(180, "INFO old start"), (50, "INFO request ok"), (40, "ERROR db timeout")])
    put("instance/b", [(30, "INFO request ok"), (10, "ERROR payment failed")])
    return put


@pytest.fixture
def run(write_outputs, capsys):
    def run(*args: str, **overrides):
        code = main(["logs", "--stack", "staging", "--outputs", write_outputs(**overrides), *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def messages(out: str) -> list[str]:
    return [line.split(" ", 2)[2] for line in out.splitlines()]


def test_last_hour_by_default_oldest_first(logs, run):
    code, out, err = run()
    assert (code, err) == (0, "")
    assert messages(out) == [
        "INFO request ok",
        "ERROR db timeout",
        "INFO request ok",
        "ERROR payment failed",
    ]
    assert out.splitlines()[0].split(" ")[1] == "instance/a"


def test_since_widens_the_window(logs, run):
    _, out, _ = run("--since", "4h")
    assert messages(out)[0] == "INFO old start"
    assert len(messages(out)) == 5


def test_filter_pattern_like_the_runbooks_error_search(logs, run):
    _, out, _ = run("--filter", "ERROR", "--since", "2d")
    assert messages(out) == ["ERROR db timeout", "ERROR payment failed"]


def test_limit_keeps_the_newest_events(logs, run):
    _, out, _ = run("--limit", "2")
    assert messages(out) == ["INFO request ok", "ERROR payment failed"]


def test_json_is_one_stable_object_per_line(logs, run):
    _, out, _ = run("--json", "--filter", "payment")
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 1
    assert set(lines[0]) == {"time", "timestamp", "stream", "message", "event_id"}
    assert lines[0]["message"] == "ERROR payment failed"
    assert lines[0]["stream"] == "instance/b"
    assert lines[0]["time"].endswith("Z")


def test_events_are_fetched_page_by_page_as_they_are_consumed(logs, aws_admin):
    """Reading 3 events with pages of 2 makes 2 requests, not one per event or the whole group."""
    client = aws_admin("logs")
    calls: list[dict] = []
    client.meta.events.register(
        "provide-client-params.logs.FilterLogEvents", lambda params, **_: calls.append(params)
    )
    try:
        events = ops_logs.iter_events(client, GROUP, start_ms=NOW_MS - 240 * MINUTE, page_size=2)
        first = [next(events) for _ in range(3)]
    finally:
        client.meta.events.unregister("provide-client-params.logs.FilterLogEvents")
    assert [event.message for event in first] == [
        "INFO old start",
        "INFO request ok",
        "ERROR db timeout",
    ]
    assert len(calls) == 2
    assert all(call["limit"] == 2 for call in calls)


def test_follow_prints_only_new_events_with_a_cursor(logs, aws_admin):
    client = aws_admin("logs")
    cursor = ops_logs.Cursor(NOW_MS - 60 * MINUTE)
    seen = [
        event.message
        for event in cursor.new(ops_logs.iter_events(client, GROUP, start_ms=cursor.start_ms))
    ]
    assert len(seen) == 4
    emitted: list[str] = []
    batches = iter([[(5, "INFO new one")], [], [(1, "ERROR new two")]])

    def sleep(_: float) -> None:  # new events arrive while the follower waits
        batch = next(batches)
        if batch:
            logs("instance/c", batch)

    ops_logs.follow(
        client, GROUP, cursor=cursor, emit=lambda e: emitted.append(e.message), polls=3, sleep=sleep
    )
    assert emitted == ["INFO new one", "ERROR new two"]


def test_follow_prints_an_event_ingested_late_from_another_stream_exactly_once(logs, aws_admin):
    """App Runner writes a stream per instance, ingested with lag: an event stamped before the
    newest one printed, but put later, is still printed, and only once however many polls
    see it again."""
    client = aws_admin("logs")
    cursor = ops_logs.Cursor(NOW_MS - 60 * MINUTE)
    list(cursor.new(ops_logs.iter_events(client, GROUP, start_ms=cursor.start_ms)))
    emitted: list[str] = []
    batches = iter(
        [
            ("instance/c", [(0.5, "INFO newest so far")]),
            ("instance/d", [(0.75, "INFO late from another instance")]),  # stamped earlier
            None,
            None,
        ]
    )

    def sleep(_: float) -> None:
        batch = next(batches)
        if batch:
            logs(*batch)

    ops_logs.follow(
        client, GROUP, cursor=cursor, emit=lambda e: emitted.append(e.message), polls=4, sleep=sleep
    )
    assert emitted == ["INFO newest so far", "INFO late from another instance"]


def test_the_follow_cursor_forgets_ids_older_than_its_lag_window():
    """Memory stays bounded: ids of events no poll reaches back to are dropped."""
    cursor = ops_logs.Cursor(0, lag_ms=1000)
    events = [ops_logs.LogEvent(t, "s", f"m{t}", str(t)) for t in range(0, 10_000, 100)]
    assert len(list(cursor.new(events))) == 100
    assert cursor.poll_start() == 9900 - 1000
    assert sorted(cursor.seen.values()) == list(range(8900, 10_000, 100))


@pytest.mark.parametrize("since", ["1x", "0h", "h", "-1h"])
def test_bad_since_is_bad_input(logs, run, since):
    code, out, err = run("--since", since)
    assert (code, out) == (2, "")
    assert err == (
        f"error: --since: {since!r} is not a duration; use a positive whole number and a unit "
        "s, m, h, d "
        "or w (e.g. 30m, 1h, 2d)\n"
    )


def test_no_application_group_in_the_outputs_is_bad_input(aws_env, write_outputs, capsys):
    groups = [f"/aws/apprunner/{SERVICE_NAME}/x/service"]
    path = write_outputs(log_group_names=groups)
    assert main(["logs", "--stack", "staging", "--outputs", path]) == 2
    assert capsys.readouterr().err == (
        f"error: stack output 'log_group_names' in {path} has no group ending in /application "
        f"(got {groups!r}); run `pulumi up` or pass the right --outputs\n"
    )


def test_a_group_that_does_not_exist_is_bad_input(aws_env, run):
    code, _, err = run()
    assert (code, err) == (
        2,
        f"error: log group {GROUP} does not exist (stack output log_group_names); "
        "check the stack outputs and the region\n",
    )


def test_zero_limit_is_bad_input(run):
    code, _, err = run("--limit", "0")
    assert code == 2
    assert err == (
        "error: Invalid value for '--limit': 0 is not in the range 1<=x<=100000. "
        "(see `spendsense logs --help`)\n"
    )


def test_parse_since_units():
    assert ops_logs.parse_since("30m") == timedelta(minutes=30)
    assert ops_logs.parse_since("2d") == timedelta(days=2)


def test_help_has_an_example(capsys):
    assert main(["logs", "--help"]) == 0
    assert "spendsense logs --stack production --since 1h --filter ERROR" in capsys.readouterr().out


def test_ctrl_c_ends_follow_quietly_with_exit_0(logs, run, monkeypatch):
    """Ctrl-C is how --follow is meant to stop: not an error."""

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ops_logs, "follow", interrupted)
    code, out, err = run("--follow")
    assert code == 0
    assert len(out.splitlines()) == 4  # the last hour was printed first
    assert "error" not in err
