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
    from spendsense.commands.rules import DEFAULT_RULES
    from spendsense_policies.firestore import rules_problems

    assert list(rules_problems(DEFAULT_RULES.read_text(), "firestore.rules")) == []
