"""The export/import seam on the Firestore emulator, staged through a local folder.

The emulator has no Admin API; its own `:export` / `:import` endpoints read and write a
folder on its machine. An export is written by the emulator into a temporary folder and then
uploaded to the `gs://` folder (its metadata file renamed `<folder>.overall_export_metadata`
as a managed export names it, and uploaded last); an import downloads the `gs://` folder and
has the emulator import it. The emulator must run on the same machine as the command.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from spendsense.errors import BadInput, OperationFailed
from spendsense.ops.backups.gcs import describe_gcs_error
from spendsense.ops.firestore.errors import AdminOperationFailed
from spendsense.ops.firestore.export_import import OperationResult


def split_gs(uri: str) -> tuple[str, str]:
    """`gs://bucket/a/b/` -> (`bucket`, `a/b/`)."""
    if not uri.startswith("gs://"):
        raise BadInput(f"{uri!r} is not a gs:// URI")
    bucket, _, prefix = uri[len("gs://") :].partition("/")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


class EmulatorExportImport:
    """`ExportImport` on the emulator at `host` (HOST:PORT), staged through `storage`."""

    kind = "emulator"

    def __init__(self, host: str, storage: Any) -> None:
        self.host = host
        self.storage = storage

    def _emulator(self, project: str, database: str) -> Any:
        from spendsense.firestore_emulator.process import FirestoreEmulator
        from spendsense.firestore_emulator.rest import DEFAULT_DATABASE

        if database != DEFAULT_DATABASE:
            raise BadInput(
                f"the Firestore emulator exports and imports only the {DEFAULT_DATABASE} "
                f"database (got {database!r})"
            )
        name, _, port = self.host.rpartition(":")
        if not port.isdigit():
            raise BadInput(f"FIRESTORE_EMULATOR_HOST={self.host!r} must be HOST:PORT")
        return FirestoreEmulator(project=project, host=name or "127.0.0.1", port=int(port))

    def export_documents(
        self,
        project: str,
        database: str,
        output_uri: str,
        *,
        snapshot_time: datetime | None = None,
        progress: Callable[[str], None] | None = None,
        on_started: Callable[[str], None] | None = None,
    ) -> OperationResult:
        if snapshot_time is not None:
            raise BadInput("--at: the Firestore emulator has no point-in-time exports")
        emulator = self._emulator(project, database)
        bucket_name, prefix = split_gs(output_uri)
        folder_name = prefix.rstrip("/").rsplit("/", 1)[-1]
        bucket = self.storage.bucket(bucket_name)
        with tempfile.TemporaryDirectory(prefix="spendsense-export-") as tmp:
            written = Path(emulator.export(tmp))
            if progress is not None:
                progress(f"export: the emulator wrote {written.name}; uploading to {output_uri}")
            files = sorted(p for p in written.rglob("*") if p.is_file())
            # The metadata goes last, as Firestore writes it: its presence means complete.
            files.sort(key=lambda p: p.name.endswith(".overall_export_metadata"))
            name = f"emulator-export:{written.name}"
            if on_started is not None:
                on_started(name)  # from here on the gs:// folder is being written
            total = 0
            for path in files:
                relative = path.relative_to(written).as_posix()
                if relative.endswith(".overall_export_metadata"):
                    relative = f"{folder_name}.overall_export_metadata"
                try:
                    bucket.blob(prefix + relative).upload_from_filename(str(path))
                except Exception as exc:  # google.api_core / transport errors
                    error = _gcs_error(exc, f"upload to gs://{bucket_name}/{prefix}{relative}")
                    raise AdminOperationFailed(f"export operation {name} failed: {error}") from None
                total += path.stat().st_size
        return OperationResult(name, "SUCCESSFUL", None, total)

    def import_documents(
        self,
        project: str,
        database: str,
        input_uri: str,
        *,
        progress: Callable[[str], None] | None = None,
        on_started: Callable[[str], None] | None = None,
    ) -> OperationResult:
        from spendsense.firestore_emulator.rest import EmulatorError

        emulator = self._emulator(project, database)
        bucket_name, prefix = split_gs(input_uri)
        folder_name = prefix.rstrip("/").rsplit("/", 1)[-1] or "export"
        with tempfile.TemporaryDirectory(prefix="spendsense-import-") as tmp:
            local = Path(tmp) / folder_name
            total = 0
            try:
                for blob in self.storage.list_blobs(bucket_name, prefix=prefix):
                    target = local / blob.name[len(prefix) :]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    blob.download_to_filename(str(target))
                    total += target.stat().st_size
            except Exception as exc:  # google.api_core / transport errors
                raise _gcs_error(exc, f"download {input_uri}") from None
            if progress is not None:
                progress(f"import: staged {input_uri} ({total} bytes); the emulator imports it")
            name = f"emulator-import:{folder_name}"
            if on_started is not None:
                on_started(name)
            try:
                emulator.import_(str(local))
            except EmulatorError as exc:
                # The emulator imports synchronously: once it answered, nothing runs any more.
                raise AdminOperationFailed(f"import operation {name} failed: {exc}") from None
        return OperationResult(name, "SUCCESSFUL", None, total)


def _gcs_error(exc: Exception, doing: str) -> Exception:
    if isinstance(exc, OperationFailed | BadInput):
        return exc
    return describe_gcs_error(exc, doing)
