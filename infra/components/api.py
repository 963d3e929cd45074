"""The API: an App Runner service running the image from ECR.

Owns: the ECR access role and the instance role (least privilege, no `*` actions), the
autoscaling configuration, the X-Ray observability configuration, the service (instance size,
HTTP health check, runtime secrets as Secrets Manager references), retention for the log groups
App Runner creates, and an EventBridge rule that sends failed deployments to the alert topic.
Does not own: which image runs after the first `pulumi up` (deployments own it: the program
reads the image the service runs now and passes it back unchanged, so a `pulumi up` after
`spendsense deploy` never changes it; when no service is found it keeps the state's image:
running_image.py), the JWT secret (jwt_secret.py) or alarms (monitoring.py).
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
    permissions_boundary,
)
from infra.components.dynamic_aws import aws_target
from infra.components.log_retention import LogRetention, log_group_names
from infra.components.running_image import RunningImage
from infra.settings import Settings
from infra.severities import severity_of

# App Runner reads the JWT secret from this variable at instance start (value: the JSON
# {"current": ..., "previous": ...}, see docs/jwt-rotation.md).
JWT_SECRET_VARIABLE = "JWT_SECRETS"


@dataclass
class ApiServiceArgs:
    settings: Settings
    provider: pulumi.ProviderResource
    repository: aws.ecr.Repository
    jwt_secret_arn: pulumi.Input[str]
    # The secret's first rotation: its instances must not start before the secret has a value.
    jwt_first_key: pulumi.Resource
    # What an alert of a severity notifies (alerts.AlertRoutes.actions).
    actions: Actions
    # The image the service runs now (running_image.py), looked up before the service exists.
    running_image: RunningImage


def assume_role_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
            ],
        }
    )


class ApiService(pulumi.ComponentResource):
    service: aws.apprunner.Service
    log_group_names: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: ApiServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("spendsense:aws:ApiService", name, None, opts)
        settings = args.settings
        api = settings.api
        options = child(self, args.provider)

        # The service must not start before its roles may pull the image and read the secret.
        self._role_policies: list[aws.iam.RolePolicy] = []
        access_role = self._access_role(name, args, options)
        instance_role = self._instance_role(name, args, options)
        autoscaling = aws.apprunner.AutoScalingConfigurationVersion(
            f"{name}-autoscaling",
            # App Runner allows 32 characters here.
            auto_scaling_configuration_name=bounded_name(api.service_name, "-as", 32),
            min_size=api.min_instances,
            max_size=api.max_instances,
            max_concurrency=api.max_concurrency,
            tags=aws_tags(settings),
            opts=options,
        )
        tracing = aws.apprunner.ObservabilityConfiguration(
            f"{name}-tracing",
            observability_configuration_name=bounded_name(api.service_name, "-xray", 32),
            trace_configuration={"vendor": "AWSXRAY"},
            tags=aws_tags(settings),
            opts=options,
        )
        self.service = aws.apprunner.Service(
            f"{name}-service",
            service_name=api.service_name,
            source_configuration={
                "authentication_configuration": {"access_role_arn": access_role.arn},
                "auto_deployments_enabled": False,
                "image_repository": {
                    # The image that runs now (set by `spendsense deploy`); the initial tag only
                    # when no service was found, and then under ignore_changes (below), so an
                    # existing service keeps the state's image: see running_image.py.
                    "image_identifier": args.running_image.image
                    or pulumi.Output.concat(
                        args.repository.repository_url, ":", api.initial_image_tag
                    ),
                    "image_repository_type": "ECR",
                    "image_configuration": {
                        "port": str(api.port),
                        "runtime_environment_variables": {
                            "ENVIRONMENT": settings.environment,
                            **api.environment_variables,
                        },
                        "runtime_environment_secrets": {JWT_SECRET_VARIABLE: args.jwt_secret_arn},
                    },
                },
            },
            instance_configuration={
                "cpu": api.cpu,
                "memory": api.memory,
                "instance_role_arn": instance_role.arn,
            },
            health_check_configuration={
                "protocol": "HTTP",
                "path": api.health_check_path,
                "interval": api.health_check_interval,
                "timeout": api.health_check_timeout,
                "healthy_threshold": api.healthy_threshold,
                "unhealthy_threshold": api.unhealthy_threshold,
            },
            auto_scaling_configuration_arn=autoscaling.arn,
            observability_configuration={
                "observability_enabled": True,
                "observability_configuration_arn": tracing.arn,
            },
            tags=aws_tags(settings),
            opts=child(
                self,
                args.provider,
                depends_on=[args.jwt_first_key, *self._role_policies],
                ignore_changes=args.running_image.ignore_changes,
            ),
        )
        self.log_group_names = self.service.service_id.apply(
            lambda service_id: log_group_names(api.service_name, service_id)
        )
        LogRetention(
            f"{name}-log-retention",
            log_group_names=self.log_group_names,
            retention_days=settings.monitoring.log_retention_days,
            target=aws_target(settings),
            tags=aws_tags(settings),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.service]),
        )
        self._deployment_alerts(name, args, options)
        self.register_outputs(
            {
                "service_arn": self.service.arn,
                "service_url": self.service.service_url,
                "log_group_names": self.log_group_names,
            }
        )

    def _access_role(
        self, name: str, args: ApiServiceArgs, options: pulumi.ResourceOptions
    ) -> aws.iam.Role:
        """The role App Runner uses to pull the image: read-only on this one repository."""
        role = aws.iam.Role(
            f"{name}-ecr-access-role",
            assume_role_policy=assume_role_policy("build.apprunner.amazonaws.com"),
            permissions_boundary=permissions_boundary(args.settings, args.provider),
            description="App Runner pulls the API image from its ECR repository",
            tags=aws_tags(args.settings),
            opts=options,
        )
        self._role_policies.append(
            aws.iam.RolePolicy(
                f"{name}-ecr-access-policy",
                role=role.id,
                policy=args.repository.arn.apply(
                    lambda arn: json.dumps(
                        {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": [
                                        "ecr:BatchCheckLayerAvailability",
                                        "ecr:BatchGetImage",
                                        "ecr:DescribeImages",
                                        "ecr:GetDownloadUrlForLayer",
                                    ],
                                    "Resource": arn,
                                },
                                {
                                    # GetAuthorizationToken has no resource-level permissions.
                                    "Effect": "Allow",
                                    "Action": "ecr:GetAuthorizationToken",
                                    "Resource": "*",
                                },
                            ],
                        }
                    )
                ),
                opts=options,
            )
        )
        return role

    def _instance_role(
        self, name: str, args: ApiServiceArgs, options: pulumi.ResourceOptions
    ) -> aws.iam.Role:
        """The role the API runs as: reads only the JWT secret, and writes X-Ray traces."""
        role = aws.iam.Role(
            f"{name}-instance-role",
            assume_role_policy=assume_role_policy("tasks.apprunner.amazonaws.com"),
            permissions_boundary=permissions_boundary(args.settings, args.provider),
            description="The SpendSense API's runtime identity",
            tags=aws_tags(args.settings),
            opts=options,
        )
        self._role_policies.append(
            aws.iam.RolePolicy(
                f"{name}-instance-policy",
                role=role.id,
                policy=pulumi.Output.from_input(args.jwt_secret_arn).apply(
                    lambda arn: json.dumps(
                        {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Sid": "ReadJwtSecret",
                                    "Effect": "Allow",
                                    "Action": ["secretsmanager:GetSecretValue"],
                                    "Resource": arn,
                                },
                                {
                                    # X-Ray's write APIs have no resource-level permissions.
                                    "Sid": "WriteTraces",
                                    "Effect": "Allow",
                                    "Action": [
                                        "xray:PutTraceSegments",
                                        "xray:PutTelemetryRecords",
                                        "xray:GetSamplingRules",
                                        "xray:GetSamplingTargets",
                                    ],
                                    "Resource": "*",
                                },
                            ],
                        }
                    )
                ),
                opts=options,
            )
        )
        return role

    def _deployment_alerts(
        self, name: str, args: ApiServiceArgs, options: pulumi.ResourceOptions
    ) -> None:
        """Failed deployments (including automatic rollbacks) page through the alert topic."""
        rule_name = f"{args.settings.api.service_name}-deployment-failures"
        rule = aws.cloudwatch.EventRule(
            f"{name}-deployment-failures",
            name=rule_name,
            description="App Runner deployments or updates of the API that failed",
            event_pattern=self.service.arn.apply(
                lambda arn: json.dumps(
                    {
                        "source": ["aws.apprunner"],
                        "detail-type": ["AppRunner Service Operation Status Change"],
                        "resources": [arn],
                        "detail": {
                            # The failure statuses App Runner sends (EventBridge reference).
                            "operationStatus": [
                                "CreateServiceFailed",
                                "UpdateServiceFailed",
                                "DeploymentFailed",
                                "PauseServiceFailed",
                                "ResumeServiceFailed",
                            ]
                        },
                    }
                )
            ),
            tags=aws_tags(args.settings, Severity=severity_of("deployment-failures").value),
            opts=options,
        )
        alert_target(
            f"{name}-deployment-failures",
            rule.name,
            rule_name,
            "deployment-failures",
            args.actions,
            args.settings,
            options,
        )
