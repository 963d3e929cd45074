"""The AWS IAM documents of the CI roles, as pure functions of names and ARNs.

Kept apart from the resources so that tests can read every statement without the engine.

Three roles, one per kind of job, each trusted only by the GitHub OIDC tokens of one
repository and only for the subjects that kind of job has:

- deploy: `repo:OWNER/REPO:environment:staging|production` (the deploy jobs run in GitHub
  environments, production behind a required review). It may manage what the main program
  manages and nothing else: resources whose physical names start with the program's prefixes
  (`spendsense-api...`, `SpendSense-API...`), and, for the resources the program lets AWS name
  (IAM roles, KMS keys), only those tagged `Project=spendsense`. It cannot read the JWT
  signing key's value (no `secretsmanager:GetSecretValue`).
- preview: `repo:OWNER/REPO:pull_request` (same-repository pull requests; a fork's pull request
  gets no OIDC token). `pulumi preview` without `--refresh` reads no cloud resource, so the role
  reads the state, takes the state lock and decrypts the stack's secrets, nothing more.
- checks: `repo:OWNER/REPO:ref:refs/heads/<default branch>` (scheduled and manually dispatched
  workflows run on the default branch): the read-only calls of `spendsense status` and of the
  JWT rotation check.

`Resource: "*"` appears only for actions AWS does not scope to a resource (listing calls,
`ecr:GetAuthorizationToken`) or together with a tag condition (creating a KMS key or an IAM role
that must carry `Project=spendsense`); `UNSCOPABLE_ACTIONS` lists them and the tests hold every
statement to that.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

OIDC_HOST = "token.actions.githubusercontent.com"
OIDC_URL = f"https://{OIDC_HOST}"
OIDC_AUDIENCE = "sts.amazonaws.com"
PROJECT_TAG = ("Project", "spendsense")
CI_ROLE_PREFIX = "spendsense-github-"
WORKLOAD_BOUNDARY_NAME = "spendsense-workload-boundary"

# Actions that take no resource-level permission in IAM: they must be granted on "*".
UNSCOPABLE_ACTIONS = frozenset(
    {
        "apprunner:ListServices",
        "apprunner:ListAutoScalingConfigurations",
        "apprunner:ListObservabilityConfigurations",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:ListDashboards",
        "ecr:GetAuthorizationToken",
        "events:ListRules",
        "kms:ListAliases",
        "kms:ListKeys",
        "lambda:ListFunctions",
        "logs:DescribeLogGroups",
        "route53:CreateHealthCheck",
        "route53:ListHealthChecks",
        "secretsmanager:GetRandomPassword",
        "secretsmanager:ListSecrets",
        "sns:ListTopics",
        "tag:GetResources",
        # Only in the workload boundary: what the API and the rotation Lambda call.
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "cloudwatch:PutMetricData",
    }
)
# Actions granted on "*" only under an `aws:RequestTag/Project` condition.
TAG_CONDITIONED_CREATES = frozenset({"kms:CreateKey", "iam:CreateRole"})
# Global services (no region in their endpoint): excluded from the region guard.
GLOBAL_SERVICES = ("iam", "route53", "budgets", "sts", "tag", "cloudfront")


@dataclass(frozen=True)
class Scope:
    """Where the roles may act: one account, one region, the program's name prefixes."""

    account: str
    region: str
    prefixes: Sequence[str]
    state_bucket: str
    state_key_arn: str
    partition: str = "aws"
    # When set, every role the deploy role creates or changes must carry this permissions
    # boundary (see workload_boundary_statements), so a role it writes cannot exceed it.
    boundary_arn: str | None = None

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return ":".join(
            [
                "arn",
                self.partition,
                service,
                self.region if region else "",
                self.account if account else "",
                resource,
            ]
        )

    def named(self, service: str, template: str, **kwargs: bool) -> list[str]:
        """One ARN per prefix: `template` holds `{p}` where the physical name starts."""
        return [self.arn(service, template.format(p=prefix), **kwargs) for prefix in self.prefixes]


def statement(
    sid: str,
    actions: Iterable[str],
    resources: Iterable[str] | str,
    condition: dict[str, Any] | None = None,
    effect: str = "Allow",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Sid": sid,
        "Effect": effect,
        "Action": sorted(set(actions)),
        "Resource": resources if isinstance(resources, str) else sorted(set(resources)),
    }
    if condition:
        body["Condition"] = condition
    return body


def document(statements: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


# --------------------------------------------------------------------------------------------
# Trust
# --------------------------------------------------------------------------------------------
def github_subjects(repository: str, *, environments: Sequence[str] = (), pull_request: bool = False, branch: str | None = None) -> list[str]:  # fmt: skip
    """The exact `sub` claims GitHub puts in a job's OIDC token (no wildcards)."""
    subjects = [f"repo:{repository}:environment:{env}" for env in environments]
    if pull_request:
        subjects.append(f"repo:{repository}:pull_request")
    if branch:
        subjects.append(f"repo:{repository}:ref:refs/heads/{branch}")
    return subjects


def trust_policy(provider_arn: str, subjects: Sequence[str]) -> dict[str, Any]:
    """Only GitHub's OIDC tokens for these exact subjects, with AWS STS as the audience."""
    if not subjects:
        raise ValueError("a CI role needs at least one trusted subject")
    return document(
        [
            {
                "Sid": "GitHubActionsOidc",
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{OIDC_HOST}:aud": OIDC_AUDIENCE,
                        f"{OIDC_HOST}:sub": list(subjects),
                    }
                },
            }
        ]
    )


# --------------------------------------------------------------------------------------------
# State backend
# --------------------------------------------------------------------------------------------
def state_statements(scope: Scope, *, write: bool) -> list[dict[str, Any]]:
    """Read the state (and with `write`, change it); preview only takes and releases locks."""
    bucket_arn = f"arn:{scope.partition}:s3:::{scope.state_bucket}"
    statements = [
        statement(
            "StateList",
            ["s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketVersioning"],
            [bucket_arn],
        ),
        statement("StateRead", ["s3:GetObject", "s3:GetObjectVersion"], [f"{bucket_arn}/*"]),
        statement(
            "StateLocks",
            ["s3:PutObject", "s3:DeleteObject"],
            [f"{bucket_arn}/.pulumi/locks/*"],
        ),
        statement(
            "StackSecrets",
            ["kms:Decrypt", "kms:DescribeKey"]
            + (["kms:Encrypt", "kms:GenerateDataKey"] if write else []),
            [scope.state_key_arn],
        ),
    ]
    if write:
        statements.append(
            statement("StateWrite", ["s3:PutObject", "s3:DeleteObject"], [f"{bucket_arn}/*"])
        )
    return statements


# --------------------------------------------------------------------------------------------
# Deploy
# --------------------------------------------------------------------------------------------
def _tagged(key: str = "aws:ResourceTag") -> dict[str, Any]:
    return {"StringEquals": {f"{key}/{PROJECT_TAG[0]}": PROJECT_TAG[1]}}


def deploy_statements(scope: Scope) -> list[dict[str, Any]]:
    """What `pulumi up` of the main program needs, and no more."""
    s = scope
    return [
        *state_statements(s, write=True),
        statement(
            "ListCalls",
            [
                "apprunner:ListServices",
                "apprunner:ListAutoScalingConfigurations",
                "apprunner:ListObservabilityConfigurations",
                "cloudwatch:DescribeAlarms",
                "cloudwatch:ListDashboards",
                "ecr:GetAuthorizationToken",
                "events:ListRules",
                "kms:ListAliases",
                "kms:ListKeys",
                "lambda:ListFunctions",
                "logs:DescribeLogGroups",
                "route53:ListHealthChecks",
                "secretsmanager:ListSecrets",
                "sns:ListTopics",
                "tag:GetResources",
            ],
            "*",
        ),
        statement(
            "AppRunner",
            [
                "apprunner:CreateService",
                "apprunner:UpdateService",
                "apprunner:DeleteService",
                "apprunner:DescribeService",
                "apprunner:ListOperations",
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
                "ecr:TagResource",
                "ecr:UntagResource",
                "ecr:ListTagsForResource",
            ],
            s.named("ecr", "repository/{p}*"),
        ),
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
            ],
            [
                *s.named("logs", "log-group:/aws/apprunner/{p}*"),
                *s.named("logs", "log-group:/aws/lambda/{p}*"),
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
                "sns:Unsubscribe",
                "sns:GetSubscriptionAttributes",
                "sns:SetSubscriptionAttributes",
                "sns:ListSubscriptionsByTopic",
                "sns:TagResource",
                "sns:UntagResource",
                "sns:ListTagsForResource",
            ],
            s.named("sns", "{p}*"),
        ),
        # The JWT signing key: managed and rotated, never read (no GetSecretValue).
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
        # changing one is limited to this account's health checks.
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
        # KMS keys get generated ids: create only with the project tag, manage only tagged ones.
        statement(
            "KeyCreate", ["kms:CreateKey", "kms:TagResource"], "*", _tagged("aws:RequestTag")
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
                "kms:UntagResource",
                "kms:ScheduleKeyDeletion",
                "kms:CreateAlias",
                "kms:DeleteAlias",
                "kms:UpdateAlias",
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:GenerateDataKey",
            ],
            [s.arn("kms", "key/*")],
            _tagged(),
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
        # IAM roles are named by Pulumi: create only with the project tag, manage only tagged
        # ones, and pass them only to the services the program gives roles to.
        statement(
            "RoleCreate",
            ["iam:CreateRole", "iam:TagRole"],
            [s.arn("iam", "role/*", region=False)],
            _bounded(s, _tagged("aws:RequestTag")),
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
            [s.arn("iam", "role/*", region=False)],
            _tagged(),
        ),
        statement(
            "RoleWrite",
            [
                "iam:DeleteRole",
                "iam:UpdateRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:PutRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
            ],
            [s.arn("iam", "role/*", region=False)],
            _bounded(s, _tagged()),
        ),
        statement(
            "PassRoles",
            ["iam:PassRole"],
            [s.arn("iam", "role/*", region=False)],
            {
                **_tagged(),
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
        # Belt and braces on top of the tag scoping: the CI roles themselves are out of reach.
        {
            "Sid": "NotTheCiRoles",
            "Effect": "Deny",
            "Action": ["iam:*"],
            "Resource": [s.arn("iam", f"role/{CI_ROLE_PREFIX}*", region=False)],
        },
        *(
            [
                {
                    "Sid": "KeepTheBoundary",
                    "Effect": "Deny",
                    "Action": [
                        "iam:DeleteRolePermissionsBoundary",
                        "iam:PutRolePermissionsBoundary",
                        "iam:CreatePolicyVersion",
                        "iam:DeletePolicy",
                        "iam:SetDefaultPolicyVersion",
                    ],
                    "Resource": [s.arn("iam", "role/*", region=False), s.boundary_arn],
                }
            ]
            if s.boundary_arn
            else []
        ),
        region_guard(s),
    ]


def _bounded(scope: Scope, condition: dict[str, Any]) -> dict[str, Any]:
    """Add `iam:PermissionsBoundary == boundary` to a condition, when a boundary is required."""
    if not scope.boundary_arn:
        return condition
    equals = dict(condition.get("StringEquals", {}))
    equals["iam:PermissionsBoundary"] = scope.boundary_arn
    return {**condition, "StringEquals": equals}


def workload_boundary_statements(scope: Scope) -> list[dict[str, Any]]:
    """The most any role of the program may do (its permissions boundary): pull the API image,
    read and rotate the JWT secret, redeploy the API after a rotation, write logs, traces and
    metrics, publish alerts. A role the deploy role writes can never do more than this."""
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
            "TaggedKeys", ["kms:Decrypt", "kms:GenerateDataKey"], [s.arn("kms", "key/*")], _tagged()
        ),
    ]


def region_guard(scope: Scope) -> dict[str, Any]:
    """Deny every regional call outside the stack's region (a Deny, so it caps the Allows)."""
    return {
        "Sid": "OnlyTheStackRegion",
        "Effect": "Deny",
        "NotAction": [f"{service}:*" for service in GLOBAL_SERVICES],
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:RequestedRegion": scope.region}},
    }


# --------------------------------------------------------------------------------------------
# Preview and checks
# --------------------------------------------------------------------------------------------
def preview_statements(scope: Scope) -> list[dict[str, Any]]:
    """`pulumi preview` (no refresh) reads only the state and the stack's secrets."""
    return [*state_statements(scope, write=False), region_guard(scope)]


def checks_statements(scope: Scope) -> list[dict[str, Any]]:
    """The read-only calls of `spendsense status`, `outputs` and the JWT rotation check."""
    s = scope
    return [
        *[st for st in state_statements(s, write=False) if st["Sid"] != "StateLocks"],
        statement("ListCalls", ["apprunner:ListServices", "cloudwatch:DescribeAlarms"], "*"),
        statement(
            "ApiState",
            ["apprunner:DescribeService", "apprunner:ListOperations"],
            s.named("apprunner", "service/{p}*"),
        ),
        statement(
            "JwtRotationDate",
            ["secretsmanager:DescribeSecret"],
            s.named("secretsmanager", "secret:{p}*"),
        ),
        region_guard(s),
    ]
