"""Firestore's REST APIs over HTTP: one request with one-line errors (`send`), a session with
Application Default Credentials (`google_session`), and readers for answers of an
unexpected shape (`json_object`, `int64`)."""

from __future__ import annotations

from typing import Any

import requests

from spendsense.errors import BadInput, OperationFailed, one_line
from spendsense.ops.firestore.errors import RequestUnanswered

FIRESTORE_API = "https://firestore.googleapis.com"
SCOPES = (
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/datastore",
)


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


def send(
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
        detail = one_line(exc)
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


def json_object(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one (an answer of an unexpected shape)."""
    return value if isinstance(value, dict) else {}


def int64(value: Any) -> int | None:
    """An int64 the API sends as a string (`"120"`), or None if absent or not a number."""
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
