"""`spendsense rules test`: prove a Firestore rules file against the access model.

Starts Google's Firestore emulator on a free loopback port, loads the rules file through the
emulator's rules endpoint, seeds the suite's data with the rules bypassed and runs every case
of `spendsense.rules_suite` (the same cases tests/rules runs), one line per case.
Meant for the moment before `pulumi up`, e.g. while editing the rules during an incident.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from spendsense.errors import BadInput, OperationFailed
from spendsense.identifiers import host_port
from spendsense.options import json_option
from spendsense.readers import DEFAULT_LIMIT, read_text
from spendsense.repo import repo_root


def default_rules() -> Path:
    """The repository's Firestore rules (what `rules test` checks without --rules)."""
    return repo_root() / "firestore" / "firestore.rules"


# The project the suite loads its rules into and wipes: never one a developer works in.
SUITE_PROJECT = "spendsense-rules-check"


# The bound of the read (the shared 1 MiB; the real rules are ~10 KB). Whether the text fits
# Firestore's own size limit for a ruleset is the policy pack's and the emulator's to judge.
RULES_LIMIT = DEFAULT_LIMIT


def read_rules(path: Path) -> str:
    """The rules text (a regular UTF-8 file of at most 1 MiB, read with a bound), or
    BadInput naming the option, the file and what is wrong with it."""
    if not path.exists():
        raise BadInput(f"--rules: {path} does not exist (give the path of a firestore.rules file)")
    if path.is_dir():
        raise BadInput(f"--rules: {path} is not a file (give the path of a firestore.rules file)")
    text = read_text(path, "--rules", limit=RULES_LIMIT, what="the path of a firestore.rules file")
    if not text.strip():
        raise BadInput(f"--rules: {path} is empty (expected Firestore security rules)")
    return text


@click.group()
def rules() -> None:
    """Firestore security rules: check a rules file before deploying it."""


@rules.command("test")
@click.option(
    "--rules",
    "rules_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Rules file to test (default: firestore/firestore.rules in the repository).",
)
@click.option(
    "-k",
    "--only",
    "only",
    default=None,
    metavar="TEXT",
    help="Run only the cases whose name contains TEXT.",
)
@click.option(
    "--emulator",
    "emulator_host",
    default=None,
    metavar="HOST:PORT",
    help=f"Use a Firestore emulator already running there instead of starting one "
    f"(the suite wipes and seeds its project {SUITE_PROJECT!r} there).",
)
@json_option
def test(
    rules_file: Path | None, only: str | None, emulator_host: str | None, as_json: bool
) -> None:
    """Run the access-model suite against a rules file in the Firestore emulator.

    Prints PASS/FAIL per case. Exit 0 when every case passes, 1 when any fails (or the
    emulator cannot start), 2 when the file is missing, unreadable or does not compile.
    """
    # Imported here: `spendsense --help` should not pay for requests.
    from spendsense.firestore_emulator.process import FirestoreEmulator, RulesCompileError
    from spendsense.firestore_emulator.rest import EmulatorError
    from spendsense.rules_suite.cases import CASES
    from spendsense.rules_suite.model import Context
    from spendsense.rules_suite.runner import prepare, run_cases

    if emulator_host is not None:
        host_port(emulator_host, "--emulator")  # before the rules file or the emulator
    path = (rules_file or default_rules()).expanduser()
    text = read_rules(path)
    cases = [case for case in CASES if only is None or only in case.name]
    if not cases:
        raise BadInput(f"--only {only!r} matches no case (see `spendsense rules test` output)")

    if not as_json:
        click.echo(
            f"Testing {path} with {len(cases)} cases in the Firestore emulator ...", err=True
        )
    emulator = FirestoreEmulator(project=SUITE_PROJECT)
    if emulator_host:
        try:
            emulator = FirestoreEmulator.connect(emulator_host, project=SUITE_PROJECT)
        except EmulatorError as exc:
            raise BadInput(f"--emulator: {exc}") from exc
    with emulator:
        try:
            warnings = prepare(emulator, text)
        except RulesCompileError as exc:
            raise BadInput(f"--rules: {path} does not compile: {exc}") from exc
        for warning in warnings:
            click.echo(f"warning: {path}: {warning}", err=True)
        outcomes = run_cases(Context(emulator.rest()), cases, workers=4)

    failed = [outcome for outcome in outcomes if not outcome.passed]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "rules": str(path),
                    "passed": len(outcomes) - len(failed),
                    "failed": len(failed),
                    "cases": [
                        {
                            "name": o.case.name,
                            "expect": o.case.expect,
                            "passed": o.passed,
                            "status": o.status,
                            "detail": o.detail,
                            "rule": o.case.rule,
                        }
                        for o in outcomes
                    ],
                },
                indent=2,
            )
        )
    else:
        for outcome in outcomes:
            click.echo(outcome.line())
            if not outcome.passed:
                click.echo(f"      rule: {outcome.case.rule}")
        click.echo(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise OperationFailed(
            f"{len(failed)} of {len(outcomes)} rules cases failed for {path}; "
            "fix the rules (or the model in docs/firestore-rules.md) before deploying"
        )
