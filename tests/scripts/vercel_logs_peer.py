"""A local HTTP server answering like Vercel's REST API for the calls `logs --frontend` makes.

Shapes from Vercel's REST API reference (https://vercel.com/docs/rest-api):
- `GET /v13/deployments/{idOrUrl}?teamId=`: one deployment (`id`, `url`, `projectId`,
  `readyState`, `target`), found by its id, its URL or an alias (a production domain names
  the deployment it serves); 404 `{"error": {"code": "not_found", ...}}` otherwise.
- `GET /v6/deployments?projectId=&target=&state=&limit=&teamId=`: `{"deployments": [...],
  "pagination": {"count", "next", "prev"}}`, newest first (`uid`, `url`, `created`, `state`,
  `readyState`, `target`).
- `GET /v1/projects/{projectId}/deployments/{deploymentId}/runtime-logs?teamId=`:
  `application/stream+json`, one JSON object per line (`level`, `message`, `rowId`, `source`,
  `timestampInMs`, `domain`, `messageTruncated`, `requestMethod`, `requestPath`,
  `responseStatusCode`), sent chunked (HTTP/1.1), one line per chunk, flushed as written.
  Each request gets the next scripted "connection": its rows (which may end with Vercel's
  limit marker, a `delimiter` row with an empty `rowId`), then `hold` seconds of silence (a
  live tail with nothing new), then its `late` rows, then the end of the body.
Errors are `{"error": {"code", "message"}}`: 403 `forbidden` for a wrong token or a team the
token cannot see (every call is team-scoped through `teamId`), 404 `not_found`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.scripts.json_server import JsonHandler, start_peer

TOKEN = "test-vercel-token-1"
PROJECT = "prj_spendsense_dashboard"
TEAM = "team_spendsense"


def row(
    row_id: str,
    stamp_ms: int,
    message: str,
    *,
    level: str = "info",
    source: str = "serverless",
    method: str = "GET",
    path: str = "/api/summary",
    status: int = 200,
) -> dict[str, Any]:
    return {
        "level": level,
        "message": message,
        "rowId": row_id,
        "source": source,
        "timestampInMs": stamp_ms,
        "domain": "spendsense.vercel.app",
        "messageTruncated": False,
        "requestMethod": method,
        "requestPath": path,
        "responseStatusCode": status,
    }


def limit_marker(stamp_ms: int) -> dict[str, Any]:
    """What Vercel sends when a runtime-logs request reached its limit."""
    return {
        "level": "error",
        "message": "Runtime log limit reached",
        "rowId": "",
        "source": "delimiter",
        "timestampInMs": stamp_ms,
        "domain": "",
        "messageTruncated": False,
        "requestMethod": "",
        "requestPath": "",
        "responseStatusCode": 0,
    }


@dataclass
class Connection:
    rows: list[dict[str, Any]]
    hold: float = 0.0  # seconds of silence before the body ends
    late: list[dict[str, Any]] = field(default_factory=list)  # rows sent after the silence


@dataclass
class Seen:
    path: str
    query: dict[str, list[str]]
    auth: str
    accept: str


def deployment(uid: str, url: str, created_ms: int, project: str = PROJECT) -> dict[str, Any]:
    return {
        "id": uid,
        "uid": uid,
        "url": url,
        "name": "spendsense-dashboard",
        "projectId": project,
        "created": created_ms,
        "createdAt": created_ms,
        "state": "READY",
        "readyState": "READY",
        "target": "production",
    }


@dataclass
class VercelPeer:
    url: str = ""
    deployments: list[dict[str, Any]] = field(default_factory=list)  # newest first
    aliases: dict[str, str] = field(default_factory=dict)  # domain -> deployment id
    streams: dict[str, list[Connection]] = field(default_factory=dict)  # id -> connections
    requests: list[Seen] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def log_requests(self) -> list[Seen]:
        return [r for r in self.requests if r.path.endswith("/runtime-logs")]

    def find(self, key: str) -> dict[str, Any] | None:
        key = self.aliases.get(key, key)
        return next((d for d in self.deployments if key in (d["id"], d["url"])), None)

    def answer(self, seen: Seen) -> tuple[int, Any]:
        forbidden = {"error": {"code": "forbidden", "message": "Not authorized"}}
        if seen.auth != f"Bearer {TOKEN}" or seen.query.get("teamId") != [TEAM]:
            return 403, forbidden
        parts = [unquote(p) for p in seen.path.strip("/").split("/")]
        if parts[:2] == ["v13", "deployments"] and len(parts) == 3:
            found = self.find(parts[2])
            if found is None:
                return 404, {"error": {"code": "not_found", "message": "Deployment not found"}}
            return 200, found
        if parts == ["v6", "deployments"]:
            want = {k: v[0] for k, v in seen.query.items()}
            items = [
                d
                for d in self.deployments
                if d["projectId"] == want.get("projectId")
                and d["target"] == want.get("target", d["target"])
                and d["state"] == want.get("state", d["state"])
            ][: int(want.get("limit", "20"))]
            return 200, {"deployments": items, "pagination": {"count": len(items), "next": None}}
        self.violations.append(f"GET {seen.path}")
        return 404, {"error": {"code": "not_found", "message": "Not found"}}


class _Handler(JsonHandler):
    peer: VercelPeer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        seen = Seen(
            parts.path,
            parse_qs(parts.query),
            self.headers.get("Authorization", ""),
            self.headers.get("Accept", ""),
        )
        self.peer.requests.append(seen)
        segments = parts.path.strip("/").split("/")
        is_logs = len(segments) == 6 and segments[0] == "v1" and segments[5] == "runtime-logs"
        if not is_logs:
            self.send_json(*self.peer.answer(seen))
            return
        forbidden = seen.auth != f"Bearer {TOKEN}" or seen.query.get("teamId") != [TEAM]
        if forbidden:
            self.send_json(403, {"error": {"code": "forbidden", "message": "Not authorized"}})
            return
        connections = self.peer.streams.get(segments[4])
        if segments[2] != PROJECT or connections is None:
            self.send_json(404, {"error": {"code": "not_found", "message": "Not found"}})
            return
        connection = connections.pop(0) if len(connections) > 1 else connections[0]
        # HTTP/1.1 chunked, one chunk per line, as a streaming API answers; the last chunk
        # comes when the connection's rows (and its silence) are over.
        self.send_response(200)
        self.send_header("Content-Type", "application/stream+json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for item in connection.rows:
                data = json.dumps(item).encode() + b"\n"
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
            if connection.hold:
                time.sleep(connection.hold)
            for item in connection.late:
                data = json.dumps(item).encode() + b"\n"
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass


def start(peer: VercelPeer) -> ThreadingHTTPServer:
    server = start_peer(_Handler, peer, poll=0.05)
    peer.url = f"http://127.0.0.1:{server.server_address[1]}"
    return server
