"""`spendsense rules test`: a line per case, exit 0 all pass / 1 any fail / 2 bad input.

Against the session's emulator (`--emulator HOST:PORT`), so the suite starts Java once;
the command's own start and stop of an emulator is the fixture's code path.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spendsense.cli import main
from spendsense.firestore_emulator.process import FirestoreEmulator
from spendsense.rules_suite.cases import CASES
from spendsense.rules_suite.model import OPEN_RULES


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["rules", "test", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_missing_rules_file_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing --rules file exits 2 with one line naming the file."""
    code, _, err = run(capsys, "--rules", str(tmp_path / "nope.rules"))
    assert code == 2
    assert err.strip().splitlines() == [
        f"error: --rules: {tmp_path / 'nope.rules'} does not exist "
        "(give the path of a firestore.rules file)"
    ]


def test_rules_folder_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--rules", str(tmp_path))
    assert code == 2
    assert "is not a file" in err


def test_unmatched_only_filter_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--only", "no_such_case_name")
    assert code == 2
    assert "matches no case" in err


def test_missing_gcloud_fails_with_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without gcloud on PATH the command exits 1 with how to install the emulator."""
    monkeypatch.setenv("PATH", str(tmp_path))
    code, _, err = run(capsys)
    assert code == 1
    assert "gcloud components install cloud-firestore-emulator" in err
    assert len(err.strip().splitlines()) == 2  # the "Testing ..." line and the error


@pytest.mark.emulator
def test_repository_rules_pass(
    firestore_emulator: FirestoreEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """The repository's rules pass: one PASS line per selected case, a summary, exit 0.
    (All cases against these rules are test_access_model's job; here the output.)"""
    code, out, _ = run(capsys, "--only", "users_", "--emulator", firestore_emulator.host)
    lines = out.strip().splitlines()
    selected = [case.name for case in CASES if "users_" in case.name]
    assert code == 0, out
    assert [line.split()[1] for line in lines[:-1]] == selected
    assert all(line.startswith("PASS  ") for line in lines[:-1])
    assert lines[-1] == f"{len(selected)} passed, 0 failed"


@pytest.mark.emulator
def test_open_rules_fail_with_exit_1(
    firestore_emulator: FirestoreEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Open rules fail the deny cases: FAIL lines, exit 1, a one-line error."""
    rules = tmp_path / "open.rules"
    rules.write_text(OPEN_RULES)
    code, out, err = run(
        capsys, "--rules", str(rules), "--only", "audit_logs", "--emulator", firestore_emulator.host
    )
    assert code == 1
    assert "FAIL  audit_logs_operator_cannot_read  (expect deny: allowed, HTTP 200)" in out
    assert "PASS  audit_logs_admin_can_read" in out
    assert err.strip().splitlines()[-1].startswith("error: 6 of 8 rules cases failed")


@pytest.mark.emulator
def test_rules_that_do_not_compile_are_bad_input(
    firestore_emulator: FirestoreEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A syntax error exits 2 with one line carrying the compiler's line and column."""
    rules = tmp_path / "broken.rules"
    rules.write_text(
        "rules_version = '2';\nservice cloud.firestore {\n  match /x { allow read: if ; }\n}\n"
    )
    code, out, err = run(capsys, "--rules", str(rules), "--emulator", firestore_emulator.host)
    assert code == 2
    assert out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"error: --rules: {rules} does not compile: Error compiling rules: L3:")


@pytest.mark.emulator
def test_json_output(
    firestore_emulator: FirestoreEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "--only", "users_owner", "--json", "--emulator", firestore_emulator.host
    )
    assert code == 0
    report = json.loads(out)
    assert report["passed"] == 1 and report["failed"] == 0
    assert report["cases"][0]["name"] == "users_owner_can_read_own_profile"
    assert report["cases"][0]["status"] == 200
