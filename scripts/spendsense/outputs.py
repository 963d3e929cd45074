"""Stack outputs (docs/design.md#contract-outputs): the CLI's only source of names, ARNs, URLs.

Precedence: ``--outputs FILE``, then ``$SPENDSENSE_OUTPUTS``, then
``pulumi stack output --json --stack S`` when the Pulumi CLI is on PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spendsense.errors import BadInput

UNKNOWN = "[unknown]"
SECRET = "[secret]"


@dataclass(frozen=True)
class StackOutputs:
    stack: str
    values: Mapping[str, Any]
    source: str

    def require(self, name: str) -> Any:
        """An output the command cannot work without; a clear exit-2 error if it is missing."""
        value = self.values.get(name)
        if value is None or value == "" or value == UNKNOWN:
            raise BadInput(
                f"stack output '{name}' is missing or unknown in {self.source}; "
                f"run `pulumi up` for stack {self.stack} or pass --outputs FILE that has it"
            )
        if value == SECRET:
            raise BadInput(
                f"stack output '{name}' is a secret in {self.source}; "
                "read the outputs with `pulumi stack output --json --show-secrets`"
            )
        return value

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name, default)
        return default if value in (UNKNOWN, SECRET) else value


def _read_file(path: Path, stack: str, how: str) -> StackOutputs:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{how}: {path} does not exist; pass a JSON file of stack outputs") from None
    except (OSError, ValueError) as exc:
        raise BadInput(
            f"{how}: {path} is not a readable JSON object of stack outputs ({exc})"
        ) from None
    if not isinstance(data, dict):
        raise BadInput(f"{how}: {path} must hold a JSON object of stack outputs")
    environment = data.get("environment")
    if isinstance(environment, str) and environment not in (stack, UNKNOWN):
        raise BadInput(
            f"{how}: {path} holds the outputs of stack {environment!r}, not {stack!r}; "
            "pass the file for the stack you named"
        )
    return StackOutputs(stack=stack, values=data, source=str(path))


def load_outputs(stack: str, outputs_file: str | None = None) -> StackOutputs:
    if outputs_file:
        return _read_file(Path(outputs_file), stack, "--outputs")
    env_file = os.environ.get("SPENDSENSE_OUTPUTS")
    if env_file:
        return _read_file(Path(env_file), stack, "SPENDSENSE_OUTPUTS")
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise BadInput(
            "no stack outputs: the Pulumi CLI is not installed; pass --outputs FILE or set "
            "SPENDSENSE_OUTPUTS (e.g. from `spendsense plan --outputs-file`)"
        )
    try:
        result = subprocess.run(
            [pulumi, "stack", "output", "--json", "--stack", stack],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BadInput(f"`pulumi stack output --stack {stack}` did not answer in 120 s") from None
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise BadInput(f"`pulumi stack output --stack {stack}` failed: {reason}")
    try:
        data = json.loads(result.stdout)
    except ValueError:
        raise BadInput(f"`pulumi stack output --stack {stack}` did not print JSON") from None
    return StackOutputs(stack=stack, values=data, source=f"pulumi stack output --stack {stack}")
