"""ECR: scan on push (CKV_AWS_163), immutable tags (CKV_AWS_51), a lifecycle policy."""

from __future__ import annotations

import json

import pytest
from spendsense.plan.analyzer import PackResource

from tests.policies import compliant as c
from tests.policies.conftest import Pack, only


def test_compliant_repository(pack: Pack) -> None:
    assert pack.analyze(c.REPOSITORY, c.repository(), protect=True) == []


@pytest.mark.parametrize("value", [False, "-"])
def test_scan_on_push_off(pack: Pack, value: object) -> None:
    found = pack.analyze(
        c.REPOSITORY,
        c.changed(c.repository(), "imageScanningConfiguration.scanOnPush", value),
        protect=True,
    )
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


def _with_rules(*rules: object) -> list[PackResource]:
    return c.stack(
        lifecycle=c.changed(c.lifecycle_policy(), "policy", json.dumps({"rules": list(rules)}))
    )


UNTAGGED = json.loads(c.lifecycle_policy()["policy"])["rules"][0]


def _count(**selection: object) -> dict[str, object]:
    return {
        "rulePriority": 2,
        "selection": {"countType": "imageCountMoreThan", "countNumber": 20, **selection},
        "action": {"type": "expire"},
    }


def test_count_rule_limited_to_a_tag_prefix_leaves_other_images_unbounded(pack: Pack) -> None:
    found = pack.analyze_stack(
        _with_rules(UNTAGGED, _count(tagStatus="tagged", tagPrefixList=["release-"]))
    )
    assert (
        "expires by count only images whose tags match its tagPrefixList/tagPatternList"
        in only(found, "aws-ecr-lifecycle-policy").message
    )


def test_count_on_every_tag_and_untagged_by_age_is_bounded(pack: Pack) -> None:
    """The program's shape: untagged images by age, every tagged one (pattern "*") by count."""
    assert (
        pack.analyze_stack(_with_rules(UNTAGGED, _count(tagStatus="tagged", tagPatternList=["*"])))
        == []
    )


def test_untagged_images_never_expire(pack: Pack) -> None:
    found = pack.analyze_stack(_with_rules(_count(tagStatus="tagged", tagPatternList=["*"])))
    assert "expires no untagged images" in only(found, "aws-ecr-lifecycle-policy").message


def test_malformed_lifecycle_rules_are_a_violation_not_a_crash(pack: Pack) -> None:
    """`{"rules": ["x"]}` is reported, and the other stack policies still answer."""
    found = pack.analyze_stack(_with_rules("x"))
    assert (
        "the lifecycle policy of repository is not a JSON document with a 'rules' list of objects"
        in only(found, "aws-ecr-lifecycle-policy").message
    )
    assert [d.policy for d in found] == ["aws-ecr-lifecycle-policy"]


def test_mutable_with_exclusion_is_refused_by_default(pack: Pack) -> None:
    """IMMUTABLE_WITH_EXCLUSION with "*" lets every tag move (CKV_AWS_51 wants IMMUTABLE)."""
    props = {
        **c.repository(),
        "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
        "imageTagMutabilityExclusionFilters": [{"filter": "*", "filterType": "WILDCARD"}],
    }
    found = pack.analyze(c.REPOSITORY, props, protect=True)
    assert (
        'imageTagMutability is "IMMUTABLE_WITH_EXCLUSION"'
        in only(found, "aws-ecr-immutable-tags").message
    )
