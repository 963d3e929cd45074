"""Every service command (deploy, scale, health, status, logs, outputs), fed hostile values
(huge, negative, zero, empty, NaN, inf, non-ASCII, malformed URLs): exit 2 with ONE `error:`
line that names the option, nothing on stdout, never a Python traceback, and nothing touched
(no AWS endpoint is reachable: any call would fail with exit 1, not 2)."""

from __future__ import annotations

import hashlib

import pytest
from spendsense.cli import main
from spendsense.repo import repo_root

HUGE_INT = "9" * 30
LONG_PATTERN = "x" * 1025

# (argv after the command's own --stack/--outputs, the option the error must name)
CASES: list[tuple[list[str], str]] = [
    # logs --since: overflowing timedelta, zero, negative, empty, NaN, fractions, other scripts
    (["logs", "--since", "99999999999d"], "--since"),
    (["logs", "--since", "3654d"], "--since"),
    (["logs", "--since", "0h"], "--since"),
    (["logs", "--since", "-1h"], "--since"),
    (["logs", "--since", ""], "--since"),
    (["logs", "--since", "nanh"], "--since"),
    (["logs", "--since", "1.5h"], "--since"),
    (["logs", "--since", "1e3h"], "--since"),
    (["logs", "--since", "\u0661h"], "--since"),  # ARABIC-INDIC DIGIT ONE
    (["logs", "--limit", "-1"], "--limit"),
    (["logs", "--limit", "0"], "--limit"),
    (["logs", "--limit", HUGE_INT], "--limit"),  # deque(maxlen=...) overflowed
    (["logs", "--limit", "nan"], "--limit"),
    (["logs", "--filter", LONG_PATTERN], "--filter"),
    (["logs", "--follow", "--poll-seconds", "nan"], "--poll-seconds"),
    (["logs", "--follow", "--poll-seconds", "-1"], "--poll-seconds"),
    # health --url / --timeout
    (["health", "--url", "http://[::1"], "--url"),  # ValueError from urllib
    (["health", "--url", "http://"], "--url"),
    (["health", "--url", ""], "--url"),
    (["health", "--url", "ftp://x"], "--url"),
    (["health", "--url", "http://x:99999"], "--url"),
    (["health", "--url", "http://x:port"], "--url"),
    (["health", "--url", "http://exa mple.com"], "--url"),
    (["health", "--url", "http://x\x00y"], "--url"),
    (["health", "--url", "http://" + "a" * 64 + ".com"], "--url"),  # IDNA label too long
    (["health", "--url", "http://x", "--timeout", "1e309"], "--timeout"),  # inf
    (["health", "--url", "http://x", "--timeout", "inf"], "--timeout"),
    (["health", "--url", "http://x", "--timeout", "nan"], "--timeout"),
    (["health", "--url", "http://x", "--timeout", "-1"], "--timeout"),
    (["health", "--url", "http://x", "--timeout", "0"], "--timeout"),
    (["health", "--url", "http://x", "--timeout", ""], "--timeout"),
    (["health", "--url", "http://x", "--timeout", "1e12"], "--timeout"),
    (["health", "--url", "http://x", "--timeout", "\uff11\uff10"], "--timeout"),  # fullwidth 10
    # status
    (["status", "--timeout", "1e309"], "--timeout"),
    (["status", "--timeout", "nan"], "--timeout"),
    (["status", "--timeout", "0"], "--timeout"),
    # deploy / rollback api
    (["deploy", "--image-tag", ""], "--image-tag"),
    (["deploy", "--image-tag", "\u00e9"], "--image-tag"),
    (["deploy", "--image-tag", "-x"], "--image-tag"),
    (["deploy", "--image-tag", "a" * 129], "--image-tag"),
    (["deploy", "--image-tag", "v1", "--timeout", "nan"], "--timeout"),
    (["deploy", "--image-tag", "v1", "--timeout", "1e309"], "--timeout"),
    (["deploy", "--image-tag", "v1", "--timeout", "-5"], "--timeout"),
    (["deploy", "--image-tag", "v1", "--health-timeout", "inf"], "--health-timeout"),
    (["deploy", "--image-tag", "v1", "--poll-seconds", "nan"], "--poll-seconds"),
    (["rollback", "api", "--to", ""], "--to"),
    (["rollback", "api", "--to", "bad tag"], "--to"),
    (["rollback", "api", "--timeout", "nan"], "--timeout"),
    # scale (the values are judged before the stack file or the service is read)
    (["scale", "--cpu", "nan"], "--cpu"),
    (["scale", "--cpu", ""], "--cpu"),
    (["scale", "--cpu", "1e309"], "--cpu"),
    (["scale", "--cpu", "-1"], "--cpu"),
    (["scale", "--cpu", "\uff12"], "--cpu"),  # FULLWIDTH DIGIT TWO
    (["scale", "--memory", "inf"], "--memory"),
    (["scale", "--memory", "0"], "--memory"),
    (["scale", "--min", "-1"], "--min"),
    (["scale", "--min", "0"], "--min"),
    (["scale", "--min", HUGE_INT], "--min"),
    (["scale", "--max", "0"], "--max"),
    (["scale", "--max", "nan"], "--max"),
    (["scale", "--min", "2", "--timeout", "nan"], "--timeout"),
    (["scale", "--min", "2", "--now", "--timeout", "1e309"], "--timeout"),
    # every command: an empty outputs path is not "no option"
    (["outputs", "--outputs", ""], "--outputs"),
    (["outputs", "--outputs", "a\x00b"], "--outputs"),  # os.stat raised ValueError in click
    (["status", "--outputs", ""], "--outputs"),
]

REAL_STACK_FILES = [repo_root() / f"Pulumi.{stack}.yaml" for stack in ("staging", "production")]


def _argv(args: list[str], outputs: str) -> list[str]:
    """Insert --stack staging (and --outputs unless the case sets it) after the command."""
    split = 2 if args[0] == "rollback" else 1
    command, rest = args[:split], args[split:]
    extra = ["--stack", "staging"]
    if command != ["health"] and "--outputs" not in rest:
        extra += ["--outputs", outputs]
    return [*command, *extra, *rest] if command != ["health"] else [*command, *rest]


@pytest.fixture
def unreachable_aws(monkeypatch: pytest.MonkeyPatch, refused_url: str) -> None:
    """Fake credentials and an endpoint nobody listens on: any AWS call fails with exit 1."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", refused_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")


@pytest.mark.parametrize(
    ("args", "option"),
    CASES,
    ids=[f"{' '.join(a)[:50]}" for a, _ in CASES],
)
def test_hostile_value_is_one_error_line_naming_the_option_and_exit_2(
    args: list[str],
    option: str,
    write_outputs,
    unreachable_aws: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = [hashlib.sha256(path.read_bytes()).hexdigest() for path in REAL_STACK_FILES]
    code = main(_argv(args, write_outputs()))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    assert option in lines[0], f"the error does not name {option}: {lines[0]}"
    assert code == 2, lines[0]
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in REAL_STACK_FILES] == before


def test_overflowing_since_says_the_limit(capsys: pytest.CaptureFixture[str]) -> None:
    """The message says what is allowed, not only what is wrong."""
    assert main(["logs", "--stack", "staging", "--since", "99999999999d"]) == 2
    assert capsys.readouterr().err == (
        "error: --since: '99999999999d' is longer than the limit of 3653d; pass at most 3653d\n"
    )


def test_malformed_ipv6_url_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["health", "--url", "http://[::1"]) == 2
    assert capsys.readouterr().err == (
        "error: --url: 'http://[::1' is not an http(s) URL (Invalid IPv6 URL); "
        "pass e.g. https://api.example.com\n"
    )


def test_a_malformed_api_url_output_names_the_output(
    write_outputs, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad URL that came from the stack outputs is blamed on the output, not on --url."""
    path = write_outputs(api_url="http://[::1")
    assert main(["health", "--stack", "staging", "--outputs", path]) == 2
    assert capsys.readouterr().err == (
        f"error: stack output 'api_url' in {path}: must be an http(s) URL such as "
        "https://abc.us-east-1.awsapprunner.com (got 'http://[::1': Invalid IPv6 URL); pass "
        "--outputs with the file `pulumi stack output --json --stack staging` writes\n"
    )
