"""Progress of long waits goes to stderr with the elapsed time, never to stdout; quiet in --json."""

from __future__ import annotations

import io

from spendsense.ops.progress import Progress, make_progress


def test_progress_prints_elapsed_time_and_drops_repeats():
    stream = io.StringIO()
    now = [100.0]
    progress = Progress(stream=stream, clock=lambda: now[0])
    progress("UPDATE_SERVICE: IN_PROGRESS")
    now[0] = 112.0
    progress("UPDATE_SERVICE: IN_PROGRESS")
    progress("UPDATE_SERVICE: SUCCEEDED")
    assert (
        stream.getvalue()
        == "[    0s] UPDATE_SERVICE: IN_PROGRESS\n[   12s] UPDATE_SERVICE: SUCCEEDED\n"
    )


def test_a_repeated_message_is_shown_again_after_30_s_with_how_long_it_has_not_changed():
    """Long waits never go quiet: the same status is printed again every ~30 s."""
    stream = io.StringIO()
    now = [0.0]
    progress = Progress(stream=stream, clock=lambda: now[0])
    for second in (0, 10, 20, 29, 31, 45, 62, 70):
        now[0] = float(second)
        progress("UPDATE_SERVICE op on svc: IN_PROGRESS")
    now[0] = 75.0
    progress("UPDATE_SERVICE op on svc: SUCCEEDED")
    assert stream.getvalue().splitlines() == [
        "[    0s] UPDATE_SERVICE op on svc: IN_PROGRESS",
        "[   31s] UPDATE_SERVICE op on svc: IN_PROGRESS (unchanged for 31 s)",
        "[   62s] UPDATE_SERVICE op on svc: IN_PROGRESS (unchanged for 62 s)",
        "[   75s] UPDATE_SERVICE op on svc: SUCCEEDED",
    ]


def test_progress_goes_to_stderr_and_is_quiet_for_json(capsys):
    make_progress()("waiting")
    make_progress(as_json=True)("not shown")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.endswith("] waiting\n")
