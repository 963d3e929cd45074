"""Stack outputs a command needs as text: present, a non-empty printable string, or exit 2
naming the output and how to get a good file (`require_text`, `get_text`)."""

from __future__ import annotations

from typing import Any

from spendsense.errors import BadInput


def require_text(outputs: Any, name: str) -> str:
    """A stack output the command needs, as a non-empty string; exit 2 naming it otherwise
    (missing, unknown, secret, or of another type, e.g. a number in a hand-edited file)."""
    value = outputs.require(name)
    return _text(outputs, name, value)


def get_text(outputs: Any, name: str, default: str | None = None) -> str | None:
    """An optional stack output as a string (`default` when absent or empty); exit 2 if it
    is there but not a string."""
    value = outputs.get(name)
    if value is None or value == "":
        return default
    return _text(outputs, name, value)


def _text(outputs: Any, name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or not value.isprintable():
        raise BadInput(
            f"stack output '{name}' in {outputs.source}: must be a non-empty string "
            f"(got {repr(value)[:60]}); pass --outputs with the file `pulumi stack output "
            "--json` writes"
        )
    return value
