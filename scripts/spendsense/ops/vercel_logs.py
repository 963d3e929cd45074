"""The frontend's runtime logs from Vercel's REST API (runbook, "Vercel logs").

Endpoints (Vercel REST API reference, https://vercel.com/docs/rest-api), all GETs with the
stack's `teamId` and `Authorization: Bearer $VERCEL_API_TOKEN`:
- `GET /v13/deployments/{idOrUrl}` ("the unique identifier or hostname of the deployment",
  https://vercel.com/docs/rest-api/deployments/get-a-deployment-by-id-or-url): the deployment
  `--deployment` names, and, given the production domain (`frontend.url`), the deployment
  that domain serves now -- after a rollback that is not the newest one.
- `GET /v6/deployments?projectId=&target=production&state=READY&limit=1`
  (https://vercel.com/docs/rest-api/deployments/list-deployments): the newest READY production
  deployment, only when the domain lookup finds nothing (said on stderr).
- `GET /v1/projects/{projectId}/deployments/{deploymentId}/runtime-logs`
  (https://vercel.com/docs/rest-api/logs/get-logs-for-a-deployment): "a stream of logs",
  `application/stream+json`, one JSON object per line with `level`, `message`, `rowId`,
  `source`, `timestampInMs`, `domain`, `messageTruncated`, `requestMethod`, `requestPath`,
  `responseStatusCode`. It takes no time range and no cursor: it is a live tail. Vercel's own
  CLI reads it as "runtime logs for a deployment in ready state, from now and for 5 minutes at
  most", ending when a `delimiter` row with an empty `rowId` arrives
  (https://github.com/vercel/vercel/blob/main/packages/cli/src/util/logs.ts). So `--since`
  can only filter what the stream sends, on this side; older lines are in the dashboard's
  Logs tab (kept for a time that depends on the plan, https://vercel.com/docs/logs/runtime)
  or a log drain.

Without `--follow` the stream is read until it ends or stays quiet for `idle` seconds; with
`--follow` it is reopened whenever Vercel ends it, and rows already printed (by `rowId`) are
skipped. Nothing here calls AWS or Google.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests
import urllib3

from spendsense.errors import BadInput, OperationFailed, one_line
from spendsense.identifiers import deployment_ref, path_segment
from spendsense.ops.logs import LogEvent
from spendsense.ops.vercel import READY, api_base

TOKEN_ENV = "VERCEL_API_TOKEN"
TOKEN_FIX = (
    "create a token at https://vercel.com/account/tokens with access to the team and export "
    "VERCEL_API_TOKEN"
)
# What the command says about how far back the API reaches (stderr, and docs/operations.md).
REACH = (
    "Vercel's runtime-logs API takes no time range: it streams the deployment's lines as they "
    "happen (a live tail, at most about 5 minutes per request), so --since only filters what "
    "it sends; older lines: the project's Logs tab in the Vercel dashboard or a log drain"
)
FILTER_MAX = 1024
# With --follow a quiet stream is not a reason to hang up: lines sent while no request is
# open are lost (a live tail), so a followed stream waits out Vercel's own limit (about 5
# minutes per request) and is reopened at once; this read timeout only ends a dead connection.
FOLLOW_READ_TIMEOUT = 360.0


def vercel_api_token() -> str:
    """VERCEL_API_TOKEN (the pulumiverse-vercel provider's variable), else VERCEL_TOKEN."""
    token = (os.environ.get(TOKEN_ENV) or os.environ.get("VERCEL_TOKEN") or "").strip()
    if not token:
        raise BadInput(f"--frontend: {TOKEN_ENV} is not set; {TOKEN_FIX}")
    if not (token.isascii() and token.isprintable()) or any(c.isspace() for c in token):
        raise BadInput(
            f"--frontend: {TOKEN_ENV} holds characters a token cannot have (spaces, line breaks "
            "or non-ASCII); export the token exactly as Vercel shows it"
        )
    return token


def check_filter(text: str | None) -> str | None:
    if text is not None and len(text) > FILTER_MAX:
        raise BadInput(
            f"--filter: {len(text)} characters; pass at most {FILTER_MAX} (it is plain text "
            "matched against each line's message and request path)"
        )
    return text or None


@dataclass(frozen=True)
class Target:
    """The deployment whose logs are read, and how it was chosen (for the stderr header)."""

    uid: str
    url: str
    how: str


@dataclass(frozen=True)
class RuntimeLog:
    timestamp: int  # ms since the epoch (timestampInMs)
    level: str
    source: str
    message: str
    row_id: str
    domain: str = ""
    method: str = ""
    path: str = ""
    status: int = 0
    truncated: bool = False

    @classmethod
    def from_api(cls, row: dict[str, Any]) -> RuntimeLog | None:
        stamp = row.get("timestampInMs")
        if isinstance(stamp, bool) or not isinstance(stamp, int | float):
            return None
        status = row.get("responseStatusCode")
        return cls(
            timestamp=int(stamp),
            level=str(row.get("level") or "info"),
            source=str(row.get("source") or "-"),
            message=str(row.get("message") or "").rstrip("\n"),
            row_id=str(row.get("rowId") or ""),
            domain=str(row.get("domain") or ""),
            method=str(row.get("requestMethod") or ""),
            path=str(row.get("requestPath") or ""),
            status=status if isinstance(status, int) and not isinstance(status, bool) else 0,
            truncated=row.get("messageTruncated") is True,
        )

    @property
    def is_limit(self) -> bool:
        """Vercel's end-of-stream marker (its CLI's `isRuntimeLimitDelimiter`)."""
        return self.row_id == "" and self.source == "delimiter"

    def event(self) -> LogEvent:
        """The row as the API's `logs` prints an event: the shared output conventions."""
        return LogEvent(self.timestamp, self.stream, self.message, self.row_id)

    def iso_time(self) -> str:
        return self.event().iso_time()

    @property
    def stream(self) -> str:
        return f"{self.source}/{self.level}"

    def request(self) -> str:
        if not self.method and not self.path:
            return ""
        status = str(self.status) if self.status > 0 else "---"
        return f"{self.method or '-'} {self.path or '-'} {status}"

    def matches(self, text: str | None) -> bool:
        return text is None or text in self.message or text in self.path

    def to_json(self) -> dict[str, Any]:
        return {
            **self.event().to_json(),
            "level": self.level,
            "source": self.source,
            "domain": self.domain,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "truncated": self.truncated,
        }

    def text(self) -> str:
        request = self.request()
        more = "\u2026" if self.truncated else ""
        middle = f" {request}" if request else ""
        return f"{self.iso_time()} {self.stream}{middle} {self.message}{more}"


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return (response.text or response.reason or "")[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return f"{error.get('code', 'error')}: {error.get('message', '')}".strip()
    return str(body)[:200]


def _is_timeout(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, requests.Timeout | urllib3.exceptions.TimeoutError | TimeoutError):
            return True
        if "timed out" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class VercelLogs:
    """The few Vercel calls `logs --frontend` makes, scoped to one project and team."""

    def __init__(
        self,
        token: str,
        project_id: str,
        team_id: str | None,
        *,
        base_url: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = (base_url or api_base()).rstrip("/")
        self.project_id = path_segment(project_id, "frontend.vercelProjectId")
        self.team_id = team_id
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def _get(
        self, path: str, doing: str, params: dict[str, Any] | None = None, **kwargs: Any
    ) -> requests.Response:
        query = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        if self.team_id:
            query["teamId"] = self.team_id
        kwargs.setdefault("timeout", self.timeout)
        try:
            # No redirects: the token goes to the API host and nowhere else.
            response = self.session.get(
                f"{self.base_url}{path}", params=query, allow_redirects=False, **kwargs
            )
        except requests.RequestException as exc:
            raise OperationFailed(
                f"{doing}: no answer from {self.base_url} ({one_line(exc)}); try again"
            ) from None
        if response.status_code in (401, 403):
            team = f" and team {self.team_id}" if self.team_id else ""
            raise BadInput(
                f"--frontend: Vercel refused {TOKEN_ENV} to {doing} (HTTP "
                f"{response.status_code} {_message(response)}); use a token that can read "
                f"project {self.project_id}{team}: {TOKEN_FIX}"
            )
        return response

    def _json(self, response: requests.Response, doing: str) -> dict[str, Any]:
        if response.status_code != 200:
            raise OperationFailed(f"{doing}: HTTP {response.status_code} {_message(response)}")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise OperationFailed(f"{doing}: the answer is not a JSON object")
        return body

    def deployment(self, ref: str, option: str = "--deployment") -> Target | None:
        """The deployment an id or host names (GET /v13/deployments/{idOrUrl}), None on 404;
        BadInput if it belongs to another project."""
        text = deployment_ref(ref, option)
        host = urlsplit(text).hostname if "://" in text else None
        key = path_segment(host or text.rstrip("/"), "deployment")
        doing = f"look up Vercel deployment {key}"
        response = self._get(f"/v13/deployments/{quote(key, safe='')}", doing)
        if response.status_code == 404:
            return None
        body = self._json(response, doing)
        uid = body.get("id") or body.get("uid")
        if not isinstance(uid, str) or not uid:
            raise OperationFailed(f"{doing}: the answer has no deployment id")
        project = body.get("projectId")
        if isinstance(project, str) and project and project != self.project_id:
            raise BadInput(
                f"{option}: {ref!r} is a deployment of Vercel project {project}, not of this "
                f"stack's {self.project_id}; pass one from `vercel ls --prod`"
            )
        return Target(uid, str(body.get("url") or key), f"--deployment {ref}")

    def production(self, domain: str | None) -> tuple[Target, str | None]:
        """The deployment production serves: the one `domain` points at, else the newest READY
        production deployment (with a warning, as after a rollback it is not the serving one)."""
        if domain:
            found = self.deployment(domain, "frontend.url")
            if found is not None:
                return Target(found.uid, found.url, f"production, serving {domain}"), None
        doing = f"list the production deployments of Vercel project {self.project_id}"
        params = {"projectId": self.project_id, "target": "production", "state": READY}
        body = self._json(self._get("/v6/deployments", doing, {**params, "limit": 1}), doing)
        items = [d for d in body.get("deployments") or [] if isinstance(d, dict)]
        uid = (items[0].get("uid") or items[0].get("id")) if items else None
        if not isinstance(uid, str) or not uid:
            raise OperationFailed(
                f"Vercel project {self.project_id} has no READY production deployment; pass "
                "--deployment ID|URL (see `vercel ls`)"
            )
        warning = (
            f"Vercel does not say which deployment {domain or 'the production domain'} serves; "
            f"reading the newest READY production deployment {uid} (after a rollback, pass "
            "--deployment)"
        )
        return Target(uid, str(items[0].get("url") or ""), "newest READY production"), warning

    def stream(self, deployment_id: str, idle: float) -> Iterator[RuntimeLog]:
        """One request's rows, as they arrive, until Vercel ends the stream, sends its limit
        marker, or sends nothing for `idle` seconds."""
        uid = quote(path_segment(deployment_id, "deployment id"), safe="")
        path = f"/v1/projects/{quote(self.project_id, safe='')}/deployments/{uid}/runtime-logs"
        doing = f"read the runtime logs of deployment {deployment_id}"
        response = self._get(
            path,
            doing,
            stream=True,
            timeout=(self.timeout, idle),
            headers={"Accept": "application/stream+json"},
        )
        with response:
            if response.status_code == 404:
                raise BadInput(
                    f"deployment {deployment_id}: Vercel has no runtime logs for it in project "
                    f"{self.project_id} ({_message(response)}); pass --deployment ID|URL from "
                    "`vercel ls --prod`, or check the stack's frontend.vercelProjectId"
                )
            if response.status_code != 200:
                raise OperationFailed(f"{doing}: HTTP {response.status_code} {_message(response)}")
            try:
                for line in _lines(response):
                    row = _row(line)
                    if row is None:
                        continue
                    if row.is_limit:
                        return
                    yield row
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                if _is_timeout(exc):
                    return
                raise OperationFailed(f"{doing}: the stream broke ({one_line(exc)})") from None


def _lines(response: requests.Response) -> Iterator[bytes]:
    """The body's lines as each arrives. `iter_lines` would wait for 512 bytes (or the end of
    a body that has no chunks) before handing on a short line of a live tail; urllib3's
    `read1` returns whatever one read of the socket brought."""
    read1 = getattr(response.raw, "read1", None)
    chunks: Iterator[bytes]
    if read1 is None:  # urllib3 1.x
        chunks = response.iter_content(chunk_size=1)
    else:
        chunks = iter(lambda: read1(65536, decode_content=True), b"")
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        yield from lines
    if buffer:
        yield buffer


def _row(line: bytes) -> RuntimeLog | None:
    if not line.strip():
        return None
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return RuntimeLog.from_api(data) if isinstance(data, dict) else None


class Seen:
    """Row ids already printed, forgetting those more than `window_ms` older than the newest
    (a reopened stream only repeats recent rows), so memory stays bounded."""

    def __init__(self, window_ms: int = 15 * 60_000) -> None:
        self.ids: dict[str, int] = {}
        self.newest = 0
        self.window_ms = window_ms

    def first_time(self, row: RuntimeLog) -> bool:
        if row.row_id and row.row_id in self.ids:
            return False
        if row.row_id:
            self.ids[row.row_id] = row.timestamp
        self.newest = max(self.newest, row.timestamp)
        if len(self.ids) > 4096:
            horizon = self.newest - self.window_ms
            self.ids = {k: v for k, v in self.ids.items() if v >= horizon}
        return True


@dataclass
class Tally:
    printed: int = 0
    received: int = 0
    earliest: int | None = None


def read(
    client: VercelLogs,
    deployment_id: str,
    *,
    start_ms: int,
    text: str | None,
    emit: Callable[[RuntimeLog], None],
    tally: Tally,
    seen: Seen,
    idle: float,
) -> None:
    """One stream: rows from `start_ms` on that match `text` and were not printed before."""
    for row in client.stream(deployment_id, idle):
        tally.received += 1
        if tally.earliest is None or row.timestamp < tally.earliest:
            tally.earliest = row.timestamp
        if row.timestamp < start_ms or not row.matches(text) or not seen.first_time(row):
            continue
        tally.printed += 1
        emit(row)


def follow(
    client: VercelLogs,
    deployment_id: str,
    *,
    start_ms: int,
    text: str | None,
    emit: Callable[[RuntimeLog], None],
    tally: Tally,
    seen: Seen,
    idle: float,
    poll: float = 2.0,
    polls: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    started: float | None = None,
) -> None:
    """Reopen the stream whenever Vercel ends it (`polls` times; forever if None): at once
    after a stream that lasted (a gap loses lines), after `poll` seconds after one that ended
    at once (so a refusing endpoint is not hammered). `started`: when the caller's first
    read began (`clock()`), so that read counts too."""
    done = 0
    last = clock() if started is None else started
    while polls is None or done < polls:
        if clock() - last < poll:
            sleep(poll)
        last = clock()
        read(
            client,
            deployment_id,
            start_ms=start_ms,
            text=text,
            emit=emit,
            tally=tally,
            seen=seen,
            idle=idle,
        )
        done += 1
