"""The CI trust project under Pulumi's mock runtime: who may assume what (AWS), the state bucket.

The program (`infra.ci_trust.program.main`) runs once with `infra/ci_trust/Pulumi.ci.yaml`;
each test reads what it registered, as the engine would receive it. GCP: test_ci_trust_gcp.py;
settings: test_ci_trust_settings.py; the IAM reference check: test_iam_reference.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from spendsense.plan.recorder import RecordedResource, Recording, run_program

from infra.ci_trust import aws_policies
from infra.ci_trust.program import main

TRUST_DIR = Path(__file__).resolve().parents[2] / "infra" / "ci_trust"
REPO = "spendsense/spendsense-infra"
ENVIRONMENTS = ("staging", "production")
PREFIXES = {"staging": "spendsense-api-staging", "production": "spendsense-api"}


def stack_config() -> dict[str, Any]:
    return yaml.safe_load((TRUST_DIR / "Pulumi.ci.yaml").read_text(encoding="utf-8"))["config"]


def as_engine_config(values: dict[str, Any]) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}


def run_trust(config: dict[str, Any]) -> Recording:
    return run_program(main, as_engine_config(config), stack="ci", project="spendsense-ci-trust")


@pytest.fixture(scope="module")
def recording() -> Recording:
    return run_trust(stack_config())


def roles(recording: Recording) -> dict[str, RecordedResource]:
    return {r.inputs["name"]: r for r in recording.by_type("aws:iam/role:Role")}


def managed_policies(recording: Recording, role: RecordedResource) -> list[RecordedResource]:
    """The managed policies attached to a role (created as its children)."""
    return [p for p in recording.by_type("aws:iam/policy:Policy") if p.parent == role.urn]


def policy_of(recording: Recording, role: RecordedResource) -> dict[str, Any]:
    """Every statement of every policy of the role, as one document."""
    statements = [
        s
        for p in managed_policies(recording, role)
        for s in json.loads(p.inputs["policy"])["Statement"]
    ]
    assert statements, f"{role.name} has no policy"
    return aws_policies.document(statements)


def deploy_policy(recording: Recording, env: str) -> dict[str, Any]:
    return policy_of(recording, roles(recording)[f"spendsense-github-deploy-{env}"])


def by_sid(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy["Statement"]}


def boundary(recording: Recording, env: str) -> dict[str, Any]:
    policy = recording.one("aws:iam/policy:Policy", f"{env}-boundary")
    assert policy.inputs["name"] == f"spendsense-workload-boundary-{env}"
    return json.loads(policy.inputs["policy"])


def boundary_arn(env: str) -> str:
    return f"arn:aws:iam::123456789012:policy/spendsense-workload-boundary-{env}"


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
        ("spendsense-github-deploy-staging", [f"repo:{REPO}:environment:staging"]),
        ("spendsense-github-deploy-production", [f"repo:{REPO}:environment:production"]),
        ("spendsense-github-preview", [f"repo:{REPO}:pull_request"]),
        ("spendsense-github-checks", [f"repo:{REPO}:ref:refs/heads/main"]),
    ],
)
def test_each_role_trusts_only_this_repository_and_its_exact_subjects(
    recording: Recording, role_name: str, subjects: list[str]
) -> None:
    """StringEquals on `sub` (no wildcard), the STS audience, GitHub's provider as principal:
    each environment's deploy role only by a job in that GitHub environment."""
    role = roles(recording)[role_name]
    trust = json.loads(role.inputs["assumeRolePolicy"])
    (only,) = trust["Statement"]
    provider = recording.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert only["Effect"] == "Allow"
    assert only["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert only["Principal"]["Federated"].endswith(provider.name)
    assert set(only["Condition"]) == {"StringEquals"}, "no StringLike: subjects are exact"
    equals = only["Condition"]["StringEquals"]
    assert equals["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    assert equals["token.actions.githubusercontent.com:sub"] == subjects
    assert all("*" not in s and s.startswith(f"repo:{REPO}:") for s in subjects)


def test_roles_hold_managed_policies_only(recording: Recording) -> None:
    """No inline policies (a role's inline policies share 10,240 characters); each managed
    policy is attached to its role."""
    assert not recording.by_type("aws:iam/rolePolicy:RolePolicy")
    attachments = recording.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    for role in roles(recording).values():
        policies = managed_policies(recording, role)
        assert policies, role.name
        attached = [a for a in attachments if a.parent == role.urn]
        assert len(attached) == len(policies), role.name


@pytest.mark.parametrize(
    "role_name",
    [
        *(f"spendsense-github-deploy-{e}" for e in ENVIRONMENTS),
        "spendsense-github-preview",
        "spendsense-github-checks",
    ],
)
def test_no_wildcard_actions_and_star_resources_only_where_aws_requires_it(
    recording: Recording, role_name: str
) -> None:
    """No `*` or `service:*` Allow; `Resource: "*"` only for unscopable actions or tag-gated
    creates."""
    policy = policy_of(recording, roles(recording)[role_name])
    for statement in policy["Statement"]:
        if statement["Effect"] == "Deny":
            continue
        actions = statement["Action"]
        assert all("*" not in action for action in actions), (role_name, statement["Sid"])
        if statement["Resource"] == "*":
            unscopable = set(actions) <= aws_policies.UNSCOPABLE_ACTIONS
            tag_gated = set(actions) <= aws_policies.TAG_CONDITIONED and (
                "aws:RequestTag/Project" in json.dumps(statement.get("Condition"))
            )
            assert unscopable or tag_gated, (role_name, statement["Sid"], actions)
            assert not any(a.split(":")[1].startswith(("Delete", "Put", "Update")) for a in actions)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_deploy_role_is_limited_to_its_own_stacks_resources(
    recording: Recording, env: str
) -> None:
    """Named resources start with the stack's own prefix; the others carry the stack's tags."""
    policy = deploy_policy(recording, env)
    prefixes = (PREFIXES[env], f"SpendSense-API{'-staging' if env == 'staging' else ''}")
    key_id = by_sid(policy)["StackSecrets"]["Resource"][0]
    assert key_id.startswith("arn:aws:kms:us-east-1:123456789012:key/"), key_id
    for statement in policy["Statement"]:
        if statement["Effect"] == "Deny" or statement["Resource"] == "*":
            continue
        condition = statement.get("Condition") or {}
        equals = condition.get("StringEquals", {})
        tagged = (
            equals.get("aws:ResourceTag/Environment") == env
            or equals.get("aws:RequestTag/Environment") == env
        )
        if tagged:
            assert "Project" in json.dumps(equals), statement["Sid"]
        via_ecr = equals.get("kms:ViaService") == "ecr.us-east-1.amazonaws.com"
        for arn in statement["Resource"]:
            name = re.split(r"[:/]", arn, maxsplit=5)[-1]
            own_state = arn.startswith("arn:aws:s3:::spendsense-pulumi-state")
            allowed = tagged or via_ecr or own_state or arn == key_id or "healthcheck/*" in arn
            allowed = allowed or "aws-service-role/apprunner" in arn
            # The alert routes' paging URLs: the stack's own parameter path.
            allowed = allowed or arn.endswith(f":parameter/spendsense/{env}/*")
            assert allowed or any(p in name for p in prefixes), (statement["Sid"], arn)
            if not allowed and env == "staging":
                assert "staging" in name, (statement["Sid"], arn)


def test_production_deploy_role_and_boundary_are_denied_stagings_names(
    recording: Recording,
) -> None:
    """`spendsense-api*` also matches `spendsense-api-staging*`: an explicit Deny closes that."""
    expected = [
        "arn:aws:*:*:123456789012:*SpendSense-API-staging*",
        "arn:aws:*:*:123456789012:*spendsense-api-staging*",
    ]
    for policy in (deploy_policy(recording, "production"), boundary(recording, "production")):
        deny = by_sid(policy)["NotTheOtherStacks"]
        assert deny["Effect"] == "Deny" and deny["Action"] == "*"
        assert deny["Resource"] == expected
    assert "NotTheOtherStacks" not in by_sid(deploy_policy(recording, "staging"))


STATE = "arn:aws:s3:::spendsense-pulumi-state/.pulumi"


def stack_files(env: str, project: str = "spendsense") -> list[str]:
    """Objects Pulumi's DIY backend reads and writes for one stack (pkg/backend/diy)."""
    return [
        f"{STATE}/stacks/{project}/{env}.json",
        f"{STATE}/stacks/{project}/{env}.json.gz",
        f"{STATE}/stacks/{project}/{env}.json.bak",
        f"{STATE}/stacks/{project}/{env}.json.zst",
        f"{STATE}/stacks/{project}/{env}.pulumi-tags",
        f"{STATE}/history/{project}/{env}/{env}-1764800000000000000.history.json",
        f"{STATE}/history/{project}/{env}/{env}-1764800000000000000.checkpoint.json",
        f"{STATE}/backups/{project}/{env}/{env}.1764800000000000000.json",
        f"{STATE}/journal/{project}/{env}/0001.json",
        f"{STATE}/locks/organization/{project}/{env}/5f2b-lock.json",
    ]


def state_access(statements: list[dict[str, Any]], action: str, key: str) -> str:
    from tests.ci.iam_eval import Call, decision

    return decision(statements, Call(action, key, {"aws:RequestedRegion": "us-east-1"}))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_deploy_role_reads_and_writes_only_its_own_stacks_state(
    recording: Recording, env: str
) -> None:
    """Staging's role cannot read production's checkpoint (it holds the alert subscription's
    ARN, which `sns:Unsubscribe` on "*" would then silence), nor production's history,
    backups or locks, nor the trust stack's state; each role reads and writes its own files
    and reads the backend's meta.yaml, which every login reads."""
    statements = deploy_policy(recording, env)["Statement"]
    other = next(e for e in ENVIRONMENTS if e != env)
    for key in stack_files(env):
        for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
            assert state_access(statements, action, key) == "allowed", (action, key)
    assert state_access(statements, "s3:GetObject", f"{STATE}/meta.yaml") == "allowed"
    foreign = [
        *stack_files(other),
        *stack_files("ci", project="spendsense-ci-trust"),
        # A stack whose name starts with this one's is another stack.
        *stack_files(f"{env}-copy"),
    ]
    for key in foreign:
        for action in ("s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"):
            assert state_access(statements, action, key) == "not granted", (action, key)
    assert state_access(statements, "s3:PutObject", f"{STATE}/meta.yaml") == "not granted"


def test_preview_reads_every_stacks_state_and_writes_none(recording: Recording) -> None:
    """A preview reads both stacks' state; the DIY backend takes no lock for a preview
    (pkg/backend/diy/backend.go, `Preview`), so the role writes nothing; the checks role
    reads production's state only; neither reads the trust stack's."""
    preview = policy_of(recording, roles(recording)["spendsense-github-preview"])["Statement"]
    checks = policy_of(recording, roles(recording)["spendsense-github-checks"])["Statement"]
    for env in ENVIRONMENTS:
        for key in stack_files(env):
            assert state_access(preview, "s3:GetObject", key) == "allowed", key
            assert state_access(preview, "s3:PutObject", key) == "not granted", key
            expected = "allowed" if env == "production" else "not granted"
            assert state_access(checks, "s3:GetObject", key) == expected, key
    for key in stack_files("ci", project="spendsense-ci-trust"):
        assert state_access(preview, "s3:GetObject", key) == "not granted", key
        assert state_access(checks, "s3:GetObject", key) == "not granted", key


def test_the_deploy_roles_cannot_reach_the_ci_trust_itself(recording: Recording) -> None:
    """The CI roles and the state key are not tagged like the program's resources (which the
    deploy roles may change), and the deploy roles are denied IAM on the CI roles outright."""
    for resource in recording.resources:
        tags = resource.inputs.get("tags") or {}
        assert tags.get("Project") != "spendsense", resource.name
    for env in ENVIRONMENTS:
        deny = by_sid(deploy_policy(recording, env))["NotTheCiRoles"]
        assert deny["Effect"] == "Deny" and deny["Action"] == ["iam:*"]
        assert "arn:aws:iam::123456789012:role/spendsense-github-*" in deny["Resource"]
        assert "arn:aws:iam::123456789012:policy/spendsense-github-*" in deny["Resource"]
    for name in roles(recording):
        assert name.startswith("spendsense-github-")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_roles_the_deploy_role_writes_carry_its_environments_boundary(
    recording: Recording, env: str
) -> None:
    """CreateRole and the role-changing actions need `iam:PermissionsBoundary` = the stack's
    boundary, which the deploy role may not remove or edit."""
    arn = recording.outputs["aws_workload_boundary_arns"][env]
    assert arn.endswith(f"spendsense-workload-boundary-{env}")
    sids = by_sid(deploy_policy(recording, env))
    for sid in ("RoleCreate", "RoleWrite"):
        assert sids[sid]["Condition"]["StringEquals"]["iam:PermissionsBoundary"] == boundary_arn(
            env
        )
    keep = sids["KeepTheBoundary"]
    assert keep["Effect"] == "Deny" and boundary_arn(env) in keep["Resource"]
    assert "iam:DeleteRolePermissionsBoundary" in keep["Action"]
    policy = deploy_policy(recording, env)
    writes = {a for s in policy["Statement"] if s["Effect"] == "Allow" for a in s["Action"]}
    iam_writes = {
        a for a in writes if a.startswith("iam:") and not a.startswith(("iam:Get", "iam:List"))
    }
    bounded = set(sids["RoleCreate"]["Action"]) | set(sids["RoleWrite"]["Action"])
    tags_only = {"iam:TagRole", "iam:UntagRole", "iam:PassRole", "iam:CreateServiceLinkedRole"}
    assert iam_writes - bounded == tags_only


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_role_tags_are_scoped_by_tags_not_by_a_key_tagging_never_carries(
    recording: Recording, env: str
) -> None:
    """Issue 12.1: `iam:TagRole`/`UntagRole` do not carry `iam:PermissionsBoundary`; under that
    condition creating a tagged role was always denied. They are held to the stack's tags."""
    policy = deploy_policy(recording, env)
    for statement in policy["Statement"]:
        if {"iam:TagRole", "iam:UntagRole"} & set(statement.get("Action", [])):
            assert "iam:PermissionsBoundary" not in json.dumps(statement), statement["Sid"]
    sids = by_sid(policy)
    on_create = sids["RoleTagOnCreate"]["Condition"]
    assert on_create["StringEquals"] == {
        "aws:RequestTag/Project": "spendsense",
        "aws:RequestTag/Environment": env,
    }
    assert sids["RoleTags"]["Condition"]["StringEquals"]["aws:ResourceTag/Environment"] == env
    untag = sids["RoleUntag"]["Condition"]["ForAllValues:StringNotEquals"]["aws:TagKeys"]
    assert set(untag) == {"Project", "Environment"}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_a_deploy_role_cannot_retag_the_other_stacks_keys_or_roles_as_its_own(
    recording: Recording, env: str
) -> None:
    """Tagging on create is allowed only where the resource has no Project tag yet, and
    tagging an existing resource only keeps it in the stack: otherwise staging could tag
    production's key `Environment=staging` and then change its key policy."""
    sids = by_sid(deploy_policy(recording, env))
    for sid in ("RoleTagOnCreate", "KeyTagOnCreate"):
        assert sids[sid]["Condition"]["Null"] == {"aws:ResourceTag/Project": "true"}, sid
    for sid in ("RoleTags", "Keys"):
        assert sids[sid]["Condition"]["StringEqualsIfExists"] == {
            "aws:RequestTag/Project": "spendsense",
            "aws:RequestTag/Environment": env,
        }, sid
    assert "kms:TagResource" not in sids["KeyCreate"]["Action"]
    assert "kms:UntagResource" not in sids["Keys"]["Action"]
    assert sids["KeyUntag"]["Condition"]["ForAllValues:StringNotEquals"] == {
        "aws:TagKeys": ["Environment", "Project"]
    }


def test_sns_subscription_actions_are_granted_on_star(recording: Recording) -> None:
    """Issue 12.1: the reference lists no resource type for them; on topic ARNs they never apply."""
    for env in ENVIRONMENTS:
        sids = by_sid(deploy_policy(recording, env))
        subs = {"sns:GetSubscriptionAttributes", "sns:SetSubscriptionAttributes", "sns:Unsubscribe"}
        assert set(sids["AlertSubscriptions"]["Action"]) == subs
        assert sids["AlertSubscriptions"]["Resource"] == "*"
        assert not subs & set(sids["AlertTopic"]["Action"])


def test_each_boundary_reaches_only_its_own_stacks_secret(recording: Recording) -> None:
    """Issue 12.2/12.3: a role created under staging's boundary cannot read production's key
    and the other way round (production's prefix is denied staging's names)."""
    for env in ENVIRONMENTS:
        statements = boundary(recording, env)["Statement"]
        reads = [s for s in statements if "secretsmanager:GetSecretValue" in s.get("Action", [])]
        resources = [arn for s in reads for arn in s["Resource"]]
        assert resources and all(
            f":secret:{PREFIXES[env]}" in arn or ":secret:SpendSense-API" in arn
            for arn in resources
        ), resources
    staging = boundary(recording, "staging")["Statement"]
    assert all("secret:spendsense-api/" not in json.dumps(s) for s in staging)


def test_the_workload_boundaries_grant_no_iam_and_no_wildcards(recording: Recording) -> None:
    for env in ENVIRONMENTS:
        for statement in boundary(recording, env)["Statement"]:
            if statement["Effect"] == "Deny":
                continue
            for action in statement["Action"]:
                assert "*" not in action and not action.startswith(("iam:", "sts:")), action
            if statement["Resource"] == "*":
                assert set(statement["Action"]) <= aws_policies.UNSCOPABLE_ACTIONS, statement["Sid"]


def test_the_boundary_requirement_can_be_turned_off() -> None:
    """`requirePermissionsBoundary: false` drops the condition (until the program sets it)."""
    from infra.ci_trust import aws_deploy

    scope = aws_policies.Scope(
        account="123456789012",
        region="us-east-1",
        prefixes=("spendsense",),
        state_bucket="b",
        state_key_arn="k",
        environment="staging",
    )
    text = json.dumps(aws_deploy.deploy_statements(scope))
    assert "iam:PermissionsBoundary" not in text and "KeepTheBoundary" not in text


def test_no_ci_role_holds_get_secret_value(recording: Recording) -> None:
    """No CI role reads a secret's value directly (what a deploy role can still reach through
    the code it deploys is stated in docs/ci.md)."""
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
    """Only the deploy roles write to the state bucket."""
    for name in ("spendsense-github-preview", "spendsense-github-checks"):
        for statement in policy_of(recording, roles(recording)[name])["Statement"]:
            assert not {"s3:PutObject", "s3:DeleteObject"} & set(statement.get("Action", []))


def test_deploy_roles_can_make_the_preflight_reads(recording: Recording) -> None:
    """`spendsense preflight` runs in deploy.yml with the deploy role (GetCallerIdentity needs
    no permission: https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html)."""
    for env in ENVIRONMENTS:
        allowed = {
            a
            for s in deploy_policy(recording, env)["Statement"]
            if s["Effect"] == "Allow"
            for a in s["Action"]
        }
        for action in (
            "apprunner:ListServices",
            "apprunner:DescribeService",
            "ecr:DescribeRepositories",
            "ecr:DescribeImages",
        ):
            assert action in allowed, (env, action)


def test_deploy_role_can_start_the_first_rotation_and_encrypt_the_registry(
    recording: Recording,
) -> None:
    """RotateSecret needs lambda:InvokeFunction; a KMS-encrypted ECR repository needs grants."""
    sids = by_sid(deploy_policy(recording, "production"))
    rotation = sids["RotationFunction"]
    assert "lambda:InvokeFunction" in rotation["Action"]
    assert all(":function:" in arn for arn in rotation["Resource"])
    grants = sids["EcrManagedKeyGrants"]
    assert set(grants["Action"]) == {"kms:CreateGrant", "kms:RetireGrant", "kms:DescribeKey"}
    assert grants["Condition"] == {
        "StringEquals": {"kms:ViaService": "ecr.us-east-1.amazonaws.com"}
    }


def test_trust_policy_refuses_to_trust_nobody() -> None:
    with pytest.raises(ValueError, match="at least one"):
        aws_policies.trust_policy("arn:aws:iam::1:oidc-provider/x", [])


# --------------------------------------------------------------------------------------------
# One AWS account per environment
# --------------------------------------------------------------------------------------------
def test_an_environment_can_have_its_own_aws_account() -> None:
    """`awsAccountId` + `awsAdminRoleArn`: its OIDC provider, boundary and deploy role are made
    in that account; the state bucket and key let that role in (its own policies narrow it)."""
    config = stack_config()
    envs = config["spendsense-ci-trust:environments"]
    envs[1] = {
        **envs[1],
        "awsAccountId": "222233334444",
        "awsAdminRoleArn": "arn:aws:iam::222233334444:role/OrganizationAccountAccessRole",
    }
    recording = run_trust(config)
    (provider,) = [p for p in recording.by_type("pulumi:providers:aws") if "production" in p.name]
    # Provider inputs reach the engine as JSON strings.
    assert json.loads(provider.inputs["allowedAccountIds"]) == ["222233334444"]
    assert "OrganizationAccountAccessRole" in provider.inputs["assumeRoles"]
    assert len(recording.by_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")) == 2
    role = roles(recording)["spendsense-github-deploy-production"]
    assert role.provider.startswith(provider.urn)
    assert roles(recording)["spendsense-github-deploy-staging"].provider == ""
    sids = by_sid(deploy_policy(recording, "production"))
    assert sids["RoleCreate"]["Condition"]["StringEquals"]["iam:PermissionsBoundary"] == (
        "arn:aws:iam::222233334444:policy/spendsense-workload-boundary-production"
    )
    # In its own account production's prefix no longer meets staging's names.
    assert "NotTheOtherStacks" not in sids
    bucket_policy = recording.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"]
    assert "spendsense-github-deploy-production" in bucket_policy
    # The checks read production: their role is in production's account too.
    assert roles(recording)["spendsense-github-checks"].provider.startswith(provider.urn)
    assert "spendsense-github-checks" in bucket_policy
    assert "spendsense-github-deploy-staging" not in bucket_policy
    key_policy = json.loads(recording.one("aws:kms/keyPolicy:KeyPolicy").inputs["policy"])
    assert "spendsense-github-deploy-production" in json.dumps(key_policy)


# --------------------------------------------------------------------------------------------
# State backend
# --------------------------------------------------------------------------------------------
def test_state_bucket_is_versioned_encrypted_private_and_protected(recording: Recording) -> None:
    bucket = recording.one("aws:s3/bucket:Bucket")
    assert bucket.inputs["bucket"] == "spendsense-pulumi-state"
    assert bucket.protect and bucket.retain_on_delete
    key = recording.one("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True and key.protect
    assert not recording.by_type("aws:kms/keyPolicy:KeyPolicy"), "one account: default policy"
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
    for flag in (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ):
        assert block.inputs[flag] is True, flag
    ownership = recording.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    policy = json.loads(recording.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    (deny,) = policy["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
    lifecycle = recording.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert lifecycle.inputs["rules"][0]["noncurrentVersionExpiration"]["noncurrentDays"] == 365
    for resource in (versioning, encryption, block, ownership, lifecycle):
        assert resource.inputs["bucket"] == bucket_id or resource.inputs["bucket"] != "[unknown]"


def test_outputs_name_the_backend_and_the_secrets_provider(recording: Recording) -> None:
    assert (
        recording.outputs["pulumi_backend_url"] == "s3://spendsense-pulumi-state?region=us-east-1"
    )
    assert (
        recording.outputs["pulumi_secrets_provider"]
        == "awskms://alias/spendsense-pulumi?region=us-east-1"
    )
    for env in ENVIRONMENTS:
        assert recording.outputs["aws_deploy_role_arns"][env].endswith(
            f":role/spendsense-github-deploy-{env}"
        )
    assert set(recording.outputs["gcp_service_accounts"]) == {
        "staging",
        "production",
        "preview",
        "checks",
    }


def test_the_region_guard_exempts_only_global_services(recording: Recording) -> None:
    """The Resource Groups Tagging API (`tag:`, endpoint `tagging`) is regional: a
    `tag:GetResources` outside the stack's region is denied like any regional call. Every
    exempt service is global in botocore's endpoint data (sts: the global endpoint)."""
    import botocore.loaders

    data = botocore.loaders.Loader().load_data("endpoints")
    (aws,) = [p for p in data["partitions"] if p["partition"] == "aws"]
    endpoint = {"tag": "tagging"}
    for service in aws_policies.GLOBAL_SERVICES:
        entry = aws["services"][endpoint.get(service, service)]
        assert entry.get("isRegionalized") is False or entry.get("partitionEndpoint"), service
    assert aws["services"]["tagging"].get("partitionEndpoint") is None
    assert "tag" not in aws_policies.GLOBAL_SERVICES
    elsewhere = {"aws:RequestedRegion": "eu-west-1"}
    from tests.ci.iam_eval import Call, decision

    for name in (
        "spendsense-github-preview",
        *(f"spendsense-github-deploy-{e}" for e in ENVIRONMENTS),
    ):
        statements = policy_of(recording, roles(recording)[name])["Statement"]
        call = Call("tag:GetResources", "*", elsewhere)
        assert decision(statements, call) == "denied", name
        here = Call("tag:GetResources", "*", {"aws:RequestedRegion": "us-east-1"})
        assert decision(statements, here) == "allowed", name
