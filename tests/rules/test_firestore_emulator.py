"""spendsense.firestore_emulator against the real emulator: tokens, values, export/import."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from spendsense.firestore_emulator import (
    EmulatorError,
    EmulatorUnavailable,
    FirestoreEmulator,
    from_fields,
    id_token,
    to_fields,
)


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
