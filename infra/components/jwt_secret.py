"""The JWT signing secret and its monthly rotation.

Owns: the Secrets Manager secret (its value is generated inside AWS by the rotation function:
no plaintext ever passes through Pulumi or its state), the rotation function packaged from
`infra/functions/jwt_rotation/handler.py`, its role (this secret only, and StartDeployment on
the API's service only, found by name), the rotation schedule (`jwt.rotationDays`, 30 or less:
the runbook rotates monthly) whose immediate first run writes the first key, a wait for that
key (`first_key.py`) before the API starts, and alerts when a rotation fails.
The secret's value is `{"current": ..., "previous": ...}` so tokens signed just before a rotation
stay valid; after a rotation the function starts an App Runner deployment, because App Runner
reads secrets only when an instance starts (docs/jwt-rotation.md).
Does not own: the API's read access (api.py grants it to the instance role).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.api import assume_role_policy
from infra.components.common import (
    Actions,
    alert_target,
    any_event_alarm,
    aws_tags,
    child,
    permissions_boundary,
    stateful,
)
from infra.components.dynamic_aws import aws_target
from infra.components.first_key import FirstKey
from infra.paths import program_file
from infra.settings import Settings
from infra.severities import severity_of

FUNCTION_DIR = program_file("functions", "jwt_rotation")
FUNCTION_HANDLER = "handler.handler"


@dataclass
class JwtSecretArgs:
    settings: Settings
    provider: pulumi.ProviderResource
    # What an alert of a severity notifies (alerts.AlertRoutes.actions).
    actions: Actions


class JwtSecret(pulumi.ComponentResource):
    """The secret, its rotation function and schedule, and the alerts on a failed rotation.

    Created before the API: `rotate_immediately` writes the first key, and the API's service
    depends on `first_key` so that its first instances start with a value to read. The
    function finds the service by name, so nothing here depends on the service.
    """

    secret: aws.secretsmanager.Secret
    function: aws.lambda_.Function
    rotation: aws.secretsmanager.SecretRotation
    first_key: FirstKey

    def __init__(
        self, name: str, args: JwtSecretArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("spendsense:aws:JwtSecret", name, None, opts)
        settings = args.settings
        service_name = settings.api.service_name
        options = child(self, args.provider)
        function_name = f"{service_name}-jwt-rotation"

        self.secret = aws.secretsmanager.Secret(
            f"{name}-secret",
            name=settings.jwt.secret_name or f"{service_name}/jwt-signing-key",
            description="SpendSense API JWT signing key: {current, previous}, rotated monthly",
            # `jwt.recoveryWindowDays`: days a deleted secret can be restored; 0 (staging)
            # deletes it at once, so `pulumi destroy` then `pulumi up` can reuse the name.
            recovery_window_in_days=settings.jwt.recovery_window_days,
            tags=aws_tags(settings),
            opts=child(self, args.provider, **stateful(settings)),
        )
        identity = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(provider=args.provider)
        )
        # The service does not exist yet when the first key is written: scope by its name.
        service_arns = identity.account_id.apply(
            lambda account: (
                f"arn:aws:apprunner:{settings.aws_region}:{account}:service/{service_name}/*"
            )
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-rotation-logs",
            name=f"/aws/lambda/{function_name}",
            retention_in_days=settings.monitoring.log_retention_days,
            tags=aws_tags(settings),
            opts=options,
        )
        role = aws.iam.Role(
            f"{name}-rotation-role",
            assume_role_policy=assume_role_policy("lambda.amazonaws.com"),
            permissions_boundary=permissions_boundary(args.settings, args.provider),
            description="Rotates the API's JWT signing key",
            tags=aws_tags(settings),
            opts=options,
        )
        rotation_policy = aws.iam.RolePolicy(
            f"{name}-rotation-policy",
            role=role.id,
            policy=pulumi.Output.all(self.secret.arn, service_arns, log_group.arn).apply(
                lambda values: _rotation_policy(*values)
            ),
            opts=options,
        )
        self.function = aws.lambda_.Function(
            f"{name}-rotation-function",
            name=function_name,
            description="Secrets Manager rotation for the JWT signing key",
            runtime="python3.12",
            handler=FUNCTION_HANDLER,
            # Only the handler: a __pycache__ in the folder must not change the package.
            code=pulumi.AssetArchive(
                {"handler.py": pulumi.FileAsset(str(FUNCTION_DIR / "handler.py"))}
            ),
            role=role.arn,
            timeout=300,
            memory_size=128,
            environment={"variables": {"APP_RUNNER_SERVICE_NAME": service_name}},
            tracing_config={"mode": "Active"},
            tags=aws_tags(settings),
            opts=child(self, args.provider, depends_on=[log_group, rotation_policy]),
        )
        permission = aws.lambda_.Permission(
            f"{name}-rotation-invoke",
            action="lambda:InvokeFunction",
            function=self.function.name,
            principal="secretsmanager.amazonaws.com",
            source_arn=self.secret.arn,
            opts=options,
        )
        self.rotation = aws.secretsmanager.SecretRotation(
            f"{name}-rotation-schedule",
            secret_id=self.secret.id,
            rotation_lambda_arn=self.function.arn,
            rotation_rules={"automatically_after_days": settings.jwt.rotation_days},
            # The first rotation creates the first key, inside AWS, before the API starts.
            rotate_immediately=True,
            opts=child(self, args.provider, depends_on=[permission, rotation_policy]),
        )
        # RotateSecret returns once the rotation has started; wait for the key itself.
        self.first_key = FirstKey(
            f"{name}-first-key",
            secret_arn=self.secret.arn,
            target=aws_target(settings),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.rotation]),
        )
        self._failure_alerts(name, settings, function_name, args.actions, options)
        self.register_outputs({"secret_arn": self.secret.arn, "function_name": self.function.name})

    def _failure_alerts(
        self,
        name: str,
        settings: Settings,
        function_name: str,
        actions: Actions,
        options: pulumi.ResourceOptions,
    ) -> None:
        # No invocations between monthly rotations is normal: no data is not an error.
        any_event_alarm(
            f"{name}-rotation-errors-alarm",
            f"{settings.api.service_name}-jwt-rotation-errors",
            "jwt-rotation-errors",
            "The JWT rotation function failed: the secret was not rotated "
            "or the API was not redeployed (docs/jwt-rotation.md)",
            ("AWS/Lambda", "Errors", {"FunctionName": function_name}),
            actions,
            settings,
            options,
        )
        rule_name = f"{settings.api.service_name}-jwt-rotation-failed"
        rule = aws.cloudwatch.EventRule(
            f"{name}-rotation-failed-rule",
            name=rule_name,
            description="Secrets Manager reports a failed rotation of the JWT secret",
            event_pattern=self.secret.arn.apply(
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
            tags=aws_tags(settings, Severity=severity_of("jwt-rotation-failed").value),
            opts=options,
        )
        alert_target(
            f"{name}-rotation-failed",
            rule.name,
            rule_name,
            "jwt-rotation-failed",
            actions,
            settings,
            options,
        )


def _rotation_policy(secret_arn: str, service_arns: str, log_group_arn: str) -> str:
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
                    "Resource": service_arns,
                },
                {
                    # ListServices has no resource-level permissions; it finds the service by name.
                    "Sid": "FindTheApi",
                    "Effect": "Allow",
                    "Action": "apprunner:ListServices",
                    "Resource": "*",
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
