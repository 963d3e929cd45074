"""Options shared by every command, as decorators (one definition, one help text), and the
parameter types that keep hostile values (NaN, 1e309, 99999999999d, an empty path) from
reaching code that would crash on them: they become one-line exit-2 errors naming the option.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import click

from spendsense.repo import STACKS

F = TypeVar("F", bound=Callable[..., Any])

# Upper bounds for waits: longer than any real wait, small enough for sockets and time.sleep
# (a timeout of 1e309 is `inf`, which socket.settimeout rejects with an OverflowError).
HTTP_TIMEOUT_MAX = 600.0  # one HTTP request
OPERATION_TIMEOUT_MAX = 86_400.0  # one App Runner operation, export or import: a day
POLL_MAX = 3_600.0


def stack_option(required: bool = True) -> Callable[[F], F]:
    return click.option(
        "--stack",
        type=click.Choice(STACKS),
        required=required,
        help="The stack to work on.",
    )


class FilePath(click.Path):
    """click.Path for a file, refusing an empty value (which would silently mean "no file")
    and a NUL byte (which makes os.stat raise ValueError inside click). What is read from it
    goes through `spendsense.readers` (regular files only, bounded)."""

    def __init__(self, what: str = "the JSON file of stack outputs", **kwargs: Any) -> None:
        super().__init__(dir_okay=False, **kwargs)
        self.what = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and (not value.strip() or "\x00" in value):
            self.fail(
                f"{value!r} is not a file path; pass {self.what} (or leave the option out)",
                param,
                ctx,
            )
        return super().convert(value, param, ctx)


def outputs_option(fn: F) -> F:
    return click.option(
        "--outputs",
        "outputs_file",
        type=FilePath(),
        default=None,
        help=(
            "JSON file of stack outputs (default: $SPENDSENSE_OUTPUTS, else `pulumi stack output`)."
        ),
    )(fn)


def json_option(fn: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(fn)


def yes_option(fn: F) -> F:
    return click.option(
        "--yes",
        is_flag=True,
        help="Act. Without it the command only prints what it would do.",
    )(fn)


class Seconds(click.ParamType):
    """A finite number of seconds in (minimum, maximum] (or [minimum, maximum] if `zero_ok`).

    click.FloatRange lets `nan` and `inf` (`1e309`) through: `nan` compares false with every
    bound, and either one crashes socket timeouts and time.sleep later on.
    """

    name = "seconds"

    def __init__(self, maximum: float, *, minimum: float = 0.0, zero_ok: bool = False) -> None:
        self.maximum = maximum
        self.minimum = minimum
        self.zero_ok = zero_ok

    def _expected(self) -> str:
        low = f"{self.minimum:g} or more" if self.zero_ok else f"more than {self.minimum:g}"
        return f"a number of seconds, {low} and at most {self.maximum:g}"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        else:
            text = str(value).strip()
            try:
                number = float(text) if text.isascii() else math.nan
            except ValueError:
                number = math.nan
        too_low = number < self.minimum or (number == self.minimum and not self.zero_ok)
        if not math.isfinite(number) or too_low or number > self.maximum:
            self.fail(f"{value!r} is not {self._expected()} (e.g. 10)", param, ctx)
        return number
