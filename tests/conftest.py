"""Fixtures shared by every test folder. Folder-specific fixtures live in that folder's conftest."""

from __future__ import annotations

import os
import socket

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def free_port() -> int:
    """A free loopback port for an emulator or server started by a fixture."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def skip_or_fail(reason: str) -> None:
    """A missing local tool skips on a laptop, and fails under CI, where it must be present."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this must not be skipped)")
    pytest.skip(reason)
