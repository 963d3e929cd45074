"""A tiny progress printer for long waits (deployments, exports): one line per step, to stderr.

Progress never goes to stdout, so `--json` output stays parseable; in `--json` mode the
printer is quiet altogether.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

# A message identical to the previous one is shown again after this long, so a long wait
# (an App Runner operation IN_PROGRESS for minutes) never looks like a hung command.
REPEAT_AFTER = 30.0


class Progress:
    """Print ``[  12s] message`` lines to stderr. A message identical to the previous one is
    dropped, unless REPEAT_AFTER seconds have passed since it was last printed: then it is
    printed again with how long it has been unchanged."""

    def __init__(
        self,
        quiet: bool = False,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        repeat_after: float = REPEAT_AFTER,
    ) -> None:
        self.quiet = quiet
        self._stream = stream
        self._clock = clock
        self._repeat_after = repeat_after
        self._start = clock()
        self._last: str | None = None
        self._last_first_seen = 0.0  # when the current message first appeared
        self._last_printed = 0.0

    def __call__(self, message: str) -> None:
        if self.quiet:
            return
        now = self._clock()
        line = message
        if message == self._last:
            if now - self._last_printed < self._repeat_after:
                return
            line = f"{message} (unchanged for {now - self._last_first_seen:.0f} s)"
        else:
            self._last = message
            self._last_first_seen = now
        self._last_printed = now
        stream = self._stream if self._stream is not None else sys.stderr
        print(f"[{now - self._start:5.0f}s] {line}", file=stream, flush=True)


def make_progress(as_json: bool = False) -> Callable[[str], None]:
    """The progress callback a command passes to a long wait: quiet when printing JSON."""
    return Progress(quiet=as_json)


def no_progress(message: str) -> None:
    """A progress callback that prints nothing."""
