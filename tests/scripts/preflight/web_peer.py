"""A local HTTP server answering like Vercel's REST API (under /vercel) and Pulumi Cloud's
(under /pulumi), for the few endpoints preflight reads.

Vercel (https://vercel.com/docs/rest-api): `GET /v2/teams/{teamId}` (the team as the token
sees it), `GET /v9/projects/{idOrName}?teamId=` and `GET /v10/projects/{idOrName}/env?teamId=`
(`{"envs": [{"id", "key", "value", "target": [...], "type"}]}`); errors are
`{"error": {"code", "message"}}`; a wrong token is 403 `forbidden`. Pulumi Cloud:
`GET /api/user` with `Authorization: token <token>` (401 otherwise) and
`GET /api/stacks/{org}/{project}/{stack}/export` (the `pulumi stack export` document, 404 for
a stack that does not exist).
Requests to other paths, or without the bearer token, are recorded as violations.
"""

from __future__ import annotations

from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.scripts.json_server import JsonHandler, start_peer


class WebPeer:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.token = ""
        self.teams: dict[str, str] = {}  # team id -> slug the token sees
        self.projects: dict[str, list[dict[str, Any]]] = {}  # project id -> envs
        self.pulumi_token = ""
        self.pulumi_stacks: dict[str, Any] = {}  # "org/project/stack" -> its export
        self.violations: list[str] = []

    def answer(self, path: str, query: dict[str, list[str]], auth: str) -> tuple[int, Any]:
        forbidden = {"error": {"code": "forbidden", "message": "Not authorized"}}
        if path.startswith("/pulumi/"):
            if auth != f"token {self.pulumi_token}" or not self.pulumi_token:
                return 401, {"code": 401, "message": "Unauthorized: No credentials provided"}
            if path == "/pulumi/api/user":
                return 200, {"name": "Deploy Bot", "githubLogin": "deploy-bot", "email": ""}
            parts = path.split("/")  # /pulumi/api/stacks/{org}/{project}/{stack}/export
            if len(parts) == 8 and parts[2:4] == ["api", "stacks"] and parts[7] == "export":
                stack = self.pulumi_stacks.get("/".join(parts[4:7]))
                if stack is None:
                    return 404, {"code": 404, "message": "Not Found: stack not found"}
                return 200, stack
            self.violations.append(f"GET {path}: not a Pulumi Cloud endpoint preflight uses")
            return 404, {"code": 404, "message": "Not found"}
        if auth != f"Bearer {self.token}":
            return 403, forbidden
        parts = path.removeprefix("/vercel").strip("/").split("/")
        team = (query.get("teamId") or [None])[0]
        if parts[:2] == ["v2", "teams"] and len(parts) == 3:
            if parts[2] not in self.teams:
                return 403, forbidden
            return 200, {"id": parts[2], "slug": self.teams[parts[2]], "name": "SpendSense"}
        project = (parts[:2] == ["v9", "projects"] and len(parts) == 3) or (
            parts[:2] == ["v10", "projects"] and len(parts) == 4 and parts[3] == "env"
        )
        if project:
            if team is not None and team not in self.teams:
                return 403, forbidden
            if parts[2] not in self.projects:
                return 404, {"error": {"code": "not_found", "message": "Project not found"}}
            if len(parts) == 3:
                return 200, {"id": parts[2], "name": "dashboard", "accountId": team}
            return 200, {"envs": self.projects[parts[2]]}
        self.violations.append(f"GET {path}: not a Vercel endpoint preflight uses")
        return 404, {"error": {"code": "not_found", "message": "Not found"}}


class _Handler(JsonHandler):
    peer: WebPeer

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.send_json(
            *self.peer.answer(
                parts.path, parse_qs(parts.query), self.headers.get("Authorization", "")
            )
        )


def start(peer: WebPeer, port: int) -> ThreadingHTTPServer:
    return start_peer(_Handler, peer, port)
