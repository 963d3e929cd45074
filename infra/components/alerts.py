"""The alert routes: per-severity SNS topics, and the all-alerts stream every alert also reaches.

Owns: a customer-managed KMS key (SNS topics encrypted with the AWS-managed key cannot receive
from CloudWatch, EventBridge or Budgets, so the key policy names all three services); the
all-alerts stream topic `<service>-alerts` (the `alarm_topic_arn` output, its ARN unchanged
since before severities: `spendsense status` and `restore` select alarms by it); one topic per
severity, `<service>-alerts-p0`..`-p3`, tagged `Severity`, with the subscriptions
`monitoring.alertRoutes` lists for it; the topics' policies.
`AlertRoutes.actions(severity)` is what an alarm or rule notifies: [that severity's topic,
the stream]. Which severity an alert has: infra/severities.py. docs/alerting.md.
Does not own: the alarms themselves (monitoring.py, registry.py, api.py, jwt_secret.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.common import aws_tags, child, stateful
from infra.settings import Settings
from infra.settings.alerting import AlertRoute
from infra.severities import Severity

PUBLISHERS = ["cloudwatch.amazonaws.com", "events.amazonaws.com"]
# A paging service's HTTPS endpoint confirms the subscription itself (PagerDuty, Opsgenie).
# terraform-provider-aws's Create (internal/service/sns/topic_subscription.go,
# https://github.com/hashicorp/terraform-provider-aws/blob/main/internal/service/sns/topic_subscription.go)
# subscribes with ReturnSubscriptionArn and then waits for the confirmation, except for e-mail
# and for http(s) without `endpoint_auto_confirms` (left "pending confirmation"); for http(s)
# it waits `confirmation_timeout_in_minutes` (default 1). With auto-confirm on, a paging URL
# that does not confirm fails `pulumi up` instead of leaving P0 silently unrouted. SMS needs
# no confirmation (the provider's wait ends at once).
HTTPS_CONFIRMATION_MINUTES = 5


@dataclass
class AlertTopicArgs:
    settings: Settings
    provider: pulumi.ProviderResource


class AlertRoutes(pulumi.ComponentResource):
    """The stream topic and the per-severity topics (type `spendsense:aws:AlertTopic`)."""

    topic: aws.sns.Topic
    key: aws.kms.Key
    topics: dict[Severity, aws.sns.Topic]

    def __init__(
        self, name: str, args: AlertTopicArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        # The type and child names of before severities: the key, the stream topic and its
        # policy keep their URNs, so nothing the CLI or a subscriber knows changes.
        super().__init__("spendsense:aws:AlertTopic", name, None, opts)
        settings = args.settings
        self._settings = settings
        self._provider = args.provider
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
        self.topic, self.topic_arn = self._topic(f"{name}-topic", "alerts", None, account_id)
        self.topics = {}
        self.topic_arns: dict[Severity, pulumi.Output[str]] = {}
        for severity in Severity:
            topic, arn = self._topic(
                f"{name}-{severity.label}-topic", f"alerts-{severity.label}", severity, account_id
            )
            self.topics[severity], self.topic_arns[severity] = topic, arn
            for route in settings.monitoring.alert_routes.of(severity):
                if not route.reaches("aws"):
                    continue
                # Named by the endpoint, never by its position in the list (AlertRoute.key).
                self._subscribe(f"{name}-{severity.label}-{route.key}", arn, route)
        self.register_outputs(
            {
                "topic_arn": self.topic.arn,
                "topic_arns": {s.value: t.arn for s, t in self.topics.items()},
            }
        )

    def actions(self, severity: Severity) -> list[pulumi.Input[str]]:
        """What an alert of `severity` notifies: its severity's topic, then the stream."""
        return [self.topic_arns[severity], self.topic_arn]

    def _topic(
        self,
        resource_name: str,
        suffix: str,
        severity: Severity | None,
        account_id: pulumi.Output[str],
    ) -> tuple[aws.sns.Topic, pulumi.Output[str]]:
        settings = self._settings
        options = child(self, self._provider)
        extra = {"Severity": severity.value} if severity else {}
        topic = aws.sns.Topic(
            resource_name,
            name=f"{settings.api.service_name}-{suffix}",
            kms_master_key_id=self.key.arn,
            tags=aws_tags(settings, **extra),
            opts=options,
        )
        policy = aws.sns.TopicPolicy(
            f"{resource_name}-policy",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, account_id).apply(
                lambda values: _topic_policy(values[0], values[1])
            ),
            opts=options,
        )
        # What publishers use: the topic's ARN, known only once its policy is in place, so no
        # alarm or rule is created before CloudWatch and EventBridge may publish to it.
        arn = pulumi.Output.all(topic.arn, policy.id).apply(lambda values: str(values[0]))
        return topic, arn

    def _subscribe(
        self, resource_name: str, topic_arn: pulumi.Input[str], route: AlertRoute
    ) -> None:
        options = child(self, self._provider)
        endpoint: pulumi.Input[str] = route.endpoint
        https = route.protocol == "https"
        if route.kind == "httpsUrlParameter":
            # The URL embeds the paging service's key: read at deploy time from the SecureString
            # and kept secret in the state (the stack file names the parameter only).
            endpoint = pulumi.Output.secret(
                aws.ssm.get_parameter_output(
                    name=route.endpoint,
                    with_decryption=True,
                    opts=pulumi.InvokeOutputOptions(provider=self._provider),
                ).value
            )
        # E-mail subscriptions stay "pending confirmation" until the person clicks the link;
        # SMS needs no confirmation (US numbers need a registered origination number).
        aws.sns.TopicSubscription(
            resource_name,
            topic=topic_arn,
            protocol=route.protocol,
            endpoint=endpoint,
            endpoint_auto_confirms=True if https else None,
            confirmation_timeout_in_minutes=HTTPS_CONFIRMATION_MINUTES if https else None,
            opts=options,
        )


# The class's name before severities, for code written against it (the CI trust project's
# statement is named after the component type, which is unchanged).
AlertTopic = AlertRoutes


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
