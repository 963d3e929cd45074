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


# ---------------------------------------------------------------------------------------------
# moto as a real HTTP server on loopback, reached through AWS_ENDPOINT_URL like a user would.
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def moto_server():
    """One moto server for the whole session; every test gets a clean state via `aws_env`."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_server, monkeypatch):
    """Point boto3 at the moto server with fake credentials, and reset moto's state."""
    import requests

    requests.post(f"{moto_server}/moto-api/reset", timeout=10).raise_for_status()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    return moto_server


# ---------------------------------------------------------------------------------------------
# Google's Firestore emulator, once per session, shared by the rules and the restore tests.
# Each group of tests works in its own emulator project (rules and data are per project).
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def firestore_emulator():
    """The emulator on a free loopback port, started once and always stopped (process group)."""
    from spendsense.firestore_emulator.process import (
        EmulatorUnavailable,
        FirestoreEmulator,
        emulator_available,
    )

    reason = emulator_available()
    if reason is not None:
        skip_or_fail(reason)
    # Java starts in ~5 s on an idle machine; it took 35 s here with other suites running.
    emulator = FirestoreEmulator(project="spendsense-test", start_timeout=120)
    try:
        emulator.start()
    except EmulatorUnavailable as exc:
        skip_or_fail(str(exc))
    try:
        yield emulator
    finally:
        emulator.stop()


# ---------------------------------------------------------------------------------------------
# The GCS emulator (gcp-storage-emulator from PyPI), once per session, shared by the CLI tests.
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def gcs_server():
    """The emulator's URL (for STORAGE_EMULATOR_HOST); tests create their own buckets."""
    try:
        from gcp_storage_emulator.server import create_server
    except ImportError:
        skip_or_fail("gcp-storage-emulator is not installed (pip install gcp-storage-emulator)")
    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
