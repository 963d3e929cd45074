"""AWS side of the CI trust: GitHub's OIDC provider, one deploy role and one permissions
boundary per environment, the preview and checks roles; every document a managed policy.

An environment with `awsAccountId` (one AWS account per environment, docs/ci.md) gets its OIDC
provider, boundary and deploy role in that account, through a provider that assumes
`awsAdminRoleArn` there; the others share the trust stack's own account.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.ci_trust import aws_boundary, aws_deploy, aws_policies, aws_program_calls
from infra.ci_trust.settings import EnvironmentSettings, TrustSettings
from infra.ci_trust.state_backend import StateBackend

Statements = list[dict[str, Any]]


def deploy_role_name(environment: str) -> str:
    return f"{aws_policies.CI_ROLE_PREFIX}deploy-{environment}"


def other_prefixes(settings: TrustSettings, env: EnvironmentSettings) -> tuple[str, ...]:
    """Other stacks' prefixes in the same account that one of `env`'s prefixes also matches."""
    return tuple(
        sorted(
            theirs
            for other in settings.environments
            if other.name != env.name and other.aws_account_id == env.aws_account_id
            for theirs in other.resource_prefixes
            if any(theirs.startswith(mine) and theirs != mine for mine in env.resource_prefixes)
        )
    )


def preview_statements(settings: TrustSettings, base: aws_policies.Scope) -> Statements:
    """The preview role: every stack's state (all in the trust stack's bucket), and what
    every `pulumi preview` reads (the running image's lookup, the alert routes' paging URLs)
    on the services and parameters of the stacks in the trust stack's account (an
    environment with its own account is not reachable from this role)."""
    shared = tuple(
        prefix
        for env in settings.environments
        if env.aws_account_id is None
        for prefix in env.resource_prefixes
    )
    stacks = tuple(env.name for env in settings.environments)
    local = tuple(env.name for env in settings.environments if env.aws_account_id is None)
    scope = _replace(base, prefixes=shared, stacks=stacks)
    return [
        *aws_policies.preview_statements(scope),
        *aws_program_calls.running_image_statements(scope),
        # The paging URLs of the stacks in this account (the others' are out of reach).
        *aws_program_calls.alert_parameter_statements(_replace(scope, stacks=local)),
    ]


class AwsGithubTrust(pulumi.ComponentResource):
    """GitHub's OIDC provider(s) and the CI roles (aws_policies.py says who may do what)."""

    def __init__(
        self,
        name: str,
        settings: TrustSettings,
        state: StateBackend,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("spendsense:ci:AwsGithubTrust", name, None, opts)
        self._settings = settings
        child = pulumi.ResourceOptions(parent=self)
        # AWS checks GitHub's certificate against its own trusted CAs, so no thumbprint is pinned.
        self.provider = self._oidc(f"{name}-oidc", child)
        account = aws.get_caller_identity_output().account_id
        base = pulumi.Output.all(account, state.bucket.bucket, state.key.arn).apply(
            lambda args: aws_policies.Scope(
                account=args[0],
                region=settings.aws_region,
                prefixes=(),
                state_bucket=args[1],
                state_key_arn=args[2],
            )
        )
        repo = settings.github.full_name
        self.boundaries: dict[str, aws.iam.Policy] = {}
        self.deploy_roles: dict[str, aws.iam.Role] = {}
        self.cross_account_roles: list[pulumi.Output[str]] = []
        # Where each environment's roles live: (resource options, OIDC provider).
        self._places: dict[str, tuple[pulumi.ResourceOptions, aws.iam.OpenIdConnectProvider]] = {}
        for env in settings.environments:
            self._environment(name, env, base, repo)

        # The checks read the checks environment's resources: in its account.
        checks_env = settings.environment(settings.checks.environment)
        checks_opts, checks_oidc = self._places[checks_env.name]
        reader = base.apply(
            lambda s: _replace(
                s,
                account=checks_env.aws_account_id or s.account,
                prefixes=checks_env.resource_prefixes,
                other_prefixes=other_prefixes(settings, checks_env),
                stacks=(checks_env.name,),
            )
        )
        self.preview = self._role(
            f"{name}-preview",
            f"{aws_policies.CI_ROLE_PREFIX}preview",
            "Runs pulumi preview for same-repository pull requests",
            aws_policies.github_subjects(repo, pull_request=True),
            {"policy": base.apply(lambda s: preview_statements(settings, s))},
            self.provider,
            child,
        )
        self.checks = self._role(
            f"{name}-checks",
            f"{aws_policies.CI_ROLE_PREFIX}checks",
            "Runs the scheduled read-only checks from the default branch",
            aws_policies.github_subjects(repo, branch=settings.github.default_branch),
            {"policy": reader.apply(aws_policies.checks_statements)},
            checks_oidc,
            checks_opts,
        )
        if checks_env.aws_account_id:
            self.cross_account_roles.append(self.checks.arn)
        self.register_outputs({"provider_arn": self.provider.arn})

    def _oidc(self, name: str, opts: pulumi.ResourceOptions) -> aws.iam.OpenIdConnectProvider:
        return aws.iam.OpenIdConnectProvider(
            name,
            url=aws_policies.OIDC_URL,
            client_id_lists=[aws_policies.OIDC_AUDIENCE],
            tags=self._settings.tags,
            opts=opts,
        )

    def _environment(
        self,
        name: str,
        env: EnvironmentSettings,
        base: pulumi.Output[aws_policies.Scope],
        repo: str,
    ) -> None:
        """The environment's boundary and deploy role (in its own account when it has one)."""
        settings = self._settings
        opts = pulumi.ResourceOptions(parent=self)
        oidc = self.provider
        account: pulumi.Input[str] = base.apply(lambda s: s.account)
        if env.aws_account_id:
            provider = aws.Provider(
                f"{name}-{env.name}-account",
                region=settings.aws_region,
                allowed_account_ids=[env.aws_account_id],
                assume_roles=[{"role_arn": env.aws_admin_role_arn}],
                opts=opts,
            )
            opts = pulumi.ResourceOptions(parent=self, provider=provider)
            oidc = self._oidc(f"{name}-{env.name}-oidc", opts)
            account = env.aws_account_id
        scope = pulumi.Output.all(base, account).apply(
            lambda args: _replace(
                args[0],
                account=args[1],
                prefixes=env.resource_prefixes,
                environment=env.name,
                other_prefixes=other_prefixes(settings, env),
                force_delete_secrets=env.force_delete_secrets,
            )
        )
        boundary = aws.iam.Policy(
            f"{name}-{env.name}-boundary",
            name=env.boundary_name,
            description=(
                f"Permissions boundary of every IAM role of the SpendSense {env.name} stack"
            ),
            policy=scope.apply(
                lambda s: aws_policies.compact(aws_boundary.workload_boundary_statements(s))
            ),
            tags=settings.tags,
            opts=opts,
        )
        self.boundaries[env.name] = boundary
        required = settings.require_permissions_boundary
        # The ARN the main program computes for `spendsense:iamPermissionsBoundary` (after the
        # policy exists: `boundary.arn` orders it).
        bounded = pulumi.Output.all(scope, boundary.arn).apply(
            lambda args: _replace(
                args[0],
                boundary_arn=args[0].arn("iam", f"policy/{env.boundary_name}", region=False)
                if required
                else None,
            )
        )
        policies = bounded.apply(aws_deploy.deploy_policies)
        role = self._role(
            f"{name}-deploy-{env.name}",
            deploy_role_name(env.name),
            f"Deploys the SpendSense {env.name} stack from GitHub Actions (environment {env.name})",
            aws_policies.github_subjects(repo, environments=[env.name]),
            {part: _part(policies, part) for part in aws_deploy.DEPLOY_POLICY_PARTS},
            oidc,
            opts,
        )
        self.deploy_roles[env.name] = role
        self._places[env.name] = (opts, oidc)
        if env.aws_account_id:
            self.cross_account_roles.append(role.arn)

    def _role(
        self,
        name: str,
        role_name: str,
        description: str,
        subjects: list[str],
        policies: dict[str, pulumi.Output[Statements]],
        oidc: aws.iam.OpenIdConnectProvider,
        opts: pulumi.ResourceOptions,
    ) -> aws.iam.Role:
        """A role trusted by `subjects`, with one managed policy per entry of `policies`."""
        role = aws.iam.Role(
            name,
            name=role_name,
            description=description,
            assume_role_policy=oidc.arn.apply(
                lambda arn: json.dumps(aws_policies.trust_policy(arn, subjects), sort_keys=True)
            ),
            max_session_duration=3600,
            tags=self._settings.tags,
            opts=opts,
        )
        child = pulumi.ResourceOptions(parent=role, provider=opts.provider)
        for part, statements in policies.items():
            policy = aws.iam.Policy(
                f"{name}-{part}",
                name=f"{role_name}-{part}",
                description=f"{role_name}: {part}",
                policy=statements.apply(aws_policies.compact),
                tags=self._settings.tags,
                opts=child,
            )
            aws.iam.RolePolicyAttachment(
                f"{name}-{part}-attachment", role=role.name, policy_arn=policy.arn, opts=child
            )
        return role


def _part(policies: pulumi.Output[dict[str, Statements]], part: str) -> pulumi.Output[Statements]:
    return policies.apply(lambda by_part: by_part[part])


def _replace(scope: aws_policies.Scope, **changes: Any) -> aws_policies.Scope:
    import dataclasses

    return dataclasses.replace(scope, **changes)
