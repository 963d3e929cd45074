"""`spendsense outputs`: the stack outputs the other commands work from, and their source."""

from __future__ import annotations

import json
from typing import Any

import click

from spendsense.options import json_option, outputs_option, stack_option


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "(none)"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


@click.command("outputs")
@stack_option()
@outputs_option
@json_option
def outputs(stack: str, outputs_file: str | None, as_json: bool) -> None:
    """Show the stack outputs (contract 3) every other command reads, and where they came from
    (--outputs FILE, $SPENDSENSE_OUTPUTS or `pulumi stack output`).

    \b
    Example:
      spendsense outputs --stack production
      spendsense outputs --stack staging --outputs outputs-staging.json --json
    """
    from spendsense.outputs import load_outputs

    loaded = load_outputs(stack, outputs_file)
    if as_json:
        data = {"stack": loaded.stack, "source": loaded.source, "outputs": dict(loaded.values)}
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    click.echo(f"stack {loaded.stack}: outputs from {loaded.source}")
    width = max((len(name) for name in loaded.values), default=0)
    for name in sorted(loaded.values):
        click.echo(f"  {name.ljust(width)}  {_text(loaded.values[name])}")
