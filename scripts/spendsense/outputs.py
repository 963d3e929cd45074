"""Stack outputs (docs/design.md#contract-outputs): the CLI's only source of names, ARNs, URLs.

Precedence: ``--outputs FILE``, then ``$SPENDSENSE_OUTPUTS``, then
``pulumi stack output --json --stack S`` when the Pulumi CLI is on PATH. Files are read with
the bounded reader and the JSON loader of `spendsense.readers`; every value a command takes
is checked against `spendsense.outputs_contract` first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spendsense import outputs_contract
from spendsense.errors import BadInput
from spendsense.readers import DEFAULT_LIMIT, load_json, read_json

OUTPUTS_LIMIT = DEFAULT_LIMIT  # 1 MiB; a real outputs file is ~2 KB

UNKNOWN = "[unknown]"
SECRET = "[secret]"


@dataclass(frozen=True)
class StackOutputs:
    """One stack's outputs and where they came from; every accessor checks the value against
    the outputs contract and turns a missing or malformed one into one exit-2 line."""

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
        return self._checked(name, value)

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        if value is None or value in (UNKNOWN, SECRET):
            return default
        if value == "":
            return value  # "not set": callers treat it as absent
        return self._checked(name, value)

    def require_text(self, name: str) -> str:
        """An output the command needs as text: `require`, then a non-empty printable string;
        exit 2 naming it otherwise (e.g. a number in a hand-edited file)."""
        return self._text(name, self.require(name))

    def get_text(self, name: str, default: str | None = None) -> str | None:
        """An optional output as text (`default` when absent or empty); exit 2 if it is there
        but not a non-empty printable string."""
        value = self.get(name)
        if value is None or value == "":
            return default
        return self._text(name, value)

    def _text(self, name: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip() or not value.isprintable():
            raise BadInput(
                f"stack output '{name}' in {self.source}: must be a non-empty string "
                f"(got {repr(value)[:60]}); pass --outputs with the file `pulumi stack output "
                "--json` writes"
            )
        return value

    def _checked(self, name: str, value: Any) -> Any:
        problem = outputs_contract.problem(name, value)
        if problem:
            raise BadInput(
                f"stack output '{name}' in {self.source}: {problem}; pass --outputs with the "
                f"file `pulumi stack output --json --stack {self.stack}` writes"
            )
        return value


def _outputs_of(data: Any, stack: str, source: str, how: str) -> StackOutputs:
    if not isinstance(data, dict):
        raise BadInput(f"{how}: {source} must hold a JSON object of stack outputs")
    outputs = StackOutputs(stack=stack, values=data, source=source)
    # The other-stack guard: judged on a checked value, so a list or a number cannot slip by.
    environment = data.get("environment")
    if environment is not None and environment != UNKNOWN:
        problem = outputs_contract.problem("environment", environment)
        if problem:
            raise BadInput(f"{how}: stack output 'environment' in {source}: {problem}")
        if environment != stack:
            raise BadInput(
                f"{how}: {source} holds the outputs of stack {environment!r}, not {stack!r}; "
                "pass the file for the stack you named"
            )
    return outputs


def _read_file(path: Path, stack: str, how: str) -> StackOutputs:
    data = read_json(path, how, limit=OUTPUTS_LIMIT, what="a JSON file of stack outputs")
    return _outputs_of(data, stack, str(path), how)


def load_outputs(stack: str, outputs_file: str | None = None) -> StackOutputs:
    if outputs_file is not None:
        return _read_file(Path(outputs_file), stack, "--outputs")
    env_file = os.environ.get("SPENDSENSE_OUTPUTS")
    if env_file:  # an empty variable is the shell's way of unsetting it
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
    source = f"pulumi stack output --stack {stack}"
    data = load_json(result.stdout[: OUTPUTS_LIMIT + 1], f"`{source}`")
    return _outputs_of(data, stack, source, f"`{source}`")
