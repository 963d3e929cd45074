"""Which Firestore a command talks to: the emulator when FIRESTORE_EMULATOR_HOST is set, else
the managed service with Application Default Credentials; and the refusal of a mix of
emulated and real services that would make a command lie (`check_emulators`)."""

from __future__ import annotations

import os
from typing import Any

import requests

from spendsense.errors import BadInput
from spendsense.ops.firestore.data import DataApi
from spendsense.ops.firestore.emulated import EmulatorExportImport
from spendsense.ops.firestore.export_import import ExportImport
from spendsense.ops.firestore.managed import ManagedExportImport
from spendsense.ops.firestore.transport import FIRESTORE_API, google_session


def check_emulators(*, touches_aws: bool) -> None:
    """Refuse (exit 2) a mix of emulated and real services that would make a command lie:
    Firestore on the emulator while the bucket is real GCS (or the other way round), or, for
    a restore that pauses the service, Firestore on the emulator while App Runner and
    CloudWatch are real AWS (a leftover FIRESTORE_EMULATOR_HOST in a shell would pause
    production and "restore" into a local emulator)."""
    firestore = os.environ.get("FIRESTORE_EMULATOR_HOST") or os.environ.get(
        "SPENDSENSE_FIRESTORE_API"
    )
    storage = os.environ.get("STORAGE_EMULATOR_HOST")
    if bool(firestore) != bool(storage):
        set_one, unset = (
            ("FIRESTORE_EMULATOR_HOST", "STORAGE_EMULATOR_HOST")
            if firestore
            else ("STORAGE_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST")
        )
        raise BadInput(
            f"{set_one} is set but {unset} is not: Firestore and the backup bucket must both "
            f"be emulators or both be real; unset {set_one} (or set {unset} too)"
        )
    if touches_aws and firestore and not os.environ.get("AWS_ENDPOINT_URL"):
        raise BadInput(
            "FIRESTORE_EMULATOR_HOST is set, so the import would go to a local emulator while "
            "the App Runner pause and the alarms are real AWS; unset FIRESTORE_EMULATOR_HOST "
            "and STORAGE_EMULATOR_HOST (or point AWS_ENDPOINT_URL at an emulator too)"
        )


def export_import_backend(storage: Any, *, timeout: float, poll: float) -> ExportImport:
    """The emulator implementation when FIRESTORE_EMULATOR_HOST is set, else the Admin API."""
    host = os.environ.get("FIRESTORE_EMULATOR_HOST")
    if host:
        return EmulatorExportImport(host, storage)
    return ManagedExportImport(google_session(), timeout=timeout, poll=poll)


def data_api(project: str, database: str) -> DataApi:
    """The data API for a database: the emulator (owner token) or the managed service."""
    host = os.environ.get("FIRESTORE_EMULATOR_HOST")
    if host:
        session = requests.Session()
        session.headers["Authorization"] = "Bearer owner"
        return DataApi(session, f"http://{host}", project, database)
    base_url = os.environ.get("SPENDSENSE_FIRESTORE_API") or FIRESTORE_API
    return DataApi(google_session(), base_url, project, database)
