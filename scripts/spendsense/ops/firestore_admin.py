"""Firestore export/import and document counts: one seam, two implementations.

`ExportImport` is what backup, restore and drill need: export a database to a `gs://` folder,
and import a `gs://` export folder into a database, following the work until it ends.

- `ManagedExportImport` (production): the Firestore Admin REST API,
  `POST /v1/projects/{p}/databases/{db}:exportDocuments` (`outputUriPrefix`, and
  `snapshotTime` for an export of the database as it was at an earlier time) and
  `:importDocuments` (`inputUriPrefix`). Both answer a long-running operation, followed with
  `GET /v1/{operation name}` until `done`: then it has a `response` (success) or an `error`
  (`code` 1 is CANCELLED: a cancelled export may leave partial data in its folder). A request
  that starts an operation and gets no answer or a server error (HTTP 5xx but 501) raises
  `RequestUnanswered`: the operation may exist anyway, so callers say "may have started"
  and never "not touched".
- `EmulatorExportImport` (selected when FIRESTORE_EMULATOR_HOST is set): the emulator has no
  Admin API (`:exportDocuments` answers 404); it has its own `:export` / `:import` endpoints
  that read and write a folder on the emulator's machine. So this implementation STAGES the
  export through a local temporary folder: an export is written there by the emulator and
  then uploaded to the `gs://` folder (the GCS emulator, through STORAGE_EMULATOR_HOST), the
  metadata file renamed `<folder>.overall_export_metadata` as a managed export names it; an
  import downloads the `gs://` folder to a temporary folder and has the emulator import it.
  The emulator must run on the same machine as the command.

`DataApi` counts documents per collection id with `runAggregationQuery` (a collection-group
COUNT) and lists top-level collections with `listCollectionIds`, against the managed API or
the emulator (with the emulator's `owner` token, which bypasses security rules).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import requests

from spendsense.errors import BadInput, OperationFailed

FIRESTORE_API = "https://firestore.googleapis.com"
SCOPES = (
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/datastore",
)
CANCELLED = 1  # google.rpc.Code.CANCELLED


class AdminOperationFailed(OperationFailed):
    """The operation ended (`done`) with an error: nothing of it runs on the server any more."""


class ExportCancelled(AdminOperationFailed):
    """The operation was cancelled before it finished."""


class AdminTimedOut(OperationFailed):
    """The operation did not finish within the timeout (it keeps running in the background)."""


class RequestUnanswered(OperationFailed):
    """A request whose outcome is unknown: it got no answer (connection lost, timed out) or,
    for a request that creates an operation, a server error (HTTP 5xx other than 501): it may
    or may not have acted. `outcome` says which, for the state statement."""

    def __init__(self, message: str, outcome: str = "got no answer") -> None:
        super().__init__(message)
        self.outcome = outcome


@dataclass(frozen=True)
class OperationResult:
    name: str
    state: str
    documents: int | None = None
    bytes: int | None = None


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def split_gs(uri: str) -> tuple[str, str]:
    """`gs://bucket/a/b/` -> (`bucket`, `a/b/`)."""
    if not uri.startswith("gs://"):
        raise BadInput(f"{uri!r} is not a gs:// URI")
    bucket, _, prefix = uri[len("gs://") :].partition("/")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


class ExportImport(Protocol):
    kind: str

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
        """Export to `output_uri`; `on_started(operation name)` once the server accepted it."""
        ...

    def import_documents(
        self,
        project: str,
        database: str,
        input_uri: str,
        *,
        progress: Callable[[str], None] | None = None,
        on_started: Callable[[str], None] | None = None,
    ) -> OperationResult:
        """Import `input_uri`; `on_started(operation name)` is called once the server has
        accepted the import (before that, a refusal means the database was not touched, but
        `RequestUnanswered` means an import may have started)."""
        ...


# --- HTTP helpers ----------------------------------------------------------------------------


def _error_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        status = error.get("status") or error.get("code") or ""
        return f"{status}: {error.get('message', '')}".strip(": ")
    return str(body)[:200]


def _send(
    session: Any,
    method: str,
    url: str,
    doing: str,
    json_body: Any = None,
    timeout: float = 60,
    *,
    creates_operation: bool = False,
) -> Any:
    """One request; one-line errors. With `creates_operation` (exportDocuments,
    importDocuments) a server error (5xx but 501) is RequestUnanswered like a lost answer: a
    500/503 from the front end does not prove the operation was not created."""
    try:
        response = session.request(method, url, json=json_body, timeout=timeout)
    except requests.RequestException as exc:
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise RequestUnanswered(
            f"{doing}: no answer from {url.split('/v1/')[0]} ({detail})"
        ) from None
    if response.status_code in (401, 403):
        raise BadInput(
            f"{doing}: permission denied ({_error_message(response)}); the account needs the "
            "Cloud Datastore Import Export Admin role and access to the bucket"
        )
    if response.status_code == 404:
        raise BadInput(
            f"{doing}: not found ({_error_message(response)}); check the project and database"
        )
    if creates_operation and response.status_code >= 500 and response.status_code != 501:
        raise RequestUnanswered(
            f"{doing}: HTTP {response.status_code}: {_error_message(response)}",
            outcome=f"was answered HTTP {response.status_code}",
        )
    if not response.ok:
        raise OperationFailed(f"{doing}: HTTP {response.status_code}: {_error_message(response)}")
    try:
        return response.json()
    except ValueError:
        raise OperationFailed(f"{doing}: the answer is not JSON") from None


def google_session() -> Any:
    """An authorised requests session with Application Default Credentials."""
    try:
        import google.auth
        from google.auth.transport.requests import AuthorizedSession

        credentials, _ = google.auth.default(scopes=list(SCOPES))
    except Exception as exc:  # DefaultCredentialsError and friends
        raise BadInput(
            f"no Google credentials ({type(exc).__name__}); run `gcloud auth application-default "
            "login` or set GOOGLE_APPLICATION_CREDENTIALS"
        ) from None
    return AuthorizedSession(credentials)


# --- managed: the Admin API ------------------------------------------------------------------


class ManagedExportImport:
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
        body = _send(
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
        operation = _send(
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
        operation = _send(
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
        name = _mapping(operation).get("name")
        if not isinstance(name, str) or not name:
            raise OperationFailed(
                f"the {what} request answered no operation name ({str(operation)[:120]})"
            )
        if on_started is not None:
            on_started(name)
        deadline = self.clock() + self.timeout
        while True:
            operation = _mapping(operation)
            metadata = _mapping(operation.get("metadata"))
            state = str(
                metadata.get("operationState")
                or ("DONE" if operation.get("done") else "PROCESSING")
            )
            work = _mapping(metadata.get("progressDocuments"))
            done_docs = _count(work.get("completedWork"))
            if progress is not None:
                total = _count(work.get("estimatedWork"))
                counted = f", {done_docs or 0}/{total} documents" if total else ""
                progress(f"{what} {name.rsplit('/', 1)[-1]}: {state}{counted}")
            if operation.get("done") is True:
                error = operation.get("error")
                if error:
                    error = _mapping(error) or {"message": str(error)[:200]}
                    code = error.get("code")
                    message = error.get("message", "")
                    if code == CANCELLED or state == "CANCELLED":
                        from spendsense.ops.backups import INCOMPLETE_NOTE

                        partial = (
                            f"; it may have left partial data in {where}: {INCOMPLETE_NOTE}"
                            if what == "export"
                            else f"; the database may hold part of {where}: import it again"
                        )
                        raise ExportCancelled(f"{what} operation {name} was cancelled{partial}")
                    raise AdminOperationFailed(
                        f"{what} operation {name} failed: {message or code or 'no message'}"
                    )
                work_bytes = _count(_mapping(metadata.get("progressBytes")).get("completedWork"))
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
            operation = _send(
                self.session, "GET", f"{self.base_url}/v1/{name}", f"follow {what} operation {name}"
            )


def _mapping(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one (an answer of an unexpected shape)."""
    return value if isinstance(value, dict) else {}


def _count(value: Any) -> int | None:
    """An int64 the API sends as a string (`"120"`), or None if absent or not a number."""
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


# --- the emulator: its own endpoints, staged through a local folder ------------------------


class EmulatorExportImport:
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
    from spendsense.ops.backups import describe_gcs_error

    return describe_gcs_error(exc, doing)


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


# --- counting documents ------------------------------------------------------------------------


class DataApi:
    """Firestore's data REST API (`.../documents:runAggregationQuery`, `:listCollectionIds`)."""

    def __init__(self, session: Any, base_url: str, project: str, database: str) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.project = project
        self.database = database

    @property
    def documents_url(self) -> str:
        return f"{self.base_url}/v1/projects/{self.project}/databases/{quote(self.database, safe='()')}/documents"

    def collection_ids(self) -> list[str]:
        """The top-level collection ids (every page)."""
        ids: list[str] = []
        token: str | None = None
        while True:
            body: dict[str, Any] = {"pageSize": 300}
            if token:
                body["pageToken"] = token
            answer = _send(
                self.session,
                "POST",
                f"{self.documents_url}:listCollectionIds",
                f"list the collections of {self.project}/{self.database}",
                body,
            )
            found = _mapping(answer).get("collectionIds")
            ids.extend(
                cid for cid in (found if isinstance(found, list) else []) if isinstance(cid, str)
            )
            token = _mapping(answer).get("nextPageToken")
            if not isinstance(token, str) or not token:
                return sorted(ids)

    def count(self, collection_id: str) -> int:
        """Documents in every collection with this id, at any depth (collection-group COUNT)."""
        body = {
            "structuredAggregationQuery": {
                "structuredQuery": {
                    "from": [{"collectionId": collection_id, "allDescendants": True}]
                },
                "aggregations": [{"alias": "n", "count": {}}],
            }
        }
        answer = _send(
            self.session,
            "POST",
            f"{self.documents_url}:runAggregationQuery",
            f"count the documents of {collection_id} in {self.project}/{self.database}",
            body,
        )
        for item in answer if isinstance(answer, list) else [answer]:
            fields = _mapping(_mapping(_mapping(item).get("result")).get("aggregateFields"))
            if "n" in fields:
                value = _count(_mapping(fields["n"]).get("integerValue", 0))
                if value is None:
                    raise OperationFailed(
                        f"count the documents of {collection_id}: the answer's count is not a "
                        f"number ({str(fields['n'])[:80]})"
                    )
                return value
        return 0

    def counts(self, collection_ids: list[str]) -> dict[str, int]:
        return {cid: self.count(cid) for cid in sorted(set(collection_ids))}

    def document_names(self, limit: int = 500) -> list[str]:
        """The full names of up to `limit` documents at any depth, in name order (a kindless
        all-descendants query that selects only the name, as the SDKs' recursive delete does)."""
        body = {
            "structuredQuery": {
                "from": [{"allDescendants": True}],
                "select": {"fields": [{"fieldPath": "__name__"}]},
                "orderBy": [{"field": {"fieldPath": "__name__"}, "direction": "ASCENDING"}],
                "limit": limit,
            }
        }
        answer = _send(
            self.session,
            "POST",
            f"{self.documents_url}:runQuery",
            f"list the documents of {self.project}/{self.database}",
            body,
        )
        names: list[str] = []
        for item in answer if isinstance(answer, list) else []:
            document = item.get("document") if isinstance(item, dict) else None
            if isinstance(document, dict) and isinstance(document.get("name"), str):
                names.append(document["name"])
        return names

    def delete_documents(self, names: list[str]) -> None:
        """Delete these documents (full names in this database), at most 500 per commit."""
        prefix = f"projects/{self.project}/databases/{self.database}/documents/"
        for name in names:
            if not name.startswith(prefix):  # never a document of another database
                raise OperationFailed(f"refusing to delete {name}: it is not in {prefix}")
        for start in range(0, len(names), 500):
            _send(
                self.session,
                "POST",
                f"{self.documents_url}:commit",
                f"delete documents in {self.project}/{self.database}",
                {"writes": [{"delete": name} for name in names[start : start + 500]]},
            )


def data_api(project: str, database: str) -> DataApi:
    """The data API for a database: the emulator (owner token) or the managed service."""
    host = os.environ.get("FIRESTORE_EMULATOR_HOST")
    if host:
        session = requests.Session()
        session.headers["Authorization"] = "Bearer owner"
        return DataApi(session, f"http://{host}", project, database)
    base_url = os.environ.get("SPENDSENSE_FIRESTORE_API") or FIRESTORE_API
    return DataApi(google_session(), base_url, project, database)
