"""The running image and the rollback target never expire (issue 12, point 8): a successful
deploy or rollback tags both `keep-<digest>` (which the lifecycle policy never expires) and
takes that tag off the image that is neither any more. ECR is moto's server."""

from __future__ import annotations

from spendsense.ops.ecr_protect import PREFIX, protect_images, protection_tag

from infra.components.registry import PROTECTED_TAG_PREFIX
from tests.scripts.commands.test_deploy import (
    NEW,
    NEW_IMAGE,
    OLD,
    OLD_IMAGE,
    ecr,  # noqa: F401 (fixture)
    expect_describe,
    expect_operation,
    expect_record,
    expect_update,
    push,
    run,  # noqa: F401 (fixture)
)
from tests.scripts.live_api import REPO_NAME, REPO_URL, op

OLDEST = "20261125_010000"


def tags_by_tag(client) -> dict[str, set[str]]:
    """For each ordinary tag, every tag of its image."""
    result: dict[str, set[str]] = {}
    for detail in client.describe_images(repositoryName=REPO_NAME)["imageDetails"]:
        tags = set(detail.get("imageTags", []))
        for tag in tags:
            result[tag] = tags
    return result


def protected(client, tag: str) -> bool:
    return any(t.startswith("keep-") for t in tags_by_tag(client)[tag])


def test_the_prefix_is_the_one_the_lifecycle_policy_never_expires() -> None:
    assert PREFIX == PROTECTED_TAG_PREFIX
    tag = protection_tag("sha256:" + "ab" * 32)
    assert tag == "keep-" + "ab" * 16 and len(tag) <= 128


def test_a_deploy_protects_the_new_image_and_the_one_it_replaced(apprunner, ecr, run):  # noqa: F811
    current = expect_describe(apprunner, image=OLD_IMAGE)
    expect_update(apprunner, current, NEW_IMAGE, op(1))
    expect_operation(apprunner, op(1), "SUCCEEDED")
    expect_record(apprunner, OLD_IMAGE)
    code, out, err = run("deploy", "--image-tag", NEW, "--yes")
    assert code == 0, err
    assert "could not protect" not in out
    assert protected(ecr, NEW) and protected(ecr, OLD)
    assert "protected" in err
    apprunner.assert_no_pending_responses()


def test_the_image_two_deploys_back_is_released_to_the_lifecycle_policy(aws_env, aws_admin):
    client = aws_admin("ecr")
    client.create_repository(repositoryName=REPO_NAME)
    for tag in (OLDEST, OLD, NEW):
        push(client, tag)
    oldest, old, new = (f"{REPO_URL}:{t}" for t in (OLDEST, OLD, NEW))
    protect_images(client, REPO_NAME, REPO_URL, [old, oldest], release_others=True)
    assert protected(client, OLDEST) and protected(client, OLD) and not protected(client, NEW)
    protect_images(client, REPO_NAME, REPO_URL, [new, old], release_others=True)
    assert protected(client, NEW) and protected(client, OLD)
    assert tags_by_tag(client)[OLDEST] == {OLDEST}, "released, with its own tag kept"
    # Protecting again changes nothing and does not fail on the existing tags.
    protect_images(client, REPO_NAME, REPO_URL, [new, old], release_others=True)
    assert protected(client, NEW) and protected(client, OLD)


def test_a_redeploy_of_the_running_image_releases_nothing(aws_env, aws_admin):
    client = aws_admin("ecr")
    client.create_repository(repositoryName=REPO_NAME)
    for tag in (OLD, NEW):
        push(client, tag)
    old, new = f"{REPO_URL}:{OLD}", f"{REPO_URL}:{NEW}"
    protect_images(client, REPO_NAME, REPO_URL, [new, old], release_others=True)
    protect_images(client, REPO_NAME, REPO_URL, [new, new], release_others=False)
    assert protected(client, OLD), "the rollback target keeps its protection"
