"""Typed, frozen settings of the CI trust stack, parsed once from its configuration.

`parse_trust_settings` is a pure function from the raw configuration (``{"aws:region": ...,
"spendsense-ci-trust:github": {...}}``, structured values already decoded) to a
`TrustSettings` object. A bad value becomes one `TrustSettingsError` line that names the key as
written in `Pulumi.<stack>.yaml`, what is allowed and what was given, for example::

    spendsense-ci-trust:github.owner: must be a GitHub owner name ... (got "my org")
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import pulumi
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from infra.settings import _got, describe_problem, matches

NAMESPACE = "spendsense-ci-trust"
STACK_ENVIRONMENTS = ("staging", "production")

# The GCP roles a deploy service account may grant to others (to the program's own service
# accounts and service agents). Everything else it cannot grant, so it cannot make itself or
# anyone else an owner (an IAM condition on `modifiedGrantsByRole`, see program.py).
DEFAULT_GRANTABLE_ROLES = (
    "roles/datastore.importExportAdmin",
    "roles/datastore.user",
    "roles/storage.objectViewer",
    "roles/storage.objectAdmin",
    "roles/storage.legacyBucketReader",
    "roles/cloudscheduler.jobRunner",
    "roles/iam.serviceAccountTokenCreator",
    "roles/iam.serviceAccountUser",
    # The scheduler's account starts the export workflow (infra/components/backups.py).
    "roles/workflows.invoker",
)
# Project-level custom roles (ids) the deploy account may create and grant in its project:
# the export role that replaces roles/datastore.importExportAdmin (export only, no import).
# Not spendsenseFirestoreExportHolds: the program grants it on the backup bucket only
# (infra/components/backup_iam.py), through the bucket's own IAM policy
# (storage.buckets.setIamPolicy of roles/storage.admin), which this project-level condition
# does not govern; listing it here would let the account grant it on the whole project.
DEFAULT_GRANTABLE_CUSTOM_ROLES = ("spendsenseFirestoreExport",)


class TrustSettingsError(pulumi.RunError):
    """A bad setting; Pulumi prints a RunError as its message alone, without a traceback."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"{key}: {problem}")


def _matches(pattern: str, what: str) -> Any:
    return AfterValidator(matches(pattern, what))


GithubName = Annotated[
    str,
    _matches(
        r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,99})",
        "a GitHub owner or repository name (letters, digits, ., _ and -)",
    ),
]
GcpProject = Annotated[
    str,
    _matches(
        r"[a-z][a-z0-9-]{4,28}[a-z0-9]",
        "a GCP project id (6-30 lower-case letters, digits and dashes)",
    ),
]
BucketName = Annotated[
    str,
    _matches(
        r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
        "an S3/GCS bucket name (3-63 lower-case letters, digits, . and -)",
    ),
]
Prefix = Annotated[
    str,
    _matches(
        r"[A-Za-z][A-Za-z0-9-]{2,39}",
        "a resource name prefix such as spendsense (3-40 letters, digits and -)",
    ),
]
AwsAccount = Annotated[str, _matches(r"[0-9]{12}", "a 12-digit AWS account id")]
RoleArn = Annotated[
    str,
    _matches(
        r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}",
        "an IAM role ARN such as arn:aws:iam::111122223333:role/OrganizationAccountAccessRole",
    ),
]
CustomRoleId = Annotated[
    str, _matches(r"[A-Za-z0-9_.]{3,64}", "a custom role id such as spendsenseFirestoreExport")
]
PolicyName = Annotated[
    str,
    _matches(
        r"[\w+=,.@-]{1,128}",
        "an IAM managed policy name such as spendsense-workload-boundary-staging",
    ),
]
GcpRole = Annotated[
    str, _matches(r"roles/[A-Za-z0-9_.]+", "a predefined GCP role such as roles/datastore.user")
]


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class GithubSettings(_Model):
    """The one repository whose workflows are trusted."""

    owner: GithubName
    repository: GithubName
    # The branch deploys and scheduled checks run from.
    default_branch: Annotated[str, _matches(r"[A-Za-z0-9._/-]{1,100}", "a branch name")] = "main"

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repository}"


class EnvironmentSettings(_Model):
    """One GitHub environment (= one Pulumi stack of the main program)."""

    name: Annotated[str, AfterValidator(lambda v: _one_of(v, STACK_ENVIRONMENTS))]
    gcp_project: GcpProject
    # Physical-name prefixes of what this stack creates in AWS (its deploy role and its
    # boundary are scoped to them): `spendsense-api-staging`, `SpendSense-API-staging`.
    resource_prefixes: tuple[Prefix, ...]
    # The permissions boundary of this stack's IAM roles (the main program's
    # `spendsense:iamPermissionsBoundary` must name it).
    boundary_name: PolicyName
    # One AWS account per environment (docs/ci.md): the account this environment deploys to,
    # and the role the trust stack's administrator assumes there to create the environment's
    # OIDC provider, boundary and deploy role. Unset: the trust stack's own account.
    aws_account_id: AwsAccount | None = None
    aws_admin_role_arn: RoleArn | None = None
    # The stack may delete its JWT secret at once (its `jwt.recoveryWindowDays: 0`, staging);
    # otherwise its deploy role is denied DeleteSecret with ForceDeleteWithoutRecovery.
    force_delete_secrets: bool = False


class ChecksSettings(_Model):
    """What the scheduled checks read (production) and where the restore drill imports."""

    environment: Annotated[str, AfterValidator(lambda v: _one_of(v, STACK_ENVIRONMENTS))] = (
        "production"
    )
    backup_bucket: BucketName = "spendsense-backups"
    drill_project: GcpProject = "spendsense-test"


class StateSettings(_Model):
    """The Pulumi state backend: an S3 bucket and the KMS key of the stacks' secrets."""

    bucket_name: BucketName
    noncurrent_version_days: Annotated[int, AfterValidator(lambda v: _at_least(v, 30))] = 365
    protect: bool = True


def _one_of(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"must be one of {', '.join(allowed)} (got {_got(value)})")
    return value


def _at_least(value: int, low: int) -> int:
    if value < low:
        raise ValueError(f"must be at least {low} (got {value})")
    return value


class TrustSettings(_Model):
    aws_region: str
    gcp_project: GcpProject  # the default host of the workload identity pool and CI accounts
    # A dedicated CI project (docs/ci.md): when set, it holds the workload identity pool and
    # every CI service account (deploy ones included), so no environment's deploy account,
    # which administers service accounts and custom roles in its own project, can rewrite
    # who may impersonate them. Unset: today's layout (`gcp:project`, deploy accounts in
    # their environment's project).
    ci_project: GcpProject | None = None
    github: GithubSettings
    environments: tuple[EnvironmentSettings, ...]
    checks: ChecksSettings = ChecksSettings()
    state: StateSettings
    grantable_roles: tuple[GcpRole, ...] = DEFAULT_GRANTABLE_ROLES
    grantable_custom_roles: tuple[CustomRoleId, ...] = DEFAULT_GRANTABLE_CUSTOM_ROLES
    # Roles the deploy role creates or changes must carry the workload permissions boundary
    # (so it cannot write itself a more powerful role). Turn off only while the program's roles
    # do not yet set `permissions_boundary` (docs/ci.md).
    require_permissions_boundary: bool = True

    # Not `Project=spendsense`: the deploy role may change IAM roles and KMS keys that carry
    # that tag (the program's own), so the CI roles and the state key must not carry it.
    @property
    def tags(self) -> dict[str, str]:
        return {"Project": "spendsense-ci", "Environment": "ci", "ManagedBy": "pulumi"}

    @property
    def labels(self) -> dict[str, str]:
        return {"project": "spendsense-ci", "environment": "ci", "managed-by": "pulumi"}

    @property
    def ci_host(self) -> str:
        """The project of the workload identity pool and the preview/checks accounts."""
        return self.ci_project or self.gcp_project

    def deploy_account_project(self, env: EnvironmentSettings) -> str:
        """Where an environment's deploy service account lives."""
        return self.ci_project or env.gcp_project

    def environment(self, name: str) -> EnvironmentSettings:
        for env in self.environments:
            if env.name == name:
                return env
        raise TrustSettingsError(
            f"{NAMESPACE}:checks.environment",
            f"must name one of the environments ({', '.join(e.name for e in self.environments)}) "
            f"(got {_got(name)})",
        )


_OBJECTS = {
    "github",
    "environments",
    "checks",
    "state",
    "grantableRoles",
    "grantableCustomRoles",
    "requirePermissionsBoundary",
    "ciProject",
}
_REQUIRED = ("github", "environments", "state")


def parse_trust_settings(raw: Mapping[str, Any]) -> TrustSettings:
    """Parse the trust stack's configuration (full keys, structured values decoded)."""
    for key in raw:
        namespace, _, name = key.partition(":")
        if namespace == NAMESPACE and name not in _OBJECTS:
            known = ", ".join(f"{NAMESPACE}:{k}" for k in sorted(_OBJECTS))
            raise TrustSettingsError(key, f"is not a known setting (allowed: {known})")
    for key in ("aws:region", "gcp:project"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise TrustSettingsError(key, "is required (a plain string in the stack file)")
    for name in _REQUIRED:
        if f"{NAMESPACE}:{name}" not in raw:
            raise TrustSettingsError(f"{NAMESPACE}:{name}", "is required; see docs/ci.md")
    data = {
        "awsRegion": raw["aws:region"],
        "gcpProject": raw["gcp:project"],
        **{name: raw[f"{NAMESPACE}:{name}"] for name in _OBJECTS if f"{NAMESPACE}:{name}" in raw},
    }
    try:
        settings = TrustSettings.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        location = [str(part) for part in error["loc"]]
        head = {"awsRegion": "aws:region", "gcpProject": "gcp:project"}.get(location[0])
        key = head or f"{NAMESPACE}:{location[0]}"
        for part in location[1:]:
            key += f"[{part}]" if part.isdigit() else f".{part}"
        raise TrustSettingsError(key, describe_problem(error)) from None
    names = [env.name for env in settings.environments]
    if len(set(names)) != len(names) or not names:
        raise TrustSettingsError(
            f"{NAMESPACE}:environments",
            f"must list each of {', '.join(STACK_ENVIRONMENTS)} at most once (got {names})",
        )
    settings.environment(settings.checks.environment)  # must exist
    for index, env in enumerate(settings.environments):
        if (env.aws_account_id is None) != (env.aws_admin_role_arn is None):
            raise TrustSettingsError(
                f"{NAMESPACE}:environments[{index}]",
                "set awsAccountId and awsAdminRoleArn together (one AWS account per "
                "environment, docs/ci.md) or neither",
            )
        if env.aws_admin_role_arn and f"::{env.aws_account_id}:" not in env.aws_admin_role_arn:
            raise TrustSettingsError(
                f"{NAMESPACE}:environments[{index}].awsAdminRoleArn",
                f"must be a role in awsAccountId {env.aws_account_id} "
                f"(got {_got(env.aws_admin_role_arn)})",
            )
    if settings.ci_project in {env.gcp_project for env in settings.environments}:
        raise TrustSettingsError(
            f"{NAMESPACE}:ciProject",
            "must be a project of its own, not an environment's (whose deploy account "
            f"administers its service accounts) (got {_got(settings.ci_project)})",
        )
    if len({env.boundary_name for env in settings.environments}) != len(names):
        raise TrustSettingsError(
            f"{NAMESPACE}:environments",
            "each environment needs its own boundaryName (a shared boundary would let one "
            "stack's roles reach the other's resources)",
        )
    return settings


def load_trust_settings() -> TrustSettings:
    """Read the running stack's configuration (engine or mock runtime) and parse it."""
    from infra.settings import read_pulumi_config

    return parse_trust_settings(read_pulumi_config())
