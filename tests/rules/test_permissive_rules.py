"""The permissive patterns the policy pack rejects (gcp-firestore-rules-no-open-access) are
open in the emulator: every deny case of the model fails under them, and a signed-out client
reads and writes anything. So the policy and these tests agree on what "open" means."""

from __future__ import annotations

import pytest
from spendsense.firestore_emulator.process import FirestoreEmulator
from spendsense.rules_suite.model import ALICE, PERMISSIVE_EXAMPLES
from spendsense.rules_suite.runner import run_suite

from tests.rules.conftest import RULES_PROJECT

pytestmark = pytest.mark.emulator


@pytest.mark.parametrize("name", sorted(PERMISSIVE_EXAMPLES))
def test_permissive_rules_are_open(firestore_emulator: FirestoreEmulator, name: str) -> None:
    """`allow read, write: if true` and test mode (`request.time < timestamp.date(2030, 1, 1)`)
    let anyone, signed out, read and write every document."""
    project = f"{RULES_PROJECT}-{name}"
    outcomes = run_suite(firestore_emulator, PERMISSIVE_EXAMPLES[name], project=project, workers=4)

    still_denied = [o.case.name for o in outcomes if o.case.expect == "deny" and o.passed]
    assert still_denied == [], f"{name} rules should allow these, but denied them: {still_denied}"
    assert all(o.passed for o in outcomes if o.case.expect == "allow")

    signed_out = firestore_emulator.rest(project)
    assert signed_out.get(f"users/{ALICE}", token=None).ok
    assert signed_out.create("anything", "x", {"by": "anyone"}, token=None).ok
    assert signed_out.delete("audit_logs/log1", token=None).ok


@pytest.mark.parametrize("name", sorted(PERMISSIVE_EXAMPLES))
def test_policy_pack_rejects_what_the_emulator_shows_open(name: str) -> None:
    """gcp-firestore-rules-no-open-access flags each rules file the emulator shows is open."""
    from spendsense_policies.firestore import rules_problems

    problems = list(rules_problems(PERMISSIVE_EXAMPLES[name], f"{name}.rules"))
    assert problems, f"the policy pack does not flag the {name} rules, which are open"


def test_policy_pack_accepts_the_repository_rules() -> None:
    """The rules the model suite proves closed pass gcp-firestore-rules-no-open-access."""
    from spendsense.commands.rules import default_rules
    from spendsense_policies.firestore import rules_problems

    assert list(rules_problems(default_rules().read_text(), "firestore.rules")) == []


# Rules that *mention* request.auth but let a signed-out client in (issue 14 point 1): the
# emulator shows each one open, and the pack flags each one.
SIGNED_OUT_VARIANTS = {
    "auth-is-null": "request.auth == null",
    "null-or-owner": "request.auth == null || request.auth.uid == uid",
    "helper-or-null": "isOwner(uid) || request.auth == null",
    "ternary": "request.auth == null ? true : request.auth.uid == uid",
}
EVERYONE_SIGNED_IN = {
    "any-user-writes-everything": "allow write: if request.auth != null;",
    "helper-signed-in": "allow read, write: if isSignedIn();",
}


def _rules(users_condition: str, everything: str = "allow read, write: if false;") -> str:
    return f"""rules_version = '2';
service cloud.firestore {{
  match /databases/{{database}}/documents {{
    function isSignedIn() {{ return request.auth != null; }}
    function isOwner(uid) {{ return isSignedIn() && request.auth.uid == uid; }}
    match /users/{{uid}} {{
      allow read, write: if {users_condition};
    }}
    match /{{document=**}} {{
      {everything}
    }}
  }}
}}
"""


@pytest.mark.parametrize("name", sorted(SIGNED_OUT_VARIANTS))
def test_rules_mentioning_auth_can_still_be_open(
    firestore_emulator: FirestoreEmulator, name: str
) -> None:
    from spendsense.rules_suite.runner import prepare
    from spendsense_policies.firestore import rules_problems

    rules = _rules(SIGNED_OUT_VARIANTS[name])
    project = f"{RULES_PROJECT}-auth-{name}"
    prepare(firestore_emulator, rules, project=project)
    signed_out = firestore_emulator.rest(project)
    assert signed_out.get(f"users/{ALICE}", token=None).ok, "the emulator denied a signed-out read"
    problems = list(rules_problems(rules, f"{name}.rules"))
    assert problems and "anyone on the internet" in problems[0]


@pytest.mark.parametrize("name", sorted(EVERYONE_SIGNED_IN))
def test_any_signed_in_user_on_everything_writes_other_users_data(
    firestore_emulator: FirestoreEmulator, name: str
) -> None:
    from spendsense.firestore_emulator.rest import id_token
    from spendsense.rules_suite.runner import prepare
    from spendsense_policies.firestore import rules_problems

    rules = _rules("isOwner(uid)", EVERYONE_SIGNED_IN[name])
    project = f"{RULES_PROJECT}-everyone-{name}"
    prepare(firestore_emulator, rules, project=project)
    stranger = id_token("mallory-signed-up-a-minute-ago", project=project)
    rest = firestore_emulator.rest(project)
    assert rest.create("audit_logs", "forged", {"by": "mallory"}, token=stranger).ok
    assert rest.delete(f"users/{ALICE}", token=stranger).ok, "a stranger could not delete Alice"
    problems = list(rules_problems(rules, f"{name}.rules"))
    assert problems and "lets anyone who can sign up reach every document" in problems[0]


def test_owner_only_rules_are_closed_and_pass(firestore_emulator: FirestoreEmulator) -> None:
    from spendsense.firestore_emulator.rest import id_token
    from spendsense.rules_suite.runner import prepare
    from spendsense_policies.firestore import rules_problems

    rules = _rules("isOwner(uid)")
    project = f"{RULES_PROJECT}-owner-only"
    prepare(firestore_emulator, rules, project=project)
    rest = firestore_emulator.rest(project)
    assert not rest.get(f"users/{ALICE}", token=None).ok
    assert not rest.get(f"users/{ALICE}", token=id_token("bob", project=project)).ok
    assert rest.get(f"users/{ALICE}", token=id_token(ALICE, project=project)).ok
    assert list(rules_problems(rules, "owner.rules")) == []
