"""A tiny progress printer for long waits (deployments, exports): one line per step, to stderr.

Progress never goes to stdout, so `--json` output stays parseable; in `--json` mode the
printer is quiet altogether.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class Progress:
    """Print ``[  12s] message`` lines to stderr; repeated identical messages are dropped."""

    def __init__(
        self,
        quiet: bool = False,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.quiet = quiet
        self._stream = stream
        self._clock = clock
        self._start = clock()
        self._last: str | None = None

    def __call__(self, message: str) -> None:
        if self.quiet or message == self._last:
            return
        self._last = message
        elapsed = self._clock() - self._start
        stream = self._stream if self._stream is not None else sys.stderr
        print(f"[{elapsed:5.0f}s] {message}", file=stream, flush=True)


def make_progress(as_json: bool = False) -> Callable[[str], None]:
    """The progress callback a command passes to a long wait: quiet when printing JSON."""
    return Progress(quiet=as_json)


def no_progress(message: str) -> None:
    """A progress callback that prints nothing."""
