"""The `spendsense` command: one group whose subcommands are loaded only when used.

Subcommands live in `spendsense.commands.*`; each is registered below by name, so that
`spendsense plan` does not pay for importing boto3 and `spendsense health` does not pay
for importing Pulumi. Every `SpendsenseError` becomes one line on stderr and its exit code;
anything unexpected becomes one line too (exit 1), unless SPENDSENSE_DEBUG=1 asks for the
traceback.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from typing import Any

import click

from spendsense.errors import DEBUG_ENV, SpendsenseError, debug_enabled

REPORT_HINT = (
    f"this is a bug in spendsense; rerun with {DEBUG_ENV}=1 for the traceback and report it "
    "with the command you ran"
)


def silence_google_support_warnings() -> None:
    """Hide google-api-core's Python/dependency version support notices (FutureWarning).

    They are printed on stderr by every command that imports a Google client and say nothing
    about the command; other warnings, including other FutureWarnings, stay visible.
    """
    for module in (
        r"google\.api_core\._python_version_support",
        r"google\.api_core\._python_package_support",
    ):
        warnings.filterwarnings("ignore", category=FutureWarning, module=module)
    # Generated google-cloud packages run the same checks inline when api_core is older.
    warnings.filterwarnings(
        "ignore",
        message=r"(You are using a (non-supported )?Python version|Package google\.)",
        category=FutureWarning,
        module=r"google\.cloud\.",
    )


# name -> "module:attribute" of a click command or group
COMMANDS: dict[str, str] = {
    "plan": "spendsense.commands.plan:plan",
    "rules": "spendsense.commands.rules:rules",
    "outputs": "spendsense.commands.outputs:outputs",
    "health": "spendsense.commands.health:health",
    "status": "spendsense.commands.status:status",
    "deploy": "spendsense.commands.deploy:deploy",
    "bootstrap": "spendsense.commands.bootstrap:bootstrap",
    "rollback": "spendsense.cli:rollback",
    "scale": "spendsense.commands.scale:scale",
    "logs": "spendsense.commands.logs:logs",
    "backup": "spendsense.commands.backup:backup",
    "restore": "spendsense.commands.restore:restore",
    "drill": "spendsense.commands.drill:drill",
    "rotate-jwt": "spendsense.commands.rotate_jwt:rotate_jwt",
    "check-jwt-rotation": "spendsense.commands.check_jwt_rotation:check_jwt_rotation",
    "window": "spendsense.commands.window:window",
    "preflight": "spendsense.commands.preflight:preflight",
    "security": "spendsense.commands.security:security",
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
    """Roll the API or the frontend back to an earlier version.

    \b
    Example:
      spendsense rollback api --stack production          # shows which image and why
      spendsense rollback api --stack production --yes
      spendsense rollback frontend --help
    """


def main(argv: list[str] | None = None) -> int:
    silence_google_support_warnings()
    try:
        # Without standalone mode, click returns ctx.exit()'s code instead of exiting.
        rc = cli.main(args=argv, prog_name="spendsense", standalone_mode=False)
    except SpendsenseError as exc:
        click.echo(f"error: {' '.join(str(exc).split())}", err=True)  # always one line
        return exc.exit_code
    except click.exceptions.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            click.echo("error: interrupted", err=True)
            return 130
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
    except SystemExit as exc:
        # click's own way out after stdout was closed under it (`spendsense logs | head`):
        # it has already made the final flush harmless; stay quiet, keep its exit code.
        return exc.code if isinstance(exc.code, int) else 1
    except Exception as exc:
        # The last resort: no Python traceback for the person at the terminal (contract 5:
        # errors are one line), but a way to get it for the bug report.
        if debug_enabled():
            raise
        detail = " ".join(str(exc).split())
        if len(detail) > 300:
            detail = detail[:300] + "..."
        click.echo(
            f"error: unexpected {type(exc).__name__}"
            + (f": {detail}" if detail else "")
            + f"; {REPORT_HINT}",
            err=True,
        )
        return 1
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    sys.exit(main())
