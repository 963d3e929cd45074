"""The permissions boundary of one environment's IAM roles (a managed policy per environment).

The most any role of that stack may do: pull its API image, read and rotate its own JWT secret,
redeploy its own API after a rotation, write its logs, traces and metrics, publish its alerts.
Its deploy role may create or change a role only if the role carries this boundary, so a role
it writes can never reach another stack's secret or do more than this.
"""

from __future__ import annotations

from typing import Any

from infra.ci_trust.aws_policies import Scope, other_stacks_deny, statement, tagged


def workload_boundary_statements(scope: Scope) -> list[dict[str, Any]]:
    s = scope
    return [
        statement(
            "PullImages",
            [
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:DescribeImages",
                "ecr:GetDownloadUrlForLayer",
            ],
            s.named("ecr", "repository/{p}*"),
        ),
        statement(
            "Unscopable",
            [
                "ecr:GetAuthorizationToken",
                "secretsmanager:GetRandomPassword",
                "apprunner:ListServices",
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "cloudwatch:PutMetricData",
            ],
            "*",
        ),
        statement(
            "JwtSecret",
            [
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:UpdateSecretVersionStage",
            ],
            s.named("secretsmanager", "secret:{p}*"),
        ),
        statement(
            "RedeployAfterRotation",
            ["apprunner:StartDeployment", "apprunner:DescribeService"],
            s.named("apprunner", "service/{p}*"),
        ),
        statement(
            "Logs",
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            [
                *s.named("logs", "log-group:/aws/apprunner/{p}*"),
                *s.named("logs", "log-group:/aws/lambda/{p}*"),
            ],
        ),
        statement("Alerts", ["sns:Publish"], s.named("sns", "{p}*")),
        statement(
            "TaggedKeys", ["kms:Decrypt", "kms:GenerateDataKey"], [s.arn("kms", "key/*")], tagged(s)
        ),
        # Production's prefix also matches staging's names: a production role gets none of them.
        *other_stacks_deny(s),
    ]


def keep_the_boundary(s: Scope) -> list[dict[str, Any]]:
    """For a deploy role: never remove a role's boundary, nor edit or delete the boundary."""
    if not s.boundary_arn:
        return []
    return [
        {
            "Sid": "KeepTheBoundary",
            "Effect": "Deny",
            "Action": [
                "iam:CreatePolicyVersion",
                "iam:DeletePolicy",
                "iam:DeletePolicyVersion",
                "iam:DeleteRolePermissionsBoundary",
                "iam:PutRolePermissionsBoundary",
                "iam:SetDefaultPolicyVersion",
            ],
            "Resource": [s.arn("iam", "role/*", region=False), s.boundary_arn],
        }
    ]
