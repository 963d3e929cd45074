"""The repository's rules loaded into the session's Firestore emulator (tests/conftest.py).

The emulator is Google's own (`gcloud emulators firestore start`). Where it is not installed
the tests skip with a one-line reason saying how to install it; under CI=true that is a
failure (tests/conftest.py skip_or_fail). Each group of tests works in its own emulator
project, since rules and data are per project.
"""

from __future__ import annotations

import pytest
from spendsense.commands.rules import default_rules
from spendsense.firestore_emulator.process import FirestoreEmulator
from spendsense.rules_suite.cases import CASES
from spendsense.rules_suite.model import Context
from spendsense.rules_suite.runner import Outcome, prepare, run_cases

RULES_PROJECT = "spendsense-rules"


@pytest.fixture(scope="session")
def rules_context(firestore_emulator: FirestoreEmulator) -> Context:
    """The repository's firestore.rules loaded and the suite's data seeded (rules bypassed)."""
    warnings = prepare(firestore_emulator, default_rules().read_text(), project=RULES_PROJECT)
    assert warnings == [], f"{default_rules()} compiles with warnings: {warnings}"
    return Context(firestore_emulator.rest(RULES_PROJECT))


@pytest.fixture(scope="session")
def repository_outcomes(rules_context: Context) -> dict[str, Outcome]:
    """Every case of the suite run once against the repository's rules, concurrently (the
    cases are independent); test_rule[<case>] asserts each one."""
    outcomes = run_cases(rules_context, CASES, workers=4)
    return {outcome.case.name: outcome for outcome in outcomes}
