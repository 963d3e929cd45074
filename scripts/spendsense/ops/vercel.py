"""Frontend rollback through Vercel's REST API (the runbook's `vercel promote`).

Endpoints used (Vercel REST API reference):
- `GET /v6/deployments?projectId=&target=production&teamId=&limit=`: the project's
  production deployments, newest first (`deployments[]` with `uid`, `url`, `created` in ms,
  `readyState`/`state`, `target`).
- `GET /v13/deployments/{host}?teamId=`: the deployment a production domain points at now
  (which deployment serves the frontend URL; after an earlier rollback it is not the newest);
  `GET /v13/deployments/{id}?teamId=` for that deployment's creation time when it is not
  among the listed ones. "The previous deployment" is the newest READY production deployment
  created before the serving one; when the serving one cannot be found out, nothing is
  guessed (the newest READY one need not be serving): exit 1 unless `--to` names one.
- `POST /v10/projects/{projectId}/promote/{deploymentId}?teamId=`: point every production
  domain at an existing deployment without rebuilding it (201 or 202).

The token comes from `VERCEL_TOKEN`. `SPENDSENSE_VERCEL_API` points the clients at a local
test server: `api_base` accepts only a loopback host (127.0.0.1, ::1, localhost), so a
variable left set (or set by someone else) can never send the bearer token to another host.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from spendsense.errors import BadInput, OperationFailed, one_line
from spendsense.identifiers import deployment_ref, path_segment

DEFAULT_API = "https://api.vercel.com"
API_ENV = "SPENDSENSE_VERCEL_API"
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
READY = "READY"


def api_base() -> str:
    """The Vercel API base URL: DEFAULT_API, or $SPENDSENSE_VERCEL_API when it names a local
    test server (http(s)://127.0.0.1|[::1]|localhost[:port][/path]); any other value is
    BadInput, never a request that would carry the token elsewhere."""
    value = os.environ.get(API_ENV, "").strip()
    if not value:
        return DEFAULT_API
    try:
        parts = urlsplit(value)
        scheme, host, _port = parts.scheme, parts.hostname, parts.port
    except ValueError:  # an unbalanced "[" or a port that is not a number
        scheme, host = "", None
    if scheme not in ("http", "https") or host not in LOOPBACK_HOSTS or "@" in value:
        shown = value if len(value) <= 80 else value[:80] + "..."
        raise BadInput(
            f"{API_ENV}={shown!r}: it only points the Vercel client at a local test server "
            f"(http://127.0.0.1:PORT); unset it to use {DEFAULT_API}"
        )
    return value.rstrip("/")


@dataclass(frozen=True)
class Deployment:
    uid: str
    url: str
    created: datetime
    state: str
    target: str | None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Deployment:
        """One deployment of a listing; OperationFailed if it has no id or no readable
        creation time (guessing either could promote the wrong deployment)."""
        uid = data.get("uid") or data.get("id")
        if not isinstance(uid, str) or not uid:
            raise OperationFailed(f"Vercel listed a deployment without an id ({str(data)[:120]})")
        created_ms: Any = data.get("created") or data.get("createdAt")
        try:
            if isinstance(created_ms, bool) or created_ms is None:
                raise TypeError("not a number")
            created = datetime.fromtimestamp(float(created_ms) / 1000, tz=UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            raise OperationFailed(
                f"Vercel listed deployment {uid} without a readable creation time "
                f"(created: {str(created_ms)[:40]}); pass --to to name the deployment"
            ) from None
        target = data.get("target")
        return cls(
            uid=uid,
            url=str(data.get("url") or ""),
            created=created,
            state=str(data.get("readyState") or data.get("state") or "UNKNOWN"),
            target=target if isinstance(target, str) else None,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.uid,
            "url": self.url,
            "created": self.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "state": self.state,
        }

    def describe(self) -> str:
        return f"{self.uid} ({self.url}, {self.created:%Y-%m-%d %H:%M} UTC, {self.state})"


def vercel_token() -> str:
    token = os.environ.get("VERCEL_TOKEN", "").strip()
    if not token:
        raise BadInput(
            "VERCEL_TOKEN is not set; create a token at https://vercel.com/account/tokens "
            "and export VERCEL_TOKEN"
        )
    if not (token.isascii() and token.isprintable()) or any(c.isspace() for c in token):
        # It goes into an HTTP header: a pasted newline or a non-ASCII quote would fail there.
        raise BadInput(
            "VERCEL_TOKEN holds characters a token cannot have (spaces, line breaks or "
            "non-ASCII); export the token exactly as Vercel shows it"
        )
    return token


def check_to(to: str | None) -> str | None:
    """`--to`: None (the previous deployment) or a deployment id/URL of the documented shape
    (`spendsense.identifiers.deployment_ref`); an empty value (an unset variable) is an error,
    never "the previous one"."""
    return None if to is None else deployment_ref(to, "--to")


def _segment(value: str, what: str) -> str:
    """An identifier checked against its shape before it goes into a URL path, then quoted."""
    return quote(path_segment(value, f"Vercel {what}"), safe="")


class VercelClient:
    def __init__(
        self,
        token: str,
        base_url: str | None = None,
        session: requests.Session | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = (base_url or api_base()).rstrip("/")
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.timeout = timeout

    def _request(
        self, method: str, path: str, doing: str, params: dict[str, Any]
    ) -> requests.Response:
        query = {k: v for k, v in params.items() if v not in (None, "")}
        try:
            response = self.session.request(
                method, f"{self.base_url}{path}", params=query, timeout=self.timeout
            )
        except requests.RequestException as exc:
            detail = one_line(exc)
            raise OperationFailed(f"{doing}: no answer from {self.base_url} ({detail})") from None
        if response.status_code in (401, 403):
            raise BadInput(
                f"{doing}: Vercel refused the token (HTTP {response.status_code}: "
                f"{_message(response)}); check VERCEL_TOKEN and its team scope"
            )
        return response

    def production_deployments(
        self, project_id: str, team_id: str | None, limit: int = 20
    ) -> list[Deployment]:
        doing = f"list production deployments of Vercel project {project_id}"
        response = self._request(
            "GET",
            "/v6/deployments",
            doing,
            {"projectId": project_id, "target": "production", "teamId": team_id, "limit": limit},
        )
        if response.status_code != 200:
            raise OperationFailed(f"{doing}: HTTP {response.status_code}: {_message(response)}")
        body = _json(response, doing)
        items = body.get("deployments") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise OperationFailed(f"{doing}: the answer has no deployments list")
        deployments = [Deployment.from_api(item) for item in items if isinstance(item, dict)]
        return sorted(deployments, key=lambda d: d.created, reverse=True)

    def serving(self, host: str, team_id: str | None) -> str | None:
        """The id of the deployment that `host` (a production domain) points at, if known."""
        doing = f"look up the deployment behind {host}"
        response = self._request(
            "GET", f"/v13/deployments/{_segment(host, 'host')}", doing, {"teamId": team_id}
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise OperationFailed(f"{doing}: HTTP {response.status_code}: {_message(response)}")
        body = _json(response, doing)
        uid = body.get("id") or body.get("uid") if isinstance(body, dict) else None
        return str(uid) if uid else None

    def deployment(self, deployment_id: str, team_id: str | None) -> Deployment | None:
        """One deployment by id (`GET /v13/deployments/{id}`), or None if Vercel has none."""
        doing = f"look up Vercel deployment {deployment_id}"
        response = self._request(
            "GET", f"/v13/deployments/{_segment(deployment_id, 'id')}", doing, {"teamId": team_id}
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise OperationFailed(f"{doing}: HTTP {response.status_code}: {_message(response)}")
        body = _json(response, doing)
        if not isinstance(body, dict):
            raise OperationFailed(f"{doing}: the answer is not a deployment")
        return Deployment.from_api(body)

    def promote(self, project_id: str, deployment_id: str, team_id: str | None) -> int:
        doing = f"promote Vercel deployment {deployment_id}"
        unknown = (
            "whether production now serves it is unknown: see which deployment serves it with "
            "`spendsense rollback frontend` (without --yes) before trying again"
        )
        try:
            response = self._request(
                "POST",
                f"/v10/projects/{_segment(project_id, 'project')}/promote/"
                f"{_segment(deployment_id, 'deployment')}",
                doing,
                {"teamId": team_id},
            )
        except OperationFailed as exc:  # no answer: the promotion may have happened
            raise OperationFailed(f"{exc} -- {unknown}") from None
        if response.status_code >= 500:
            raise OperationFailed(
                f"{doing}: HTTP {response.status_code}: {_message(response)} -- {unknown}"
            )
        if response.status_code not in (200, 201, 202):
            raise OperationFailed(
                f"{doing}: HTTP {response.status_code}: {_message(response)} -- production "
                "was not changed"
            )
        return response.status_code


def _json(response: requests.Response, doing: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise OperationFailed(f"{doing}: the answer is not JSON") from None


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return f"{error.get('code', 'error')}: {error.get('message', '')}".strip()
    return str(body)[:200]


@dataclass(frozen=True)
class RollbackPlan:
    project_id: str
    team_id: str | None
    current: Deployment | None
    target: Deployment

    def to_json(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "current": self.current.to_json() if self.current else None,
            "target": self.target.to_json(),
        }


def plan_rollback(
    client: VercelClient,
    project_id: str,
    team_id: str | None,
    frontend_url: str | None,
    to: str | None = None,
) -> RollbackPlan:
    """Pick the deployment to promote: `to` if given, else the newest READY production
    deployment created before the one that serves the frontend now. The serving one is never
    guessed: if it cannot be found out, exit 1 unless `to` is given."""
    deployments = client.production_deployments(project_id, team_id)
    current_id: str | None = None
    hostname: str | None = None
    if isinstance(frontend_url, str) and frontend_url:
        try:
            hostname = urlsplit(
                frontend_url if "://" in frontend_url else f"https://{frontend_url}"
            ).hostname
        except ValueError:  # e.g. an unbalanced "[" in the output
            hostname = None
        if hostname:
            current_id = client.serving(hostname, team_id)
    ready = [d for d in deployments if d.state == READY]
    current = next((d for d in deployments if d.uid == current_id), None)
    if current is None and current_id is not None:
        # Serving a deployment older than the listed ones (or listed under another page):
        # its creation time is what "previous" is measured from.
        current = client.deployment(current_id, team_id)
    if current is None and not to:
        where = (
            f"Vercel does not say which deployment {hostname} serves"
            if hostname
            else "the stack output frontend_url names no host"
        )
        if current_id is not None:
            where = f"{hostname} serves {current_id}, which Vercel cannot find"
        raise OperationFailed(
            f"cannot tell which deployment serves production ({where}), so the previous one is "
            "unknown; pass --to DEPLOYMENT (see `vercel ls --prod`)"
        )
    if to:
        wanted = to.strip()
        try:
            wanted_host = urlsplit(wanted).hostname if "://" in wanted else None
        except ValueError:
            wanted_host = None
        key = wanted_host or wanted
        target = next((d for d in deployments if key in (d.uid, d.url)), None)
        if target is None:
            raise BadInput(
                f"--to: {to!r} is not one of the last {len(deployments)} production deployments "
                f"of project {project_id}; pass a deployment id (dpl_...) or URL from "
                "`vercel ls --prod`"
            )
        if target.state != READY:
            raise BadInput(f"--to: deployment {target.uid} is {target.state}, not READY")
        if current is not None and target.uid == current.uid:
            raise BadInput(f"--to: deployment {target.uid} already serves production")
        return RollbackPlan(project_id, team_id, current, target)
    older = [d for d in ready if current is None or d.created < current.created]
    if not older:
        raise OperationFailed(
            f"no READY production deployment older than the current one "
            f"({current.uid if current else 'none'}) among the last {len(deployments)}; "
            "pass --to DEPLOYMENT"
        )
    return RollbackPlan(project_id, team_id, current, older[0])
