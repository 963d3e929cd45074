"""The runbook's limits (``policies/limits.json``) as policy-config defaults.

`limits.json` sits next to this package and is read relative to this file, so the pack runs
standalone (cwd ``policies/``, a virtualenv with only ``policies/requirements.txt``).
`spendsense scale` reads the same file: keys are added here, never renamed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from pulumi_policy import PolicyConfigSchema

LIMITS_FILE = Path(__file__).resolve().parent.parent / "limits.json"


@cache
def limits() -> dict[str, Any]:
    """The parsed `limits.json` (read once)."""
    data = json.loads(LIMITS_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def limit(section: str, key: str) -> Any:
    return limits()[section][key]


def limit_number(section: str, key: str) -> float:
    """A numeric limit as a float; a clear error naming the key if `limits.json` holds none."""
    value = limit(section, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{LIMITS_FILE}: {section}.{key} is {value!r}; expected a number")
    return float(value)


def _json_type(value: Any) -> str:
    """The JSON-schema type for a default. Every number is "number": a limit given as 30 may
    be set to 0.5 (a percentage) or arrive as 30.0 (protobuf Struct)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def schema(properties: Mapping[str, tuple[Any, str]]) -> PolicyConfigSchema:
    """A config schema from ``{name: (default, description)}``; types follow the defaults."""
    return PolicyConfigSchema(
        properties={
            name: {"type": _json_type(default), "default": default, "description": description}
            for name, (default, description) in properties.items()
        }
    )


def defaults(config_schema: PolicyConfigSchema | None) -> dict[str, Any]:
    """The schema's defaults, the values a policy uses for any key the config leaves out."""
    if config_schema is None:
        return {}
    return {
        name: spec["default"]
        for name, spec in config_schema.properties.items()
        if "default" in spec
    }
