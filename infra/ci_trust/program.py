"""The trust the GitHub Actions workflows need, declared as a small second Pulumi program.

It owns:
- AWS (aws_trust.py): GitHub's OIDC identity provider; per environment a deploy role and a
  permissions boundary; a preview and a checks role; each role trusted only by this
  repository's tokens for the exact subjects its jobs have; the Pulumi state backend
  (state_backend.py): a versioned, KMS-encrypted, private S3 bucket, and the KMS key that
  encrypts the stacks' secrets (`--secrets-provider awskms://...`).
- GCP (gcp_trust.py): a workload identity pool and GitHub provider (only this repository's
  tokens get in), a deploy service account per environment in that environment's project, and
  a preview and a checks service account, each usable only by one exact GitHub subject.

It deliberately does not own the GitHub side (environments, required reviewers, repository
variables): those are set once by hand, as docs/ci.md explains, from this stack's outputs.

Its own state cannot live in the bucket it creates: bootstrap it with a local backend, then
move it into the bucket (docs/ci.md, "Bootstrap").
"""

from __future__ import annotations

import pulumi

from infra.ci_trust.aws_trust import AwsGithubTrust
from infra.ci_trust.gcp_trust import GcpGithubTrust
from infra.ci_trust.settings import load_trust_settings
from infra.ci_trust.state_backend import StateBackend


def main() -> None:
    settings = load_trust_settings()
    state = StateBackend("state", settings)
    aws_trust = AwsGithubTrust("aws-github", settings, state)
    state.policies("state", aws_trust.cross_account_roles)
    gcp_trust = GcpGithubTrust("gcp-github", settings)
    # The repository and environment variables docs/ci.md asks for, with their values.
    pulumi.export("state_bucket", state.bucket.bucket)
    pulumi.export("pulumi_backend_url", state.backend_url)
    pulumi.export("pulumi_secrets_provider", state.secrets_provider)
    pulumi.export("aws_oidc_provider_arn", aws_trust.provider.arn)
    pulumi.export(
        "aws_deploy_role_arns", {env: role.arn for env, role in aws_trust.deploy_roles.items()}
    )
    pulumi.export("aws_preview_role_arn", aws_trust.preview.arn)
    pulumi.export("aws_checks_role_arn", aws_trust.checks.arn)
    pulumi.export(
        "aws_workload_boundary_arns",
        {env: policy.arn for env, policy in aws_trust.boundaries.items()},
    )
    pulumi.export("gcp_workload_identity_provider", gcp_trust.provider_name)
    pulumi.export(
        "gcp_service_accounts",
        {key: account.email for key, account in gcp_trust.service_accounts.items()},
    )
