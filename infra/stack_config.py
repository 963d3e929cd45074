"""Reading a `Pulumi.<stack>.yaml` file the way the Pulumi CLI hands it to the program.

Used by `spendsense plan` and the tests to run the real program under the mock runtime.
A `secure:` value cannot be decrypted offline (and must not need to be): it is replaced by a
placeholder and its key is reported as secret, so the program and the plan mark it `[secret]`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infra.paths import REPO_ROOT

STACKS = ("staging", "production")
SECRET_PLACEHOLDER = "[secret]"


class StackFileError(Exception):
    """A stack file that cannot be read; the message is one line that says how to fix it."""


@dataclass(frozen=True)
class StackConfig:
    path: Path
    values: dict[str, Any]
    secret_keys: frozenset[str] = field(default_factory=frozenset)

    def as_pulumi_config(self) -> dict[str, str]:
        """Config as the engine passes it: structured values as JSON strings."""
        return {
            key: value if isinstance(value, str) else json.dumps(value)
            for key, value in self.values.items()
        }


def stack_file(stack: str) -> Path:
    if stack not in STACKS:
        raise StackFileError(
            f"--stack: unknown stack {stack!r}; expected one of {', '.join(STACKS)}"
        )
    return REPO_ROOT / f"Pulumi.{stack}.yaml"


def _strip_secure(value: Any, key: str, secrets: set[str]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            secrets.add(key)
            return SECRET_PLACEHOLDER
        return {k: _strip_secure(v, key, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_secure(v, key, secrets) for v in value]
    return value


def load_stack_config(path: Path) -> StackConfig:
    """Load a stack file; raise StackFileError with one line on anything unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StackFileError(
            f"{path}: no such file; pass an existing Pulumi.<stack>.yaml"
        ) from None
    except OSError as exc:
        raise StackFileError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise StackFileError(f"{path}: not valid YAML{where}; fix the syntax") from None
    if not isinstance(document, dict) or not isinstance(document.get("config"), dict):
        raise StackFileError(f"{path}: expected a top-level 'config:' mapping of stack settings")
    secrets: set[str] = set()
    values = {
        str(key): _strip_secure(value, str(key), secrets)
        for key, value in document["config"].items()
    }
    return StackConfig(path=path, values=values, secret_keys=frozenset(secrets))
