"""The ECR repository for the API image.

Owns: the repository (scan on push, immutable tags, KMS encryption), its lifecycle policy
(never expire `api.initialImageTag` nor images tagged `keep-*`, which `spendsense deploy` puts on
the running image and the rollback target; keep the last `registry.keepImages` tagged images;
expire untagged images after `registry.untaggedExpiryDays`), and an EventBridge rule that sends
HIGH and CRITICAL scan findings to the alert topic.
Does not own: pushing images (the README's build steps) or choosing which tag runs
(`spendsense deploy`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.common import (
    Actions,
    alert_target,
    aws_tags,
    bounded_name,
    child,
    stateful,
)
from infra.settings import Settings
from infra.severities import severity_of


@dataclass
class RegistryArgs:
    settings: Settings
    provider: pulumi.ProviderResource
    # What an alert of a severity notifies (alerts.AlertRoutes.actions).
    actions: Actions


# `spendsense deploy` tags the image that runs and the one `rollback api` would go back to
# with this prefix (scripts/spendsense/ops/ecr_protect.py); the lifecycle never expires them.
PROTECTED_TAG_PREFIX = "keep-"
# A count no repository reaches: a rule that selects images but never expires them. ECR:
# "An image that matches the tagging requirements of a rule cannot be expired by a rule with
# a lower priority" (https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html,
# lifecycle policy evaluation rules; the CDK documents the same idiom with maxImageCount 9999).
NEVER = 9999


def lifecycle_policy(keep_images: int, untagged_expiry_days: int, initial_image_tag: str) -> str:
    """ECR lifecycle rules: the initial image and the protected images first (never expired),
    then untagged images after some days, then all but the newest `keep_images` tagged ones."""

    def keep_forever(priority: int, pattern: str, what: str) -> dict[str, object]:
        return {
            "rulePriority": priority,
            "description": f"Never expire {what}",
            "selection": {
                "tagStatus": "tagged",
                "tagPatternList": [pattern],
                "countType": "imageCountMoreThan",
                "countNumber": NEVER,
            },
            "action": {"type": "expire"},
        }

    return json.dumps(
        {
            "rules": [
                keep_forever(1, initial_image_tag, f"the initial image ({initial_image_tag})"),
                keep_forever(
                    2,
                    f"{PROTECTED_TAG_PREFIX}*",
                    "the running image and the rollback target (tagged by spendsense deploy)",
                ),
                {
                    "rulePriority": 3,
                    "description": f"Expire untagged images after {untagged_expiry_days} days",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": untagged_expiry_days,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 4,
                    "description": f"Keep the last {keep_images} tagged images (rollback targets)",
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPatternList": ["*"],
                        "countType": "imageCountMoreThan",
                        "countNumber": keep_images,
                    },
                    "action": {"type": "expire"},
                },
            ]
        }
    )


class Registry(pulumi.ComponentResource):
    repository: aws.ecr.Repository

    def __init__(
        self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("spendsense:aws:Registry", name, None, opts)
        settings = args.settings
        registry = settings.registry
        options = child(self, args.provider)

        self.repository = aws.ecr.Repository(
            f"{name}-repository",
            name=registry.repository_name,
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "KMS"}],
            # `registry.forceDelete` (staging: true): `pulumi destroy` may delete the images too.
            force_delete=registry.force_delete,
            tags=aws_tags(settings),
            opts=child(self, args.provider, **stateful(settings)),
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=self.repository.name,
            policy=lifecycle_policy(
                registry.keep_images, registry.untagged_expiry_days, settings.api.initial_image_tag
            ),
            opts=options,
        )
        # EventBridge rule names hold 64 characters; repository names may be longer.
        rule_name = bounded_name(registry.repository_name.replace("/", "-"), "-scan-findings", 64)
        findings = aws.cloudwatch.EventRule(
            f"{name}-scan-findings",
            name=rule_name,
            description="HIGH or CRITICAL vulnerabilities found by ECR's scan on push",
            event_pattern=json.dumps(
                {
                    "source": ["aws.ecr"],
                    "detail-type": ["ECR Image Scan"],
                    "detail": {
                        "repository-name": [registry.repository_name],
                        "scan-status": ["COMPLETE"],
                        "$or": [
                            {"finding-severity-counts": {"CRITICAL": [{"numeric": [">", 0]}]}},
                            {"finding-severity-counts": {"HIGH": [{"numeric": [">", 0]}]}},
                        ],
                    },
                }
            ),
            tags=aws_tags(settings, Severity=severity_of("scan-findings").value),
            opts=options,
        )
        alert_target(
            f"{name}-scan-findings",
            findings.name,
            rule_name,
            "scan-findings",
            args.actions,
            settings,
            options,
            input_transformer={
                "input_paths": {
                    "repo": "$.detail.repository-name",
                    "tag": "$.detail.image-tags[0]",
                    "digest": "$.detail.image-digest",
                    "counts": "$.detail.finding-severity-counts",
                },
                # A JSON object: the severity counts are an object, which may only stand
                # unquoted as a value (a quoted string template would break on it).
                "input_template": (
                    '{"alert": "ECR scan found HIGH or CRITICAL vulnerabilities", '
                    '"repository": "<repo>", "tag": "<tag>", "digest": "<digest>", '
                    '"severityCounts": <counts>, "rule": "<aws.events.rule-name>"}'
                ),
            },
        )
        self.register_outputs(
            {
                "repository_url": self.repository.repository_url,
                "repository_name": self.repository.name,
            }
        )
