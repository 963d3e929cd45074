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


def test_progress_goes_to_stderr_and_is_quiet_for_json(capsys):
    make_progress()("waiting")
    make_progress(as_json=True)("not shown")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.endswith("] waiting\n")
