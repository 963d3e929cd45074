"""The CLI's error hierarchy: every failure becomes one line and an exit code (contract 5).

Logic modules raise these; `cli.main` prints ``error: <message>`` to stderr and exits with
`exit_code`, never with a traceback.
"""

from __future__ import annotations

import os

DEBUG_ENV = "SPENDSENSE_DEBUG"


def debug_enabled() -> bool:
    """SPENDSENSE_DEBUG=1: let unexpected exceptions through with their traceback."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


class SpendsenseError(Exception):
    """Base class: a one-line message that says what is wrong and how to fix it."""

    exit_code = 1


class BadInput(SpendsenseError):
    """The user's input is wrong (unknown stack, bad flag value, missing output): exit 2."""

    exit_code = 2


class OperationFailed(SpendsenseError):
    """A check failed or an operation on a live system did not succeed: exit 1."""

    exit_code = 1


class Interrupted(SpendsenseError):
    """Ctrl-C while a change was under way: the message says what state it was left in."""

    exit_code = 130


def one_line(exc: BaseException, limit: int | None = 200) -> str:
    """The one "one line from an exception" helper: its message with all whitespace (newlines
    included) collapsed, cut to `limit` characters (None: whole); its type name when it has no
    message; Ctrl-C as "interrupted"."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    text = " ".join(str(exc).split())
    text = text if limit is None else text[:limit]
    return text or type(exc).__name__


def failure_reason(exc: BaseException) -> str:
    """One line for why an operation stopped, for a state statement: our own errors as they
    are, Ctrl-C as "interrupted", anything else as its type and first 200 characters."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, SpendsenseError):
        return str(exc)
    text = one_line(exc) if str(exc).strip() else ""
    return f"unexpected error: {type(exc).__name__}" + (f": {text}" if text else "")
