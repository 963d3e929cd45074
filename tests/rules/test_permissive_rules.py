"""The permissive patterns the policy pack rejects (gcp-firestore-rules-no-open-access) are
open in the emulator: every deny case of the model fails under them, and a signed-out client
reads and writes anything. So the policy and these tests agree on what "open" means."""

from __future__ import annotations

import pytest
from spendsense.firestore_emulator import FirestoreEmulator
from spendsense.rules_suite import ALICE, PERMISSIVE_EXAMPLES, run_suite

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
