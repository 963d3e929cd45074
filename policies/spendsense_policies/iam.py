"""IAM: least privilege, the runbook's "Review IAM permissions" as rules.

AWS: no policy statement that allows every action on every resource (Checkov CKV_AWS_62 /
CKV_AWS_1). GCP: no basic role (owner, editor, viewer) granted on a project or bucket, which
would give an identity far more than its job (e.g. the backup export needs only
roles/datastore.importExportAdmin).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Policy

from spendsense_policies.base import Props, resource_policy

AWS_POLICY_TYPES = (
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)
ROLE = "aws:iam/role:Role"
GCP_MEMBER_TYPES = (
    "gcp:projects/iAMMember:IAMMember",
    "gcp:projects/iAMBinding:IAMBinding",
    "gcp:storage/bucketIAMMember:BucketIAMMember",
    "gcp:storage/bucketIAMBinding:BucketIAMBinding",
)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def admin_statements(document: Any) -> list[str]:
    """Sids (or positions) of Allow statements with every action on every resource."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    if not isinstance(document, dict):
        return []
    found = []
    for index, statement in enumerate(_as_list(document.get("Statement"))):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = [str(a) for a in _as_list(statement.get("Action"))]
        resources = [str(r) for r in _as_list(statement.get("Resource"))]
        if any(a in ("*", "*:*") for a in actions) and "*" in resources:
            found.append(str(statement.get("Sid") or f"#{index + 1}"))
    return found


def _admin_message(where: str, sids: list[str]) -> str:
    return (
        f"{where} statement {', '.join(sids)} allows every action (*) on every resource (*), "
        "full administrator rights; list the actions and resources the role needs"
    )


def check_policy_document(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    sids = admin_statements(props.get("policy"))
    if sids:
        yield _admin_message("policy", sids)


def check_role(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    for inline in props.get("inlinePolicies") or []:
        sids = admin_statements(inline.get("policy"))
        if sids:
            yield _admin_message(f"inline policy {inline.get('name') or ''}".strip(), sids)
    for arn in props.get("managedPolicyArns") or []:
        if isinstance(arn, str) and arn.endswith(":policy/AdministratorAccess"):
            yield "the role has the AdministratorAccess managed policy; attach a policy with only what it needs"


def check_basic_roles(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    role = props.get("role")
    if role in config["forbiddenRoles"]:
        who = props.get("member") or ", ".join(props.get("members") or [])
        yield (
            f"grants the basic role {role} to {who}; basic roles give far more than one job "
            "needs: grant a predefined role (e.g. roles/datastore.importExportAdmin)"
        )


def policies() -> list[Policy]:
    from spendsense_policies.config import schema

    return [
        resource_policy(
            "aws-iam-no-admin-policies",
            "IAM policies must not allow every action on every resource (Checkov CKV_AWS_62, "
            "CKV_AWS_1).",
            {**dict.fromkeys(AWS_POLICY_TYPES, check_policy_document), ROLE: check_role},
        ),
        resource_policy(
            "gcp-iam-no-basic-roles",
            "GCP identities must get predefined roles, not the basic owner, editor or viewer "
            "roles.",
            dict.fromkeys(GCP_MEMBER_TYPES, check_basic_roles),
            config=schema(
                {
                    "forbiddenRoles": (
                        ["roles/owner", "roles/editor", "roles/viewer"],
                        "Roles never granted.",
                    )
                }
            ),
        ),
    ]
