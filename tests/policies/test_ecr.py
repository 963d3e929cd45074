"""ECR: scan on push (CKV_AWS_163), immutable tags (CKV_AWS_51), a lifecycle policy."""

from __future__ import annotations

import json

import pytest

from tests.policies import compliant as c
from tests.policies.conftest import Pack, only


def test_compliant_repository(pack: Pack) -> None:
    assert pack.analyze(c.REPOSITORY, c.repository(), protect=True) == []


@pytest.mark.parametrize("value", [False, "-"])
def test_scan_on_push_off(pack: Pack, value: object) -> None:
    found = pack.analyze(c.REPOSITORY, c.changed(c.repository(), "imageScanningConfiguration.scanOnPush", value), protect=True)  # fmt: skip
    assert "scanOnPush is not true" in only(found, "aws-ecr-scan-on-push").message


@pytest.mark.parametrize("value", ["MUTABLE", "-"])
def test_mutable_tags(pack: Pack, value: str) -> None:
    found = pack.analyze(
        c.REPOSITORY, c.changed(c.repository(), "imageTagMutability", value), protect=True
    )
    assert 'imageTagMutability is "MUTABLE"' in only(found, "aws-ecr-immutable-tags").message


def test_repository_without_lifecycle_policy(pack: Pack) -> None:
    found = pack.analyze_stack(c.stack(lifecycle=None))
    diagnostic = only(found, "aws-ecr-lifecycle-policy")
    assert "has no aws.ecr.LifecyclePolicy" in diagnostic.message
    assert diagnostic.urn.endswith("::repository")


def test_lifecycle_policy_found_through_dependency_when_name_unknown(pack: Pack) -> None:
    """In a real preview the policy's `repository` is unknown; the dependency still links it."""
    policy = c.changed(c.lifecycle_policy(), "repository", c.UNKNOWN)
    assert pack.analyze_stack(c.stack(lifecycle=policy)) == []


def test_lifecycle_policy_without_count_rule(pack: Pack) -> None:
    only_untagged = {"rules": [json.loads(c.lifecycle_policy()["policy"])["rules"][0]]}
    found = pack.analyze_stack(
        c.stack(lifecycle=c.changed(c.lifecycle_policy(), "policy", json.dumps(only_untagged)))
    )
    assert (
        "has no rule that expires images beyond a count"
        in only(found, "aws-ecr-lifecycle-policy").message
    )


def test_lifecycle_policy_keeping_too_many(pack: Pack) -> None:
    found = pack.analyze_stack(c.stack(lifecycle=c.lifecycle_policy(keep=5000)))
    assert (
        "keeps up to 5000 images, more than the limit of 100"
        in only(found, "aws-ecr-lifecycle-policy").message
    )
