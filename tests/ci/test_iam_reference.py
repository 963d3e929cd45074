"""Every AWS IAM policy document both projects generate, checked against the IAM Service
Authorization Reference (the copy `policy_sentry` bundles).

The main program (`infra/`, both stacks) and the CI trust project (`infra/ci_trust/`) run under
Pulumi's mock runtime; every input of every resource that holds an IAM policy document (inline,
managed and boundary policies, role trust policies, key, topic and bucket policies: anything
with a `Statement`) is read back as the engine would receive it, and each statement is held to:

- every action exists (a wildcard action must match at least one);
- every condition key used without `...IfExists` is one the action carries, global `aws:` keys
  always allowed, and in a web-identity trust policy the identity provider's own claims
  (`<issuer>:sub`, `<issuer>:aud`, which IAM defines per provider:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif);
- every resource is of a type the action supports: an action with no resource type needs
  `"*"`, and each listed ARN pattern must overlap the ARN format of a resource type of at
  least one action of the statement (a grant that can never match is a bug too).

Wildcard actions (only in Denies and key-admin statements) are checked for existence only.
There is no exception list: a finding is fixed in the policy.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from policy_sentry.querying.actions import get_action_data, get_actions_for_service
from spendsense.plan.recorder import Recording, run_program

from infra.ci_trust import aws_policies
from infra.ci_trust.program import main as trust_main
from tests.ci.test_ci_trust import as_engine_config, stack_config
from tests.infra.conftest import record

Document = dict[str, Any]


# --------------------------------------------------------------------------------------------
# The reference
# --------------------------------------------------------------------------------------------
@cache
def _actions_of(service: str) -> dict[str, str]:
    """Lower-case action name -> its spelling, for one service prefix ({} if unknown)."""
    return {name.split(":", 1)[1].lower(): name for name in get_actions_for_service(service)}


@cache
def _entries(action: str) -> tuple[dict[str, Any], ...]:
    service, _, name = action.partition(":")
    spelled = _actions_of(service.lower()).get(name.lower())
    if spelled is None:
        return ()
    data = get_action_data(service.lower(), spelled.split(":", 1)[1]) or {}
    return tuple(data.get(service.lower(), ()))


def resource_formats(action: str) -> set[str]:
    """The ARN formats of the resource types the action supports ("*" alone: none)."""
    return {e["resource_arn_format"] for e in _entries(action)} - {"*"}


def _key_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\$\{[^}]+\}", template)
    return re.compile(".+".join(re.escape(p) for p in parts), re.IGNORECASE)


def condition_keys(action: str) -> list[re.Pattern[str]]:
    keys = {k for e in _entries(action) for k in e["condition_keys"]}
    return [_key_pattern(k) for k in sorted(keys)]


# --------------------------------------------------------------------------------------------
# ARN patterns: do two wildcard patterns have an ARN in common?
# --------------------------------------------------------------------------------------------
def _glob(pattern: str) -> str:
    """IAM's `*`/`?` wildcards, and the reference's `${Placeholder}` as `*`."""
    return re.sub(r"\$\{[^}]+\}", "*", pattern)


def overlap(a: str, b: str) -> bool:
    """True when some string matches both glob patterns (`*` any run, `?` one character)."""
    a, b = _glob(a), _glob(b)
    seen: dict[tuple[int, int], bool] = {}

    def go(i: int, j: int) -> bool:
        if (i, j) in seen:
            return seen[(i, j)]
        if i == len(a) and j == len(b):
            result = True
        elif i < len(a) and a[i] == "*":
            result = go(i + 1, j) or (j < len(b) and go(i, j + 1))
        elif j < len(b) and b[j] == "*":
            result = go(i, j + 1) or (i < len(a) and go(i + 1, j))
        elif i < len(a) and j < len(b):
            same = a[i] == b[j] or "?" in (a[i], b[j])
            result = same and go(i + 1, j + 1)
        else:
            result = False
        seen[(i, j)] = result
        return result

    return go(0, 0)


# --------------------------------------------------------------------------------------------
# The check
# --------------------------------------------------------------------------------------------
def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _expand(action: str) -> list[str]:
    """The actions an Action entry names (a wildcard may name many, `*` every one)."""
    if action == "*":
        return ["*"]
    service, _, name = action.partition(":")
    known = _actions_of(service.lower())
    if "*" in name or "?" in name:
        return [spelled for low, spelled in known.items() if fnmatch.fnmatch(low, name.lower())]
    return [known[name.lower()]] if name.lower() in known else []


def statement_findings(statement: dict[str, Any]) -> list[str]:
    """One line per problem: `Sid S: action: problem`."""
    sid = statement.get("Sid", "(no Sid)")
    findings: list[str] = []
    named = _as_list(statement.get("Action", statement.get("NotAction", [])))
    exact: list[str] = []
    for entry in named:
        expanded = _expand(entry)
        if not expanded:
            findings.append(f"Sid {sid}: {entry}: no such action in the reference")
        elif "*" not in entry:
            exact.append(expanded[0])
    if "NotAction" in statement:
        return findings
    federated = (
        isinstance(statement.get("Principal"), dict) and "Federated" in statement["Principal"]
    )
    for operator, pairs in (statement.get("Condition") or {}).items():
        if operator.endswith("IfExists"):
            continue
        for key in pairs:
            if key.lower().startswith("aws:"):
                continue
            for action in exact:
                if (
                    federated
                    and action == "sts:AssumeRoleWithWebIdentity"
                    and "." in key.split(":")[0]
                ):
                    continue  # the identity provider's own claims (<issuer>:sub, :aud)
                if not any(p.fullmatch(key) for p in condition_keys(action)):
                    findings.append(
                        f"Sid {sid}: {action}: condition key {key} ({operator}) is not one the "
                        "action carries, so the condition never holds"
                    )
    if "Resource" not in statement:  # a trust policy: the role itself is the resource
        return findings
    resources = _as_list(statement["Resource"])
    if "*" in resources:
        return findings
    for action in exact:
        formats = resource_formats(action)
        if not formats:
            findings.append(
                f"Sid {sid}: {action}: has no resource type, so a grant on {resources} never "
                'applies: it needs Resource "*"'
            )
        elif not any(overlap(arn, f) for arn in resources for f in formats):
            findings.append(
                f"Sid {sid}: {action}: none of {resources} is of a type it supports "
                f"({sorted(formats)})"
            )
    if exact:
        for arn in resources:
            if not any(overlap(arn, f) for a in exact for f in resource_formats(a)):
                findings.append(f"Sid {sid}: {arn}: no action of the statement applies to it")
    return findings


def document_findings(doc: Document) -> list[str]:
    return [f for statement in _as_list(doc["Statement"]) for f in statement_findings(statement)]


# --------------------------------------------------------------------------------------------
# The documents
# --------------------------------------------------------------------------------------------
def policy_documents(recording: Recording) -> Iterator[tuple[str, Document]]:
    """Every input of every resource that holds an IAM policy document."""
    for resource in recording.resources:
        for key, value in resource.inputs.items():
            if not isinstance(value, str) or "Statement" not in value:
                continue
            try:
                doc = json.loads(value)
            except ValueError:
                continue
            if isinstance(doc, dict) and "Statement" in doc:
                yield f"{recording.project}/{recording.stack} {resource.name}.{key}", doc


@cache
def recordings() -> tuple[Recording, ...]:
    trust = run_program(
        trust_main, as_engine_config(stack_config()), stack="ci", project="spendsense-ci-trust"
    )
    return (record("staging"), record("production"), trust)


def all_documents() -> list[tuple[str, Document]]:
    return [item for recording in recordings() for item in policy_documents(recording)]


def test_every_kind_of_policy_document_is_found() -> None:
    """The extraction sees inline, managed, boundary, trust, key and topic policies."""
    kinds = {where.rsplit(".", 1)[1] for where, _ in all_documents()}
    assert {"policy", "assumeRolePolicy"} <= kinds
    names = {where.split(" ", 1)[1] for where, _ in all_documents()}
    for expected in (
        "jwt-rotation-policy.policy",  # inline role policy (main program)
        "alerts-key.policy",  # key policy
        "alerts-topic-policy.policy",  # topic policy
        "aws-github-staging-boundary.policy",  # permissions boundary
        "aws-github-deploy-production-identity.policy",  # managed policy of a CI role
        "aws-github-deploy-staging.assumeRolePolicy",  # trust policy
    ):
        assert expected in names, (expected, sorted(names))


def test_every_generated_iam_policy_matches_the_service_authorization_reference() -> None:
    report = [
        f"{where}: {finding}"
        for where, doc in all_documents()
        for finding in document_findings(doc)
    ]
    assert not report, "\n".join(["IAM reference findings:", *report])


# --------------------------------------------------------------------------------------------
# Size: IAM quotas, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
# (whitespace is not counted). Each document keeps POLICY_HEADROOM of its limit free.
# --------------------------------------------------------------------------------------------
TRUST_POLICY_LIMIT = 2048  # "Role trust policy length" (default quota)


def iam_size(text: str) -> int:
    return len(json.dumps(json.loads(text), separators=(",", ":")))


def size_findings(recording: Recording) -> list[str]:
    ceiling = aws_policies.POLICY_HEADROOM
    found: list[str] = []

    def check(what: str, size: int, limit: int) -> None:
        if size > ceiling * limit:
            found.append(f"{what}: {size} characters, over {ceiling:.0%} of IAM's {limit}")

    inline: dict[str, int] = {}
    for resource in recording.resources:
        where = f"{recording.project}/{recording.stack} {resource.name}"
        if resource.type == "aws:iam/policy:Policy":
            check(where, iam_size(resource.inputs["policy"]), aws_policies.MANAGED_POLICY_LIMIT)
        elif resource.type == "aws:iam/role:Role":
            check(
                f"{where} (trust)",
                iam_size(resource.inputs["assumeRolePolicy"]),
                TRUST_POLICY_LIMIT,
            )
        elif resource.type == "aws:iam/rolePolicy:RolePolicy":
            role = f"{recording.project}/{recording.stack} role {resource.inputs['role']}"
            inline[role] = inline.get(role, 0) + iam_size(resource.inputs["policy"])
    for role, size in inline.items():
        check(f"{role} (inline policies)", size, aws_policies.INLINE_POLICIES_PER_ROLE_LIMIT)
    return found


def test_every_policy_keeps_headroom_under_its_iam_size_limit() -> None:
    """Issue 12.7: managed policies (6,144), a role's inline policies together (10,240) and
    trust policies (2,048), each at most 80 % full, in both projects."""
    report = [f for recording in recordings() for f in size_findings(recording)]
    assert not report, "\n".join(report)
    managed = [r for recording in recordings() for r in recording.by_type("aws:iam/policy:Policy")]
    assert len(managed) >= 12, "the trust project's roles hold managed policies"


# --------------------------------------------------------------------------------------------
# The checker itself must be able to fail
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (
            {
                "Sid": "A",
                "Effect": "Allow",
                "Action": ["iam:TagRole"],
                "Resource": ["arn:aws:iam::1:role/*"],
                "Condition": {"StringEquals": {"iam:PermissionsBoundary": "x"}},
            },
            "Sid A: iam:TagRole: condition key iam:PermissionsBoundary",
        ),
        (
            {
                "Sid": "B",
                "Effect": "Allow",
                "Action": ["sns:Unsubscribe"],
                "Resource": ["arn:aws:sns:us-east-1:1:t*"],
            },
            "Sid B: sns:Unsubscribe: has no resource type",
        ),
        (
            {"Sid": "C", "Effect": "Allow", "Action": ["s3:GetObjectz"], "Resource": "*"},
            "Sid C: s3:GetObjectz: no such action",
        ),
        (
            {
                "Sid": "D",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": ["arn:aws:s3:::bucket"],
            },
            "Sid D: s3:GetObject: none of",
        ),
    ],
)
def test_the_check_reports_what_is_wrong(statement: dict[str, Any], expected: str) -> None:
    found = statement_findings(statement)
    assert any(f.startswith(expected) for f in found), found


@pytest.mark.parametrize(
    "statement",
    [
        {
            "Sid": "E",
            "Effect": "Allow",
            "Action": ["iam:TagRole"],
            "Resource": ["arn:aws:iam::1:role/*"],
            "Condition": {
                "StringEquals": {"aws:ResourceTag/Project": "x"},
                "StringEqualsIfExists": {"iam:Nope": "y"},
            },
        },
        {
            "Sid": "F",
            "Effect": "Allow",
            "Action": ["logs:PutLogEvents"],
            "Resource": ["arn:aws:logs:us-east-1:1:log-group:/aws/lambda/x*"],
        },
        {"Sid": "G", "Effect": "Allow", "Action": ["sns:Unsubscribe"], "Resource": "*"},
    ],
)
def test_the_check_accepts_what_is_right(statement: dict[str, Any]) -> None:
    assert statement_findings(statement) == []


def test_arn_patterns_overlap_like_iam_wildcards() -> None:
    assert overlap(
        "arn:aws:logs:r:1:log-group:/a*",
        "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:log-stream:${LogStreamName}",
    )
    assert not overlap("arn:aws:sns:r:1:topic", "arn:${Partition}:s3:::${BucketName}")
    assert overlap(
        "arn:aws:iam::1:role/*", "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}"
    )
