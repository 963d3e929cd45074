"""firestore/firestore.rules implements the access model: every allow and every deny.

The cases are defined once in spendsense.rules_suite (so `spendsense rules test` runs the
same ones); each test id is the name of the rule it defends, e.g.
`test_rule[recommendations_user_cannot_list_without_user_id_filter]`.
"""

from __future__ import annotations

import pytest
from spendsense.firestore_emulator.process import FirestoreEmulator
from spendsense.rules_suite.cases import CASES
from spendsense.rules_suite.model import Case
from spendsense.rules_suite.runner import Outcome, run_suite

from tests.rules.conftest import RULES_PROJECT

pytestmark = pytest.mark.emulator


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_rule(case: Case, repository_outcomes: dict[str, Outcome]) -> None:
    outcome = repository_outcomes[case.name]
    assert outcome.passed, (
        f"{case.name}: expected {case.expect}, {outcome.detail}. Rule: {case.rule}"
    )


def test_every_collection_of_the_model_has_an_allow_and_a_deny_case() -> None:
    """The suite covers each part of the model with at least one allow and one deny
    (anything-else paths and audit-log writes only deny)."""
    by_prefix: dict[str, set[str]] = {}
    for case in CASES:
        by_prefix.setdefault(case.name.split("_")[0], set()).add(case.expect)
    assert by_prefix == {
        "users": {"allow", "deny"},
        "user": {"allow", "deny"},  # user_subcollections_*
        "recommendations": {"allow", "deny"},
        "audit": {"allow", "deny"},
        "other": {"deny"},
    }


def test_deny_all_rules_fail_every_allow_case(firestore_emulator: FirestoreEmulator) -> None:
    """Every allow case is allowed because of the rules: the deny-all placeholder denies them."""
    deny_all = (
        "rules_version = '2';\nservice cloud.firestore {\n  match /databases/{db}/documents {\n"
        "    match /{document=**} { allow read, write: if false; }\n  }\n}\n"
    )
    allow_cases = [case for case in CASES if case.expect == "allow"]
    outcomes = run_suite(
        firestore_emulator, deny_all, f"{RULES_PROJECT}-deny-all", allow_cases, workers=4
    )
    assert len(outcomes) >= 15
    passed = [o.line() for o in outcomes if o.passed or o.status != 403]
    assert passed == [], "under deny-all rules every allow case must be denied:\n" + "\n".join(
        passed
    )


# Mutants of the real rules: one clause weakened each. Of the cases that defend the same
# sentence of the model, exactly the named ones must fail: each constraint has a test that
# catches its loss.
MUTANTS: list[tuple[str, str, str, set[str]]] = [
    (
        "reviewed_at_not_checked",
        "\n        && review.reviewed_at == request.time",
        "",
        {"recommendations_review_reviewed_at_must_be_request_time"},
    ),
    (
        "reviewed_by_not_checked",
        "\n        && review.reviewed_by == request.auth.uid",
        "",
        {
            "recommendations_review_reviewed_by_must_be_reviewer",
            "recommendations_review_must_sign_reviewed_by",
        },
    ),
    (
        "any_field_may_change",
        "return onlyChanges(['status', 'reviewed_by', 'reviewed_at'])",
        "return true",
        {
            "recommendations_review_cannot_change_other_fields",
            "recommendations_review_cannot_reassign_user_id",
            "recommendations_review_cannot_remove_fields",
        },
    ),
    (
        "flagged_status_missing",
        "'rejected', 'flagged']",
        "'rejected']",
        {"recommendations_review_status_may_become_flagged"},
    ),
    (
        "any_signed_in_user_reads_recommendations",
        "(isSignedIn() && resource.data.user_id == request.auth.uid)",
        "isSignedIn()",
        {
            "recommendations_user_cannot_read_another_users",
            "recommendations_user_cannot_list_without_user_id_filter",
            "recommendations_user_cannot_list_another_users",
            "recommendations_other_role_claim_cannot_list_all",
        },
    ),
    (
        "operators_read_audit_logs",
        "allow read: if isAdmin();",
        "allow read: if isReviewer();",
        {"audit_logs_operator_cannot_read"},
    ),
    (
        "users_write_own_subcollections",
        "match /{sub}/{id} {\n        allow read: if isUser(uid);",
        "match /{sub}/{id} {\n        allow read, write: if isUser(uid);",
        {
            "user_subcollections_owner_cannot_create_transaction",
            "user_subcollections_owner_cannot_update_account",
            "user_subcollections_owner_cannot_delete_transaction",
        },
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "caught"),
    [pytest.param(old, new, caught, id=name) for name, old, new, caught in MUTANTS],
)
def test_weakened_rules_are_caught_by_the_named_cases(
    firestore_emulator: FirestoreEmulator, old: str, new: str, caught: set[str]
) -> None:
    """Weakening one clause of firestore.rules makes exactly the cases defending it fail."""
    from spendsense.commands.rules import default_rules

    rules = default_rules().read_text()
    assert rules.count(old) == 1, f"mutant anchor not found once in firestore.rules: {old!r}"
    rules_defended = {case.rule for case in CASES if case.name in caught}
    assert len(rules_defended) == 1, f"unknown case names or mixed rules: {caught}"
    cases = [case for case in CASES if case.rule in rules_defended]
    outcomes = run_suite(
        firestore_emulator,
        rules.replace(old, new),
        project=f"{RULES_PROJECT}-mutant",
        cases=cases,
        workers=4,
    )
    assert {o.case.name for o in outcomes if not o.passed} == caught
