"""SNS: the alert topic is encrypted (its messages name services, errors and people)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Policy

from spendsense_policies.base import Props, resource_policy

TOPIC = "aws:sns/topic:Topic"


def check_encrypted(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    if not props.get("kmsMasterKeyId"):
        yield (
            "kmsMasterKeyId is not set, so messages are stored unencrypted; set it to a "
            "customer-managed KMS key whose policy allows cloudwatch.amazonaws.com and "
            "events.amazonaws.com (not alias/aws/sns: CloudWatch alarms and EventBridge cannot "
            "publish to a topic encrypted with the AWS managed key)"
        )


def policies() -> list[Policy]:
    return [
        resource_policy(
            "aws-sns-topic-encrypted",
            "SNS topics must encrypt their messages with KMS (Checkov CKV_AWS_26).",
            {TOPIC: check_encrypted},
        ),
    ]
