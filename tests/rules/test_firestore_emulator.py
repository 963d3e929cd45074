"""spendsense.firestore_emulator against the real emulator: tokens, values, export/import."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from spendsense.firestore_emulator.process import EmulatorUnavailable, FirestoreEmulator
from spendsense.firestore_emulator.rest import EmulatorError, id_token
from spendsense.firestore_emulator.values import from_fields, to_fields


def test_id_token_is_unsigned_and_carries_claims() -> None:
    """An unsigned JWT (alg none, empty signature) with uid, audience and custom claims."""
    header, payload, signature = id_token("u1", project="p1", role="admin").split(".")
    assert signature == ""
    pad = lambda part: part + "=" * (-len(part) % 4)  # noqa: E731
    assert json.loads(base64.urlsafe_b64decode(pad(header)))["alg"] == "none"
    claims = json.loads(base64.urlsafe_b64decode(pad(payload)))
    assert (claims["sub"], claims["user_id"], claims["aud"], claims["role"]) == (
        "u1",
        "u1",
        "p1",
        "admin",
    )
    assert claims["iss"] == "https://securetoken.google.com/p1"
    assert claims["exp"] > claims["iat"]


def test_values_round_trip() -> None:
    data = {"s": "x", "i": 3, "f": 1.5, "b": True, "n": None, "m": {"k": [1, "two"]}}
    assert from_fields(to_fields(data)) == data


def test_start_without_gcloud_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(
        EmulatorUnavailable, match="gcloud components install cloud-firestore-emulator"
    ):
        FirestoreEmulator().start()


def test_connect_rejects_a_bad_host() -> None:
    with pytest.raises(EmulatorError, match="HOST:PORT"):
        FirestoreEmulator.connect("localhost")


@pytest.mark.emulator
def test_export_wipe_import_restores_documents(
    firestore_emulator: FirestoreEmulator, tmp_path: Path
) -> None:
    """An export taken, the data wiped, the export imported: the same documents are back."""
    project = "spendsense-export-test"
    rest = firestore_emulator.rest(project)
    firestore_emulator.wipe(project)
    rest.set("users/u1", {"name": "One"})
    rest.set("users/u1/transactions/t1", {"amount": -3.25})
    rest.set("recommendations/r1", {"user_id": "u1", "status": "pending"})

    first = firestore_emulator.export(str(tmp_path / "exports"), project)
    second = firestore_emulator.export(str(tmp_path / "exports"), project)
    assert first != second, "two exports must not share (and overwrite) one folder"
    assert Path(first).name.startswith("firestore_export_")
    assert list(Path(first).glob("*.overall_export_metadata"))

    firestore_emulator.wipe(project)
    assert rest.count() == 0
    firestore_emulator.import_(first, project)
    docs = {
        d["name"].split("/documents/")[1]: from_fields(d["fields"]) for d in rest.all_documents()
    }
    assert docs == {
        "users/u1": {"name": "One"},
        "users/u1/transactions/t1": {"amount": -3.25},
        "recommendations/r1": {"user_id": "u1", "status": "pending"},
    }


@pytest.mark.emulator
def test_import_of_a_folder_without_an_export_fails(
    firestore_emulator: FirestoreEmulator, tmp_path: Path
) -> None:
    with pytest.raises(EmulatorError, match="overall_export_metadata"):
        firestore_emulator.import_(str(tmp_path))


# A stand-in for gcloud (no Java): it answers GET / with "Ok" on --host-port, like the
# emulator, and starts a child that outlives a plain kill of its parent, like the java child.
FAKE_GCLOUD = """#!/usr/bin/env python3
import http.server, os, subprocess, sys
mode = os.environ["FAKE_GCLOUD_MODE"]
if mode == "missing":
    print("ERROR: (gcloud.emulators.firestore.start) You do not currently have this command "
          "group installed. Run: $ gcloud components install cloud-firestore-emulator")
    sys.exit(1)
print("Executing: fake emulator", flush=True)
child = subprocess.Popen(["sleep", "300"])
with open(os.environ["FAKE_GCLOUD_CHILD"], "w") as handle:
    handle.write(str(child.pid))
if mode == "silent":
    child.wait()
host, port = sys.argv[-1].removeprefix("--host-port=").rsplit(":", 1)

class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"Ok\\n")

    def log_message(self, *args):
        pass

http.server.HTTPServer((host, int(port)), Ok).serve_forever()
"""


@pytest.fixture
def fake_gcloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH with only a fake gcloud and java (plus the system's python3 and sleep)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gcloud").write_text(FAKE_GCLOUD)
    (bin_dir / "gcloud").chmod(0o755)
    (bin_dir / "java").write_text("#!/bin/sh\n")
    (bin_dir / "java").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    child_file = tmp_path / "child.pid"
    monkeypatch.setenv("FAKE_GCLOUD_CHILD", str(child_file))
    return child_file


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie not yet reaped by init counts as gone.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def test_stop_ends_the_whole_process_group(
    fake_gcloud: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """start() waits for "Ok" on a free port; stop() ends gcloud and its child; twice is fine."""
    monkeypatch.setenv("FAKE_GCLOUD_MODE", "serve")
    emulator = FirestoreEmulator(start_timeout=20).start()
    child = int(fake_gcloud.read_text())
    assert emulator.host.startswith("127.0.0.1:")
    assert emulator.running and _alive(child)
    emulator.stop()
    assert not emulator.running
    assert not _alive(child), "the emulator's child process survived stop()"
    emulator.stop()


def test_start_times_out_with_the_log(fake_gcloud: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An emulator that never answers fails after start_timeout, quoting its log, and is stopped."""
    monkeypatch.setenv("FAKE_GCLOUD_MODE", "silent")
    emulator = FirestoreEmulator(start_timeout=1.5)
    with pytest.raises(
        EmulatorError, match=r"did not answer .* within 2 s; its log ends: Executing"
    ):
        emulator.start()
    assert not _alive(int(fake_gcloud.read_text()))


def test_missing_component_says_how_to_install(
    fake_gcloud: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_GCLOUD_MODE", "missing")
    with pytest.raises(EmulatorUnavailable, match="component is missing: install the Google Cloud"):
        FirestoreEmulator(start_timeout=20).start()
