"""A change to a live system as every command presents it (docs/design.md, the CLI conventions):
without --yes it is printed as its "Would ..." steps and nothing happens; with --yes the command
carries it out.

One type, so the preview reads the same in every command: the steps, then the line saying
nothing changed; with --json, `{"would": [steps], "<done_key>": false}` plus the command's own
details (e.g. the target `rollback frontend` would promote).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import click

NOTHING_CHANGED = "Nothing changed. Run again with --yes to do it."


@dataclass(frozen=True)
class PlannedChange:
    """What a command would do, step by step ("Would ..." lines), and the JSON key that says
    whether it was done (`restored`, `rotated`, ...)."""

    steps: Sequence[str]
    done_key: str = "changed"
    details: Mapping[str, Any] = field(default_factory=dict)

    def preview_text(self) -> str:
        return "\n".join([*self.steps, NOTHING_CHANGED])

    def preview_json(self) -> str:
        return json.dumps(
            {**self.details, "would": list(self.steps), self.done_key: False}, indent=2
        )

    def proceed(
        self, yes: bool, *, as_json: bool = False, echo: Callable[[str], None] = click.echo
    ) -> bool:
        """True with --yes: the caller carries the change out. Otherwise print the preview
        (text or JSON) and return False: the caller returns without touching anything."""
        if yes:
            return True
        echo(self.preview_json() if as_json else self.preview_text())
        return False
