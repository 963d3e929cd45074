"""The CI trust project's GCP side under Pulumi's mock runtime: the workload identity pool and
provider, and what each CI service account may do in which project."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from spendsense.plan.recorder import RecordedResource, Recording

from tests.ci.test_ci_trust import REPO, run_trust, stack_config


@pytest.fixture(scope="module")
def recording() -> Recording:
    return run_trust(stack_config())


def grants(recording: Recording, account: str) -> dict[str, set[str]]:
    """project -> roles granted to one CI service account (`gcp-github-<account>`)."""
    found: dict[str, set[str]] = {}
    for grant in recording.by_type("gcp:projects/iAMMember:IAMMember"):
        if grant.parent.rsplit("::", 1)[-1] == f"gcp-github-{account}":
            found.setdefault(grant.inputs["project"], set()).add(grant.inputs["role"])
    return found


def iam_admin(recording: Recording, env: str) -> RecordedResource:
    (grant,) = [
        g
        for g in recording.by_type("gcp:projects/iAMMember:IAMMember")
        if g.inputs["role"] == "roles/resourcemanager.projectIamAdmin" and env in g.name
    ]
    return grant


def test_workload_identity_provider_admits_only_this_repository(recording: Recording) -> None:
    provider = recording.one("gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider")
    assert provider.inputs["oidc"]["issuerUri"] == "https://token.actions.githubusercontent.com"
    assert provider.inputs["attributeCondition"] == f'assertion.repository == "{REPO}"'
    assert provider.inputs["attributeMapping"]["google.subject"] == "assertion.sub"


def test_service_accounts_are_impersonable_only_by_one_exact_subject(
    recording: Recording,
) -> None:
    """Each account's workloadIdentityUser member is one GitHub `sub`, never a set or the pool."""
    members = {
        r.parent.rsplit("::", 1)[-1]: r.inputs["member"]
        for r in recording.by_type("gcp:serviceaccount/iAMMember:IAMMember")
    }
    pool = re.compile(
        r"^principal://iam\.googleapis\.com/projects/\d+/locations/global/"
        r"workloadIdentityPools/github/subject/"
    )
    expected = {
        "gcp-github-deploy-staging": f"repo:{REPO}:environment:staging",
        "gcp-github-deploy-production": f"repo:{REPO}:environment:production",
        "gcp-github-preview": f"repo:{REPO}:pull_request",
        "gcp-github-checks": f"repo:{REPO}:ref:refs/heads/main",
    }
    assert set(members) == set(expected)
    for account, member in members.items():
        assert pool.match(member), member
        assert member.split("/subject/", 1)[1] == expected[account], (account, member)


def test_attribute_mapping_uses_only_claims_every_token_has(recording: Recording) -> None:
    provider = recording.one("gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider")
    always = {"assertion.sub", "assertion.repository", "assertion.ref"}
    assert set(provider.inputs["attributeMapping"].values()) <= always


def test_deploy_accounts_live_in_their_environments_project_and_grant_only_listed_roles(
    recording: Recording,
) -> None:
    accounts = {r.name: r for r in recording.by_type("gcp:serviceaccount/account:Account")}
    assert accounts["gcp-github-deploy-staging"].inputs["project"] == "spendsense-staging"
    assert accounts["gcp-github-deploy-production"].inputs["project"] == "spendsense-production"
    grants = recording.by_type("gcp:projects/iAMMember:IAMMember")
    admins = [g for g in grants if g.inputs["role"] == "roles/resourcemanager.projectIamAdmin"]
    assert len(admins) == 2
    for grant in admins:
        expression = grant.inputs["condition"]["expression"]
        assert "modifiedGrantsByRole" in expression and "roles/owner" not in expression
    assert not [g for g in grants if g.inputs["role"] in {"roles/owner", "roles/editor"}]


def cel_holds(expression: str, resource_name: str) -> bool:
    """Evaluate the CEL subset the trust stack's resource conditions use (string literals,
    `==`, `||`, `startsWith`) for one `resource.name`; anything else fails the test."""
    allowed = r'(resource\.name( == |\.startsWith\()"[^"]*"\)?|\s*\|\|\s*)+'
    assert re.fullmatch(allowed, expression), f"not in the subset: {expression}"
    python = expression.replace(".startsWith(", ".startswith(").replace("||", " or ")
    resource = SimpleNamespace(name=resource_name)
    return bool(eval(python, {"__builtins__": {}}, {"resource": resource}))


def test_checks_account_reads_only_the_backup_bucket(recording: Recording) -> None:
    grants = [
        g for g in recording.by_type("gcp:projects/iAMMember:IAMMember") if "checks" in g.name
    ]
    reader = next(g for g in grants if g.inputs["role"] == "roles/storage.objectViewer")
    expression = reader.inputs["condition"]["expression"]
    bucket = "projects/_/buckets/spendsense-backups"
    assert cel_holds(expression, bucket)  # storage.objects.list is checked on the bucket
    assert cel_holds(expression, f"{bucket}/objects/daily/2026-01-01/all.export_metadata")
    for other in ("spendsense-backups-logs", "spendsense-backupsx", "spendsense-backups2"):
        assert not cel_holds(expression, f"projects/_/buckets/{other}"), other
        assert not cel_holds(expression, f"projects/_/buckets/{other}/objects/x"), other
    drill = {g.inputs["role"] for g in grants if g.inputs["project"] == "spendsense-test"}
    assert drill == {"roles/datastore.importExportAdmin", "roles/datastore.user"}


def test_deploy_accounts_can_create_what_the_program_creates(recording: Recording) -> None:
    """Issue 13.2: the export workflow, the alert channel and policies, the export custom role
    (iam.roles.create/update), the project lookup and preflight's reads."""
    needed = {
        "roles/workflows.admin",
        "roles/monitoring.notificationChannelEditor",
        "roles/monitoring.alertPolicyEditor",
        "roles/iam.roleAdmin",
        "roles/browser",
        "roles/firebase.viewer",
        "roles/firebaserules.admin",
        "roles/serviceusage.serviceUsageConsumer",
    }
    for env, project in (
        ("staging", "spendsense-staging"),
        ("production", "spendsense-production"),
    ):
        assert needed <= grants(recording, f"deploy-{env}")[project], env


def test_deploy_accounts_may_grant_the_invoker_and_the_export_custom_role(
    recording: Recording,
) -> None:
    """Issue 13.2/13.5: the scheduler's `roles/workflows.invoker` binding and the custom export
    role (by its full name, as `modifiedGrantsByRole` reports a custom role)."""
    for env, project in (
        ("staging", "spendsense-staging"),
        ("production", "spendsense-production"),
    ):
        expression = iam_admin(recording, env).inputs["condition"]["expression"]
        assert "'roles/workflows.invoker'" in expression
        assert f"'projects/{project}/roles/spendsenseFirestoreExport'" in expression
        other = "spendsense-production" if env == "staging" else "spendsense-staging"
        assert f"projects/{other}/" not in expression


def test_deploy_and_preview_accounts_can_read_the_test_project(recording: Recording) -> None:
    """Issue 13.2: the program looks the test project up in preview and deploy; preflight also
    reads its billing info (resourcemanager.projects.get) and its enabled services."""
    for env in ("staging", "production"):
        assert grants(recording, f"deploy-{env}")["spendsense-test"] == {
            "roles/browser",
            "roles/serviceusage.serviceUsageViewer",
        }
    preview = grants(recording, "preview")
    # In the environments' projects the preview also reads the live rules release (the
    # RulesRelease diff compares it with the program's ruleset): a viewer role, read-only.
    assert preview == {
        "spendsense-staging": {"roles/browser", "roles/firebaserules.viewer"},
        "spendsense-production": {"roles/browser", "roles/firebaserules.viewer"},
        "spendsense-test": {"roles/browser"},
    }, "preview stays read-only"


def test_a_dedicated_ci_project_holds_the_pool_and_every_ci_account() -> None:
    """`ciProject`: the pool, its provider and all CI service accounts (the deploy ones too)
    live there, out of reach of the environments' deploy accounts (which administer service
    accounts in their own projects); the roles stay granted where the work is. Unset (the
    stack file today): the pool and the preview/checks accounts are in `gcp:project`."""
    default = run_trust(stack_config())
    accounts = {
        a.inputs["accountId"]: a for a in default.by_type("gcp:serviceaccount/account:Account")
    }
    assert (
        default.one("gcp:iam/workloadIdentityPool:WorkloadIdentityPool").inputs["project"]
        == "spendsense-production"
    )
    assert accounts["spendsense-deploy-staging"].inputs["project"] == "spendsense-staging"

    config = {**stack_config(), "spendsense-ci-trust:ciProject": "spendsense-ci"}
    recording = run_trust(config)
    pool = recording.one("gcp:iam/workloadIdentityPool:WorkloadIdentityPool")
    provider = recording.one("gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider")
    assert pool.inputs["project"] == provider.inputs["project"] == "spendsense-ci"
    for account in recording.by_type("gcp:serviceaccount/account:Account"):
        assert account.inputs["project"] == "spendsense-ci", account.name
    assert grants(recording, "deploy-staging") == grants(default, "deploy-staging")
    assert grants(recording, "deploy-production") == grants(default, "deploy-production")
    assert grants(recording, "preview") == grants(default, "preview")
    assert grants(recording, "checks") == grants(default, "checks")


def test_the_checks_read_metrics_without_reading_notification_channels(
    recording: Recording,
) -> None:
    """The checks need `monitoring.timeSeries.list` only. `roles/monitoring.viewer` would also
    let them read notification channels, whose webhook `url` label holds the pager's key."""
    held = grants(recording, "checks")
    project = "spendsense-production"
    assert not any(role.startswith("roles/monitoring.") for role in held[project])
    (role,) = recording.by_type("gcp:projects/iAMCustomRole:IAMCustomRole")
    assert role.inputs["permissions"] == ["monitoring.timeSeries.list"]
    assert f"projects/{project}/roles/{role.inputs['roleId']}" in held[project]
