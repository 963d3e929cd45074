"""Errors every service command shares: an unknown stack, and credentials that have expired.

- Every service command refuses an unknown --stack with exit 2 and one exact line, before it
  reads or changes anything.
- Expired credentials (CloudWatch Logs answering ExpiredTokenException, from a real HTTP peer
  on loopback speaking its JSON protocol) are exit 2 with one exact line for a read-only
  command: the user must refresh them, nothing is wrong with the system.
"""

from __future__ import annotations

from typing import Any

import pytest
from spendsense.cli import main

from tests.scripts.live_api import SERVICE_NAME

PART_1_COMMANDS = [
    ["outputs"],
    ["status"],
    ["health"],
    ["deploy", "--image-tag", "20261127_010000"],
    ["rollback", "api"],
    ["scale", "--max", "5"],
    ["logs"],
]


@pytest.mark.parametrize("argv", PART_1_COMMANDS, ids=lambda argv: " ".join(argv[:2]))
def test_an_unknown_stack_is_exit_2_with_one_exact_line(argv, capsys):
    code = main(
        [*argv, "--stack", "prod", "--yes"]
        if argv[0] in ("deploy", "rollback", "scale")
        else [*argv, "--stack", "prod"]
    )
    captured = capsys.readouterr()
    path = " ".join(argv[:2]) if argv[0] == "rollback" else argv[0]
    assert (code, captured.out) == (2, "")
    assert captured.err == (
        "error: Invalid value for '--stack': 'prod' is not one of 'staging', 'production'. "
        f"(see `spendsense {path} --help`)\n"
    )


class ExpiredPeer:
    """Every AWS JSON-protocol request is answered 400 ExpiredTokenException."""

    def __init__(self, targets: list[str]) -> None:
        self.targets = targets


def _expired(_operation: str) -> tuple[int, dict[str, Any]]:
    return 400, {
        "__type": "ExpiredTokenException",
        "message": "The security token included in the request is expired",
    }


@pytest.fixture
def expired_peer(aws_json_peer: Any, monkeypatch: pytest.MonkeyPatch) -> ExpiredPeer:
    targets = aws_json_peer(_expired, "application/x-amz-json-1.1")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "expired")
    return ExpiredPeer(targets)


def test_expired_credentials_are_exit_2_with_one_exact_line_for_a_read_only_command(
    expired_peer, write_outputs, capsys
):
    code = main(["logs", "--stack", "staging", "--outputs", write_outputs()])
    captured = capsys.readouterr()
    group = f"/aws/apprunner/{SERVICE_NAME}/0123456789abcdef/application"
    assert (code, captured.out) == (2, "")
    assert captured.err == (
        f"error: read log group {group}: AWS credentials have expired; refresh them "
        "(e.g. `aws sso login`)\n"
    )
    assert expired_peer.targets == ["Logs_20140328.FilterLogEvents"]  # asked once, not retried
