"""`spendsense scale`: change the API's size in the stack file (the source of truth), and with
--now also on the live service for an emergency."""

from __future__ import annotations

from pathlib import Path

import click

from spendsense.changes import PlannedChange
from spendsense.options import (
    OPERATION_TIMEOUT_MAX,
    POLL_MAX,
    FilePath,
    Seconds,
    outputs_option,
    stack_option,
    yes_option,
)


@click.command("scale")
@stack_option()
@click.option("--cpu", default=None, help="vCPU per instance, e.g. '2 vCPU' (or 2).")
@click.option("--memory", default=None, help="Memory per instance, e.g. '4 GB' (or 4).")
@click.option("--min", "min_instances", type=int, default=None, help="Minimum instances.")
@click.option("--max", "max_instances", type=int, default=None, help="Maximum instances.")
@click.option(
    "--now",
    is_flag=True,
    help="Also apply it to the live service through the App Runner API (needs --yes).",
)
@yes_option
@outputs_option
@click.option(
    "--timeout",
    type=Seconds(OPERATION_TIMEOUT_MAX),
    default=1200.0,
    show_default=True,
    help="Seconds to wait for the App Runner operation (--now).",
)
@click.option(
    "--stack-file", type=FilePath("a Pulumi.<stack>.yaml file", path_type=Path), hidden=True
)
@click.option("--poll-seconds", type=Seconds(POLL_MAX, zero_ok=True), default=10.0, hidden=True)
def scale(
    stack: str,
    cpu: str | None,
    memory: str | None,
    min_instances: int | None,
    max_instances: int | None,
    now: bool,
    yes: bool,
    outputs_file: str | None,
    timeout: float,
    stack_file: Path | None,
    poll_seconds: float,
) -> None:
    """Change the API's CPU, memory or instance range.

    The new values are checked against policies/limits.json (the limits the policy pack
    enforces) and App Runner's CPU/memory pairs. Without --yes it only prints the change it
    would make to Pulumi.<stack>.yaml (and, with --now, to the live service) and changes
    nothing. With --yes it writes the file, keeping its comments and layout; apply it with the
    `pulumi up` it prints. With --now --yes it also sets the requested values on the live
    service at once (for an emergency): run the printed `pulumi up` afterwards so the stack and
    the service agree again.

    \b
    Example:
      spendsense scale --stack production --cpu 2 --memory 4          # shows the change
      spendsense scale --stack production --cpu 2 --memory 4 --yes    # writes the file
      spendsense scale --stack production --min 3 --max 10 --now --yes
    """
    from spendsense.errors import Interrupted, OperationFailed, SpendsenseError
    from spendsense.ops.scale import (
        apply_now,
        load_limits,
        plan_scale,
        unmanaged_revision_note,
        write_stack_file,
    )
    from spendsense.readers import read_yaml
    from spendsense.repo import repo_root
    from spendsense.repo import stack_file as default_stack_file

    path = stack_file or default_stack_file(stack)
    # The shared reader and loader first (regular file, bounded, no alias bomb, no deep
    # nesting, no duplicate key); the round-trip parser then keeps comments and layout.
    read_yaml(path, "--stack-file" if stack_file else "--stack", what="a Pulumi.<stack>.yaml file")
    plan = plan_scale(
        path,
        load_limits(repo_root()),
        cpu=cpu,
        memory=memory,
        min_instances=min_instances,
        max_instances=max_instances,
    )
    if not plan.changes and not now:
        click.echo(f"{path.name} already has these values; nothing to change.")
        return
    # Read the outputs before anything else, so a missing output changes nothing.
    arn = ""
    region: str | None = None
    if now:
        from spendsense.outputs import load_outputs

        outputs = load_outputs(stack, outputs_file)
        arn = outputs.require_text("api_service_arn")
        region = outputs.get("region")  # only if the AWS settings name no region
    from spendsense.ops import apprunner

    name = apprunner.service_name_from_arn(arn) if arn else ""
    live = plan.live_summary()

    def file_lines(verb: str) -> list[str]:
        return [
            f"{verb} spendsense:api.{change.key} {change.old} -> {change.new} in {path.name}"
            for change in plan.changes
        ]

    lines = file_lines("Would change") or [f"{path.name} already has these values."]
    if now:
        lines.append(
            f"Would update App Runner service {name} now: {live}, and follow the operation "
            f"for up to {timeout:g} s."
        )
        if plan.scaling_requested:
            lines.append(
                "Would leave that auto scaling revision outside Pulumi, which does not "
                "manage it: delete it once `pulumi up` has brought the stack in line "
                "(the command prints how)."
            )
    if not PlannedChange(lines).proceed(yes):
        return

    client = None
    service = None
    if now:
        # Refuse a busy service before the file is touched: one answer, nothing half done.
        client = apprunner.make_apprunner_client(fallback_region=region)
        service = apprunner.ensure_not_busy(client, arn)
    if plan.changes:
        write_stack_file(plan)
        for line in file_lines("Changed"):
            click.echo(line)
        click.echo(f"Wrote {path}. Apply it with:")
        click.echo(f"  pulumi up --stack {stack}")
    else:
        click.echo(f"{path.name} already has these values.")
    if client is None:
        return
    from spendsense.ops.progress import make_progress

    try:
        applied = apply_now(
            client,
            arn,
            plan,
            timeout=timeout,
            poll=poll_seconds,
            progress=make_progress(),
            service=service,
        )
    except Interrupted:
        raise
    except SpendsenseError as exc:  # even expired or refused credentials: the file has changed
        state = (
            f"{path.name} has the new values" if plan.changes else f"{path.name} was not changed"
        )
        raise OperationFailed(
            f"{exc} -- {state}, but the live service may not: check `spendsense status`, then "
            f"run this command again with --now --yes or `pulumi up --stack {stack}`"
        ) from None
    click.echo(f"Applied {live} to the live service.")
    click.echo(
        "The live service now differs from what Pulumi last deployed: run `pulumi up --stack "
        f"{stack}` "
        "to bring the stack in line."
    )
    if applied.auto_scaling_arn:
        click.echo(unmanaged_revision_note(applied.auto_scaling_arn, stack))
