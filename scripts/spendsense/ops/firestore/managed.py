"""The export/import seam on the managed service: the Firestore Admin REST API
(`:exportDocuments`, `:importDocuments`) and the long-running operation they start, followed
until it is `done` (see the package's docstring for the API's shapes)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from spendsense.errors import BadInput, OperationFailed
from spendsense.ops.backups.layout import INCOMPLETE_NOTE
from spendsense.ops.firestore.errors import AdminOperationFailed, AdminTimedOut, ExportCancelled
from spendsense.ops.firestore.export_import import OperationResult
from spendsense.ops.firestore.transport import FIRESTORE_API, int64, json_object, send

CANCELLED = 1  # google.rpc.Code.CANCELLED


def rfc3339(moment: datetime) -> str:
    """A time as the API takes it: RFC 3339 in UTC, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ManagedExportImport:
    """`ExportImport` through the Admin API, polling the operation every `poll` seconds for
    at most `timeout` seconds."""

    kind = "managed"

    def __init__(
        self,
        session: Any,
        base_url: str | None = None,
        *,
        timeout: float = 3600,
        poll: float = 10,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.base_url = (
            base_url or os.environ.get("SPENDSENSE_FIRESTORE_API") or FIRESTORE_API
        ).rstrip("/")
        self.timeout = timeout
        self.poll = poll
        self.sleep = sleep
        self.clock = clock

    def _database_url(self, project: str, database: str) -> str:
        return f"{self.base_url}/v1/projects/{project}/databases/{quote(database, safe='()')}"

    def earliest_version_time(self, project: str, database: str) -> datetime | None:
        """The database's `earliestVersionTime` (how far back a snapshot export can go)."""
        body = send(
            self.session,
            "GET",
            self._database_url(project, database),
            f"read Firestore database {project}/{database}",
        )
        text = body.get("earliestVersionTime") if isinstance(body, dict) else None
        if not isinstance(text, str):
            return None
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None  # unreadable: let the export request itself judge the snapshot time
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

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
        body: dict[str, Any] = {"outputUriPrefix": output_uri.rstrip("/")}
        if snapshot_time is not None:
            earliest = self.earliest_version_time(project, database)
            if earliest is not None and snapshot_time < earliest:
                raise BadInput(
                    f"--at: {rfc3339(snapshot_time)} is before the earliest version the database "
                    f"keeps ({rfc3339(earliest)}); point-in-time recovery keeps 7 days "
                    "(1 hour without it)"
                )
            body["snapshotTime"] = rfc3339(snapshot_time)
        operation = send(
            self.session,
            "POST",
            f"{self._database_url(project, database)}:exportDocuments",
            f"start the export of {project}/{database}",
            body,
            creates_operation=True,
        )
        return self._follow(
            operation, "export", where=output_uri, progress=progress, on_started=on_started
        )

    def import_documents(
        self,
        project: str,
        database: str,
        input_uri: str,
        *,
        progress: Callable[[str], None] | None = None,
        on_started: Callable[[str], None] | None = None,
    ) -> OperationResult:
        operation = send(
            self.session,
            "POST",
            f"{self._database_url(project, database)}:importDocuments",
            f"start the import into {project}/{database}",
            {"inputUriPrefix": input_uri.rstrip("/")},
            creates_operation=True,
        )
        return self._follow(
            operation, "import", where=input_uri, progress=progress, on_started=on_started
        )

    def _follow(
        self,
        operation: Any,
        what: str,
        *,
        where: str,
        progress: Callable[[str], None] | None,
        on_started: Callable[[str], None] | None = None,
    ) -> OperationResult:
        name = json_object(operation).get("name")
        if not isinstance(name, str) or not name:
            raise OperationFailed(
                f"the {what} request answered no operation name ({str(operation)[:120]})"
            )
        if on_started is not None:
            on_started(name)
        deadline = self.clock() + self.timeout
        while True:
            operation = json_object(operation)
            metadata = json_object(operation.get("metadata"))
            state = str(
                metadata.get("operationState")
                or ("DONE" if operation.get("done") else "PROCESSING")
            )
            work = json_object(metadata.get("progressDocuments"))
            done_docs = int64(work.get("completedWork"))
            if progress is not None:
                total = int64(work.get("estimatedWork"))
                counted = f", {done_docs or 0}/{total} documents" if total else ""
                progress(f"{what} {name.rsplit('/', 1)[-1]}: {state}{counted}")
            if operation.get("done") is True:
                error = operation.get("error")
                if error:
                    error = json_object(error) or {"message": str(error)[:200]}
                    code = error.get("code")
                    message = error.get("message", "")
                    if code == CANCELLED or state == "CANCELLED":
                        partial = (
                            f"; it may have left partial data in {where}: {INCOMPLETE_NOTE}"
                            if what == "export"
                            else f"; the database may hold part of {where}: import it again"
                        )
                        raise ExportCancelled(f"{what} operation {name} was cancelled{partial}")
                    raise AdminOperationFailed(
                        f"{what} operation {name} failed: {message or code or 'no message'}"
                    )
                work_bytes = int64(json_object(metadata.get("progressBytes")).get("completedWork"))
                return OperationResult(
                    name,
                    "SUCCESSFUL" if state in ("DONE", "SUCCESSFUL") else state,
                    done_docs,
                    work_bytes,
                )
            if self.clock() >= deadline:
                raise AdminTimedOut(
                    f"{what} operation {name} still {state} after {self.timeout:g} s; it keeps "
                    f"running: follow it with `gcloud firestore operations describe {name}`"
                )
            self.sleep(max(0.0, min(self.poll, deadline - self.clock())))
            operation = send(
                self.session, "GET", f"{self.base_url}/v1/{name}", f"follow {what} operation {name}"
            )
