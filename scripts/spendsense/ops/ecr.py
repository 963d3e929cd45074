"""ECR look-ups for deploy and rollback: does a tag exist, and which image came before.

"Before" is the image the service ran before, as the last successful deploy or rollback
recorded it on the service (spendsense.ops.rollout.PREVIOUS_IMAGE_TAG). Without such a
record, the image pushed to ECR before the running one is offered, marked as never verified
as deployed: it may never have run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from spendsense.clients import describe_aws_error
from spendsense.errors import BadInput

# ECR's rule for an image tag.
TAG_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


@dataclass(frozen=True)
class Image:
    tag: str
    pushed_at: datetime | None
    digest: str


def validate_tag(tag: str, option: str = "--image-tag") -> str:
    if not TAG_PATTERN.fullmatch(tag):
        raise BadInput(
            f"{option}: {tag!r} is not a valid image tag "
            "(letters, digits, _ . -, up to 128 characters, not starting with . or -)"
        )
    return tag


def image_uri(repository_url: str, tag: str) -> str:
    return f"{repository_url}:{tag}"


def tag_of(image: str | None, repository_url: str) -> str | None:
    """The tag of `<repository_url>:<tag>`; None for another repository or a digest."""
    if not image or not image.startswith(repository_url + ":"):
        return None
    return image[len(repository_url) + 1 :]


def list_images(client: Any, repository_name: str) -> list[Image]:
    """Every tagged image, oldest push first (ties broken by tag: the runbook's tags are
    timestamps). Read page by page."""
    images: list[Image] = []
    try:
        paginator = client.get_paginator("describe_images")
        pages = paginator.paginate(repositoryName=repository_name, filter={"tagStatus": "TAGGED"})
        for page in pages:
            for detail in page.get("imageDetails", []):
                for tag in detail.get("imageTags", []) or []:
                    images.append(
                        Image(
                            tag=tag,
                            pushed_at=detail.get("imagePushedAt"),
                            digest=detail["imageDigest"],
                        )
                    )
    except Exception as exc:
        raise _ecr_error(exc, repository_name, "list the images") from None
    images.sort(
        key=lambda image: (image.pushed_at.timestamp() if image.pushed_at else 0.0, image.tag)
    )
    return images


def require_tag(client: Any, repository_name: str, tag: str, option: str = "--image-tag") -> Image:
    """The image with `tag`, or BadInput naming the newest tags that do exist."""
    try:
        response = client.describe_images(
            repositoryName=repository_name, imageIds=[{"imageTag": tag}]
        )
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        if code == "ImageNotFoundException":
            newest = [image.tag for image in list_images(client, repository_name)[-3:]][::-1]
            hint = (
                f"; the newest tags are {', '.join(newest)}"
                if newest
                else "; it has no tagged images"
            )
            raise BadInput(
                f"{option}: tag {tag!r} is not in ECR repository {repository_name}{hint}"
            ) from None
        raise _ecr_error(exc, repository_name, f"look up tag {tag!r}") from None
    detail = response["imageDetails"][0]
    return Image(tag=tag, pushed_at=detail.get("imagePushedAt"), digest=detail["imageDigest"])


def previous_tag(images: list[Image], current_tag: str | None) -> str | None:
    """The tag pushed just before `current_tag` (a different image), or None."""
    tags = [image.tag for image in images]
    if current_tag not in tags:
        return None
    current = next(image for image in images if image.tag == current_tag)
    index = tags.index(current_tag)
    for image in reversed(images[:index]):
        if image.digest != current.digest:
            return image.tag
    return None


@dataclass(frozen=True)
class RollbackTarget:
    tag: str
    # True: the service ran it before (recorded by a deploy); False: only pushed before the
    # running image, never verified as deployed (`unverified_because` says why).
    verified: bool
    unverified_because: str | None = None


def tag_exists(client: Any, repository_name: str, tag: str) -> bool:
    try:
        client.describe_images(repositoryName=repository_name, imageIds=[{"imageTag": tag}])
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        if code == "ImageNotFoundException":
            return False
        raise _ecr_error(exc, repository_name, f"look up tag {tag!r}") from None
    return True


def rollback_target(
    client: Any,
    repository_name: str,
    repository_url: str,
    running_image: str | None,
    recorded_image: str | None,
) -> RollbackTarget:
    """The tag `rollback api` goes back to: the recorded image that ran before if it is still
    in the repository, else the one pushed before the running image (unverified)."""
    running_tag = tag_of(running_image, repository_url)
    if not recorded_image:
        why = "no deploy has recorded the image that ran before it on the service"
    elif recorded_image == running_image:
        why = f"the recorded image that ran before it, {recorded_image}, is the one running"
    else:
        recorded_tag = tag_of(recorded_image, repository_url)
        if recorded_tag is None:
            why = (
                f"the recorded image that ran before it, {recorded_image}, is not in ECR "
                f"repository {repository_name}"
            )
        elif not tag_exists(client, repository_name, recorded_tag):
            why = (
                f"the recorded image that ran before it, tag {recorded_tag!r}, is no longer in "
                f"ECR repository {repository_name}"
            )
        else:
            return RollbackTarget(tag=recorded_tag, verified=True)
    found = previous_tag(list_images(client, repository_name), running_tag)
    if found is None:
        raise BadInput(
            f"cannot tell the image before {running_tag or running_image!r}: {why}, and ECR "
            f"repository {repository_name} has no other image pushed before it; pass --to TAG"
        )
    return RollbackTarget(tag=found, verified=False, unverified_because=why)


def _ecr_error(exc: Exception, repository_name: str, doing: str) -> Exception:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    if code == "RepositoryNotFoundException":
        return BadInput(
            f"ECR repository {repository_name!r} (stack output ecr_repository_name) does not "
            "exist; "
            "check the outputs (`spendsense outputs`) and the region"
        )
    return describe_aws_error(exc, f"{doing} in ECR repository {repository_name}")
