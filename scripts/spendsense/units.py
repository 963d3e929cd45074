"""Quantities as users type them and as the CLI prints them: durations and sizes.

One parser per kind, shared by every command:
- `parse_duration`: `30m`, `26h`, `2d` (`logs --since`, `backup verify --max-age`);
- `size_value`: the number of an App Runner size, `2 vCPU` -> 2.0, `4 GB` -> 4.0 (`scale`);
- `human_size` / `exact_size`: a byte count for a listing (`2.5 MiB`) or a limit (`1 MiB`).

Bad input is BadInput naming the option, the expected form and the limit (one line, exit 2).
"""

from __future__ import annotations

import re
from datetime import timedelta

from spendsense.errors import BadInput

_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z])\s*", re.ASCII)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
# ASCII digits only: `２` is not a size.
SIZE_NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
KIB = 1024
MIB = 1024 * KIB


def parse_duration(
    text: str,
    option: str,
    *,
    maximum: timedelta,
    units: str = "smhdw",
    fractions: bool = False,
    example: str = "30m, 1h, 2d",
) -> timedelta:
    """`30m`, `1h`, `2d` (ASCII digits, one of `units`) as a positive timedelta up to `maximum`.

    Anything else, including `0h`, `-1h`, `99999999999d` (which overflows timedelta) or digits
    from other scripts, is BadInput naming `option`, the expected form and the limit.
    `fractions` allows `1.5h`.
    """
    match = _DURATION.fullmatch(text)
    unit_list = ", ".join(units[:-1]) + f" or {units[-1]}" if len(units) > 1 else units
    number_kind = "positive number" if fractions else "positive whole number"
    if match is None or match.group(2) not in units or ("." in match.group(1) and not fractions):
        raise BadInput(
            f"{option}: {text!r} is not a duration; use a {number_kind} and a unit "
            f"{unit_list} (e.g. {example})"
        )
    number = float(match.group(1)) if fractions else int(match.group(1))
    seconds = number * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise BadInput(
            f"{option}: {text!r} is not a duration; use a {number_kind} and a unit "
            f"{unit_list} (e.g. {example})"
        )
    if seconds > maximum.total_seconds():
        raise BadInput(
            f"{option}: {text!r} is longer than the limit of {describe_duration(maximum)}; "
            f"pass at most {describe_duration(maximum)}"
        )
    return timedelta(seconds=seconds)


def describe_duration(span: timedelta) -> str:
    """A whole span in the largest unit `parse_duration` reads back: `3650d`, `90m`."""
    seconds = int(span.total_seconds())
    for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def size_value(text: str) -> float:
    """The number of a size: `2 vCPU` -> 2.0, `0.5 GB` -> 0.5; NaN when there is none."""
    match = re.match(SIZE_NUMBER, text.strip())
    return float(match.group(1)) if match else float("nan")


def human_size(size: int) -> str:
    """A byte count for a listing, to one decimal: `512 B`, `2.5 MiB`."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def exact_size(size: int) -> str:
    """A byte count as a limit is stated, exactly: `1 MiB`, `64 KiB`, `1000 bytes`."""
    if size % MIB == 0:
        return f"{size // MIB} MiB"
    if size % KIB == 0:
        return f"{size // KIB} KiB"
    return f"{size} bytes"
