"""The JWT signing secret and its monthly rotation.

Owns: the Secrets Manager secret (its value is generated inside AWS by the rotation function:
no plaintext ever passes through Pulumi or its state), the rotation function packaged from
`infra/functions/jwt_rotation/`, its role (this secret only, and StartDeployment on this
service only), the rotation schedule (`jwt.rotationDays`, 30 or less: the runbook rotates
monthly), and alerts when a rotation fails.
The secret's value is `{"current": ..., "previous": ...}` so tokens signed just before a rotation
stay valid; after a rotation the function starts an App Runner deployment, because App Runner
reads secrets only when an instance starts (docs/jwt-rotation.md).
Does not own: the API's read access (api.py grants it to the instance role).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra.components.api import assume_role_policy
from infra.components.common import aws_tags, child, stateful
from infra.settings import Settings

FUNCTION_DIR = Path(__file__).resolve().parent.parent / "functions" / "jwt_rotation"
FUNCTION_HANDLER = "handler.handler"


@dataclass
class JwtSecretArgs:
    settings: Settings
    provider: pulumi.ProviderResource


class JwtSecret(pulumi.ComponentResource):
    secret: aws.secretsmanager.Secret

    def __init__(
        self, name: str, args: JwtSecretArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("spendsense:aws:JwtSecret", name, None, opts)
        settings = args.settings
        self.secret = aws.secretsmanager.Secret(
            f"{name}-secret",
            name=settings.jwt.secret_name or f"{settings.api.service_name}/jwt-signing-key",
            description="SpendSense API JWT signing key: {current, previous}, rotated monthly",
            # A deleted secret can be restored for 30 days.
            recovery_window_in_days=30,
            tags=aws_tags(settings),
            opts=child(self, args.provider, **stateful(settings)),
        )
        self.register_outputs({"secret_arn": self.secret.arn})


@dataclass
class JwtRotationArgs:
    settings: Settings
    provider: pulumi.ProviderResource
    secret: aws.secretsmanager.Secret
    service_arn: pulumi.Input[str]
    alert_topic_arn: pulumi.Input[str]


class JwtRotation(pulumi.ComponentResource):
    function: aws.lambda_.Function

    def __init__(
        self, name: str, args: JwtRotationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("spendsense:aws:JwtRotation", name, None, opts)
        settings = args.settings
        options = child(self, args.provider)
        function_name = f"{settings.api.service_name}-jwt-rotation"

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{function_name}",
            retention_in_days=settings.monitoring.log_retention_days,
            tags=aws_tags(settings),
            opts=options,
        )
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=assume_role_policy("lambda.amazonaws.com"),
            description="Rotates the API's JWT signing key",
            tags=aws_tags(settings),
            opts=options,
        )
        aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.all(args.secret.arn, args.service_arn, log_group.arn).apply(
                lambda values: _rotation_policy(*values)
            ),
            opts=options,
        )
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=function_name,
            description="Secrets Manager rotation for the JWT signing key",
            runtime="python3.12",
            handler=FUNCTION_HANDLER,
            code=pulumi.FileArchive(str(FUNCTION_DIR)),
            role=role.arn,
            timeout=300,
            memory_size=128,
            environment={"variables": {"APP_RUNNER_SERVICE_ARN": args.service_arn}},
            tracing_config={"mode": "Active"},
            tags=aws_tags(settings),
            opts=child(self, args.provider, depends_on=[log_group]),
        )
        permission = aws.lambda_.Permission(
            f"{name}-invoke",
            action="lambda:InvokeFunction",
            function=self.function.name,
            principal="secretsmanager.amazonaws.com",
            source_arn=args.secret.arn,
            opts=options,
        )
        aws.secretsmanager.SecretRotation(
            f"{name}-schedule",
            secret_id=args.secret.id,
            rotation_lambda_arn=self.function.arn,
            rotation_rules={"automatically_after_days": settings.jwt.rotation_days},
            # The first rotation creates the first key, inside AWS.
            rotate_immediately=True,
            opts=child(self, args.provider, depends_on=[permission]),
        )
        self._failure_alerts(name, args, function_name, options)
        self.register_outputs({"function_name": self.function.name})

    def _failure_alerts(
        self, name: str, args: JwtRotationArgs, function_name: str, options: pulumi.ResourceOptions
    ) -> None:
        settings = args.settings
        aws.cloudwatch.MetricAlarm(
            f"{name}-errors-alarm",
            name=f"{settings.api.service_name}-jwt-rotation-errors",
            alarm_description="The JWT rotation function failed: the secret was not rotated "
            "or the API was not redeployed (docs/jwt-rotation.md)",
            namespace="AWS/Lambda",
            metric_name="Errors",
            dimensions={"FunctionName": function_name},
            statistic="Sum",
            period=300,
            evaluation_periods=1,
            threshold=0,
            comparison_operator="GreaterThanThreshold",
            # No invocations between monthly rotations is normal.
            treat_missing_data="notBreaching",
            alarm_actions=[args.alert_topic_arn],
            ok_actions=[args.alert_topic_arn],
            tags=aws_tags(settings),
            opts=options,
        )
        rule = aws.cloudwatch.EventRule(
            f"{name}-failed-rule",
            name=f"{settings.api.service_name}-jwt-rotation-failed",
            description="Secrets Manager reports a failed rotation of the JWT secret",
            event_pattern=args.secret.arn.apply(
                lambda arn: json.dumps(
                    {
                        "source": ["aws.secretsmanager"],
                        "detail-type": ["AWS Service Event via CloudTrail"],
                        "detail": {
                            "eventName": ["RotationFailed", "RotationAbandoned"],
                            "additionalEventData": {"SecretId": [arn]},
                        },
                    }
                )
            ),
            tags=aws_tags(settings),
            opts=options,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-failed-alert", rule=rule.name, arn=args.alert_topic_arn, opts=options
        )


def _rotation_policy(secret_arn: str, service_arn: str, log_group_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "RotateThisSecret",
                    "Effect": "Allow",
                    "Action": [
                        "secretsmanager:DescribeSecret",
                        "secretsmanager:GetSecretValue",
                        "secretsmanager:PutSecretValue",
                        "secretsmanager:UpdateSecretVersionStage",
                    ],
                    "Resource": secret_arn,
                },
                {
                    # GetRandomPassword has no resource-level permissions.
                    "Sid": "GenerateKeyInsideAws",
                    "Effect": "Allow",
                    "Action": "secretsmanager:GetRandomPassword",
                    "Resource": "*",
                },
                {
                    "Sid": "RedeployTheApi",
                    "Effect": "Allow",
                    "Action": ["apprunner:StartDeployment", "apprunner:DescribeService"],
                    "Resource": service_arn,
                },
                {
                    "Sid": "WriteOwnLogs",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": f"{log_group_arn}:*",
                },
                {
                    "Sid": "WriteTraces",
                    "Effect": "Allow",
                    "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                    "Resource": "*",
                },
            ],
        }
    )
