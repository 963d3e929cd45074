"""`spendsense preflight`: will this stack deploy? Everything `pulumi up` needs but
cannot create."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from spendsense.errors import BadInput
from spendsense.options import FilePath, json_option, stack_option


def load_settings(stack: str, stack_file: Path | None) -> Any:
    """The stack's settings from its stack file, parsed as the program parses them."""
    from infra.settings import SettingsError, parse_settings
    from infra.stack_config import StackFileError, load_stack_config
    from infra.stack_config import stack_file as default_stack_file

    try:
        config = load_stack_config(stack_file or default_stack_file(stack))
    except StackFileError as exc:
        raise BadInput(str(exc)) from None
    environment = config.values.get("spendsense:environment")
    if environment != stack:
        raise BadInput(
            f"{config.path.name}: spendsense:environment is {environment!r} but --stack is "
            f"{stack!r}; use --stack {environment} with this file, or the file of {stack}"
        )
    try:
        return parse_settings(config.values)
    except SettingsError as exc:
        raise BadInput(f"{config.path.name}: {exc}") from None


@click.command("preflight")
@stack_option()
@json_option
@click.option(
    "--state",
    "state_file",
    type=FilePath(),
    default=None,
    help="The stack's state from `pulumi stack export --file FILE` (default: read it from the "
    "state backend): tells which existing objects this stack already manages.",
)
@click.option("--stack-file", type=click.Path(dir_okay=False, path_type=Path), hidden=True)
def preflight(stack: str, as_json: bool, state_file: str | None, stack_file: Path | None) -> None:
    """Check, read-only, everything the deployment needs that the program cannot create:
    the AWS account and region, App Runner, the API image in ECR, the Google APIs, billing
    and Firebase of each project, the test project and its Firestore service agent, objects
    that exist and must be imported first (with the `pulumi import` command), the Vercel
    team and project, and the state backend. One line per check with the command or console
    step that fixes it. Without --state, the stack's state is read from the backend (Pulumi
    Cloud, s3://, gs://, file://) to tell what it already manages. Before the first
    deployment's bootstrap (no App Runner service yet), a missing registry or image is
    "expected-before-bootstrap", not a failure.
    Exit 0 when every check passes, 1 when one fails, 2 on bad input.

    \b
    Example:
      spendsense preflight --stack staging
      pulumi stack export --stack production --file state.json
      spendsense preflight --stack production --state state.json --json
    """
    from spendsense.ops.preflight import Report, load_state, run_checks
    from spendsense.ops.preflight_aws import check_aws
    from spendsense.ops.preflight_backend import check_backend
    from spendsense.ops.preflight_google import check_google
    from spendsense.ops.preflight_vercel import check_vercel

    settings = load_settings(stack, stack_file)
    state = load_state(Path(state_file), stack) if state_file else None
    report = Report(stack=stack, state=f"{state_file} (--state)" if state_file else "not read")
    # The backend first: without --state, the stack's state is read from it.
    found = check_backend(stack, settings.aws_region, read_state=state is None)
    if state is None:
        state, report.state = found.state, found.where

    def aws() -> list[Any]:
        checks, report.bootstrap = check_aws(
            settings.aws_region,
            settings.api.service_name,
            settings.registry.repository_name,
            settings.api.initial_image_tag,
            state,
        )
        return checks

    def google() -> list[Any]:
        return check_google(
            settings.gcp_project,
            settings.backup.test_project,
            settings.firestore.database,
            stack,
            state,
        )

    def vercel() -> list[Any]:
        frontend = settings.frontend
        return check_vercel(
            frontend.vercel_project_id, frontend.vercel_team_id, frontend.target, stack, state
        )

    def backend() -> list[Any]:
        return [found.check]

    report.checks = run_checks([backend, aws, google, vercel])
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo(report.text())
    raise click.exceptions.Exit(0 if report.passed else 1)
