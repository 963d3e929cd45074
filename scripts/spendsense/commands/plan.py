"""`spendsense plan`: preview a stack offline and judge it with the policy pack (contract 1)."""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from spendsense.errors import BadInput, OperationFailed, SpendsenseError
from spendsense.options import FilePath, json_option

if TYPE_CHECKING:
    from spendsense.plan.preview import PlanResult
    from spendsense.plan.projects import Project


@click.command()
@click.option(
    "-C",
    "--cwd",
    "cwd",
    default=None,
    metavar="DIR",
    help="The Pulumi project directory, as in the Pulumi CLI: the repository root (default) "
    "or infra/ci_trust (the CI trust project).",
)
@click.option(
    "--stack",
    required=True,
    help="The stack to plan: staging or production; `ci` with -C infra/ci_trust.",
)
@click.option(
    "--config",
    "config_file",
    type=FilePath("a stack file in the Pulumi.<stack>.yaml format"),
    default=None,
    help="A stack file in the Pulumi.<stack>.yaml format to plan instead of the stack's own.",
)
@json_option
@click.option("--markdown", "as_markdown", is_flag=True, help="Print a pull-request comment.")
@click.option(
    "--outputs-file",
    type=FilePath("a file to write the planned outputs to", writable=True),
    default=None,
    help="Also write the planned stack outputs as JSON (for --outputs of other commands).",
)
@click.option(
    "--base",
    "base_ref",
    default=None,
    metavar="REF",
    help="Also plan the git revision REF (its own program, stack file and policy pack, from a "
    "temporary worktree) and report what changes from it to the working tree.",
)
@click.option(
    "--base-plan",
    "base_plan",
    default=None,
    metavar="FILE",
    help="Compare with a saved `spendsense plan --json` of the base instead of a revision.",
)
@click.option("-v", "--verbose", is_flag=True, help="With a base: also list the whole inventory.")
def plan(
    cwd: str | None,
    stack: str,
    config_file: str | None,
    as_json: bool,
    as_markdown: bool,
    outputs_file: str | None,
    base_ref: str | None,
    base_plan: str | None,
    verbose: bool,
) -> None:
    """Preview STACK without the Pulumi CLI or cloud credentials.

    Runs the real program under Pulumi's mock runtime with the stack's settings, starts the
    policy pack (policies/) as the engine does and sends it every resource and the stack,
    with policies/config/<stack>.json. Prints the resources by component, the outputs and
    every violation. Exit 0: no mandatory violation; 1: at least one; 2: bad input.
    With --base REF (or --base-plan FILE), reports the changes against that base, the cost
    delta and new and fixed violations, and fails on a protected resource that would be
    deleted or replaced (docs/plan.md).

    \b
    Examples:
      spendsense plan --stack production
      spendsense plan -C infra/ci_trust --stack ci --json
      spendsense plan --stack production --base origin/main
    """
    from spendsense.plan.projects import project_for

    if as_json and as_markdown:
        raise BadInput("--json and --markdown: choose one output format")
    if base_ref is not None and base_plan is not None:
        raise BadInput("--base and --base-plan: choose one base")
    project = project_for(cwd)
    project.check_stack(stack)
    target = Path(outputs_file) if outputs_file is not None else None
    if target is not None and target.exists() and not target.is_file():
        raise BadInput(
            f"--outputs-file: {outputs_file} exists and is not a regular file; pass the "
            "path of a file to write the planned outputs to"
        )
    base = (base_ref, base_plan, verbose)
    args = (project, stack, config_file, as_json, as_markdown, outputs_file, base)
    short_lived = _whole_process()
    if not short_lived:
        _plan(*args, short_lived=False)
        return
    # The provider SDKs create ~1 M objects at import; the cyclic GC would walk them again
    # and again while they load (~0.3 s), and the interpreter's teardown would free them one
    # by one at exit (~0.15 s) for nothing: once the result is printed, end the process.
    gc.disable()
    try:
        _plan(*args, short_lived=True)
    except SpendsenseError as exc:
        _exit_when_done(exc.exit_code)  # after cli.main has printed the error line
        raise
    _exit_when_done(0)


def _plan(
    project: Project,
    stack: str,
    config_file: str | None,
    as_json: bool,
    as_markdown: bool,
    outputs_file: str | None,
    base: tuple[str | None, str | None, bool],
    *,
    short_lived: bool,
) -> None:
    from spendsense.plan import render, review, review_render
    from spendsense.plan.base import start_base

    base_ref, base_plan, verbose = base
    # The base plan runs as its own process while the head is planned here.
    with start_base(project, stack, base_ref, base_plan) as pending:
        result = _run(project, stack, config_file, short_lived)
        document = review.build(result, pending.result() if pending is not None else None)
    if outputs_file:
        try:
            Path(outputs_file).write_text(render.outputs_json(result) + "\n", encoding="utf-8")
        except OSError as exc:
            raise BadInput(
                f"--outputs-file: cannot write {outputs_file} ({exc.strerror})"
            ) from None
    compared = base_ref is not None or base_plan is not None
    if as_json:
        click.echo(json.dumps(document, indent=2))
    elif as_markdown:
        click.echo(
            review_render.as_markdown(result, document) if compared else render.as_markdown(result)
        )
    elif compared:
        click.echo(review_render.as_text(result, document, verbose=verbose))
    else:
        click.echo(review_render.plain_text(result, document))
    if not result.ok:
        raise OperationFailed(
            f"{stack}: {result.count('mandatory')} mandatory policy violation(s): "
            + ", ".join(sorted({v.policy for v in result.violations if v.level == "mandatory"}))
        )


def _run(project: Project, stack: str, config_file: str | None, short_lived: bool) -> PlanResult:
    from spendsense.plan.preview import run_plan

    return run_plan(stack, config_file, lean_providers=short_lived, project=project)


def _exit_when_done(code: int) -> None:
    """At interpreter exit, end the process with `code` without tearing the interpreter down.

    Runs as the last atexit handler registered, so first: after `cli.main` has printed any
    error line and returned the same code. Only for a process that is `spendsense plan` alone.
    """

    def finish() -> None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)

    atexit.register(finish)


def _whole_process() -> bool:
    """Is `spendsense plan` this process's only job (not a call from tests or other code)?"""
    return Path(sys.argv[0]).name in {"spendsense", "__main__.py"}
