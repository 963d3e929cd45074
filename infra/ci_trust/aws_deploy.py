"""The managed policies of one environment's AWS deploy role (what `pulumi up` of that stack,
`spendsense deploy` and `spendsense preflight` call), as pure functions of its `Scope`.

One deploy role per environment, trusted only by `repo:OWNER/REPO:environment:<env>`: the
staging job (every push to `main`, no review) cannot act on production. Each role may manage
what its stack manages and nothing else:

- resources with physical names: only names starting with its stack's prefixes
  (`spendsense-api-staging...`), and production's role is denied the other stacks' names that
  its shorter prefix would also match (aws_policies.other_stacks_deny);
- resources AWS or Pulumi names (IAM roles, KMS keys): only those tagged `Project=spendsense`
  and `Environment=<env>`, created only with those tags; roles only with the environment's
  permissions boundary (aws_boundary.py), which the role may not remove or edit.

What one account cannot scope (docs/ci.md, "Residual rights"): Route 53 health checks are
named by random ids and `CreateHealthCheck` takes no resource, `kms:CreateKey` and the listing
calls take none either, and both environments share the state bucket's KMS key. One AWS account
per environment (`environments[].awsAccountId`) removes these.

Grouped into four managed policies (`deploy_policies`; a role may have 10 by default), each
far below IAM's 6,144 characters, instead of one inline policy near the 10,240 a role may
hold (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
"""

from __future__ import annotations

from typing import Any

from infra.ci_trust.aws_boundary import keep_the_boundary
from infra.ci_trust.aws_policies import (
    CI_ROLE_PREFIX,
    LIST_CALLS,
    Scope,
    other_stacks_deny,
    region_guard,
    state_statements,
    statement,
    tagged,
)
from infra.ci_trust.aws_program_calls import (
    alert_parameter_statements,
    running_image_statements,
    secret_deletion_guard,
)


def _state_and_guards(s: Scope) -> list[dict[str, Any]]:
    """The state, the listing calls (no resource types), and the Denies that cap the rest."""
    return [
        *state_statements(s, write=True),
        statement("ListCalls", list(LIST_CALLS), "*"),
        # The running image's lookup (infra/components/running_image.py), on every up.
        *running_image_statements(s),
        # The alert routes' paging URLs (SSM SecureStrings), read on every preview and up.
        *alert_parameter_statements(s),
        # Belt and braces on top of the tag scoping: the CI roles and their policies.
        {
            "Sid": "NotTheCiRoles",
            "Effect": "Deny",
            "Action": ["iam:*"],
            "Resource": [
                s.arn("iam", f"role/{CI_ROLE_PREFIX}*", region=False),
                s.arn("iam", f"policy/{CI_ROLE_PREFIX}*", region=False),
            ],
        },
        *keep_the_boundary(s),
        *secret_deletion_guard(s),
        *other_stacks_deny(s),
        region_guard(s),
    ]


def _compute(s: Scope) -> list[dict[str, Any]]:
    """App Runner, the image registry, the JWT secret and its rotation function, logs."""
    return [
        statement(
            "AppRunner",
            [
                "apprunner:CreateService",
                "apprunner:UpdateService",
                "apprunner:DeleteService",
                "apprunner:DescribeService",
                "apprunner:ListOperations",
                "apprunner:StartDeployment",
                "apprunner:CreateAutoScalingConfiguration",
                "apprunner:DeleteAutoScalingConfiguration",
                "apprunner:DescribeAutoScalingConfiguration",
                "apprunner:CreateObservabilityConfiguration",
                "apprunner:DeleteObservabilityConfiguration",
                "apprunner:DescribeObservabilityConfiguration",
                "apprunner:TagResource",
                "apprunner:UntagResource",
                "apprunner:ListTagsForResource",
            ],
            [
                *s.named("apprunner", "service/{p}*"),
                *s.named("apprunner", "autoscalingconfiguration/{p}*"),
                *s.named("apprunner", "observabilityconfiguration/{p}*"),
            ],
        ),
        statement(
            "AppRunnerServiceLinkedRole",
            ["iam:CreateServiceLinkedRole"],
            [s.arn("iam", "role/aws-service-role/apprunner.amazonaws.com/*", region=False)],
            {"StringEquals": {"iam:AWSServiceName": "apprunner.amazonaws.com"}},
        ),
        statement(
            "Registry",
            [
                "ecr:CreateRepository",
                "ecr:DeleteRepository",
                "ecr:DescribeRepositories",
                "ecr:PutLifecyclePolicy",
                "ecr:GetLifecyclePolicy",
                "ecr:DeleteLifecyclePolicy",
                "ecr:PutImageScanningConfiguration",
                "ecr:PutImageTagMutability",
                "ecr:SetRepositoryPolicy",
                "ecr:GetRepositoryPolicy",
                "ecr:DeleteRepositoryPolicy",
                "ecr:DescribeImages",
                "ecr:ListImages",
                "ecr:BatchGetImage",
                "ecr:TagResource",
                "ecr:UntagResource",
                "ecr:ListTagsForResource",
            ],
            s.named("ecr", "repository/{p}*"),
        ),
        # The JWT signing key: managed and rotated by this role, its value never read here
        # (no GetSecretValue; what the role can still reach through the rotation function is
        # in docs/ci.md, "What a deploy role can reach").
        statement(
            "JwtSecret",
            [
                "secretsmanager:CreateSecret",
                "secretsmanager:DeleteSecret",
                "secretsmanager:DescribeSecret",
                "secretsmanager:UpdateSecret",
                "secretsmanager:RotateSecret",
                "secretsmanager:CancelRotateSecret",
                "secretsmanager:PutResourcePolicy",
                "secretsmanager:GetResourcePolicy",
                "secretsmanager:DeleteResourcePolicy",
                "secretsmanager:TagResource",
                "secretsmanager:UntagResource",
            ],
            s.named("secretsmanager", "secret:{p}*"),
        ),
        statement(
            "RotationFunction",
            [
                "lambda:CreateFunction",
                "lambda:DeleteFunction",
                "lambda:GetFunction",
                "lambda:GetFunctionConfiguration",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
                "lambda:ListVersionsByFunction",
                "lambda:GetFunctionCodeSigningConfig",
                "lambda:AddPermission",
                "lambda:RemovePermission",
                "lambda:GetPolicy",
                "lambda:TagResource",
                "lambda:UntagResource",
                "lambda:ListTags",
                # RotateSecret (the first rotation, rotate_immediately) requires the caller to
                # be allowed to invoke the rotation function itself.
                "lambda:InvokeFunction",
            ],
            s.named("lambda", "function:{p}*"),
        ),
        statement(
            "LogGroups",
            [
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:PutRetentionPolicy",
                "logs:DeleteRetentionPolicy",
                "logs:TagResource",
                "logs:UntagResource",
                "logs:ListTagsForResource",
                "logs:TagLogGroup",
                "logs:ListTagsLogGroup",
                "logs:AssociateKmsKey",
                # The failed-authentication metric filter (infra/components/auth_failures.py);
                # the reference scopes all three to the log group.
                "logs:PutMetricFilter",
                "logs:DeleteMetricFilter",
                "logs:DescribeMetricFilters",
            ],
            [
                *s.named("logs", "log-group:/aws/apprunner/{p}*"),
                *s.named("logs", "log-group:/aws/lambda/{p}*"),
            ],
        ),
    ]


def _monitoring(s: Scope) -> list[dict[str, Any]]:
    """Alarms, the dashboard, the alert topic, EventBridge rules, the budget, health checks."""
    return [
        statement(
            "AlarmsAndDashboard",
            [
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:DeleteAlarms",
                "cloudwatch:PutDashboard",
                "cloudwatch:GetDashboard",
                "cloudwatch:DeleteDashboards",
                "cloudwatch:TagResource",
                "cloudwatch:UntagResource",
                "cloudwatch:ListTagsForResource",
            ],
            [
                *s.named("cloudwatch", "alarm:{p}*"),
                *s.named("cloudwatch", "dashboard/{p}*", region=False),
            ],
        ),
        statement(
            "AlertTopic",
            [
                "sns:CreateTopic",
                "sns:DeleteTopic",
                "sns:GetTopicAttributes",
                "sns:SetTopicAttributes",
                "sns:Subscribe",
                "sns:ListSubscriptionsByTopic",
                "sns:TagResource",
                "sns:UntagResource",
                "sns:ListTagsForResource",
            ],
            s.named("sns", "{p}*"),
        ),
        # The reference lists no resource type for these three (a subscription is not an IAM
        # resource), so a grant on topic ARNs never applies: they need "*". They act only on a
        # subscription ARN, which the caller must already know (the topic's own, listed above).
        statement(
            "AlertSubscriptions",
            [
                "sns:GetSubscriptionAttributes",
                "sns:SetSubscriptionAttributes",
                "sns:Unsubscribe",
            ],
            "*",
        ),
        statement(
            "EventRules",
            [
                "events:PutRule",
                "events:DeleteRule",
                "events:DescribeRule",
                "events:PutTargets",
                "events:RemoveTargets",
                "events:ListTargetsByRule",
                "events:TagResource",
                "events:UntagResource",
                "events:ListTagsForResource",
            ],
            s.named("events", "rule/{p}*"),
        ),
        statement(
            "Budget",
            [
                "budgets:ViewBudget",
                "budgets:ModifyBudget",
                "budgets:TagResource",
                "budgets:UntagResource",
                "budgets:ListTagsForResource",
            ],
            s.named("budgets", "budget/{p}*", region=False),
        ),
        # Route 53 names health checks by a generated id: creating one takes no resource, and
        # changing one is limited to this account's health checks (a residual right).
        statement("HealthCheckCreate", ["route53:CreateHealthCheck"], "*"),
        statement(
            "HealthChecks",
            [
                "route53:GetHealthCheck",
                "route53:UpdateHealthCheck",
                "route53:DeleteHealthCheck",
                "route53:ChangeTagsForResource",
                "route53:ListTagsForResource",
            ],
            [f"arn:{s.partition}:route53:::healthcheck/*"],
        ),
    ]


def _identity(s: Scope) -> list[dict[str, Any]]:
    """KMS keys and IAM roles (named by AWS/Pulumi): scoped by the stack's tags."""
    role_any = s.arn("iam", "role/*", region=False)
    return [
        # KMS keys get generated ids. CreateKey with tags also needs kms:TagResource: on a key
        # without a Project tag (the new one) only to set the stack's tags; an existing key
        # only if it is the stack's, never moved to another stack or stripped of those tags.
        statement("KeyCreate", ["kms:CreateKey"], "*", tagged(s, "aws:RequestTag")),
        statement(
            "KeyTagOnCreate",
            ["kms:TagResource"],
            "*",
            {**tagged(s, "aws:RequestTag"), "Null": {"aws:ResourceTag/Project": "true"}},
        ),
        statement(
            "Keys",
            [
                "kms:DescribeKey",
                "kms:GetKeyPolicy",
                "kms:PutKeyPolicy",
                "kms:EnableKeyRotation",
                "kms:GetKeyRotationStatus",
                "kms:ListResourceTags",
                "kms:TagResource",
                "kms:ScheduleKeyDeletion",
                "kms:CreateAlias",
                "kms:DeleteAlias",
                "kms:UpdateAlias",
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:GenerateDataKey",
            ],
            [s.arn("kms", "key/*")],
            {**tagged(s), "StringEqualsIfExists": tagged(s, "aws:RequestTag")["StringEquals"]},
        ),
        statement(
            "KeyUntag",
            ["kms:UntagResource"],
            [s.arn("kms", "key/*")],
            {
                **tagged(s),
                "ForAllValues:StringNotEquals": {"aws:TagKeys": ["Environment", "Project"]},
            },
        ),
        # A KMS-encrypted ECR repository uses the AWS-managed aws/ecr key (untagged): ECR
        # creates a grant on it on the caller's behalf, only through ECR itself.
        statement(
            "EcrManagedKeyGrants",
            ["kms:CreateGrant", "kms:RetireGrant", "kms:DescribeKey"],
            [s.arn("kms", "key/*")],
            {"StringEquals": {"kms:ViaService": f"ecr.{s.region}.amazonaws.com"}},
        ),
        statement(
            "KeyAliases",
            ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"],
            s.named("kms", "alias/{p}*"),
        ),
        # IAM roles are named by Pulumi: created only with the stack's tags and boundary.
        # `iam:PermissionsBoundary` is a key of CreateRole and of the role-changing actions;
        # TagRole and UntagRole do not carry it (a condition on it would always deny them), so
        # they are scoped by the tags alone: on a new role (no tags yet) only to set the
        # stack's own tags, on an existing one only if it is the stack's. Right either way:
        # whether AWS sees a role being created as untagged (RoleTagOnCreate) or as carrying
        # its request tags (RoleTags).
        statement(
            "RoleCreate", ["iam:CreateRole"], [role_any], _bounded(s, tagged(s, "aws:RequestTag"))
        ),
        statement(
            "RoleTagOnCreate",
            ["iam:TagRole"],
            [role_any],
            {**tagged(s, "aws:RequestTag"), "Null": {"aws:ResourceTag/Project": "true"}},
        ),
        statement(
            "RoleTags",
            ["iam:TagRole"],
            [role_any],
            # Never moved to another stack: a tag it sets on Project/Environment keeps them.
            {**tagged(s), "StringEqualsIfExists": tagged(s, "aws:RequestTag")["StringEquals"]},
        ),
        statement(
            "RoleUntag",
            ["iam:UntagRole"],
            [role_any],
            {
                **tagged(s),
                "ForAllValues:StringNotEquals": {"aws:TagKeys": ["Environment", "Project"]},
            },
        ),
        statement(
            "RoleRead",
            [
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
                "iam:ListInstanceProfilesForRole",
            ],
            [role_any],
            tagged(s),
        ),
        statement(
            "RoleWrite",
            [
                "iam:DeleteRole",
                "iam:UpdateRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:PutRolePolicy",
                "iam:DeleteRolePolicy",
            ],
            [role_any],
            _bounded(s, tagged(s)),
        ),
        statement(
            "PassRoles",
            ["iam:PassRole"],
            [role_any],
            {
                **tagged(s),
                "StringEqualsIfExists": {
                    "iam:PassedToService": [
                        "apprunner.amazonaws.com",
                        "build.apprunner.amazonaws.com",
                        "tasks.apprunner.amazonaws.com",
                        "lambda.amazonaws.com",
                    ]
                },
            },
        ),
    ]


def _bounded(scope: Scope, condition: dict[str, Any]) -> dict[str, Any]:
    """Add `iam:PermissionsBoundary == boundary` to a condition, when a boundary is required."""
    if not scope.boundary_arn:
        return condition
    equals = dict(condition.get("StringEquals", {}))
    equals["iam:PermissionsBoundary"] = scope.boundary_arn
    return {**condition, "StringEquals": equals}


# The managed policies of a deploy role, by the suffix of their names.
DEPLOY_POLICY_PARTS = {
    "state": _state_and_guards,
    "compute": _compute,
    "monitoring": _monitoring,
    "identity": _identity,
}


def deploy_policies(scope: Scope) -> dict[str, list[dict[str, Any]]]:
    """Each managed policy of one environment's deploy role: name suffix -> statements."""
    if not scope.environment:
        raise ValueError("a deploy role is for one environment (Scope.environment)")
    return {part: build(scope) for part, build in DEPLOY_POLICY_PARTS.items()}


def deploy_statements(scope: Scope) -> list[dict[str, Any]]:
    """All statements of one environment's deploy role (every managed policy together)."""
    return [st for statements in deploy_policies(scope).values() for st in statements]
