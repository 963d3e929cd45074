"""`spendsense deploy` and `spendsense rollback api`: one guarded path for changing the image.

Both check the tag in ECR, refuse a busy service, point App Runner at the image (or redeploy
it), follow the operation through ListOperations, and require a healthy API afterwards.
"""

from __future__ import annotations

import time

import click

from spendsense.changes import PlannedChange
from spendsense.errors import BadInput, SpendsenseError
from spendsense.options import (
    HTTP_TIMEOUT_MAX,
    OPERATION_TIMEOUT_MAX,
    POLL_MAX,
    Seconds,
    outputs_option,
    stack_option,
    yes_option,
)

HEALTH_ATTEMPTS = 3


def _common(fn):
    fn = click.option(
        "--poll-seconds",
        type=Seconds(POLL_MAX, zero_ok=True),
        default=10.0,
        hidden=True,
        help="Seconds between ListOperations polls and health retries.",
    )(fn)
    fn = click.option(
        "--health-timeout",
        type=Seconds(HTTP_TIMEOUT_MAX),
        default=10.0,
        show_default=True,
        help="Seconds each health check may take.",
    )(fn)
    fn = click.option(
        "--timeout",
        type=Seconds(OPERATION_TIMEOUT_MAX),
        default=1200.0,
        show_default=True,
        help="Seconds to wait for the App Runner operation to end.",
    )(fn)
    fn = yes_option(fn)
    fn = outputs_option(fn)
    return stack_option()(fn)


def _guarded_change(
    *,
    stack: str,
    outputs_file: str | None,
    tag: str,
    option: str,
    yes: bool,
    timeout: float,
    health_timeout: float,
    poll_seconds: float,
    verb: str,
    revert_on_failure: bool,
    pick_previous: bool,
) -> None:
    from spendsense.clients import make_client
    from spendsense.ops import apprunner, ecr, rollout
    from spendsense.ops.ecr_protect import protect_images
    from spendsense.ops.health import check_health, health_url
    from spendsense.ops.progress import make_progress
    from spendsense.outputs import load_outputs

    outputs = load_outputs(stack, outputs_file)
    arn = outputs.require_text("api_service_arn")
    repository_url = outputs.require_text("ecr_repository_url")
    repository_name = outputs.require_text("ecr_repository_name")
    url = health_url(outputs.require_text("api_url"), f"stack output 'api_url' in {outputs.source}")

    region = outputs.get("region")  # only if the AWS settings name no region
    ecr_client = make_client("ecr", fallback_region=region)
    client = apprunner.make_apprunner_client(fallback_region=region)
    choice_line = ""
    if pick_previous:
        tag, choice_line = rollout.choose_rollback_target(
            client, ecr_client, arn, repository_name, repository_url
        )
    else:
        ecr.require_tag(ecr_client, repository_name, tag, option)
    service = apprunner.ensure_not_busy(client, arn)
    target = ecr.image_uri(repository_url, tag)
    previous = apprunner.current_image(service)
    name = service.get("ServiceName") or apprunner.service_name_from_arn(arn)
    if verb == "rollback" and previous == target:
        raise BadInput(f"{option}: service {name} already runs {target}; pick another tag")

    steps = [f"Would roll back to {choice_line}"] if choice_line else []
    if previous == target:
        steps.append(f"Would redeploy {target} on App Runner service {name} (stack {stack}),")
    else:
        steps.append(
            f"Would point App Runner service {name} (stack {stack}) from {previous} to {target},"
        )
    steps.append(f"Would follow the App Runner operation for up to {timeout:g} s,")
    steps.append(f"Would then require {url} to be healthy.")
    if revert_on_failure and previous and previous != target:
        steps.append(f"Would roll back to {previous} if the {verb} fails or the API is unhealthy.")
    if not PlannedChange(steps).proceed(yes):
        return
    if choice_line:
        click.echo(f"Rolling back to {choice_line}", err=True)
    progress = make_progress()
    summary = rollout.roll_out(
        client,
        service,
        target,
        api_health=lambda: check_health(url, health_timeout),
        timeout=timeout,
        poll=poll_seconds,
        revert_on_failure=revert_on_failure,
        health_attempts=HEALTH_ATTEMPTS,
        progress=progress,
        sleep=time.sleep,
        verb=verb,
    )
    # The image that runs now and the one it replaced (the rollback target) must outlive ECR's
    # lifecycle policy. A redeploy of the running image does not know the rollback target, so
    # it only adds protection.
    try:
        protect_images(
            ecr_client,
            repository_name,
            repository_url,
            [target, previous],
            release_others=bool(previous and previous != target),
            progress=progress,
        )
    except SpendsenseError as exc:
        summary += (
            f"; could not protect {target} and {previous} from ECR's lifecycle policy "
            f"({' '.join(str(exc).split())}), so it may expire them"
        )
    click.echo(summary)


@click.command("deploy")
@click.option("--image-tag", "image_tag", required=True, help="The ECR image tag to run.")
@_common
def deploy(
    stack: str,
    outputs_file: str | None,
    yes: bool,
    timeout: float,
    health_timeout: float,
    poll_seconds: float,
    image_tag: str,
) -> None:
    """Deploy an image that is already in the stack's ECR repository to the API.

    Checks the tag exists, points App Runner at it (or redeploys it if the service already
    runs it), follows the operation until it ends, then requires GET <api_url>/health to be
    healthy. If the deployment fails or the API is unhealthy, it rolls back to the image that
    ran before and exits 1. Without --yes it only prints what it would do.

    \b
    Example:
      spendsense deploy --stack production --image-tag 20261127_0930 --yes
    """
    from spendsense.ops.ecr import validate_tag

    _guarded_change(
        stack=stack,
        outputs_file=outputs_file,
        tag=validate_tag(image_tag, "--image-tag"),
        option="--image-tag",
        yes=yes,
        timeout=timeout,
        health_timeout=health_timeout,
        poll_seconds=poll_seconds,
        verb="deploy",
        revert_on_failure=True,
        pick_previous=False,
    )


@click.command("api")
@click.option(
    "--to", "to_tag", default=None, help="The tag to go back to (default: the previous image)."
)
@_common
def rollback_api(
    stack: str,
    outputs_file: str | None,
    yes: bool,
    timeout: float,
    health_timeout: float,
    poll_seconds: float,
    to_tag: str | None,
) -> None:
    """Roll the API back to the previous image (or --to TAG), through deploy's guarded path.

    "Previous" is the image the service ran before the current one, as the last successful
    deploy or rollback recorded it on the service (tag spendsense:previous-image). Without
    such a record it offers the image pushed to ECR just before the running one and says that
    it was never verified as deployed. If the rollback itself fails or leaves the API
    unhealthy, it exits 1 and says so; it does not go forward again. Without --yes it only
    prints what it would do.

    \b
    Example:
      spendsense rollback api --stack production            # shows which image and why
      spendsense rollback api --stack production --yes
      spendsense rollback api --stack production --to 20261120_140000 --yes
    """
    from spendsense.ops.ecr import validate_tag

    _guarded_change(
        stack=stack,
        outputs_file=outputs_file,
        tag=validate_tag(to_tag, "--to") if to_tag is not None else "",
        option="--to",
        yes=yes,
        timeout=timeout,
        health_timeout=health_timeout,
        poll_seconds=poll_seconds,
        verb="rollback",
        revert_on_failure=False,
        pick_previous=to_tag is None,
    )
