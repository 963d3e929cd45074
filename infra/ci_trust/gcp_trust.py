"""GCP side of the CI trust: a workload identity pool that admits only this repository's
GitHub tokens, and the CI service accounts, each impersonable only by one exact GitHub subject.

- deploy, one per environment, in that environment's project (in `ciProject` when set, with
  its roles still granted in the environment's project): what `pulumi up` of its stack
  creates there (`DEPLOY_ROLES`), what `spendsense preflight` reads in the test project
  (`DEPLOY_TEST_PROJECT_ROLES`), and `projectIamAdmin` under a condition that lets it grant only
  `grantableRoles` and its project's custom roles `grantableCustomRoles`;
- preview: looks up the environment projects and the test project (`PREVIEW_ROLES`);
- checks: Firestore read, Cloud Monitoring time series only (a custom role), the backup
  bucket's objects, the drill in the test project.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra.ci_trust import aws_policies
from infra.ci_trust.settings import TrustSettings

POOL_ID = "github"
PROVIDER_ID = "github-actions"

# Roles of each environment's deploy service account in its own project: what the main
# program manages there (Firestore and its rules, the backup bucket, the export workflow and
# its schedule, service accounts, the alert channel and policies, the export custom role) and
# what `spendsense preflight` reads (project, billing info, enabled services, Firebase).
DEPLOY_ROLES = (
    "roles/datastore.owner",
    "roles/firebaserules.admin",
    "roles/storage.admin",
    "roles/cloudscheduler.admin",
    "roles/workflows.admin",
    "roles/monitoring.notificationChannelEditor",
    "roles/monitoring.alertPolicyEditor",
    # iam.roles.create/update/delete/get/list/undelete: the export custom role.
    "roles/iam.roleAdmin",
    "roles/iam.serviceAccountAdmin",
    "roles/iam.serviceAccountUser",
    "roles/serviceusage.serviceUsageConsumer",
    # resourcemanager.projects.get: the project lookup, and Cloud Billing's getBillingInfo.
    "roles/browser",
    # firebase.projects.get (preflight: "Firebase is on").
    "roles/firebase.viewer",
)
# In the test project the program only looks the project up; preflight also reads its billing
# info and enabled services.
DEPLOY_TEST_PROJECT_ROLES = ("roles/browser", "roles/serviceusage.serviceUsageViewer")
# `pulumi preview` without refresh looks the projects up (the environment's and the test
# project, infra/components/backups.py); in an environment's project it also reads the live
# rules release, which the RulesRelease dynamic resource's diff compares with the program's
# ruleset (infra/components/rules_release.py: firebaserules.releases.get).
PREVIEW_ROLES = ("roles/browser",)
# The checks' Cloud Monitoring reads, as a custom role in the checks environment's project.
METRICS_READER_ROLE_ID = "spendsenseChecksMetricsReader"
METRICS_READER_PERMISSIONS = ("monitoring.timeSeries.list",)
PREVIEW_ENVIRONMENT_ROLES = (*PREVIEW_ROLES, "roles/firebaserules.viewer")


class GcpGithubTrust(pulumi.ComponentResource):
    """A workload identity pool that admits only this repository's GitHub tokens, and the CI
    service accounts, each impersonable only by the matching GitHub principals."""

    def __init__(
        self, name: str, settings: TrustSettings, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("spendsense:ci:GcpGithubTrust", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        host = settings.ci_host
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
                settings.deploy_account_project(env),
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
            for role in DEPLOY_TEST_PROJECT_ROLES:
                self._grant(
                    f"{name}-deploy-{env.name}-test-{_short(role)}",
                    settings.checks.drill_project,
                    role,
                    account,
                )
            self._grant(
                f"{name}-deploy-{env.name}-iam",
                env.gcp_project,
                "roles/resourcemanager.projectIamAdmin",
                account,
                condition={
                    "title": "only-the-program-roles",
                    "description": "May grant only the roles the SpendSense program grants",
                    "expression": grantable_expression(
                        settings.grantable_roles,
                        [
                            f"projects/{env.gcp_project}/roles/{role_id}"
                            for role_id in settings.grantable_custom_roles
                        ],
                    ),
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
        preview_projects = {env.name: env.gcp_project for env in settings.environments}
        preview_projects["test"] = settings.checks.drill_project
        for key, project in preview_projects.items():
            for role in PREVIEW_ROLES if key == "test" else PREVIEW_ENVIRONMENT_ROLES:
                self._grant(f"{name}-preview-{key}-{_short(role)}", project, role, preview)

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
                    "expression": bucket_condition(bucket),
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
        self._metrics_reader(name, checks_env.gcp_project, checks)
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

    def _metrics_reader(self, name: str, project: str, checks: gcp.serviceaccount.Account) -> None:
        """Cloud Monitoring's `timeSeries.list` only (today's Firestore usage in `spendsense
        status`, the rules denials in the weekly `security report`), as a custom role:
        `roles/monitoring.viewer` would also give `monitoring.notificationChannels.get`, and
        a webhook channel's `url` label (the pager's integration URL, with its key) is not
        one of the channel's sensitive labels (infra/components/alert_channels.py)."""
        role = gcp.projects.IAMCustomRole(
            f"{name}-checks-metrics-reader-role",
            project=project,
            role_id=METRICS_READER_ROLE_ID,
            title="SpendSense CI checks: read metrics",
            description="monitoring.timeSeries.list only, for the scheduled checks",
            permissions=list(METRICS_READER_PERMISSIONS),
            opts=pulumi.ResourceOptions(parent=checks),
        )
        self._grant(
            f"{name}-checks-metrics-reader",
            project,
            role.role_id.apply(lambda role_id: f"projects/{project}/roles/{role_id}"),
            checks,
        )

    def _grant(
        self,
        name: str,
        project: str,
        role: pulumi.Input[str],
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


def grantable_expression(roles: tuple[str, ...], custom_roles: list[str]) -> str:
    """Only these roles may be granted or revoked: predefined ones by `roles/...`, a project's
    custom role by its full name `projects/P/roles/ID` (as IAM reports it in
    `modifiedGrantsByRole`: https://cloud.google.com/iam/docs/setting-limits-on-granting-roles).
    """
    listed = ", ".join(f"'{role}'" for role in (*roles, *custom_roles))
    return f"api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly([{listed}])"


def bucket_condition(bucket: str) -> str:
    """The bucket itself (storage.objects.list is checked on it) and its objects, nothing else.

    Google's resource names for IAM conditions: `projects/_/buckets/BUCKET` for a bucket,
    `projects/_/buckets/BUCKET/objects/OBJECT` for an object
    (https://cloud.google.com/iam/docs/conditions-resource-attributes#resource-name). A bare
    `startsWith("projects/_/buckets/BUCKET")` would also match `BUCKET-logs` and any other
    bucket whose name starts with BUCKET.
    """
    name = f"projects/_/buckets/{bucket}"
    return f'resource.name == "{name}" || resource.name.startsWith("{name}/objects/")'
