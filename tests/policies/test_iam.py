"""IAM: no administrator statements (AWS), no basic roles (GCP); SNS topics encrypted."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

from tests.policies.conftest import Pack, only

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE = "aws:iam/role:Role"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
TOPIC = "aws:sns/topic:Topic"


def document(*statements: Mapping[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


READ_SECRET = {
    "Sid": "ReadJwtSecret",
    "Effect": "Allow",
    "Action": ["secretsmanager:GetSecretValue"],
    "Resource": "arn:aws:secretsmanager:us-east-1:1:secret:jwt",
}
TRACES = {"Effect": "Allow", "Action": "xray:PutTraceSegments", "Resource": "*"}


def test_scoped_role_policy(pack: Pack) -> None:
    assert pack.analyze(ROLE_POLICY, {"role": "api", "policy": document(READ_SECRET, TRACES)}) == []


@pytest.mark.parametrize("action", ["*", ["*"], "*:*"])
def test_admin_statement(pack: Pack, action: object) -> None:
    admin = {"Sid": "Everything", "Effect": "Allow", "Action": action, "Resource": "*"}
    found = pack.analyze(ROLE_POLICY, {"role": "api", "policy": document(READ_SECRET, admin)})
    message = only(found, "aws-iam-no-admin-policies").message
    assert "statement Everything allows every action (*) on every resource (*)" in message


def test_deny_everything_is_fine(pack: Pack) -> None:
    deny = {"Effect": "Deny", "Action": "*", "Resource": "*"}
    assert pack.analyze(ROLE_POLICY, {"role": "api", "policy": document(deny)}) == []


def test_role_with_admin_inline_policy(pack: Pack) -> None:
    admin = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    props = {
        "assumeRolePolicy": "{}",
        "inlinePolicies": [{"name": "all", "policy": document(admin)}],
        "tags": {"Project": "spendsense", "Environment": "production", "ManagedBy": "pulumi"},
    }
    assert (
        "inline policy all statement #1 allows every action"
        in only(pack.analyze(ROLE, props), "aws-iam-no-admin-policies").message
    )


def test_role_with_administrator_access(pack: Pack) -> None:
    props = {
        "assumeRolePolicy": "{}",
        "managedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"],
        "tags": {"Project": "spendsense", "Environment": "production", "ManagedBy": "pulumi"},
    }
    assert (
        "AdministratorAccess"
        in only(pack.analyze(ROLE, props), "aws-iam-no-admin-policies").message
    )


def test_predefined_gcp_role(pack: Pack) -> None:
    props = {
        "project": "p",
        "role": "roles/datastore.importExportAdmin",
        "member": "serviceAccount:x@p.iam.gserviceaccount.com",
    }
    assert pack.analyze(PROJECT_MEMBER, props) == []


@pytest.mark.parametrize("role", ["roles/owner", "roles/editor", "roles/viewer"])
def test_basic_gcp_role(pack: Pack, role: str) -> None:
    props = {"project": "p", "role": role, "member": "serviceAccount:x@p.iam.gserviceaccount.com"}
    message = only(pack.analyze(PROJECT_MEMBER, props), "gcp-iam-no-basic-roles").message
    assert f"grants the basic role {role} to serviceAccount:x@p.iam.gserviceaccount.com" in message


def test_encrypted_topic(pack: Pack) -> None:
    props = {
        "name": "alerts",
        "kmsMasterKeyId": "alias/aws/sns",
        "tags": {"Project": "spendsense", "Environment": "production", "ManagedBy": "pulumi"},
    }
    assert pack.analyze(TOPIC, props) == []


def test_unencrypted_topic(pack: Pack) -> None:
    props = {
        "name": "alerts",
        "tags": {"Project": "spendsense", "Environment": "production", "ManagedBy": "pulumi"},
    }
    assert (
        "kmsMasterKeyId is not set"
        in only(pack.analyze(TOPIC, props), "aws-sns-topic-encrypted").message
    )


ATTACHMENTS = [
    ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", {"role": "api"}),
    ("aws:iam/policyAttachment:PolicyAttachment", {"name": "all", "roles": ["api"]}),
    ("aws:iam/userPolicyAttachment:UserPolicyAttachment", {"user": "ci"}),
    ("aws:iam/groupPolicyAttachment:GroupPolicyAttachment", {"group": "ops"}),
]


@pytest.mark.parametrize(("type_", "props"), ATTACHMENTS)
@pytest.mark.parametrize("managed", ["AdministratorAccess", "PowerUserAccess"])
def test_attaching_a_broad_managed_policy(
    pack: Pack, type_: str, props: dict[str, object], managed: str
) -> None:
    found = pack.analyze(type_, {**props, "policyArn": f"arn:aws:iam::aws:policy/{managed}"})
    assert (
        f"attaches the {managed} managed policy, (nearly) every action on every resource"
        in only(found, "aws-iam-no-admin-policies").message
    )


def test_attaching_a_scoped_managed_policy_is_fine(pack: Pack) -> None:
    props = {"role": "api", "policyArn": "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"}
    assert pack.analyze(ATTACHMENTS[0][0], props) == []


def test_not_action_on_every_resource(pack: Pack) -> None:
    """NotAction with Resource "*" allows everything but a few actions: as broad as "*"."""
    broad = {"Sid": "AllButIam", "Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    found = pack.analyze(ROLE_POLICY, {"role": "api", "policy": document(broad)})
    assert (
        "policy statement AllButIam allows every action but its NotAction list on every resource "
        "(*)" in only(found, "aws-iam-no-admin-policies").message
    )


@pytest.mark.parametrize(
    "type_", ["gcp:projects/iAMPolicy:IAMPolicy", "gcp:storage/bucketIAMPolicy:BucketIAMPolicy"]
)
def test_basic_role_in_a_whole_iam_policy(pack: Pack, type_: str) -> None:
    data = json.dumps({"bindings": [{"role": "roles/editor", "members": ["user:a@example.com"]}]})
    found = pack.analyze(type_, {"project": "p", "bucket": "b", "policyData": data})
    assert (
        "policyData grants the basic role roles/editor to user:a@example.com"
        in only(found, "gcp-iam-no-basic-roles").message
    )


def test_unencrypted_topic_fix_names_a_customer_managed_key(pack: Pack) -> None:
    """alias/aws/sns would stop CloudWatch and EventBridge from publishing: the fix says so."""
    message = only(pack.analyze(TOPIC, {"name": "alerts"}), "aws-sns-topic-encrypted").message
    assert (
        "customer-managed KMS key whose policy allows cloudwatch.amazonaws.com and "
        "events.amazonaws.com" in message
    )
