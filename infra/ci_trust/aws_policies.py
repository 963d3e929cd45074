"""The AWS IAM documents of the CI roles: shared pieces, trust, state, preview and checks.

Pure functions of names and ARNs, kept apart from the resources so that tests (and the IAM
reference check, tests/ci/test_iam_reference.py) can read every statement without the engine.
The deploy roles' documents are in aws_deploy.py, the workload boundaries in aws_boundary.py.

Roles, each trusted only by the GitHub OIDC tokens of one repository and only for the subjects
that kind of job has:

- deploy, one per environment: `repo:OWNER/REPO:environment:<env>` only (aws_deploy.py).
- preview: `repo:OWNER/REPO:pull_request` (same-repository pull requests; a fork's pull request
  gets no OIDC token). It reads the stacks' state and decrypts their secrets; it takes no
  lock (the DIY backend's `Preview` does not lock, pkg/backend/diy/backend.go). Even without
  `--refresh` a preview reads AWS: the running image's lookup (infra/components/
  running_image.py) calls `tag:GetResources`, `cloudformation:GetResource` and, through Cloud
  Control's read handler, `apprunner:DescribeService`, whose answer includes the service's
  runtime environment variables in plain text (aws_program_calls.py, docs/ci.md).
- checks: `repo:OWNER/REPO:ref:refs/heads/<default branch>` (scheduled and manually dispatched
  workflows run on the default branch): the read-only calls of `spendsense status`, of the
  JWT rotation check and of the weekly `security report`, on the checks environment's
  resources.

Every document is a managed policy (IAM allows 6,144 characters each, whitespace not counted;
`POLICY_HEADROOM` of that is the most a document may use, so the next statement still fits).
`Resource: "*"` appears only for actions the IAM Service Authorization Reference lists with no
resource type (`UNSCOPABLE_ACTIONS`) or together with a tag condition (`TAG_CONDITIONED`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

OIDC_HOST = "token.actions.githubusercontent.com"
OIDC_URL = f"https://{OIDC_HOST}"
OIDC_AUDIENCE = "sts.amazonaws.com"
PROJECT_TAG = ("Project", "spendsense")
ENVIRONMENT_TAG = "Environment"
CI_ROLE_PREFIX = "spendsense-github-"
# The main program's Pulumi project: its stacks' state is under .pulumi/*/spendsense/<stack>.
PROGRAM_PROJECT = "spendsense"

# IAM quotas (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html):
# a managed policy holds 6,144 characters and a role's inline policies 10,240 in all,
# whitespace not counted. The tests hold every document to POLICY_HEADROOM of its limit.
MANAGED_POLICY_LIMIT = 6144
INLINE_POLICIES_PER_ROLE_LIMIT = 10240
POLICY_HEADROOM = 0.8

# The listing calls `pulumi up` makes (the deploy roles' `ListCalls` statement): the reference
# lists no resource type for any of them.
LIST_CALLS = (
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
)

# Actions the IAM Service Authorization Reference lists with no resource type: a grant on
# anything but "*" never applies to them.
UNSCOPABLE_ACTIONS = frozenset(
    {
        *LIST_CALLS,
        "route53:CreateHealthCheck",
        "secretsmanager:GetRandomPassword",
        # SNS subscriptions have no resource type in the reference (only topics do).
        "sns:GetSubscriptionAttributes",
        "sns:SetSubscriptionAttributes",
        "sns:Unsubscribe",
        "tag:GetResources",
        # Cloud Control (the running image's lookup): no resource type; the read handler's
        # own permissions (apprunner:DescribeService) are what scope it.
        "cloudformation:GetResource",
        # Only in the workload boundaries: what the API and the rotation Lambda call.
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "cloudwatch:PutMetricData",
        # The security report's API 4xx counts (checks role).
        "cloudwatch:GetMetricData",
    }
)
# Actions granted on "*" (or on every role) only under an `aws:RequestTag` condition.
TAG_CONDITIONED = frozenset({"kms:CreateKey", "kms:TagResource", "iam:TagRole"})
# Global services (no region in their endpoint): excluded from the region guard. Not `tag`:
# the Resource Groups Tagging API is regional (tagging.<region>.amazonaws.com,
# https://docs.aws.amazon.com/general/latest/gr/arg.html), so its calls carry the region.
GLOBAL_SERVICES = ("iam", "route53", "budgets", "sts", "cloudfront")


@dataclass(frozen=True)
class Scope:
    """Where a role may act: one account, one region, one stack's name prefixes."""

    account: str
    region: str
    prefixes: Sequence[str]
    state_bucket: str
    state_key_arn: str
    partition: str = "aws"
    # The stack (GitHub environment) a deploy role or boundary is for; its tagged resources
    # carry `Environment=<environment>`.
    environment: str | None = None
    # Prefixes of the other stacks in the same account that this stack's prefixes also match
    # (production's `spendsense-api` matches staging's `spendsense-api-staging`): denied.
    other_prefixes: Sequence[str] = field(default_factory=tuple)
    # When set, every role the deploy role creates or changes must carry this permissions
    # boundary (aws_boundary.py), so a role it writes cannot exceed it.
    boundary_arn: str | None = None
    # Whether a deploy role may delete its stack's secrets without a recovery window
    # (aws_program_calls.secret_deletion_guard; `forceDeleteSecrets` of the environment).
    force_delete_secrets: bool = False
    # The program's stacks whose state a role without an environment reads (preview: all).
    stacks: Sequence[str] = field(default_factory=tuple)

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


def compact(statements: Iterable[dict[str, Any]]) -> str:
    """A policy document as IAM stores it (no whitespace; its size is what IAM counts)."""
    return json.dumps(document(statements), separators=(",", ":"))


def tagged(scope: Scope, key: str = "aws:ResourceTag") -> dict[str, Any]:
    """`Project=spendsense` and, for one stack, `Environment=<stack>` on the resource/request."""
    equals = {f"{key}/{PROJECT_TAG[0]}": PROJECT_TAG[1]}
    if scope.environment:
        equals[f"{key}/{ENVIRONMENT_TAG}"] = scope.environment
    return {"StringEquals": equals}


# --------------------------------------------------------------------------------------------
# Trust
# --------------------------------------------------------------------------------------------
def github_subjects(
    repository: str,
    *,
    environments: Sequence[str] = (),
    pull_request: bool = False,
    branch: str | None = None,
) -> list[str]:
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
def stack_state_objects(bucket_arn: str, stack: str, project: str = PROGRAM_PROJECT) -> list[str]:
    """The objects Pulumi's DIY backend (project layout, `.pulumi/meta.yaml` version 1) reads
    and writes for one stack, as pkg/backend/diy of pulumi/pulumi names them
    (https://github.com/pulumi/pulumi/blob/master/pkg/backend/diy/store.go, state.go, lock.go,
    stack_tags.go): the checkpoint `stacks/<project>/<stack>.json` with its `.gz`/`.zst`
    variants, `.bak` copies and retained `.json.<time>` copies, the stack's tags file, and the
    stack's own history, backups, journal and lock directories (locks are keyed by the fully
    qualified name `organization/<project>/<stack>`). Trailing `/` and exact suffixes: no
    other stack's files, even one whose name starts with this one's.
    """
    base = f"{bucket_arn}/.pulumi"
    return [
        f"{base}/stacks/{project}/{stack}.json",
        f"{base}/stacks/{project}/{stack}.json.*",
        f"{base}/stacks/{project}/{stack}.pulumi-tags",
        f"{base}/history/{project}/{stack}/*",
        f"{base}/backups/{project}/{stack}/*",
        f"{base}/journal/{project}/{stack}/*",
        f"{base}/locks/organization/{project}/{stack}/*",
    ]


def state_statements(scope: Scope, *, write: bool) -> list[dict[str, Any]]:
    """Read the state of the scope's stacks (and with `write`, change it).

    A deploy role (a scope with an environment) reads and writes only its own stack's files
    (`stack_state_objects`) and the backend's `.pulumi/meta.yaml` (read on every login,
    pkg/backend/diy/meta.go), so staging's role can neither rewrite nor read production's
    state (which holds, for example, the alert e-mail subscription's ARN). The preview and
    checks roles read the stacks they name in `Scope.stacks` and write nothing: Pulumi's DIY
    backend takes no lock for a preview (pkg/backend/diy/backend.go, `Preview`). Listing the
    bucket (key names, no content) stays bucket-wide: the backend lists `.pulumi/stacks/` to
    find a stack's checkpoint.
    """
    bucket_arn = f"arn:{scope.partition}:s3:::{scope.state_bucket}"
    stacks = [scope.environment] if scope.environment else list(scope.stacks)
    if not stacks:
        raise ValueError("a state grant names its stacks (Scope.environment or Scope.stacks)")
    own = [obj for stack in stacks for obj in stack_state_objects(bucket_arn, stack)]
    statements = [
        statement(
            "StateList",
            ["s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketVersioning"],
            [bucket_arn],
        ),
        statement(
            "StateRead",
            ["s3:GetObject", "s3:GetObjectVersion"],
            [f"{bucket_arn}/.pulumi/meta.yaml", *own],
        ),
        statement(
            "StackSecrets",
            ["kms:Decrypt", "kms:DescribeKey"]
            + (["kms:Encrypt", "kms:GenerateDataKey"] if write else []),
            [scope.state_key_arn],
        ),
    ]
    if write:
        statements.insert(2, statement("StateWrite", ["s3:PutObject", "s3:DeleteObject"], own))
    return statements


def region_guard(scope: Scope) -> dict[str, Any]:
    """Deny every regional call outside the stack's region (a Deny, so it caps the Allows)."""
    return {
        "Sid": "OnlyTheStackRegion",
        "Effect": "Deny",
        "NotAction": [f"{service}:*" for service in GLOBAL_SERVICES],
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:RequestedRegion": scope.region}},
    }


def other_stacks_deny(scope: Scope) -> list[dict[str, Any]]:
    """Deny everything on the names of the other stacks that this stack's prefixes match."""
    if not scope.other_prefixes:
        return []
    return [
        {
            "Sid": "NotTheOtherStacks",
            "Effect": "Deny",
            "Action": "*",
            "Resource": sorted(
                f"arn:{scope.partition}:*:*:{scope.account}:*{prefix}*"
                for prefix in scope.other_prefixes
            ),
        }
    ]


# --------------------------------------------------------------------------------------------
# Preview and checks
# --------------------------------------------------------------------------------------------
def preview_statements(scope: Scope) -> list[dict[str, Any]]:
    """The state and the stacks' secrets (the running image's lookup: aws_trust.py)."""
    return [*state_statements(scope, write=False), region_guard(scope)]


def checks_statements(scope: Scope) -> list[dict[str, Any]]:
    """The read-only calls of `spendsense status`, `outputs`, the JWT rotation check and the
    weekly `security report` (Logs Insights on the API's log groups, where the reference
    scopes StartQuery and GetQueryResults; the 4xx metric, GetMetricData, has no resource
    type)."""
    s = scope
    return [
        *state_statements(s, write=False),
        statement(
            "ListCalls",
            ["apprunner:ListServices", "cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData"],
            "*",
        ),
        statement(
            "SecurityReportQueries",
            ["logs:StartQuery", "logs:GetQueryResults"],
            s.named("logs", "log-group:/aws/apprunner/{p}*"),
        ),
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
