"""Roll the API's image out, and back: the deploy and rollback procedure on App Runner.

`roll_out` points the service at an image through `spendsense.ops.apprunner`, follows the
operation, gates on the API's health and goes back to the image that ran before if either
fails. The service carries a tag naming the image that ran before the current one
(`PREVIOUS_IMAGE_TAG`), written by every successful deploy and rollback and read by
`rollback api`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from spendsense.errors import Interrupted, OperationFailed, SpendsenseError
from spendsense.ops.apprunner import (
    OperationEnded,
    call,
    current_image,
    describe_service,
    follow_or_explain,
    start_deployment,
    update_image,
)
from spendsense.ops.health import HealthResult


def gate_health(
    check: Callable[[], HealthResult],
    *,
    attempts: int,
    delay: float,
    progress: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
) -> HealthResult:
    """Check the API up to `attempts` times, `delay` seconds apart; the first healthy or last
    result."""
    result = check()
    for attempt in range(2, attempts + 1):
        if result.healthy:
            break
        progress(f"health check: {result.summary()}; trying again ({attempt}/{attempts})")
        sleep(delay)
        result = check()
    progress(f"health check: {result.summary()}")
    return result


# The tag on the App Runner service that names the image that ran before the current one: written
# by every successful deploy and rollback, read by `rollback api`. (ECR's push order is only a
# guess: the image pushed before the running one may never have run.)
PREVIOUS_IMAGE_TAG = "spendsense:previous-image"
TAG_VALUE_MAX = 256


def recorded_previous_image(client: Any, arn: str) -> str | None:
    """The image identifier the last successful deploy or rollback replaced, or None."""
    response = call(
        client,
        "list_tags_for_resource",
        "read the App Runner service's tags",
        ResourceArn=arn,
    )
    for tag in response.get("Tags", []) or []:
        if tag.get("Key") == PREVIOUS_IMAGE_TAG and tag.get("Value"):
            return str(tag["Value"])
    return None


def record_previous_image(client: Any, arn: str, image: str) -> str | None:
    """Tag the service with the image it ran before; None, or why it could not be recorded
    (a deploy that succeeded does not fail because of this)."""
    if len(image) > TAG_VALUE_MAX:
        return f"the image identifier is longer than the {TAG_VALUE_MAX} characters a tag holds"
    try:
        call(
            client,
            "tag_resource",
            "record the previous image on the App Runner service",
            ResourceArn=arn,
            Tags=[{"Key": PREVIOUS_IMAGE_TAG, "Value": image}],
        )
    except SpendsenseError as exc:
        return " ".join(str(exc).split())
    return None


def choose_rollback_target(
    client: Any, ecr_client: Any, arn: str, repository_name: str, repository_url: str
) -> tuple[str, str]:
    """`rollback api` without --to: (the tag to roll back to, the line saying why).

    The image recorded on the service by the deploy that replaced it (PREVIOUS_IMAGE_TAG),
    else, unverified, the image pushed to ECR before the running one (`ecr.rollback_target`).
    """
    from spendsense.ops import ecr

    running = current_image(describe_service(client, arn))
    try:
        recorded = recorded_previous_image(client, arn)
        unreadable = ""
    except SpendsenseError as exc:  # e.g. a role without apprunner:ListTagsForResource
        recorded, unreadable = None, " ".join(str(exc).split())
    choice = ecr.rollback_target(ecr_client, repository_name, repository_url, running, recorded)
    running_tag = ecr.tag_of(running, repository_url) or running
    if choice.verified:
        return choice.tag, (
            f"{choice.tag}, the image the service ran before {running_tag} (recorded on the "
            "service by the deploy that replaced it)."
        )
    because = unreadable or choice.unverified_because
    return choice.tag, (
        f"{choice.tag}, only the image pushed to ECR before {running_tag} ({because}); it was "
        "never verified as deployed: pass --to TAG to pick a known good one."
    )


def roll_out(
    client: Any,
    service: dict[str, Any],
    target: str,
    *,
    api_health: Callable[[], HealthResult],
    timeout: float,
    poll: float = 10,
    revert_on_failure: bool = True,
    health_attempts: int = 3,
    progress: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    verb: str = "deploy",
) -> str:
    """Point the service at `target`, follow the operation, then require a healthy API.

    On a failed operation or an unhealthy API, and if `revert_on_failure`, go back to the
    image that ran before through the same path, then raise OperationFailed saying what
    happened. Returns a one-line summary on success.
    """
    say = progress or (lambda message: None)
    arn = str(service["ServiceArn"])
    previous = current_image(service)
    # Phase-specific wording for Ctrl-C and lost operations: "nothing was rolled back" is true
    # while going to `target`, not while going back to `previous`.
    forward = {
        "what": f"pointing the service at {target}",
        "consequence": "nothing was rolled back",
        "after": f"after the {verb} of {target}",
        "state": "nothing was rolled back",
        "advice": "`spendsense rollback api` if it is unhealthy",
    }
    backward = {
        "what": f"rolling the service back to {previous} after the failed {verb} of {target}",
        "consequence": f"the rollback to {previous} is not confirmed",
        "after": f"after rolling back to {previous} (the {verb} of {target} had failed)",
        "state": "its health was not checked",
        "advice": "`spendsense rollback api --to TAG` (an image known to work) if it is unhealthy",
    }

    def apply(image: str, current: dict[str, Any], phase: dict[str, str]) -> None:
        if current_image(current) == image:
            operation_id = start_deployment(client, arn, progress=say)
            say(f"StartDeployment of {image}: operation {operation_id}")
        else:
            operation_id = update_image(client, current, image, progress=say)
            say(f"UpdateService to {image}: operation {operation_id}")
        follow_or_explain(
            client,
            arn,
            operation_id,
            phase["what"],
            consequence=phase["consequence"],
            timeout=timeout,
            poll=poll,
            progress=say,
            sleep=sleep,
            clock=clock,
        )

    def healthy(phase: dict[str, str]) -> HealthResult:
        try:
            return gate_health(
                api_health, attempts=health_attempts, delay=poll, progress=say, sleep=sleep
            )
        except KeyboardInterrupt:
            running = current_image(describe_service(client, arn)) or "an unknown image"
            raise Interrupted(
                f"interrupted during the health check {phase['after']}; the service points at "
                f"{running} and {phase['state']}: check `spendsense health`, and "
                f"{phase['advice']}"
            ) from None

    failure: str
    try:
        apply(target, service, forward)
    except OperationEnded as exc:
        failure = str(exc)
    else:
        result = healthy(forward)
        if result.healthy:
            summary = f"{verb} of {target} succeeded; the API is {result.summary()}"
            if previous and previous != target:
                problem = record_previous_image(client, arn, previous)
                if problem is None:
                    say(f"recorded {previous} on the service as the image that ran before")
                else:
                    summary += (
                        f"; could not record {previous} as the image that ran before ({problem}), "
                        "so `spendsense rollback api` will offer the image pushed before this one"
                    )
            return summary
        failure = f"the API is unhealthy after the {verb}: {result.reason}"

    if not revert_on_failure or previous is None or previous == target:
        why = (
            "nothing to go back to (it already ran this image)"
            if previous == target or previous is None
            else "this command does not undo itself"
        )
        raise OperationFailed(f"{verb} of {target} failed: {failure}; not rolled back: {why}")
    say(f"rolling back to {previous}")
    try:
        now = describe_service(client, arn)
        if current_image(now) == previous:
            say(f"App Runner already points the service back at {previous}")
        else:
            apply(previous, now, backward)
        after = healthy(backward)
    except Interrupted:
        raise
    except SpendsenseError as exc:  # including credentials that expired during the deploy
        raise OperationFailed(
            f"{verb} of {target} failed ({failure}) and the rollback to {previous} failed too "
            f"({exc}); the service needs attention: `spendsense status`"
        ) from None
    if after.healthy:
        raise OperationFailed(
            f"{verb} of {target} failed ({failure}); rolled back to {previous}, "
            f"which is {after.summary()}"
        )
    raise OperationFailed(
        f"{verb} of {target} failed ({failure}); rolled back to {previous}, "
        f"but the API is still unhealthy: {after.reason}"
    )
