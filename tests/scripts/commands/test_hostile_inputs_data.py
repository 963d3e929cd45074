"""Hostile values for every data and release command (backup, restore, drill,
rollback frontend, rotate-jwt, window): each is bad input (exit 2) with ONE `error:` line
that names the option, never a traceback and never a silent default.

Nothing here needs a cloud or an emulator: every value must be refused before any client is
built. The environment has no Google credentials, no emulator variables and no Vercel token,
so a value that slipped through would fail with a message about those instead (and the test
would see that the option is not named)."""

from __future__ import annotations

import pytest
from spendsense.cli import main

EXPORT = "daily/20261124_020000"

CASES: list[tuple[str, list[str], str]] = [
    # backup verify --max-age: overflowing, zero, negative, empty, exponent, words
    *(
        ("backup verify", ["--max-age", value], "--max-age")
        for value in [
            "9999999999d",
            "99999999999999999999999s",
            "0s",
            "-1h",
            "",
            "1e9d",
            "26 hours",
        ]
    ),
    # --now at year 1 or 9999 (with offsets that push it past the calendar), empty, no offset
    *(
        (command, ["--now", value], "--now")
        for command in ["backup verify", "window", "backup create"]
        for value in [
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:00:00Z",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:00:00-05:00",
            "",
            "2026-11-10T07:30:00",
        ]
    ),
    # backup create --at: empty (an unset variable), out of the calendar, garbage
    *(
        ("backup create", ["--at", value], "--at")
        for value in ["", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:00Z", "yesterday"]
    ),
    # waits: nan, inf, overflowing, zero, negative
    *(
        (command, [option, value], option)
        for command, option in [
            ("backup create", "--timeout"),
            ("restore", "--timeout"),
            ("drill", "--timeout"),
            ("rotate-jwt", "--timeout"),
        ]
        for value in ["nan", "inf", "1e400", "0", "-5", "", "ten"]
    ),
    *(
        (command, [option, value], option)
        for command, option in [
            ("backup create", "--poll-interval"),
            ("restore", "--poll-interval"),
            ("rotate-jwt", "--health-interval"),
        ]
        for value in ["nan", "-1", "1e400"]
    ),
    # restore --from: not an export, gs:// without a bucket, another bucket, non-ASCII, huge
    *(
        ("restore", ["--from", value], "--from")
        for value in [
            "",
            "gs://",
            "gs:///daily/20261124_020000",
            "gs://spendsense-backups",
            "gs://other-bucket/daily/20261124_020000/",
            "daily/latest",
            "daily/00010101_000000",
            "daily/99991231_235959",
            "ü/daily/20261124_020000",
            "daily/20261124_020000\x00",
            "daily/" + "x" * 5000,
        ]
    ),
    # --target-project: empty, non-ASCII, upper case, another stack's project
    *(
        ("restore", ["--target-project", value], "--target-project")
        for value in ["", "ü-project", "Spendsense-Production", "spendsense-staging"]
    ),
    *(
        ("drill", ["--target-project", value], "--target-project")
        for value in ["", "ü-test-project", "spendsense-production", "spendsense-staging"]
    ),
    # rollback frontend --to: empty or blank is never "the previous deployment"
    *(("rollback frontend", ["--to", value], "--to") for value in ["", "   ", "\x00"]),
]


@pytest.fixture
def bare_env(monkeypatch):
    for name in ("STORAGE_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST", "VERCEL_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/credentials.json")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "")


@pytest.mark.parametrize(
    ("command", "extra", "option"),
    CASES,
    ids=[f"{c}-{o}-{e[1][:30]!r}" for c, e, o in CASES],
)
def test_a_hostile_value_is_one_line_exit_2_naming_the_option(
    bare_env, write_stack_outputs, capsys, command, extra, option
):
    """Exit 2, exactly one stderr line starting `error:` that names the option; no traceback;
    nothing on stdout (nothing was done or planned)."""
    words = command.split()
    args = [*words]
    if command != "window":
        args += ["--stack", "production", "--outputs", write_stack_outputs("production")]
    if command == "restore" and option != "--from":
        args += ["--from", EXPORT]
    # The others act only with --yes; --now is a rehearsal value, judged without --yes.
    acts = command not in ("window", "backup verify") and option != "--now"
    code = main([*args, *extra, *(["--yes"] if acts else [])])
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert code == 2, captured.err
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert option in lines[0], lines[0]
    assert "Traceback" not in captured.err and "unexpected" not in captured.err
    assert captured.out == ""


OUTPUT_CASES: list[tuple[list[str], str, object]] = [
    (["backup", "list"], "backup_prefix", 5),
    (["backup", "list"], "backup_bucket", ["spendsense-backups"]),
    (["backup", "verify"], "backup_bucket", 12),
    (["backup", "create"], "firestore_database", 3),
    (["restore", "--from", EXPORT], "firestore_project", 7),
    (["restore", "--from", EXPORT], "api_service_arn", ["arn"]),
    (["drill"], "firestore_project", {"id": "p"}),
    (["drill"], "backup_test_project", 5),
    (["rotate-jwt"], "api_url", ["https://x"]),
    (["rollback", "frontend"], "vercel_project_id", 1),
]


@pytest.mark.parametrize(("command", "output", "value"), OUTPUT_CASES)
def test_a_stack_output_of_the_wrong_type_is_bad_input(
    bare_env, write_stack_outputs, monkeypatch, capsys, command, output, value
):
    """A hand-edited outputs file with a number or a list where a name belongs: exit 2 with
    one line naming the output, never a crash deeper down."""
    monkeypatch.setenv("VERCEL_TOKEN", "test-token-123")
    jwt = "arn:aws:secretsmanager:us-east-1:123456789012:secret:spendsense/jwt-AbCdEf"
    outputs = write_stack_outputs("production", jwt_secret_arn=jwt, **{output: value})
    words = [w for w in command if not w.startswith("--") and w != EXPORT]
    rest = command[len(words) :]
    code = main([*words, "--stack", "production", "--outputs", outputs, *rest])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.splitlines()) == 1
    assert err.startswith(f"error: stack output '{output}' in {outputs}: must be"), err
    assert "Traceback" not in err and "unexpected" not in err
