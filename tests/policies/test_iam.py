"""IAM: no administrator statements (AWS), no basic roles (GCP); SNS topics encrypted."""

from __future__ import annotations

import json

import pytest

from tests.policies.conftest import Pack, only

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE = "aws:iam/role:Role"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
TOPIC = "aws:sns/topic:Topic"


def document(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


READ_SECRET = {"Sid": "ReadJwtSecret", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": "arn:aws:secretsmanager:us-east-1:1:secret:jwt"}  # fmt: skip
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
    props = {"assumeRolePolicy": "{}", "inlinePolicies": [{"name": "all", "policy": document(admin)}], "tags": {"Project": "spendsense", "Environment": "production", "ManagedBy": "pulumi"}}  # fmt: skip
    assert "inline policy all statement #1 allows every action" in only(pack.analyze(ROLE, props), "aws-iam-no-admin-policies").message  # fmt: skip


def test_role_with_administrator_access(pack: Pack) -> None:
    props = {"assumeRolePolicy": "{}", "managedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"], "tags": {"Project": "spendsense", "Environment": "production", "ManagedBy": "pulumi"}}  # fmt: skip
    assert (
        "AdministratorAccess"
        in only(pack.analyze(ROLE, props), "aws-iam-no-admin-policies").message
    )


def test_predefined_gcp_role(pack: Pack) -> None:
    props = {"project": "p", "role": "roles/datastore.importExportAdmin", "member": "serviceAccount:x@p.iam.gserviceaccount.com"}  # fmt: skip
    assert pack.analyze(PROJECT_MEMBER, props) == []


@pytest.mark.parametrize("role", ["roles/owner", "roles/editor", "roles/viewer"])
def test_basic_gcp_role(pack: Pack, role: str) -> None:
    props = {"project": "p", "role": role, "member": "serviceAccount:x@p.iam.gserviceaccount.com"}
    message = only(pack.analyze(PROJECT_MEMBER, props), "gcp-iam-no-basic-roles").message
    assert f"grants the basic role {role} to serviceAccount:x@p.iam.gserviceaccount.com" in message


def test_encrypted_topic(pack: Pack) -> None:
    props = {"name": "alerts", "kmsMasterKeyId": "alias/aws/sns", "tags": {"Project": "spendsense", "Environment": "production", "ManagedBy": "pulumi"}}  # fmt: skip
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
