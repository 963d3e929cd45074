"""Errors every part-1 command shares: an unknown stack, and credentials that have expired.

- Every part-1 command refuses an unknown --stack with exit 2 and one exact line, before it
  reads or changes anything.
- Expired credentials (CloudWatch Logs answering ExpiredTokenException, from a real HTTP peer
  on loopback speaking its JSON protocol) are exit 2 with one exact line for a read-only
  command: the user must refresh them, nothing is wrong with the system.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from spendsense.cli import main

from tests.scripts.cli1.conftest import SERVICE_NAME

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

    def __init__(self) -> None:
        self.targets: list[str] = []


@pytest.fixture
def expired_peer(monkeypatch: pytest.MonkeyPatch) -> Iterator[ExpiredPeer]:
    state = ExpiredPeer()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.targets.append(self.headers.get("X-Amz-Target", ""))
            data = json.dumps(
                {
                    "__type": "ExpiredTokenException",
                    "message": "The security token included in the request is expired",
                }
            ).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "expired")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


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
