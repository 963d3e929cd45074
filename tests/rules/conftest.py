"""One Firestore emulator for the whole session, with the repository's rules loaded.

The emulator is Google's own (`gcloud emulators firestore start`). Where it is not installed
the tests skip with a one-line reason saying how to install it; under CI=true that is a
failure (tests/conftest.py skip_or_fail). Each group of tests works in its own emulator
project, since rules and data are per project.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from spendsense.commands.rules import DEFAULT_RULES
from spendsense.firestore_emulator import EmulatorUnavailable, FirestoreEmulator, emulator_available
from spendsense.rules_suite import CASES, Context, Outcome, prepare, run_cases

from tests.conftest import skip_or_fail

RULES_PROJECT = "spendsense-rules"


@pytest.fixture(scope="session")
def firestore_emulator() -> Iterator[FirestoreEmulator]:
    """Google's Firestore emulator on a free loopback port, started once and always stopped."""
    reason = emulator_available()
    if reason is not None:
        skip_or_fail(reason)
    # Java starts in ~5 s on an idle machine, but took 35 s here with other suites running.
    emulator = FirestoreEmulator(project=RULES_PROJECT, start_timeout=120)
    try:
        emulator.start()
    except EmulatorUnavailable as exc:
        skip_or_fail(str(exc))
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def rules_context(firestore_emulator: FirestoreEmulator) -> Context:
    """The repository's firestore.rules loaded and the suite's data seeded (rules bypassed)."""
    warnings = prepare(firestore_emulator, DEFAULT_RULES.read_text(), project=RULES_PROJECT)
    assert warnings == [], f"{DEFAULT_RULES} compiles with warnings: {warnings}"
    return Context(firestore_emulator.rest(RULES_PROJECT))


@pytest.fixture(scope="session")
def repository_outcomes(rules_context: Context) -> dict[str, Outcome]:
    """Every case of the suite run once against the repository's rules, concurrently (the
    cases are independent); test_rule[<case>] asserts each one."""
    outcomes = run_cases(rules_context, CASES, workers=4)
    return {outcome.case.name: outcome for outcome in outcomes}
