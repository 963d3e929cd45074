"""Google's Firestore emulator (from the Google Cloud CLI), started and driven over REST.

Used by the rules suite (`spendsense rules test`, tests/rules), and by the backup/restore
tests, which need a real Firestore to export from and import into.

What it owns: starting `gcloud emulators firestore start` on a free loopback port in its own
process group (gcloud starts a `java` child, so the whole group is stopped), loading security
rules through the emulator's rules endpoint, wiping, exporting and importing, and a small REST
client that makes requests the way a client SDK does (unsigned Firebase ID tokens), or with
the emulator's `owner` token, which bypasses the rules (for seeding and inspection).

Measured behaviour of the emulator (gcloud 528) this module relies on:
- `GET /` answers `Ok` once it is ready (~5 s).
- `PUT /emulator/v1/projects/{p}:securityRules` compiles the rules: 400 with
  "Error compiling rules: ..." on a syntax error, 200 with warnings as `issues` otherwise.
- `POST /emulator/v1/projects/{p}:export` with `export_directory` (an existing folder) writes
  `firestore_export_<epoch seconds>/` there and answers `{}` (it does not say the folder's name).
- `POST /emulator/v1/projects/{p}:import` takes the same body, but its `export_directory` must
  be the path of the export's `.overall_export_metadata` FILE (a folder gives "Failed to parse
  overall export metadata file"). An import merges: documents in the export overwrite those
  with the same path; other documents stay.
- `DELETE /emulator/v1/projects/{p}/databases/(default)/documents` wipes the data.
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

from spendsense.errors import OperationFailed

DEFAULT_PROJECT = "spendsense-test"
DEFAULT_DATABASE = "(default)"
OWNER = "owner"  # the emulator's bearer token that bypasses security rules
INSTALL_HINT = (
    "install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install) and then "
    "`gcloud components install cloud-firestore-emulator` (or the apt package "
    "google-cloud-cli-firestore-emulator); it needs Java 11+"
)


class EmulatorError(OperationFailed):
    """The emulator did not start, or it refused a request (one line, with its message)."""


class EmulatorUnavailable(EmulatorError):
    """gcloud or its Firestore emulator component is not installed on this machine."""


class RulesCompileError(EmulatorError):
    """The emulator could not compile a rules file (the message has its line and column)."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def emulator_available() -> str | None:
    """None when `gcloud` (with Java) is present, else a one-line reason with how to install."""
    if shutil.which("gcloud") is None:
        return f"the Firestore emulator needs `gcloud`, which is not on PATH: {INSTALL_HINT}"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return f"the Firestore emulator needs Java, which is not on PATH: {INSTALL_HINT}"
    return None


# --- Firebase ID tokens -------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def id_token(uid: str, project: str = DEFAULT_PROJECT, **claims: Any) -> str:
    """An unsigned Firebase ID token for `uid`, as the emulator accepts it from a client SDK.

    Custom claims go at the top level of the payload, where rules read them as
    `request.auth.token.<claim>` (e.g. `id_token("op1", role="operator")`).
    """
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": f"https://securetoken.google.com/{project}",
        "aud": project,
        "auth_time": now,
        "user_id": uid,
        "sub": uid,
        "iat": now,
        "exp": now + 3600,
        "firebase": {"identities": {}, "sign_in_provider": "custom"},
    }
    payload.update(claims)
    header = {"alg": "none", "typ": "JWT"}
    return f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(payload).encode())}."


# --- Firestore REST values ----------------------------------------------------------------


@dataclass(frozen=True)
class Timestamp:
    """A Firestore timestamp given as its RFC 3339 text (e.g. a document's `updateTime`)."""

    rfc3339: str


def to_value(value: Any) -> dict[str, Any]:
    """A Python value as a Firestore REST `Value`."""
    if value is None:
        return {"nullValue": None}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"integerValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, Timestamp):
        return {"timestampValue": value.rfc3339}
    if isinstance(value, datetime):
        return {"timestampValue": value.isoformat().replace("+00:00", "Z")}
    if isinstance(value, dict):
        return {"mapValue": {"fields": to_fields(value)}}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [to_value(v) for v in value]}}
    raise TypeError(f"cannot store {type(value).__name__} in Firestore: {value!r}")


def to_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {key: to_value(value) for key, value in data.items()}


def from_value(value: dict[str, Any]) -> Any:
    """A Firestore REST `Value` as a Python value (timestamps stay RFC 3339 strings)."""
    if "nullValue" in value:
        return None
    if "booleanValue" in value:
        return bool(value["booleanValue"])
    if "integerValue" in value:
        return int(value["integerValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "mapValue" in value:
        return from_fields(value["mapValue"].get("fields", {}))
    if "arrayValue" in value:
        return [from_value(v) for v in value["arrayValue"].get("values", [])]
    for key in ("stringValue", "timestampValue", "referenceValue", "bytesValue"):
        if key in value:
            return value[key]
    if "geoPointValue" in value:
        return value["geoPointValue"]
    raise ValueError(f"unknown Firestore value: {value!r}")


def from_fields(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: from_value(value) for key, value in fields.items()}


# --- The REST client ------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """One REST answer: the HTTP status and the decoded JSON body (or the text)."""

    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def denied(self) -> bool:
        """True when the security rules refused the request (HTTP 403 PERMISSION_DENIED)."""
        return self.status == 403

    @property
    def message(self) -> str:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return str(self.body["error"].get("message", ""))
        return "" if self.ok else str(self.body)[:300]

    def documents(self) -> list[dict[str, Any]]:
        """The documents of a runQuery or list answer, in order."""
        if isinstance(self.body, list):  # runQuery
            return [item["document"] for item in self.body if "document" in item]
        if isinstance(self.body, dict):
            return list(self.body.get("documents", []))
        return []


class FirestoreRest:
    """Firestore's REST API on the emulator, one project and database.

    Every method takes `token`: `OWNER` (the default) bypasses the rules; an `id_token(...)`
    acts as that signed-in client; `None` sends no Authorization header (signed out).
    Paths are relative to `.../documents`, like `users/alice/accounts/a1`.
    """

    def __init__(
        self,
        base_url: str,
        project: str = DEFAULT_PROJECT,
        database: str = DEFAULT_DATABASE,
        session: requests.Session | None = None,
        timeout: float = 15.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.project = project
        self.database = database
        self.session = session or requests.Session()
        self.timeout = timeout

    @property
    def database_name(self) -> str:
        return f"projects/{self.project}/databases/{self.database}"

    @property
    def documents_root(self) -> str:
        """The resource name of the root of the documents, `projects/.../documents`."""
        return f"{self.database_name}/documents"

    def name(self, path: str) -> str:
        """The full resource name of a document path."""
        return (
            f"{self.documents_root}/{path.strip('/')}" if path.strip("/") else self.documents_root
        )

    def _url(self, path: str, suffix: str = "") -> str:
        return f"{self.base_url}/v1/{self.name(path)}{suffix}"

    def _send(
        self,
        method: str,
        url: str,
        token: str | None,
        *,
        params: Any = None,
        body: Any = None,
    ) -> Result:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        try:
            response = self.session.request(
                method, url, params=params, json=body, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise EmulatorError(f"Firestore emulator at {self.base_url}: {exc}") from exc
        try:
            payload: Any = response.json()
        except ValueError:
            payload = response.text
        return Result(response.status_code, payload)

    # Reads
    def get(self, path: str, token: str | None = OWNER) -> Result:
        return self._send("GET", self._url(path), token)

    def list_documents(
        self, collection: str, token: str | None = OWNER, page_size: int = 300
    ) -> Result:
        """A collection listing (`GET .../documents/<collection>`), as `listDocuments` does."""
        return self._send("GET", self._url(collection), token, params={"pageSize": page_size})

    def run_query(
        self, structured_query: dict[str, Any], parent: str = "", token: str | None = OWNER
    ) -> Result:
        """`POST {parent}:runQuery`; `parent` is "" for top-level collections."""
        return self._send(
            "POST",
            self._url(parent, ":runQuery"),
            token,
            body={"structuredQuery": structured_query},
        )

    def query(
        self,
        collection: str,
        token: str | None = OWNER,
        where: list[tuple[str, str, Any]] | None = None,
        parent: str = "",
        all_descendants: bool = False,
        limit: int | None = None,
    ) -> Result:
        """A collection query with `where` filters `(field, op, value)`, op as in the REST API
        (`EQUAL`, `IN`, `LESS_THAN`, ...)."""
        query: dict[str, Any] = {
            "from": [{"collectionId": collection, "allDescendants": all_descendants}]
        }
        filters = [
            {
                "fieldFilter": {
                    "field": {"fieldPath": field},
                    "op": op,
                    "value": to_value(value),
                }
            }
            for field, op, value in (where or [])
        ]
        if len(filters) == 1:
            query["where"] = filters[0]
        elif filters:
            query["where"] = {"compositeFilter": {"op": "AND", "filters": filters}}
        if limit is not None:
            query["limit"] = limit
        return self.run_query(query, parent=parent, token=token)

    def all_documents(self, token: str | None = OWNER) -> list[dict[str, Any]]:
        """Every document in the database, at any depth (a collection-group query on all)."""
        result = self.run_query({"from": [{"allDescendants": True}]}, token=token)
        if not result.ok:
            raise EmulatorError(f"listing all documents failed: {result.status} {result.message}")
        return result.documents()

    def count(self, token: str | None = OWNER) -> int:
        return len(self.all_documents(token))

    # Writes
    def create(
        self, collection: str, doc_id: str, data: dict[str, Any], token: str | None = OWNER
    ) -> Result:
        """`POST .../<collection>?documentId=<id>` (fails if the document exists)."""
        return self._send(
            "POST",
            self._url(collection),
            token,
            params={"documentId": doc_id},
            body={"fields": to_fields(data)},
        )

    def patch(
        self,
        path: str,
        data: dict[str, Any],
        token: str | None = OWNER,
        update_mask: list[str] | None = None,
        exists: bool | None = None,
    ) -> Result:
        """`PATCH` a document: with `update_mask`, only those fields change (an update, as
        `update()` sends it); without, the document is replaced (a `set()`). `exists=True`
        makes it fail on a missing document, `False` on an existing one."""
        params: list[tuple[str, str]] = [("updateMask.fieldPaths", f) for f in update_mask or []]
        if exists is not None:
            params.append(("currentDocument.exists", "true" if exists else "false"))
        return self._send(
            "PATCH", self._url(path), token, params=params, body={"fields": to_fields(data)}
        )

    def set(self, path: str, data: dict[str, Any], token: str | None = OWNER) -> Result:
        """Create or replace a document (by default with the owner token: for seeding)."""
        result = self.patch(path, data, token=token)
        if token == OWNER and not result.ok:
            raise EmulatorError(f"seeding {path} failed: {result.status} {result.message}")
        return result

    def update_write(
        self,
        path: str,
        data: dict[str, Any],
        update_mask: list[str] | None = None,
        server_timestamps: list[str] | None = None,
        exists: bool | None = True,
    ) -> dict[str, Any]:
        """One `Write` for `commit`: an update of `data` (masked to `update_mask`, default its
        keys) plus `server_timestamps` fields set to the request time, as the SDKs send
        `update({..., "reviewed_at": SERVER_TIMESTAMP})`."""
        write: dict[str, Any] = {
            "update": {"name": self.name(path), "fields": to_fields(data)},
            "updateMask": {"fieldPaths": list(update_mask if update_mask is not None else data)},
        }
        if server_timestamps:
            write["updateTransforms"] = [
                {"fieldPath": field, "setToServerValue": "REQUEST_TIME"}
                for field in server_timestamps
            ]
        if exists is not None:
            write["currentDocument"] = {"exists": exists}
        return write

    def delete_write(self, path: str) -> dict[str, Any]:
        return {"delete": self.name(path)}

    def commit(self, writes: list[dict[str, Any]], token: str | None = OWNER) -> Result:
        """`POST .../documents:commit`: the writes succeed or fail together."""
        return self._send(
            "POST",
            f"{self.base_url}/v1/{self.database_name}/documents:commit",
            token,
            body={"writes": writes},
        )

    def delete(self, path: str, token: str | None = OWNER) -> Result:
        return self._send("DELETE", self._url(path), token)


# --- The emulator process -----------------------------------------------------------------


class FirestoreEmulator:
    """Google's Firestore emulator on a loopback port, as a context manager.

    >>> with FirestoreEmulator() as emulator:
    ...     emulator.load_rules(Path("firestore/firestore.rules").read_text())
    ...     emulator.rest().set("users/alice", {"name": "Alice"})
    """

    def __init__(
        self,
        project: str = DEFAULT_PROJECT,
        port: int | None = None,
        host: str = "127.0.0.1",
        start_timeout: float = 60.0,
    ) -> None:
        self.project = project
        self.port = port
        self.host_name = host
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None
        self._session = requests.Session()
        self._external = False

    @classmethod
    def connect(cls, host: str, project: str = DEFAULT_PROJECT) -> FirestoreEmulator:
        """An emulator someone else started (`HOST:PORT`): `start()` only checks that it
        answers, and `stop()` leaves it running."""
        name, _, port = host.rpartition(":")
        if not name or not port.isdigit():
            raise EmulatorError(f"emulator host must be HOST:PORT (got {host!r})")
        emulator = cls(project=project, port=int(port), host=name)
        emulator._external = True
        return emulator

    # Addresses
    @property
    def host(self) -> str:
        """`HOST:PORT`, the value for FIRESTORE_EMULATOR_HOST."""
        if self.port is None:
            raise EmulatorError("the Firestore emulator has not been started")
        return f"{self.host_name}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"

    def rest(self, project: str | None = None, database: str = DEFAULT_DATABASE) -> FirestoreRest:
        """The REST client for a project on this emulator."""
        return FirestoreRest(
            self.base_url, project or self.project, database, session=self._session
        )

    # Lifecycle
    def __enter__(self) -> FirestoreEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> FirestoreEmulator:
        """Start the emulator and wait until `GET /` answers `Ok`."""
        if self.running:
            return self
        if self._external:
            try:
                response = self._session.get(f"{self.base_url}/", timeout=5)
            except requests.RequestException as exc:
                raise EmulatorError(
                    f"no Firestore emulator answers at {self.base_url}: {exc}"
                ) from exc
            if not (response.ok and response.text.strip() == "Ok"):
                raise EmulatorError(
                    f"{self.base_url} is not a Firestore emulator (GET / answered "
                    f"HTTP {response.status_code}: {response.text[:80]!r})"
                )
            return self
        reason = emulator_available()
        if reason is not None:
            raise EmulatorUnavailable(reason)
        auto_port = self.port is None
        for attempt in range(3):
            if auto_port:
                self.port = free_port(self.host_name)
            try:
                self._launch()
                return self
            except EmulatorError as exc:
                # A free port can be taken between choosing it and Java binding it.
                if not auto_port or attempt == 2 or "Address already in use" not in str(exc):
                    raise
        return self

    def _launch(self) -> None:
        gcloud = shutil.which("gcloud") or "gcloud"
        log_fd, log_name = tempfile.mkstemp(prefix="firestore-emulator-", suffix=".log")
        self._log_path = Path(log_name)
        env = dict(os.environ, CLOUDSDK_CORE_DISABLE_PROMPTS="1")
        env.pop("FIRESTORE_EMULATOR_HOST", None)
        try:
            self._process = subprocess.Popen(
                [gcloud, "emulators", "firestore", "start", f"--host-port={self.host}"],
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends the java child too
                env=env,
            )
        except OSError as exc:
            raise EmulatorUnavailable(f"cannot run gcloud ({exc}): {INSTALL_HINT}") from exc
        finally:
            os.close(log_fd)
        atexit.register(self.stop)
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            code = self._process.poll()
            if code is not None:
                log = self.log_tail()
                self.stop()
                if "not installed" in log or "components install" in log:
                    raise EmulatorUnavailable(
                        f"the Firestore emulator component is missing: {INSTALL_HINT} "
                        f"(gcloud said: {log[-300:]})"
                    )
                raise EmulatorError(
                    f"the Firestore emulator exited with code {code} before it was ready "
                    f"(port {self.port}); its log ends: {log}"
                )
            try:
                response = self._session.get(f"{self.base_url}/", timeout=1)
                if response.ok and response.text.strip() == "Ok":
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        log = self.log_tail()
        self.stop()
        raise EmulatorError(
            f"the Firestore emulator did not answer on {self.base_url} within "
            f"{self.start_timeout:.0f} s; its log ends: {log}"
        )

    def log_tail(self, lines: int = 8) -> str:
        """The last lines of the emulator's output without Java stack frames, on one line
        (for error messages)."""
        if self._log_path is None or not self._log_path.exists():
            return "(no log)"
        kept = []
        for raw in self._log_path.read_text(errors="replace").splitlines():
            line = raw.removeprefix("[firestore]").strip()
            if not line or line.startswith("at ") or (line.startswith("...") and "more" in line):
                continue
            kept.append(line)
        return " | ".join(kept[-lines:]) or "(empty)"

    def stop(self) -> None:
        """Stop the emulator's whole process group (gcloud and its java child); idempotent."""
        process, self._process = self._process, None
        if process is not None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
            # The group can outlive its leader (gcloud's java child): wait, then kill it.
            deadline = time.monotonic() + 5
            while _signal_group(process.pid, 0):
                if time.monotonic() > deadline:
                    _signal_group(process.pid, signal.SIGKILL)
                    break
                time.sleep(0.1)
        atexit.unregister(self.stop)
        if self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None

    # Emulator administration
    def _admin(self, method: str, path: str, body: Any = None) -> Any:
        url = f"{self.base_url}/emulator/v1/{path}"
        try:
            response = self._session.request(method, url, json=body, timeout=60)
        except requests.RequestException as exc:
            raise EmulatorError(f"Firestore emulator at {self.base_url}: {exc}") from exc
        try:
            payload: Any = response.json()
        except ValueError:
            payload = response.text
        if not response.ok:
            result = Result(response.status_code, payload)
            raise EmulatorError(
                f"{method} {url} failed with HTTP {response.status_code}: {result.message}"
            )
        return payload

    def load_rules(self, text: str, project: str | None = None) -> list[str]:
        """Load security rules for a project; returns the compiler's warnings as lines.

        Raises RulesCompileError (one line, with line:column) if the rules do not compile.
        """
        url = f"{self.base_url}/emulator/v1/projects/{project or self.project}:securityRules"
        body = {"rules": {"files": [{"name": "firestore.rules", "content": text}]}}
        try:
            response = self._session.put(url, json=body, timeout=60)
        except requests.RequestException as exc:
            raise EmulatorError(f"Firestore emulator at {self.base_url}: {exc}") from exc
        try:
            payload: Any = response.json()
        except ValueError:
            payload = {"error": {"message": response.text}}
        if not response.ok:
            message = Result(response.status_code, payload).message
            raise RulesCompileError(" ".join(message.split()) or f"HTTP {response.status_code}")
        warnings = []
        for issue in payload.get("issues", []) if isinstance(payload, dict) else []:
            position = issue.get("sourcePosition", {})
            warnings.append(
                f"L{position.get('line', '?')}:{position.get('column', '?')} "
                f"{issue.get('severity', 'WARNING')}: {issue.get('description', '')}"
            )
        return warnings

    def wipe(self, project: str | None = None) -> None:
        """Delete every document of the project's default database."""
        self._admin(
            "DELETE", f"projects/{project or self.project}/databases/{DEFAULT_DATABASE}/documents"
        )

    def export(self, directory: str, project: str | None = None) -> str:
        """Export the project's data into `directory` (created if needed), the layout a managed
        export writes; returns the folder the emulator wrote (`.../firestore_export_<n>`)."""
        target = Path(directory).resolve()
        target.mkdir(parents=True, exist_ok=True)
        # The emulator names the folder after the current second and overwrites a folder of
        # the same name: wait for the next second rather than overwrite an earlier export.
        while (target / f"firestore_export_{int(time.time())}").exists():
            time.sleep(0.1)
        before = {path.name for path in target.glob("firestore_export_*")}
        p = project or self.project
        self._admin(
            "POST",
            f"projects/{p}:export",
            {
                "database": f"projects/{p}/databases/{DEFAULT_DATABASE}",
                "export_directory": str(target),
            },
        )
        written = [path for path in target.glob("firestore_export_*") if path.name not in before]
        if len(written) != 1:
            raise EmulatorError(
                f"the emulator answered the export, but {len(written)} new firestore_export_* "
                f"folders appeared in {target} (expected one)"
            )
        return str(written[0])

    def import_(self, directory: str, project: str | None = None) -> None:
        """Import an export into the project (merging: exported documents overwrite, others stay).

        `directory` is an export folder (the one holding `*.overall_export_metadata`, as
        `export()` returns or a managed export writes) or that metadata file itself.
        """
        metadata = overall_metadata_file(directory)
        p = project or self.project
        self._admin(
            "POST",
            f"projects/{p}:import",
            {
                "database": f"projects/{p}/databases/{DEFAULT_DATABASE}",
                "export_directory": str(metadata),
            },
        )


def _signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to a process group; False when the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


def overall_metadata_file(directory: str) -> Path:
    """The `.overall_export_metadata` file of an export folder (or the file itself)."""
    path = Path(directory).resolve()
    if path.is_file() and path.name.endswith(".overall_export_metadata"):
        return path
    if not path.is_dir():
        raise EmulatorError(
            f"no export at {path}: expected a folder with an .overall_export_metadata file"
        )
    found = sorted(path.glob("*.overall_export_metadata"))
    if len(found) != 1:
        raise EmulatorError(
            f"{path} holds {len(found)} .overall_export_metadata files; expected exactly one "
            "(pass the export's own folder, e.g. .../firestore_export_<n>)"
        )
    return found[0]
