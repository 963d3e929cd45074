"""`spendsense bootstrap`: the first deployment of a stack, registry first (ops/bootstrap.py).

Complete when the stack's ECR repository holds the image `api.initialImageTag` (or its App
Runner service exists already); then the ordinary `pulumi up` creates everything else.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess

import click

from spendsense.changes import PlannedChange
from spendsense.errors import BadInput, OperationFailed, SpendsenseError
from spendsense.options import FilePath, stack_option, yes_option


@click.command("bootstrap")
@stack_option()
@click.option(
    "--targets",
    "targets_file",
    type=FilePath(),
    default=None,
    help="Write the URNs a targeted `pulumi up` must create (one a line; empty: none) to this "
    "file instead of running pulumi (CI runs it with pulumi/actions' `target`).",
)
@yes_option
def bootstrap(stack: str, targets_file: str | None, yes: bool) -> None:
    """Create a new stack's image registry before its API service (first deployment).

    App Runner needs the image `api.initialImageTag` to exist before the service is created.
    If the ECR repository does not exist yet, this runs `pulumi up` targeted at the
    repository and what it needs (with the policy pack). Bootstrap is complete when the
    repository holds that image (push it: README, "Images"), or when the service exists;
    then run the full `pulumi up`. Safe to run on every deploy: a complete stack is left
    alone. Without --yes it only prints what it would do, and exits 1 if the repository exists
    without the image. With --targets FILE it writes the targets instead (CI).

    \b
    Example:
      spendsense bootstrap --stack staging          # says what is missing
      spendsense bootstrap --stack staging --yes    # creates the registry
      spendsense bootstrap --stack staging --targets targets.txt   # for pulumi/actions
    """
    from infra.settings import parse_settings
    from spendsense.clients import make_client
    from spendsense.ops import apprunner
    from spendsense.ops.bootstrap import (
        RegistryState,
        pulumi_up_command,
        registry_state,
        target_closure,
    )
    from spendsense.plan import load_stack_config, record_program
    from spendsense.plan.projects import MAIN

    config = load_stack_config(MAIN, stack, None)
    settings = parse_settings(config.values)
    repository = settings.registry.repository_name
    tag = settings.api.initial_image_tag
    service_name = settings.api.service_name
    ecr = make_client("ecr", fallback_region=settings.aws_region)
    runner = apprunner.make_apprunner_client(fallback_region=settings.aws_region)

    def state_now() -> RegistryState:
        return registry_state(ecr, runner, repository, tag, service_name)

    state = state_now()
    needed = state.needs_registry
    if targets_file is not None:
        urns = target_closure(record_program(MAIN, stack, config).resources) if needed else []
        _write(targets_file, "".join(f"{urn}\n" for urn in urns))
        click.echo(
            f"ECR repository {repository} is missing: wrote the {len(urns)} URNs to create "
            f"first to {targets_file}"
            if needed
            else f"Nothing to create first (stack {stack}): {targets_file} is empty."
        )
        return
    if needed:
        targets = target_closure(record_program(MAIN, stack, config).resources)
        commands = [["pulumi", "stack", "select", stack, "--create"]]
        commands.append(pulumi_up_command(stack, targets))
        change = PlannedChange(
            [
                f"Would create ECR repository {repository} (stack {stack}) with:",
                *("  " + shlex.join(command) for command in commands),
                f"Would then require the image {repository}:{tag} in it.",
            ]
        )
        if not change.proceed(yes):
            return
        _run(commands)
        state = state_now()
        if not state.repository_exists:
            raise OperationFailed(
                f"the targeted pulumi up ended but ECR repository {repository} does not exist; "
                "check the pulumi output above"
            )
    if state.service_exists:
        click.echo(
            f"Bootstrap complete: stack {stack} already has App Runner service {service_name}."
        )
        return
    if not state.image_exists:
        raise SpendsenseError(
            f"bootstrap incomplete: ECR repository {repository} holds no image tagged {tag!r}; "
            f'push the API image as {repository}:{tag} (README, "Images"), then run '
            f"`spendsense bootstrap --stack {stack}` again"
        )
    click.echo(
        f"Bootstrap complete: ECR repository {repository} holds {repository}:{tag}; "
        f"`pulumi up --stack {stack}` can create the API service."
    )


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise BadInput(f"--targets: cannot write {path}: {exc.strerror}") from None


def _run(commands: list[list[str]]) -> None:
    if shutil.which("pulumi") is None:
        raise BadInput(
            "the Pulumi CLI is not on PATH; install it (https://www.pulumi.com/docs/install/) "
            "and log in to the stack's backend, then run again"
        )
    for command in commands:
        click.echo("+ " + shlex.join(command[:6]) + (" ..." if len(command) > 6 else ""), err=True)
        code = subprocess.run(command, check=False).returncode
        if code != 0:
            raise OperationFailed(f"`{shlex.join(command[:4])}` failed (exit {code}); see above")
