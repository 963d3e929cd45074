"""ECR: the API's image registry scans on push, keeps tags immutable and expires old images."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import Policy, PolicyResource

from spendsense_policies.base import (
    PendingUnknowns,
    Props,
    Unknown,
    get,
    number,
    resource_policy,
    stack_policy,
)
from spendsense_policies.config import limit, schema
from spendsense_policies.index import StackIndex, ValueIndex

REPOSITORY = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"


def check_scan_on_push(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    scanning = props.get("imageScanningConfiguration") or {}
    if scanning.get("scanOnPush") is not True:
        yield (
            "imageScanningConfiguration.scanOnPush is not true, so pushed images are never "
            "scanned for vulnerabilities; set scanOnPush=True"
        )


def check_immutable_tags(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    mutability = props.get("imageTagMutability") or "MUTABLE"
    allowed = list(config["allowed"])
    if mutability not in allowed:
        yield (
            f'imageTagMutability is "{mutability}", so a tag can be moved to another image and a '
            f'rollback may deploy the wrong code; set it to "{allowed[0]}"'
        )


def _rules(policy_text: Any) -> list[Mapping[str, Any]] | None:
    """The policy's rules, or None unless it is {"rules": [ {..}, ... ]}."""
    if not isinstance(policy_text, str):
        return None
    try:
        document = json.loads(policy_text)
    except ValueError:
        return None
    rules = document.get("rules") if isinstance(document, dict) else None
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        return None
    return rules


def _selection(rule: Mapping[str, Any]) -> Mapping[str, Any]:
    selection = rule.get("selection")
    return selection if isinstance(selection, dict) else {}


def _expires(rule: Mapping[str, Any]) -> bool:
    action = rule.get("action")
    return isinstance(action, dict) and action.get("type") == "expire"


def _all_tagged(selection: Mapping[str, Any]) -> bool:
    """Does the selection reach every image (any) or every tagged image (pattern "*")?"""
    status = selection.get("tagStatus")
    if status == "any":
        return True
    patterns = selection.get("tagPatternList") or []
    return status == "tagged" and isinstance(patterns, list) and "*" in patterns


def _lifecycle_problem(rules: list[Mapping[str, Any]], config: Mapping[str, Any]) -> str | None:
    """Count rules bound every image: tagStatus "any", or untagged images expired by some rule
    and every tagged image (tagPatternList ["*"]) by a count rule. A count rule limited by
    tagPrefixList or a narrower pattern leaves the other tags unbounded."""
    cap = number(config["maxImages"])
    expiring = [_selection(r) for r in rules if _expires(r)]
    counts = [s for s in expiring if s.get("countType") == "imageCountMoreThan"]
    if not counts:
        return (
            "has no rule that expires images beyond a count (countType imageCountMoreThan), so "
            "the repository grows without bound; keep the newest spendsense:registry.keepImages"
        )
    bounded = [number(s.get("countNumber")) or 0 for s in counts if _all_tagged(s)]
    if not bounded:
        return (
            "expires by count only images whose tags match its tagPrefixList/tagPatternList, "
            'so every other tagged image is kept forever; select tagStatus "any" or '
            'tagStatus "tagged" with tagPatternList ["*"]'
        )
    if not any(s.get("tagStatus") in ("any", "untagged") for s in expiring):
        return (
            "expires no untagged images, so they are kept forever; add a rule with tagStatus "
            '"untagged" (sinceImagePushed) or count on tagStatus "any"'
        )
    if cap is not None and min(bounded) > cap:
        return (
            f"keeps up to {min(bounded):g} images, more than the limit of {cap:g}; "
            f"lower spendsense:registry.keepImages to {cap:g} or less"
        )
    return None


def check_lifecycle(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    index = StackIndex(resources)
    by_repository: ValueIndex[PolicyResource] = ValueIndex()
    for policy in index.of_type(LIFECYCLE):
        by_repository.add(get(policy.props, "repository"), policy)
    pending: list[str] = []
    for repo in index.of_type(REPOSITORY):
        name = get(repo.props, "name")
        # the policies that refer_to the repository (by its name or a dependency)
        mine = index.referring(repo, LIFECYCLE, by_repository, name)
        if not mine:
            yield (
                repo.urn,
                (
                    f"ECR repository {repo.name} has no aws.ecr.LifecyclePolicy, so old images are "
                    "kept (and paid for) forever; add one that keeps the newest "
                    "spendsense:registry.keepImages images"
                ),
            )
            continue
        text = get(mine[0].props, "policy")
        if isinstance(text, Unknown):
            pending.append(f"the lifecycle policy of {repo.name} is")
            continue
        rules = _rules(text)
        if rules is None:
            yield (
                mine[0].urn,
                (
                    f"the lifecycle policy of {repo.name} is not a JSON document with a 'rules' "
                    "list of objects; "
                    "write it with json.dumps({'rules': [...]})"
                ),
            )
            continue
        problem = _lifecycle_problem(rules, config)
        if problem:
            yield mine[0].urn, f"the lifecycle policy of {repo.name} {problem}"
    if pending:
        raise PendingUnknowns(pending)


def policies() -> list[Policy]:
    return [
        resource_policy(
            "aws-ecr-scan-on-push",
            "ECR repositories must scan images on push (Checkov CKV_AWS_163).",
            {REPOSITORY: check_scan_on_push},
        ),
        resource_policy(
            "aws-ecr-immutable-tags",
            "ECR image tags must be immutable, so a tag always names the same image "
            "(Checkov CKV_AWS_51).",
            {REPOSITORY: check_immutable_tags},
            config=schema(
                {
                    "allowed": (
                        ["IMMUTABLE"],
                        "Accepted imageTagMutability values (IMMUTABLE_WITH_EXCLUSION lets "
                        "excluded tags move; allow it here only with care).",
                    )
                }
            ),
        ),
        stack_policy(
            "aws-ecr-lifecycle-policy",
            "Every ECR repository must have a lifecycle policy that keeps a bounded number of "
            "images.",
            check_lifecycle,
            config=schema(
                {
                    "maxImages": (
                        limit("ecr", "maxImages"),
                        "Most images a lifecycle policy may keep.",
                    )
                }
            ),
        ),
    ]
