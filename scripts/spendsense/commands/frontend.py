"""`spendsense rollback frontend`: promote the previous production deployment on Vercel."""

from __future__ import annotations

import json

import click

from spendsense.changes import PlannedChange
from spendsense.ops.vercel import VercelClient, check_to, plan_rollback, vercel_token
from spendsense.options import json_option, outputs_option, stack_option, yes_option
from spendsense.outputs import load_outputs


@click.command("frontend")
@stack_option()
@outputs_option
@click.option(
    "--to",
    "to",
    default=None,
    metavar="DEPLOYMENT",
    help="Promote this deployment (id dpl_... or URL) instead of the previous one.",
)
@yes_option
@json_option
def rollback_frontend(
    stack: str, outputs_file: str | None, to: str | None, yes: bool, as_json: bool
) -> None:
    """Point production at the previous READY production deployment (`vercel promote`).

    Needs VERCEL_TOKEN. Without --yes it only says which deployment it would promote. The
    previous deployment is the newest READY one created before the one serving the frontend
    URL; if Vercel cannot say which one serves, it exits 1: name the deployment with --to.

    \b
    Examples:
      spendsense rollback frontend --stack production --yes
      spendsense rollback frontend --stack production --to dpl_AbC123 --yes
    """
    to = check_to(to)
    token = vercel_token()
    outputs = load_outputs(stack, outputs_file)
    project_id = outputs.require_text("vercel_project_id")
    team_id = outputs.get_text("vercel_team_id")
    client = VercelClient(token)
    plan = plan_rollback(client, project_id, team_id, outputs.get_text("frontend_url"), to)
    current = plan.current.describe() if plan.current else "unknown"
    change = PlannedChange(
        [f"Would promote {plan.target.describe()} to production (now serving: {current})"],
        done_key="promoted",
        details=plan.to_json(),
    )
    if not change.proceed(yes, as_json=as_json):
        return
    status = client.promote(project_id, plan.target.uid, team_id)
    if as_json:
        click.echo(
            json.dumps({**plan.to_json(), "promoted": True, "http_status": status}, indent=2)
        )
        return
    click.echo(f"Promoted {plan.target.describe()} (was {current}).")
    if status == 202:
        click.echo("Vercel accepted the promotion and finishes it in the background.")
