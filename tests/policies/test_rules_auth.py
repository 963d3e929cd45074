"""Firestore rules: an `allow` alternative passes only if it *requires* a signed-in user (or is
`false`); everyone-who-can-sign-up access under a recursive wildcard is refused; a ruleset over
Firebase's 256 KB is refused (issue 14 points 1 and 5)."""

from __future__ import annotations

import pytest

from tests.policies import compliant as c
from tests.policies.conftest import Pack, messages, only

OPEN = "gcp-firestore-rules-no-open-access"
USERS_RULE = "allow read, write: if request.auth != null && request.auth.uid == userId;"
HELPERS = """
    function isSignedIn() { return request.auth != null; }
    function isSignedOut() { return request.auth == null; }
    function isUser(uid) { return isSignedIn() && request.auth.uid == uid; }
    function hasRole(role) { return isSignedIn() && request.auth.token.get('role', '') == role; }
    function isOperator() { return hasRole('operator'); }
    function maybeUser(uid) { return request.auth == null || request.auth.uid == uid; }
    match /users/{userId} {"""


def _users(condition: str) -> str:
    """GOOD_RULES with the helper functions and the users rule's condition replaced."""
    rules = c.GOOD_RULES.replace("    match /users/{userId} {", HELPERS, 1)
    return rules.replace(USERS_RULE, f"allow read, write: if {condition};")


SIGNED_OUT_GETS_IN = [
    "request.auth == null",
    "null == request.auth",
    "request.auth == null || isUser(userId)",
    "isUser(userId) || request.auth == null",
    "(request.auth == null) || request.auth.uid == userId",
    "isSignedOut()",
    "maybeUser(userId)",
    "!isSignedIn()",
    "isSignedIn() == false",
    "request.auth == null ? true : request.auth.uid == userId",
    "(request.auth == null || request.auth.uid == userId) && resource.data.public == true",
    "request.auth == null && request.time < timestamp.date(2030, 1, 1)",
    "!(request.auth != null)",
]


@pytest.mark.parametrize("condition", SIGNED_OUT_GETS_IN)
def test_condition_that_mentions_auth_but_lets_signed_out_in(pack: Pack, condition: str) -> None:
    found = only(pack.analyze(c.RULESET, c.ruleset(_users(condition))), OPEN)
    assert "`allow read, write`" in found.message and "anyone on the internet" in found.message


REQUIRES_A_USER = [
    "request.auth != null && request.auth.uid == userId",
    "null != request.auth && request.auth.uid == userId",
    "request.auth.uid == userId",
    "isUser(userId)",
    "isUser(userId) || isOperator()",
    "(isSignedIn() && resource.data.owner == request.auth.uid) || isOperator()",
    "!(request.auth == null) && request.auth.uid == userId",
    "isUser(userId) == true",
    "false || isUser(userId)",
    "request.auth.token.email_verified == true && request.auth.uid == userId",
]


@pytest.mark.parametrize("condition", REQUIRES_A_USER)
def test_condition_that_requires_a_user_passes(pack: Pack, condition: str) -> None:
    assert messages(pack.analyze(c.RULESET, c.ruleset(_users(condition))), OPEN) == []


EVERYONE_WHO_SIGNS_UP = [
    ("allow write: if request.auth != null;", "`allow write`"),
    ("allow read, write: if isSignedIn();", "`allow read, write`"),
    (
        "allow create, update: if request.auth != null && request.time < timestamp.date(2030, 1, "
        "1);",
        "`allow create, update`",
    ),
    ("allow read: if null != request.auth || false;", "`allow read`"),
    ("allow write: if isOperator() || isSignedIn();", "`allow write`"),
]


@pytest.mark.parametrize(("rule", "shown"), EVERYONE_WHO_SIGNS_UP)
def test_any_signed_in_user_under_a_recursive_wildcard_is_refused(
    pack: Pack, rule: str, shown: str
) -> None:
    content = _users("request.auth.uid == userId").replace("allow read, write: if false;", rule)
    message = only(pack.analyze(c.RULESET, c.ruleset(content)), OPEN).message
    assert shown in message and "lets anyone who can sign up reach every document" in message


def test_recursive_wildcard_nested_under_a_user_is_refused_too(pack: Pack) -> None:
    content = _users("isUser(userId)").replace(
        "allow read, write: if isUser(userId);",
        "allow read: if isUser(userId);\n      match /{rest=**} { allow write: if isSignedIn(); }",
    )
    message = only(pack.analyze(c.RULESET, c.ruleset(content)), OPEN).message
    assert "`allow write` under a recursive wildcard" in message


@pytest.mark.parametrize(
    "rule",
    [
        "allow read, write: if false;",
        "allow read: if isOperator();",
        "allow read: if request.auth.token.admin == true;",
    ],
)
def test_role_or_false_under_a_recursive_wildcard_passes(pack: Pack, rule: str) -> None:
    content = _users("isUser(userId)").replace("allow read, write: if false;", rule)
    assert messages(pack.analyze(c.RULESET, c.ruleset(content)), OPEN) == []


@pytest.mark.parametrize("extra_bytes", [256_001 - len(c.GOOD_RULES.encode()), 300_000, 1_000_000])
def test_ruleset_over_256_kb_is_refused(pack: Pack, extra_bytes: int) -> None:
    content = c.GOOD_RULES + "// " + "x" * (extra_bytes - 4) + "\n"
    message = only(pack.analyze(c.RULESET, c.ruleset(content)), OPEN).message
    assert "Firebase refuses rules over 256 KB" in message


def test_ruleset_over_256_kb_across_files_is_refused(pack: Pack) -> None:
    half = c.GOOD_RULES + "// " + "y" * 130_000 + "\n"
    props = {
        "project": "p",
        "source": {
            "files": [{"name": "a.rules", "content": half}, {"name": "b.rules", "content": half}]
        },
    }
    assert (
        "Firebase refuses rules over 256 KB" in only(pack.analyze(c.RULESET, props), OPEN).message
    )


def test_ruleset_of_multibyte_characters_counts_bytes(pack: Pack) -> None:
    content = c.GOOD_RULES + "// " + "é" * 128_500 + "\n"  # 257,000 bytes, 128,500 characters
    assert (
        "Firebase refuses rules over 256 KB"
        in only(pack.analyze(c.RULESET, c.ruleset(content)), OPEN).message
    )


def test_ruleset_just_under_the_limit_passes(pack: Pack) -> None:
    content = c.GOOD_RULES + "// " + "x" * (255_000 - len(c.GOOD_RULES)) + "\n"
    assert messages(pack.analyze(c.RULESET, c.ruleset(content)), OPEN) == []


@pytest.mark.parametrize(
    "condition",
    [
        "request.auth.uid != null",
        "request.auth.uid == request.auth.uid",
        "isSignedIn() && request.auth.token != null",
        "request.auth != null && resource.data.public == true",
    ],
)
def test_signed_in_in_disguise_under_a_recursive_wildcard(pack: Pack, condition: str) -> None:
    content = _users("isUser(userId)").replace(
        "allow read, write: if false;", f"allow write: if {condition};"
    )
    assert (
        "lets anyone who can sign up"
        in only(pack.analyze(c.RULESET, c.ruleset(content)), OPEN).message
    )


def test_a_parameter_named_request_proves_nothing(pack: Pack) -> None:
    """`function ok(request) { return request.auth != null; }` called with a literal map is
    true for a signed-out client."""
    content = _users("ok({'auth': 1})").replace(
        "    match /users/{userId} {",
        "    function ok(request) { return request.auth != null; }\n    match /users/{userId} {",
        1,
    )
    assert (
        "anyone on the internet" in only(pack.analyze(c.RULESET, c.ruleset(content)), OPEN).message
    )


def test_a_let_named_request_proves_nothing(pack: Pack) -> None:
    content = _users("ok()").replace(
        "    match /users/{userId} {",
        "    function ok() { let request = {'auth': 1}; return request.auth != null; }\n"
        "    match /users/{userId} {",
        1,
    )
    assert (
        "anyone on the internet" in only(pack.analyze(c.RULESET, c.ruleset(content)), OPEN).message
    )
