"""Keeping the running image and the rollback target out of reach of ECR's lifecycle policy.

The registry's lifecycle policy (infra/components/registry.py) never expires an image tagged
`keep-*` (nor `api.initialImageTag`). After a successful deploy or rollback, `protect_images`
puts such a tag on the image that now runs and on the one `rollback api` would go back to, and
takes it off the images that are neither any more. Tags are immutable in this repository, so a
protection tag is an extra tag named after the image's digest, added with PutImage and the
image's own manifest; BatchDeleteImage with a tag removes only that tag from an image that
keeps another one (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_BatchDeleteImage.html).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from spendsense.errors import SpendsenseError
from spendsense.ops.ecr import _ecr_error, list_images, tag_of

# The lifecycle rule's pattern is f"{PREFIX}*" (infra.components.registry.PROTECTED_TAG_PREFIX).
PREFIX = "keep-"


def protection_tag(digest: str) -> str:
    """`keep-` and the first 32 hex digits of the image's digest (a valid, 37-character tag)."""
    return PREFIX + digest.split(":", 1)[-1][:32]


def protect_images(
    client: Any,
    repository_name: str,
    repository_url: str,
    images: Iterable[str | None],
    *,
    release_others: bool,
    progress: Callable[[str], None] = lambda message: None,
) -> None:
    """Tag `images` (identifiers `<repository_url>:<tag>`) `keep-<digest>`; with
    `release_others`, take that tag off every other image that has another tag to keep."""
    wanted = {tag for tag in (tag_of(image, repository_url) for image in images) if tag}
    tags_by_digest: dict[str, set[str]] = {}
    for image in list_images(client, repository_name):
        tags_by_digest.setdefault(image.digest, set()).add(image.tag)
    keep = {digest for digest, tags in tags_by_digest.items() if tags & wanted}
    for digest in sorted(keep):
        tag = protection_tag(digest)
        if tag not in tags_by_digest[digest]:
            _add_tag(client, repository_name, digest, tag)
            progress(f"protected {', '.join(sorted(tags_by_digest[digest]))} from expiry ({tag})")
    if not release_others:
        return
    for digest, tags in sorted(tags_by_digest.items()):
        stale = {tag for tag in tags if tag.startswith(PREFIX)}
        if digest in keep or not stale or not tags - stale:
            continue  # protected, never protected, or the tag is all that keeps the image
        _remove_tags(client, repository_name, sorted(stale))
        progress(f"released {', '.join(sorted(tags - stale))} to the lifecycle policy")


def _add_tag(client: Any, repository_name: str, digest: str, tag: str) -> None:
    try:
        found = client.batch_get_image(
            repositoryName=repository_name, imageIds=[{"imageDigest": digest}]
        )["images"]
        if not found:
            raise SpendsenseError(
                f"image {digest} is no longer in ECR repository {repository_name}"
            )
        client.put_image(
            repositoryName=repository_name,
            imageManifest=found[0]["imageManifest"],
            imageManifestMediaType=found[0].get("imageManifestMediaType")
            or "application/vnd.docker.distribution.manifest.v2+json",
            imageTag=tag,
            imageDigest=digest,
        )
    except SpendsenseError:
        raise
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        if code == "ImageAlreadyExistsException":
            return  # tagged meanwhile: what we wanted
        raise _ecr_error(exc, repository_name, f"tag image {digest} {tag}") from None


def _remove_tags(client: Any, repository_name: str, tags: list[str]) -> None:
    try:
        response = client.batch_delete_image(
            repositoryName=repository_name, imageIds=[{"imageTag": tag} for tag in tags]
        )
    except Exception as exc:
        raise _ecr_error(exc, repository_name, f"remove the tags {', '.join(tags)}") from None
    failures = response.get("failures") or []
    if failures:
        reasons = "; ".join(str(f.get("failureReason") or f.get("failureCode")) for f in failures)
        raise SpendsenseError(f"could not remove {', '.join(tags)}: {reasons}")
