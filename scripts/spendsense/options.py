"""Options shared by every command, as decorators (one definition, one help text)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from spendsense.repo import STACKS

F = TypeVar("F", bound=Callable[..., Any])


def stack_option(required: bool = True) -> Callable[[F], F]:
    return click.option(
        "--stack",
        type=click.Choice(STACKS),
        required=required,
        help="The stack to work on.",
    )


def outputs_option(fn: F) -> F:
    return click.option(
        "--outputs",
        "outputs_file",
        type=click.Path(dir_okay=False),
        default=None,
        help="JSON file of stack outputs (default: $SPENDSENSE_OUTPUTS, else `pulumi stack output`).",
    )(fn)


def json_option(fn: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(fn)


def yes_option(fn: F) -> F:
    return click.option(
        "--yes",
        is_flag=True,
        help="Act. Without it the command only prints what it would do.",
    )(fn)
