"""The trust the GitHub Actions workflows need, declared as a small second Pulumi program.

It owns:
- AWS: GitHub's OIDC identity provider; three roles (deploy, preview, checks), each trusted
  only by this repository's tokens for the exact subjects its jobs have (aws_policies.py);
  the Pulumi state backend: a versioned, KMS-encrypted, private S3 bucket, and the KMS key that
  encrypts the stacks' secrets (`--secrets-provider awskms://...`).
- GCP: a workload identity pool and GitHub provider (only this repository's tokens get in), a
  deploy service account per environment in that environment's project, and a preview and a
  checks service account, each usable only by the GitHub tokens of one exact subject.

It deliberately does not own the GitHub side (environments, required reviewers, repository
variables): those are set once by hand, as docs/ci.md explains, from this stack's outputs.

Its own state cannot live in the bucket it creates: bootstrap it with a local backend, then
move it into the bucket (docs/ci.md, "Bootstrap").
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp

from infra.ci_trust import aws_policies
from infra.ci_trust.settings import TrustSettings, load_trust_settings

POOL_ID = "github"
PROVIDER_ID = "github-actions"

# Roles of each environment's deploy service account, in that environment's project: what
# the main program manages there (Firestore and its rules, the backup bucket, the export
# schedule and its service account). `projectIamAdmin` is granted with a condition that lets it
# grant only the roles in `grantableRoles`.
DEPLOY_ROLES = (
    "roles/datastore.owner",
    "roles/firebaserules.admin",
    "roles/storage.admin",
    "roles/cloudscheduler.admin",
    "roles/iam.serviceAccountAdmin",
    "roles/iam.serviceAccountUser",
    "roles/serviceusage.serviceUsageConsumer",
)
# `pulumi preview` without refresh only looks the projects up.
PREVIEW_ROLES = ("roles/browser",)


def _json(value: Any) -> pulumi.Output[str]:
    """A JSON document built from Outputs (never an Output inside an f-string)."""
    return pulumi.Output.from_input(value).apply(lambda v: json.dumps(v, sort_keys=True))


class StateBackend(pulumi.ComponentResource):
    """The S3 bucket that holds every stack's state, and the KMS key of the stacks' secrets.

    Versioned (every checkpoint Pulumi overwrites stays recoverable for
    `noncurrentVersionDays`), encrypted with its own KMS key, private (public access block,
    bucket-owner-enforced objects, TLS-only policy), protected from `pulumi destroy`.
    """

    def __init__(self, name: str, settings: TrustSettings, opts: pulumi.ResourceOptions | None = None) -> None:  # fmt: skip
        super().__init__("spendsense:ci:StateBackend", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        keep = pulumi.ResourceOptions(
            parent=self, protect=settings.state.protect, retain_on_delete=settings.state.protect
        )
        tags = settings.tags
        self.key = aws.kms.Key(
            f"{name}-key",
            description="Encrypts the Pulumi state bucket and the SpendSense stacks' secrets",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=tags,
            opts=keep,
        )
        self.alias = aws.kms.Alias(
            f"{name}-key-alias",
            name="alias/spendsense-pulumi",
            target_key_id=self.key.key_id,
            opts=child,
        )
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket", bucket=settings.state.bucket_name, tags=tags, opts=keep
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=self.bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": self.key.arn,
                    },
                    "bucket_key_enabled": True,
                }
            ],
            opts=child,
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=self.bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=self.bucket.id,
            rules=[
                {
                    "id": "expire-old-checkpoints",
                    "status": "Enabled",
                    "filter": {},
                    "noncurrent_version_expiration": {
                        "noncurrent_days": settings.state.noncurrent_version_days
                    },
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
                }
            ],
            opts=child,
        )
        bucket_arn = pulumi.Output.concat("arn:aws:s3:::", self.bucket.bucket)
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=self.bucket.id,
            policy=_json(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                }
            ),
            opts=child,
        )
        self.backend_url = pulumi.Output.concat(
            "s3://", self.bucket.bucket, "?region=", settings.aws_region
        )
        self.secrets_provider = pulumi.Output.concat(
            "awskms://", self.alias.name, "?region=", settings.aws_region
        )
        self.register_outputs({"bucket": self.bucket.bucket, "key_arn": self.key.arn})


class AwsGithubTrust(pulumi.ComponentResource):
    """GitHub's OIDC provider and the three CI roles (see aws_policies.py for who may do what)."""

    def __init__(self, name: str, settings: TrustSettings, state: StateBackend, opts: pulumi.ResourceOptions | None = None) -> None:  # fmt: skip
        super().__init__("spendsense:ci:AwsGithubTrust", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # AWS checks GitHub's certificate against its own trusted CAs, so no thumbprint is pinned.
        self.provider = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=aws_policies.OIDC_URL,
            client_id_lists=[aws_policies.OIDC_AUDIENCE],
            tags=settings.tags,
            opts=child,
        )
        identity = aws.get_caller_identity_output()
        base = pulumi.Output.all(identity.account_id, state.bucket.bucket, state.key.arn).apply(
            lambda args: aws_policies.Scope(
                account=args[0],
                region=settings.aws_region,
                prefixes=settings.resource_prefixes,
                state_bucket=args[1],
                state_key_arn=args[2],
            )
        )
        # The ceiling of every role the program creates (its permissions boundary).
        self.boundary = aws.iam.Policy(
            f"{name}-workload-boundary",
            name=aws_policies.WORKLOAD_BOUNDARY_NAME,
            description="Permissions boundary of every IAM role the SpendSense program creates",
            policy=base.apply(
                lambda scope: json.dumps(
                    aws_policies.document(aws_policies.workload_boundary_statements(scope)),
                    separators=(",", ":"),
                )
            ),
            tags=settings.tags,
            opts=child,
        )
        required = settings.require_permissions_boundary
        scope = pulumi.Output.all(base, self.boundary.arn).apply(
            lambda args: dataclasses.replace(args[0], boundary_arn=args[1] if required else None)
        )
        repo = settings.github.full_name
        environments = [env.name for env in settings.environments]
        self.deploy = self._role(
            f"{name}-deploy",
            f"{aws_policies.CI_ROLE_PREFIX}deploy",
            "Deploys the SpendSense stacks from GitHub Actions (environments only)",
            aws_policies.github_subjects(repo, environments=environments),
            scope.apply(aws_policies.deploy_statements),
            settings,
            child,
        )
        self.preview = self._role(
            f"{name}-preview",
            f"{aws_policies.CI_ROLE_PREFIX}preview",
            "Runs pulumi preview for same-repository pull requests",
            aws_policies.github_subjects(repo, pull_request=True),
            scope.apply(aws_policies.preview_statements),
            settings,
            child,
        )
        self.checks = self._role(
            f"{name}-checks",
            f"{aws_policies.CI_ROLE_PREFIX}checks",
            "Runs the scheduled read-only checks from the default branch",
            aws_policies.github_subjects(repo, branch=settings.github.default_branch),
            scope.apply(aws_policies.checks_statements),
            settings,
            child,
        )
        self.register_outputs({"provider_arn": self.provider.arn})

    def _role(
        self,
        name: str,
        role_name: str,
        description: str,
        subjects: list[str],
        statements: pulumi.Output[list[dict[str, Any]]],
        settings: TrustSettings,
        opts: pulumi.ResourceOptions,
    ) -> aws.iam.Role:
        role = aws.iam.Role(
            name,
            name=role_name,
            description=description,
            assume_role_policy=self.provider.arn.apply(
                lambda arn: json.dumps(aws_policies.trust_policy(arn, subjects), sort_keys=True)
            ),
            max_session_duration=3600,
            tags=settings.tags,
            opts=opts,
        )
        aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            # Compact: IAM allows 10,240 characters of inline policy per role.
            policy=statements.apply(
                lambda s: json.dumps(aws_policies.document(s), separators=(",", ":"))
            ),
            opts=pulumi.ResourceOptions(parent=role),
        )
        return role


class GcpGithubTrust(pulumi.ComponentResource):
    """A workload identity pool that admits only this repository's GitHub tokens, and the CI
    service accounts, each impersonable only by the matching GitHub principals."""

    def __init__(self, name: str, settings: TrustSettings, opts: pulumi.ResourceOptions | None = None) -> None:  # fmt: skip
        super().__init__("spendsense:ci:GcpGithubTrust", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        host = settings.gcp_project
        self.pool = gcp.iam.WorkloadIdentityPool(
            f"{name}-pool",
            project=host,
            workload_identity_pool_id=POOL_ID,
            display_name="GitHub Actions",
            description=f"GitHub Actions workflows of {settings.github.full_name}",
            opts=child,
        )
        self.provider = gcp.iam.WorkloadIdentityPoolProvider(
            f"{name}-provider",
            project=host,
            workload_identity_pool_id=self.pool.workload_identity_pool_id,
            workload_identity_pool_provider_id=PROVIDER_ID,
            display_name="GitHub Actions OIDC",
            attribute_mapping={
                "google.subject": "assertion.sub",
                # Only claims every GitHub token has (a job outside an environment has no
                # `environment` claim); bindings use the exact subject, as in AWS.
                "attribute.repository": "assertion.repository",
                "attribute.ref": "assertion.ref",
            },
            # Tokens of any other repository are rejected before any binding is looked at.
            attribute_condition=f'assertion.repository == "{settings.github.full_name}"',
            oidc={"issuer_uri": aws_policies.OIDC_URL},
            opts=pulumi.ResourceOptions(parent=self.pool),
        )
        number = gcp.organizations.get_project_output(project_id=host).number
        pool_path = pulumi.Output.concat(
            "projects/", number, "/locations/global/workloadIdentityPools/", POOL_ID
        )
        self.provider_name = pulumi.Output.concat(pool_path, "/providers/", PROVIDER_ID)

        def principal(subject: str) -> pulumi.Output[str]:
            """One GitHub `sub` claim (the same exact subjects the AWS roles trust)."""
            return pulumi.Output.concat(
                "principal://iam.googleapis.com/", pool_path, "/subject/", subject
            )

        repo = settings.github.full_name

        self.service_accounts: dict[str, gcp.serviceaccount.Account] = {}
        for env in settings.environments:
            account = self._account(
                f"{name}-deploy-{env.name}",
                env.gcp_project,
                f"spendsense-deploy-{env.name}",
                f"Deploys the SpendSense {env.name} stack from GitHub Actions",
                principal(aws_policies.github_subjects(repo, environments=[env.name])[0]),
                child,
            )
            self.service_accounts[env.name] = account
            for role in DEPLOY_ROLES:
                self._grant(
                    f"{name}-deploy-{env.name}-{_short(role)}", env.gcp_project, role, account
                )
            self._grant(
                f"{name}-deploy-{env.name}-iam",
                env.gcp_project,
                "roles/resourcemanager.projectIamAdmin",
                account,
                condition={
                    "title": "only-the-program-roles",
                    "description": "May grant only the roles the SpendSense program grants",
                    "expression": _grantable(settings.grantable_roles),
                },
            )

        preview = self._account(
            f"{name}-preview",
            host,
            "spendsense-ci-preview",
            "Runs pulumi preview for same-repository pull requests",
            principal(aws_policies.github_subjects(repo, pull_request=True)[0]),
            child,
        )
        self.service_accounts["preview"] = preview
        for env in settings.environments:
            for role in PREVIEW_ROLES:
                self._grant(
                    f"{name}-preview-{env.name}-{_short(role)}", env.gcp_project, role, preview
                )

        checks_env = settings.environment(settings.checks.environment)
        checks = self._account(
            f"{name}-checks",
            host,
            "spendsense-ci-checks",
            "Runs the scheduled checks and the monthly restore drill",
            principal(aws_policies.github_subjects(repo, branch=settings.github.default_branch)[0]),
            child,
        )
        self.service_accounts["checks"] = checks
        bucket = settings.checks.backup_bucket
        grants: list[tuple[str, str, str, dict[str, str] | None]] = [
            ("datastore-viewer", checks_env.gcp_project, "roles/datastore.viewer", None),
            (
                "backup-reader",
                checks_env.gcp_project,
                "roles/storage.objectViewer",
                {
                    "title": "only-the-backup-bucket",
                    "description": f"Objects of gs://{bucket} only",
                    "expression": f'resource.name.startsWith("projects/_/buckets/{bucket}")',
                },
            ),
            # The monthly drill imports the newest export into the (empty) test project.
            (
                "drill-import",
                settings.checks.drill_project,
                "roles/datastore.importExportAdmin",
                None,
            ),
            ("drill-data", settings.checks.drill_project, "roles/datastore.user", None),
        ]
        for suffix, project, role, condition in grants:
            self._grant(f"{name}-checks-{suffix}", project, role, checks, condition=condition)
        self.register_outputs({"provider": self.provider_name})

    def _account(
        self,
        name: str,
        project: str,
        account_id: str,
        description: str,
        member: pulumi.Output[str],
        opts: pulumi.ResourceOptions,
    ) -> gcp.serviceaccount.Account:
        account = gcp.serviceaccount.Account(
            name,
            project=project,
            account_id=account_id,
            display_name=account_id,
            description=description,
            opts=opts,
        )
        gcp.serviceaccount.IAMMember(
            f"{name}-wif",
            service_account_id=account.name,
            role="roles/iam.workloadIdentityUser",
            member=member,
            opts=pulumi.ResourceOptions(parent=account),
        )
        return account

    def _grant(
        self,
        name: str,
        project: str,
        role: str,
        account: gcp.serviceaccount.Account,
        condition: dict[str, str] | None = None,
    ) -> None:
        gcp.projects.IAMMember(
            name,
            project=project,
            role=role,
            member=account.email.apply(lambda email: f"serviceAccount:{email}"),
            condition=condition,
            opts=pulumi.ResourceOptions(parent=account),
        )


def _short(role: str) -> str:
    return role.removeprefix("roles/").replace(".", "-").lower()


def _grantable(roles: tuple[str, ...]) -> str:
    listed = ", ".join(f"'{role}'" for role in roles)
    return f"api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly([{listed}])"


def main() -> None:
    settings = load_trust_settings()
    state = StateBackend("state", settings)
    aws_trust = AwsGithubTrust("aws-github", settings, state)
    gcp_trust = GcpGithubTrust("gcp-github", settings)
    # The repository variables docs/ci.md asks for, with the values to give them.
    pulumi.export("state_bucket", state.bucket.bucket)
    pulumi.export("pulumi_backend_url", state.backend_url)
    pulumi.export("pulumi_secrets_provider", state.secrets_provider)
    pulumi.export("aws_oidc_provider_arn", aws_trust.provider.arn)
    pulumi.export("aws_deploy_role_arn", aws_trust.deploy.arn)
    pulumi.export("aws_preview_role_arn", aws_trust.preview.arn)
    pulumi.export("aws_checks_role_arn", aws_trust.checks.arn)
    pulumi.export("aws_workload_boundary_arn", aws_trust.boundary.arn)
    pulumi.export("gcp_workload_identity_provider", gcp_trust.provider_name)
    pulumi.export(
        "gcp_service_accounts",
        {key: account.email for key, account in gcp_trust.service_accounts.items()},
    )
