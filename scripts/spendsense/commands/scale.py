"""`spendsense scale`: change the API's size in the stack file (the source of truth), and with
--now also on the live service for an emergency."""

from __future__ import annotations

from pathlib import Path

import click

from spendsense.options import outputs_option, stack_option, yes_option


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
    type=click.FloatRange(min=0, min_open=True),
    default=1200.0,
    show_default=True,
    help="Seconds to wait for the App Runner operation (--now).",
)
@click.option("--stack-file", type=click.Path(dir_okay=False, path_type=Path), hidden=True)
@click.option("--poll-seconds", type=click.FloatRange(min=0), default=10.0, hidden=True)
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
    enforces) and App Runner's CPU/memory pairs, then written into Pulumi.<stack>.yaml,
    keeping its comments and layout; apply them with the `pulumi up` it prints. With --now
    --yes the change is also made on the live service at once (for an emergency): run the
    printed `pulumi up` afterwards so the stack and the service agree again.

    \b
    Example:
      spendsense scale --stack production --cpu 2 --memory 4
      spendsense scale --stack production --min 3 --max 10 --now --yes
    """
    from spendsense.ops.scale import apply_now, load_limits, plan_scale, write_stack_file
    from spendsense.repo import REPO_ROOT
    from spendsense.repo import stack_file as default_stack_file

    path = stack_file or default_stack_file(stack)
    plan = plan_scale(
        path,
        load_limits(REPO_ROOT),
        cpu=cpu,
        memory=memory,
        min_instances=min_instances,
        max_instances=max_instances,
    )
    if not plan.changes:
        click.echo(f"{path.name} already has these values; nothing to change.")
        return
    # Read the outputs before writing anything, so a missing output changes nothing.
    outputs = None
    if now:
        from spendsense.outputs import load_outputs

        outputs = load_outputs(stack, outputs_file)
        outputs.require("api_service_arn")
    for change in plan.changes:
        click.echo(f"{path.name}: spendsense:api.{change.key}: {change.old} -> {change.new}")
    write_stack_file(plan)
    click.echo(f"Wrote {path}. Apply it with:")
    click.echo(f"  pulumi up --stack {stack}")
    if outputs is None:
        return
    arn = str(outputs.require("api_service_arn"))
    what = []
    if plan.instance_changed:
        what.append(f"instance size {plan.api['cpu']} / {plan.api['memory']}")
    if plan.scaling_changed:
        what.append(
            f"a new auto scaling revision with {plan.api['minInstances']}..{plan.api['maxInstances']} instances"
        )
    if not yes:
        click.echo(f"Would apply {' and '.join(what)} to the live App Runner service now (--now).")
        click.echo("The live service was not changed. Run again with --now --yes to do it.")
        return
    from spendsense.ops import apprunner
    from spendsense.ops.progress import make_progress

    apply_now(
        apprunner.make_apprunner_client(),
        arn,
        plan,
        timeout=timeout,
        poll=poll_seconds,
        progress=make_progress(),
    )
    click.echo(f"Applied {' and '.join(what)} to the live service.")
    click.echo(
        f"The live service now differs from what Pulumi last deployed: run `pulumi up --stack {stack}` "
        "to bring the stack in line."
    )
