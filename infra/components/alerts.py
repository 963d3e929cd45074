"""The alert topic: where every alarm, EventBridge rule and budget of the stack sends its alerts.

Owns: a customer-managed KMS key (SNS topics encrypted with the AWS-managed key cannot receive
from CloudWatch, EventBridge or Budgets, so the key policy names all three services), the SNS
topic, its policy, and one e-mail subscription per `monitoring.alertEmails` address.
Does not own: the alarms themselves (monitoring.py, registry.py, api.py, jwt_secret.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.common import aws_tags, child, stateful
from infra.settings import Settings

PUBLISHERS = ["cloudwatch.amazonaws.com", "events.amazonaws.com"]


@dataclass
class AlertTopicArgs:
    settings: Settings
    provider: pulumi.ProviderResource


class AlertTopic(pulumi.ComponentResource):
    topic: aws.sns.Topic
    key: aws.kms.Key

    def __init__(
        self, name: str, args: AlertTopicArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("spendsense:aws:AlertTopic", name, None, opts)
        settings = args.settings
        options = child(self, args.provider)
        account_id = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(provider=args.provider)
        ).account_id

        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts the {settings.api.service_name} alert topic",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=account_id.apply(_key_policy),
            tags=aws_tags(settings),
            # Deleting a key makes whatever it encrypted unreadable: stateful.
            opts=child(self, args.provider, **stateful(settings)),
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=f"alias/{settings.api.service_name}-alerts",
            target_key_id=self.key.key_id,
            opts=options,
        )
        self.topic = aws.sns.Topic(
            f"{name}-topic",
            name=f"{settings.api.service_name}-alerts",
            kms_master_key_id=self.key.arn,
            tags=aws_tags(settings),
            opts=options,
        )
        policy = aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=self.topic.arn,
            policy=pulumi.Output.all(self.topic.arn, account_id).apply(
                lambda values: _topic_policy(values[0], values[1])
            ),
            opts=options,
        )
        for index, address in enumerate(settings.monitoring.alert_emails):
            # E-mail subscriptions stay "pending confirmation" until the person clicks the link.
            aws.sns.TopicSubscription(
                f"{name}-email-{index}",
                topic=self.topic.arn,
                protocol="email",
                endpoint=address,
                opts=options,
            )
        # What publishers use: the topic's ARN, known only once its policy is in place, so no
        # alarm or rule is created before CloudWatch and EventBridge may publish to it.
        self.topic_arn: pulumi.Output[str] = pulumi.Output.all(self.topic.arn, policy.id).apply(
            lambda values: str(values[0])
        )
        self.register_outputs({"topic_arn": self.topic.arn})


def _key_policy(account_id: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministers",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    # AWS's documented statement for alarms publishing to an encrypted topic has
                    # no condition (https://repost.aws/knowledge-center/cloudwatch-configure-alarm-sns,
                    # "Allow_CloudWatch_for_CMK"): a key an alarm's KMS call does not carry
                    # would refuse every notification, the delivery-failure alarms' included.
                    # The topic policy still admits only this account's alarms.
                    "Sid": "AlarmsEncrypt",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                    "Resource": "*",
                },
                {
                    # EventBridge's KMS calls for an encrypted SNS target carry no aws:Source*
                    # keys, so a SourceAccount condition would refuse every event (AWS's own
                    # examples for EventBridge -> encrypted SNS have none). The topic policy
                    # still admits only this account's rules.
                    "Sid": "EventRulesEncrypt",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                    "Resource": "*",
                },
                {
                    # Budget notifications to an encrypted topic: the same two KMS actions for
                    # budgets.amazonaws.com; which budgets may publish is the topic policy's
                    # BudgetsPublish statement (its conditions are the ones AWS documents).
                    "Sid": "BudgetsEncrypt",
                    "Effect": "Allow",
                    "Principal": {"Service": "budgets.amazonaws.com"},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                    "Resource": "*",
                },
            ],
        }
    )


def _topic_policy(topic_arn: str, account_id: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "OwnerManages",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                    "Action": [
                        "sns:GetTopicAttributes",
                        "sns:SetTopicAttributes",
                        "sns:Subscribe",
                        "sns:ListSubscriptionsByTopic",
                        "sns:Publish",
                    ],
                    "Resource": topic_arn,
                },
                {
                    "Sid": "AlarmSourcesPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": PUBLISHERS},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                },
                {
                    # AWS Budgets' documented topic policy statement, conditions included:
                    # https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html
                    "Sid": "BudgetsPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": "budgets.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account_id},
                        "ArnLike": {"aws:SourceArn": f"arn:aws:budgets::{account_id}:*"},
                    },
                },
            ],
        }
    )
