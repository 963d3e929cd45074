"""IAM: least privilege, the runbook's "Review IAM permissions" as rules.

AWS: no policy statement that allows every action on every resource (Checkov CKV_AWS_62 /
CKV_AWS_1). GCP: no basic role (owner, editor, viewer) granted on a project or bucket, which
would give an identity far more than its job (e.g. the backup export needs only
roles/datastore.importExportAdmin).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
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
ATTACHMENT_TYPES = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
)
# AWS managed policies that give (nearly) every action on every resource.
BROAD_MANAGED = ("AdministratorAccess", "PowerUserAccess")
GCP_POLICY_TYPES = (
    "gcp:projects/iAMPolicy:IAMPolicy",
    "gcp:storage/bucketIAMPolicy:BucketIAMPolicy",
)
GCP_MEMBER_TYPES = (
    "gcp:projects/iAMMember:IAMMember",
    "gcp:projects/iAMBinding:IAMBinding",
    "gcp:storage/bucketIAMMember:BucketIAMMember",
    "gcp:storage/bucketIAMBinding:BucketIAMBinding",
)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    return [value]


def broad_managed_policy(arn: Any) -> str | None:
    """ "AdministratorAccess" / "PowerUserAccess" when `arn` is that AWS managed policy."""
    if not isinstance(arn, str):
        return None
    name = arn.rsplit("/", 1)[-1]
    return name if ":policy/" in arn and name in BROAD_MANAGED else None


def bindings(policy_data: Any) -> list[tuple[str, list[str]]]:
    """(role, members) of a GCP IAM policy document (policyData, a JSON string)."""
    if isinstance(policy_data, str):
        try:
            policy_data = json.loads(policy_data)
        except ValueError:
            return []
    if not isinstance(policy_data, Mapping):
        return []
    found = []
    for binding in _as_list(policy_data.get("bindings")):
        if isinstance(binding, Mapping):
            members = [str(m) for m in _as_list(binding.get("members"))]
            found.append((str(binding.get("role")), members))
    return found


def admin_statements(document: Any, *, not_action: bool = False) -> list[str]:
    """Sids (or positions) of Allow statements with every action on every resource
    (`not_action`: with NotAction, every action but a few, on every resource)."""
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
        if not_action:
            every_action = "NotAction" in statement
        else:
            every_action = any(a in ("*", "*:*") for a in actions)
        if every_action and "*" in resources:
            found.append(str(statement.get("Sid") or f"#{index + 1}"))
    return found


def _admin_messages(where: str, document: Any) -> Iterator[str]:
    sids = admin_statements(document)
    if sids:
        yield (
            f"{where} statement {', '.join(sids)} allows every action (*) on every resource (*), "
            "full administrator rights; list the actions and resources the role needs"
        )
    sids = admin_statements(document, not_action=True)
    if sids:
        yield (
            f"{where} statement {', '.join(sids)} allows every action but its NotAction list on "
            "every resource (*), nearly administrator rights; list the actions (Action) and "
            "resources the role needs"
        )


def _managed_message(who: str, name: str) -> str:
    return (
        f"{who} the {name} managed policy, (nearly) every action on every resource; attach a "
        "policy with only what it needs"
    )


def check_attachment(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    name = broad_managed_policy(props.get("policyArn"))
    if name:
        yield _managed_message("attaches", name)


def check_policy_document(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    yield from _admin_messages("policy", props.get("policy"))


def check_role(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    for inline in props.get("inlinePolicies") or []:
        where = f"inline policy {inline.get('name') or ''}".strip()
        yield from _admin_messages(where, inline.get("policy"))
    for arn in props.get("managedPolicyArns") or []:
        name = broad_managed_policy(arn)
        if name:
            yield _managed_message("the role has", name)


def check_basic_roles(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    role = props.get("role")
    if role in config["forbiddenRoles"]:
        who = props.get("member") or ", ".join(props.get("members") or [])
        yield (
            f"grants the basic role {role} to {who}; basic roles give far more than one job "
            "needs: grant a predefined role (e.g. roles/datastore.importExportAdmin)"
        )


def check_basic_roles_in_policy(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    for role, members in bindings(props.get("policyData")):
        if role in config["forbiddenRoles"]:
            yield (
                f"policyData grants the basic role {role} to {', '.join(members)}; basic roles "
                "give far more than one job needs: grant a predefined role (e.g. "
                "roles/datastore.importExportAdmin)"
            )


def policies() -> list[Policy]:
    from spendsense_policies.config import schema

    return [
        resource_policy(
            "aws-iam-no-admin-policies",
            "IAM policies must not allow every action on every resource, directly, through "
            "NotAction or by attaching AdministratorAccess/PowerUserAccess (Checkov CKV_AWS_62, "
            "CKV_AWS_1).",
            {
                **dict.fromkeys(AWS_POLICY_TYPES, check_policy_document),
                **dict.fromkeys(ATTACHMENT_TYPES, check_attachment),
                ROLE: check_role,
            },
        ),
        resource_policy(
            "gcp-iam-no-basic-roles",
            "GCP identities must get predefined roles, not the basic owner, editor or viewer "
            "roles.",
            {
                **dict.fromkeys(GCP_MEMBER_TYPES, check_basic_roles),
                **dict.fromkeys(GCP_POLICY_TYPES, check_basic_roles_in_policy),
            },
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
