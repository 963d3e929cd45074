"""Run the real program under Pulumi's mock runtime, with a stack file's settings (or
changed ones)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from spendsense.plan.recorder import Recording, run_program

from infra.stack_config import load_stack_config, stack_file


def stack_values(stack: str) -> dict[str, Any]:
    """The stack file's config, decoded (structured values as dicts)."""
    return copy.deepcopy(load_stack_config(stack_file(stack)).values)


def with_changes(stack: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """A stack's config with some keys changed.

    `changes` maps a full key (`spendsense:api`) to a new value, or a dotted key
    (`spendsense:api.cpu`) to a new field value; the value `DELETE` removes the key.
    """
    values = stack_values(stack)
    for key, value in changes.items():
        top, _, field = key.partition(".")
        if not field:
            if value is DELETE:
                values.pop(top, None)
            else:
                values[top] = value
            continue
        target = values.setdefault(top, {})
        parts = field.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        if value is DELETE:
            target.pop(parts[-1], None)
        else:
            target[parts[-1]] = value
    return values


DELETE = object()


def record(
    stack: str, changes: Mapping[str, Any] | None = None, *, preview: bool = False
) -> Recording:
    """Run the program for `stack` (with `changes`) and return what it registered."""
    import json

    from infra.program import main

    values = with_changes(stack, changes or {})
    config = {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    return run_program(main, config, stack=stack, preview=preview)


_CACHE: dict[str, Recording] = {}


@pytest.fixture(scope="session")
def recorded() -> Callable[[str], Recording]:
    """The recording of an unchanged stack file, made once per session and shared."""

    def get(stack: str) -> Recording:
        if stack not in _CACHE:
            _CACHE[stack] = record(stack)
        return _CACHE[stack]

    return get


@pytest.fixture(params=["staging", "production"])
def each_stack(request: pytest.FixtureRequest, recorded: Callable[[str], Recording]) -> Recording:
    return recorded(request.param)
