"""Firestore's REST API on the emulator, as a client SDK would call it.

`FirestoreRest` makes requests with an unsigned Firebase ID token (`id_token`) for the user
and claims under test, with none (signed out), or with the emulator's `OWNER` token, which
bypasses the security rules (for seeding and inspection). Every answer is a `Result`: the
HTTP status and the decoded body, so a caller judges "allowed" (2xx) or "denied" (403).
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any

import requests

from spendsense.errors import OperationFailed
from spendsense.firestore_emulator.values import to_fields, to_value

DEFAULT_PROJECT = "spendsense-test"
DEFAULT_DATABASE = "(default)"
OWNER = "owner"  # the emulator's bearer token that bypasses security rules


class EmulatorError(OperationFailed):
    """The emulator did not start, or it refused a request (one line, with its message)."""


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
