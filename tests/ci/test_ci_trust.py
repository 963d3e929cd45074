"""The CI trust project under Pulumi's mock runtime: who may assume what, and the state bucket.

The program (`infra.ci_trust.program.main`) runs once with `infra/ci_trust/Pulumi.ci.yaml`;
each test reads what it registered, as the engine would receive it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from spendsense.recorder import RecordedResource, Recording, run_program

from infra.ci_trust import aws_policies
from infra.ci_trust.program import main
from infra.ci_trust.settings import TrustSettingsError, parse_trust_settings

TRUST_DIR = Path(__file__).resolve().parents[2] / "infra" / "ci_trust"
REPO = "spendsense/spendsense-infra"


def stack_config() -> dict[str, Any]:
    return yaml.safe_load((TRUST_DIR / "Pulumi.ci.yaml").read_text(encoding="utf-8"))["config"]


def as_engine_config(values: dict[str, Any]) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}


@pytest.fixture(scope="module")
def recording() -> Recording:
    return run_program(
        main, as_engine_config(stack_config()), stack="ci", project="spendsense-ci-trust"
    )


def roles(recording: Recording) -> dict[str, RecordedResource]:
    return {r.inputs["name"]: r for r in recording.by_type("aws:iam/role:Role")}


def policy_of(recording: Recording, role: RecordedResource) -> dict[str, Any]:
    for policy in recording.by_type("aws:iam/rolePolicy:RolePolicy"):
        if policy.parent == role.urn:
            return json.loads(policy.inputs["policy"])
    raise AssertionError(f"{role.name} has no inline policy")


def test_project_layout_is_a_second_pulumi_project() -> None:
    """Its own Pulumi.yaml (another project name) using the repository's .venv."""
    project = yaml.safe_load((TRUST_DIR / "Pulumi.yaml").read_text(encoding="utf-8"))
    assert project["name"] == "spendsense-ci-trust"
    assert project["runtime"]["name"] == "python"
    venv = (TRUST_DIR / project["runtime"]["options"]["virtualenv"]).resolve()
    assert venv == (TRUST_DIR.parents[1] / ".venv").resolve()
    assert (TRUST_DIR / "__main__.py").is_file()


# --------------------------------------------------------------------------------------------
# AWS trust
# --------------------------------------------------------------------------------------------
def test_the_oidc_provider_is_githubs_with_sts_audience(recording: Recording) -> None:
    provider = recording.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.inputs["url"] == "https://token.actions.githubusercontent.com"
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]


@pytest.mark.parametrize(
    ("role_name", "subjects"),
    [
        (
            "spendsense-github-deploy",
            [f"repo:{REPO}:environment:staging", f"repo:{REPO}:environment:production"],
        ),
        ("spendsense-github-preview", [f"repo:{REPO}:pull_request"]),
        ("spendsense-github-checks", [f"repo:{REPO}:ref:refs/heads/main"]),
    ],
)
def test_each_role_trusts_only_this_repository_and_its_exact_subjects(
    recording: Recording, role_name: str, subjects: list[str]
) -> None:
    """StringEquals on `sub` (no wildcard), the STS audience, GitHub's provider as principal."""
    role = roles(recording)[role_name]
    trust = json.loads(role.inputs["assumeRolePolicy"])
    (only,) = trust["Statement"]
    provider = recording.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert only["Effect"] == "Allow"
    assert only["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert only["Principal"] == {"Federated": provider.urn} or only["Principal"]["Federated"].endswith(provider.name)  # fmt: skip
    assert set(only["Condition"]) == {"StringEquals"}, "no StringLike: subjects are exact"
    equals = only["Condition"]["StringEquals"]
    assert equals["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    assert equals["token.actions.githubusercontent.com:sub"] == subjects
    assert all("*" not in s and s.startswith(f"repo:{REPO}:") for s in subjects)


@pytest.mark.parametrize(
    "role_name",
    ["spendsense-github-deploy", "spendsense-github-preview", "spendsense-github-checks"],
)
def test_no_wildcard_actions_and_star_resources_only_where_aws_requires_it(
    recording: Recording, role_name: str
) -> None:
    """No `*` or `service:*` Allow; `Resource: "*"` only for unscopable actions or tag-gated creates."""
    policy = policy_of(recording, roles(recording)[role_name])
    for statement in policy["Statement"]:
        if statement["Effect"] == "Deny":
            continue
        actions = statement["Action"]
        assert all("*" not in action for action in actions), (role_name, statement["Sid"])
        if statement["Resource"] == "*":
            unscopable = set(actions) <= aws_policies.UNSCOPABLE_ACTIONS
            tag_gated = set(actions) <= aws_policies.TAG_CONDITIONED_CREATES | {
                "kms:TagResource",
                "iam:TagRole",
            } and "aws:RequestTag/Project" in json.dumps(statement.get("Condition"))
            assert unscopable or tag_gated, (role_name, statement["Sid"], actions)
            assert not any(a.split(":")[1].startswith(("Delete", "Put", "Update")) for a in actions)


def test_deploy_role_is_limited_to_the_programs_resources(recording: Recording) -> None:
    """Scoped resources name the program's prefixes or carry the Project tag condition."""
    policy = policy_of(recording, roles(recording)["spendsense-github-deploy"])
    prefixes = ("spendsense", "SpendSense", "aws-service-role/apprunner")
    # The state backend's own KMS key (created by this program) is the one unprefixed ARN.
    key_id = next(s["Resource"][0] for s in policy["Statement"] if s["Sid"] == "StackSecrets")
    assert key_id.startswith("arn:aws:kms:us-east-1:123456789012:key/"), key_id
    for statement in policy["Statement"]:
        if statement["Effect"] == "Deny" or statement["Resource"] == "*":
            continue
        condition = json.dumps(statement.get("Condition"))
        tagged = "aws:ResourceTag/Project" in condition or "aws:RequestTag/Project" in condition
        # Grants on the AWS-managed aws/ecr key, only through ECR itself.
        tagged = tagged or '"kms:ViaService": "ecr.us-east-1.amazonaws.com"' in condition
        for arn in statement["Resource"]:
            name = re.split(r"[:/]", arn, maxsplit=5)[-1]
            allowed = tagged or arn == key_id or "healthcheck/*" in arn
            assert allowed or any(p in name for p in prefixes), (
                statement["Sid"],
                arn,
            )


def test_the_deploy_role_cannot_reach_the_ci_trust_itself(recording: Recording) -> None:
    """The CI roles and the state key are not tagged like the program's resources (which the
    deploy role may change), and the deploy role is denied IAM on the CI roles outright."""
    for resource in recording.resources:
        tags = resource.inputs.get("tags") or {}
        assert tags.get("Project") != "spendsense", resource.name
    policy = policy_of(recording, roles(recording)["spendsense-github-deploy"])
    deny = next(s for s in policy["Statement"] if s["Sid"] == "NotTheCiRoles")
    assert deny["Effect"] == "Deny" and deny["Action"] == ["iam:*"]
    assert deny["Resource"] == ["arn:aws:iam::123456789012:role/spendsense-github-*"]
    for name in roles(recording):
        assert name.startswith("spendsense-github-")


def boundary(recording: Recording) -> RecordedResource:
    return recording.one("aws:iam/policy:Policy", "workload-boundary")


def test_roles_the_deploy_role_writes_must_carry_the_workload_boundary(
    recording: Recording,
) -> None:
    """Creating or changing a role needs `iam:PermissionsBoundary` = the boundary, which the
    deploy role may not remove or edit: it cannot write itself a stronger role."""
    assert boundary(recording).inputs["name"] == "spendsense-workload-boundary"
    arn = recording.outputs["aws_workload_boundary_arn"]
    policy = policy_of(recording, roles(recording)["spendsense-github-deploy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    for sid in ("RoleCreate", "RoleWrite"):
        assert by_sid[sid]["Condition"]["StringEquals"]["iam:PermissionsBoundary"] == arn, sid
    keep = by_sid["KeepTheBoundary"]
    assert keep["Effect"] == "Deny" and arn in keep["Resource"]
    assert "iam:DeleteRolePermissionsBoundary" in keep["Action"]
    writes = {a for s in policy["Statement"] if s["Effect"] == "Allow" for a in s["Action"]}
    iam_writes = {a for a in writes if a.startswith("iam:") and not a.startswith(("iam:Get", "iam:List"))}  # fmt: skip
    bounded = set(by_sid["RoleCreate"]["Action"]) | set(by_sid["RoleWrite"]["Action"])
    assert iam_writes - bounded == {"iam:PassRole", "iam:CreateServiceLinkedRole"}


def test_the_workload_boundary_grants_no_iam_and_no_wildcards(recording: Recording) -> None:
    policy = json.loads(boundary(recording).inputs["policy"])
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        for action in statement["Action"]:
            assert "*" not in action and not action.startswith(("iam:", "sts:")), action
        if statement["Resource"] == "*":
            assert set(statement["Action"]) <= aws_policies.UNSCOPABLE_ACTIONS, statement["Sid"]


def test_the_boundary_requirement_can_be_turned_off() -> None:
    """`requirePermissionsBoundary: false` drops the condition (until the program sets it)."""
    scope = aws_policies.Scope(
        account="123456789012",
        region="us-east-1",
        prefixes=("spendsense",),
        state_bucket="b",
        state_key_arn="k",
    )
    text = json.dumps(aws_policies.deploy_statements(scope))
    assert "iam:PermissionsBoundary" not in text and "KeepTheBoundary" not in text
    settings = parse_trust_settings(raw_settings(**{"spendsense-ci-trust:requirePermissionsBoundary": False}))  # fmt: skip
    assert settings.require_permissions_boundary is False


def test_deploy_role_cannot_read_the_jwt_secret_value(recording: Recording) -> None:
    for role in roles(recording).values():
        text = json.dumps(policy_of(recording, role))
        assert "secretsmanager:GetSecretValue" not in text, role.name


def test_roles_are_held_to_the_stack_region(recording: Recording) -> None:
    for role in roles(recording).values():
        denies = [s for s in policy_of(recording, role)["Statement"] if s["Effect"] == "Deny"]
        assert any(
            s.get("Condition") == {"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}}
            for s in denies
        ), role.name


def test_preview_and_checks_roles_cannot_write_the_state(recording: Recording) -> None:
    """Only the deploy role writes checkpoints; preview may only take and release its lock."""
    for name in ("spendsense-github-preview", "spendsense-github-checks"):
        for statement in policy_of(recording, roles(recording)[name])["Statement"]:
            if "s3:PutObject" in statement.get("Action", []):
                assert statement["Resource"] == ["arn:aws:s3:::spendsense-pulumi-state/.pulumi/locks/*"]  # fmt: skip


def test_trust_policy_refuses_to_trust_nobody() -> None:
    with pytest.raises(ValueError, match="at least one"):
        aws_policies.trust_policy("arn:aws:iam::1:oidc-provider/x", [])


# --------------------------------------------------------------------------------------------
# State backend
# --------------------------------------------------------------------------------------------
def test_state_bucket_is_versioned_encrypted_private_and_protected(recording: Recording) -> None:
    bucket = recording.one("aws:s3/bucket:Bucket")
    assert bucket.inputs["bucket"] == "spendsense-pulumi-state"
    assert bucket.protect and bucket.retain_on_delete
    key = recording.one("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True and key.protect
    bucket_id = bucket.inputs["bucket"]

    versioning = recording.one("aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
    encryption = recording.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    (rule,) = encryption.inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    assert rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"].startswith("arn:aws:kms:")
    block = recording.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):  # fmt: skip
        assert block.inputs[flag] is True, flag
    ownership = recording.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    policy = json.loads(recording.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    (deny,) = policy["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}  # fmt: skip
    lifecycle = recording.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert lifecycle.inputs["rules"][0]["noncurrentVersionExpiration"]["noncurrentDays"] == 365
    for resource in (versioning, encryption, block, ownership, lifecycle):
        assert resource.inputs["bucket"] == bucket_id or resource.inputs["bucket"] != "[unknown]"


def test_outputs_name_the_backend_and_the_secrets_provider(recording: Recording) -> None:
    assert (
        recording.outputs["pulumi_backend_url"] == "s3://spendsense-pulumi-state?region=us-east-1"
    )
    assert recording.outputs["pulumi_secrets_provider"] == "awskms://alias/spendsense-pulumi?region=us-east-1"  # fmt: skip
    assert recording.outputs["aws_deploy_role_arn"].endswith(":role/spendsense-github-deploy")
    assert set(recording.outputs["gcp_service_accounts"]) == {"staging", "production", "preview", "checks"}  # fmt: skip


# --------------------------------------------------------------------------------------------
# GCP trust
# --------------------------------------------------------------------------------------------
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


def test_checks_account_reads_only_the_backup_bucket(recording: Recording) -> None:
    grants = [
        g for g in recording.by_type("gcp:projects/iAMMember:IAMMember") if "checks" in g.name
    ]
    reader = next(g for g in grants if g.inputs["role"] == "roles/storage.objectViewer")
    assert reader.inputs["condition"]["expression"] == (
        'resource.name.startsWith("projects/_/buckets/spendsense-backups")'
    )
    drill = {g.inputs["role"] for g in grants if g.inputs["project"] == "spendsense-test"}
    assert drill == {"roles/datastore.importExportAdmin", "roles/datastore.user"}


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------
def raw_settings(**changes: Any) -> dict[str, Any]:
    values = stack_config()
    values.update(changes)
    return values


def test_the_stack_file_parses() -> None:
    settings = parse_trust_settings(stack_config())
    assert settings.github.full_name == REPO
    assert [e.name for e in settings.environments] == ["staging", "production"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"spendsense-ci-trust:github": {"owner": "my org", "repository": "x"}},
            "spendsense-ci-trust:github.owner: must be a GitHub owner",
        ),
        (
            {"spendsense-ci-trust:environments": [{"name": "qa", "gcpProject": "spendsense-qa"}]},
            "spendsense-ci-trust:environments[0].name: must be one of staging, production",
        ),
        ({"spendsense-ci-trust:stat": {}}, "spendsense-ci-trust:stat: is not a known setting"),
        (
            {"spendsense-ci-trust:state": {"bucketName": "Bad_Bucket"}},
            "spendsense-ci-trust:state.bucketName: must be an S3/GCS bucket name",
        ),
        (
            {"spendsense-ci-trust:state": {"bucketName": "ok-bucket", "noncurrentVersionDays": 7}},
            "noncurrentVersionDays: must be at least 30 (got 7)",
        ),
    ],
)
def test_a_bad_setting_names_its_key(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(TrustSettingsError) as error:
        parse_trust_settings(raw_settings(**changes))
    assert message in str(error.value)


def test_deploy_policy_fits_iams_inline_policy_size_limit() -> None:
    """IAM allows 10,240 characters (whitespace not counted) of inline policy per role."""
    scope = aws_policies.Scope(
        account="123456789012",
        region="us-east-1",
        prefixes=("spendsense", "SpendSense"),
        state_bucket="spendsense-pulumi-state",
        state_key_arn="arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        boundary_arn="arn:aws:iam::123456789012:policy/spendsense-workload-boundary",
    )
    inline = (aws_policies.deploy_statements, aws_policies.preview_statements, aws_policies.checks_statements)  # fmt: skip
    for build in inline:
        text = json.dumps(aws_policies.document(build(scope)), separators=(",", ":"))
        assert len(text) < 10240, (build.__name__, len(text))
    # A managed policy (the boundary) may hold 6,144 characters.
    boundary = aws_policies.document(aws_policies.workload_boundary_statements(scope))
    assert len(json.dumps(boundary, separators=(",", ":"))) < 6144


def test_deploy_role_can_start_the_first_rotation_and_encrypt_the_registry(
    recording: Recording,
) -> None:
    """RotateSecret needs lambda:InvokeFunction; a KMS-encrypted ECR repository needs grants."""
    policy = policy_of(recording, roles(recording)["spendsense-github-deploy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    rotation = by_sid["RotationFunction"]
    assert "lambda:InvokeFunction" in rotation["Action"]
    assert all(":function:" in arn for arn in rotation["Resource"])
    grants = by_sid["EcrManagedKeyGrants"]
    assert set(grants["Action"]) == {"kms:CreateGrant", "kms:RetireGrant", "kms:DescribeKey"}
    assert grants["Condition"] == {
        "StringEquals": {"kms:ViaService": "ecr.us-east-1.amazonaws.com"}
    }
