"""The `spendsense` command: one group whose subcommands are loaded only when used.

Subcommands live in `spendsense.commands.*`; each is registered below by name, so that
`spendsense plan` does not pay for importing boto3 and `spendsense health` does not pay
for importing Pulumi. Every `SpendsenseError` becomes one line on stderr and its exit code.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from spendsense.errors import SpendsenseError

# name -> "module:attribute" of a click command or group
COMMANDS: dict[str, str] = {
    "plan": "spendsense.commands.plan:plan",
    "rules": "spendsense.commands.rules:rules",
    "outputs": "spendsense.commands.outputs:outputs",
    "health": "spendsense.commands.health:health",
    "status": "spendsense.commands.status:status",
    "deploy": "spendsense.commands.deploy:deploy",
    "rollback": "spendsense.cli:rollback",
    "scale": "spendsense.commands.scale:scale",
    "logs": "spendsense.commands.logs:logs",
    "backup": "spendsense.commands.backup:backup",
    "restore": "spendsense.commands.restore:restore",
    "drill": "spendsense.commands.drill:drill",
    "rotate-jwt": "spendsense.commands.rotate_jwt:rotate_jwt",
    "window": "spendsense.commands.window:window",
}
ROLLBACK_COMMANDS: dict[str, str] = {
    "api": "spendsense.commands.deploy:rollback_api",
    "frontend": "spendsense.commands.frontend:rollback_frontend",
}


class LazyGroup(click.Group):
    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.lazy)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                return None  # not built yet
            raise
        command = getattr(module, attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="spendsense-infra")
def cli() -> None:
    """SpendSense operations: the runbook's procedures, driven by the stack outputs.

    Commands that change a live system print what they would do and act only with --yes.
    Exit codes: 0 ok, 1 a check or operation failed, 2 bad input.
    """


@click.group(cls=LazyGroup, lazy=ROLLBACK_COMMANDS)
def rollback() -> None:
    """Roll the API or the frontend back to an earlier version."""


def main(argv: list[str] | None = None) -> int:
    try:
        # Without standalone mode, click returns ctx.exit()'s code instead of exiting.
        rc = cli.main(args=argv, prog_name="spendsense", standalone_mode=False)
    except SpendsenseError as exc:
        click.echo(f"error: {' '.join(str(exc).split())}", err=True)  # always one line
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        return 1
    except click.ClickException as exc:
        # Usage errors (unknown option, bad choice): one line and exit 2.
        message = exc.format_message().replace("\n", " ")
        context = getattr(exc, "ctx", None)
        where = f" (see `{context.command_path} --help`)" if context is not None else ""
        click.echo(f"error: {message}{where}", err=True)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        return 130
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    sys.exit(main())
