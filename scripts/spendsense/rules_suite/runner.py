"""Running the suite: seed a project with the rules bypassed, run cases (on threads if asked)
and judge each answer (`Outcome`: 2xx for allow, 403 for deny, anything else fails)."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from spendsense.firestore_emulator.process import FirestoreEmulator
from spendsense.firestore_emulator.rest import EmulatorError, FirestoreRest, Result
from spendsense.firestore_emulator.values import to_fields
from spendsense.rules_suite.cases import CASES
from spendsense.rules_suite.model import SEED, Case, Context


@dataclass(frozen=True)
class Outcome:
    case: Case
    passed: bool
    status: int
    detail: str

    def line(self) -> str:
        mark = "PASS" if self.passed else "FAIL"
        return f"{mark}  {self.case.name}  (expect {self.case.expect}: {self.detail})"


def judge(case: Case, result: Result) -> Outcome:
    """Pass when the answer is what the case expects: 2xx for allow, 403 for deny."""
    passed = result.ok if case.expect == "allow" else result.denied
    if result.ok:
        detail = f"allowed, HTTP {result.status}"
    elif result.denied:
        detail = "denied by the rules, HTTP 403"
    else:
        detail = f"HTTP {result.status}, neither allowed nor denied by the rules: {result.message}"
    return Outcome(case, passed, result.status, detail)


def seed(rest: FirestoreRest) -> None:
    """Write the suite's data with the rules bypassed."""
    writes = [
        {"update": {"name": rest.name(path), "fields": to_fields(data)}}
        for path, data in SEED.items()
    ]
    result = rest.commit(writes)
    if not result.ok:
        raise EmulatorError(
            f"seeding the rules suite's data failed: {result.status} {result.message}"
        )


def run_case(case: Case, context: Context) -> Outcome:
    return judge(case, case.request(context))


def prepare(emulator: FirestoreEmulator, rules: str, project: str | None = None) -> list[str]:
    """Load `rules` for the project, wipe it and seed it; returns the compiler's warnings."""
    warnings = emulator.load_rules(rules, project=project)
    emulator.wipe(project=project)
    seed(emulator.rest(project))
    return warnings


def run_cases(context: Context, cases: Iterable[Case], workers: int = 1) -> list[Outcome]:
    """Run cases against a prepared project, in order. Cases are independent of each other,
    so `workers` > 1 runs them on that many threads; the outcomes keep the cases' order."""
    selected = list(cases)
    if workers <= 1:
        return [run_case(case, context) for case in selected]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda case: run_case(case, context), selected))


def run_suite(
    emulator: FirestoreEmulator,
    rules: str,
    project: str | None = None,
    cases: Iterable[Case] | None = None,
    workers: int = 1,
) -> list[Outcome]:
    """Load `rules` into a running emulator, seed, and run the cases (default: all); raises
    RulesCompileError if the rules do not compile."""
    prepare(emulator, rules, project)
    return run_cases(Context(emulator.rest(project)), CASES if cases is None else cases, workers)
