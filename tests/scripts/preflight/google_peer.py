"""A local HTTP server that answers like Google's APIs, in the shape of their discovery documents.

There is no emulator for Service Usage, Cloud Billing, Firebase Management, Resource Manager,
the Firestore Admin database metadata or Firebase Rules. This server routes each request by
the discovery documents that google-api-python-client ships (method and `flatPath` of each
API's methods), so a request to a path or with a verb the real API does not have is recorded
as a violation, and every answer it sends is checked against the method's response schema
(every field must be a property of the schema): an answer Google could not give fails the
test. Errors use Google's error model (`error.code/message/status/details[]` with a
`google.rpc.ErrorInfo`, https://cloud.google.com/apis/design/errors).

Each API lives under `/<api>/` on the server (point SPENDSENSE_<API>_API there). The world is
a dict of projects the test arranges (`Project`).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.scripts.json_server import JsonHandler, start_peer

DOCUMENTS = {
    "cloudresourcemanager": "cloudresourcemanager.v1.json",
    "serviceusage": "serviceusage.v1.json",
    "cloudbilling": "cloudbilling.v1.json",
    "firebase": "firebase.v1beta1.json",
    "firestore": "firestore.v1.json",
    "firebaserules": "firebaserules.v1.json",
}


def discovery(api: str) -> dict[str, Any]:
    import googleapiclient

    folder = os.path.join(os.path.dirname(googleapiclient.__file__), "discovery_cache", "documents")
    with open(os.path.join(folder, DOCUMENTS[api]), encoding="utf-8") as handle:
        document: dict[str, Any] = json.load(handle)
    return document


def _methods(node: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(node.get("methods", {}).values())
    for child in node.get("resources", {}).values():
        found.extend(_methods(child))
    return found


def _pattern(flat_path: str) -> re.Pattern[str]:
    """`v1/projects/{projectsId}/releases/{releasesId}` -> a regex; `{+x}` spans slashes."""
    out = ""
    for part in re.split(r"(\{\+?[A-Za-z0-9_]+\})", flat_path):
        if part.startswith("{+"):
            out += r"(.+)"
        elif part.startswith("{"):
            out += r"([^/]+)"
        else:
            out += re.escape(part)
    return re.compile(out)


def check_shape(document: dict[str, Any], schema: dict[str, Any], value: Any, where: str) -> None:
    """Raise AssertionError when `value` has a field its discovery schema does not."""
    if "$ref" in schema:
        schema = document["schemas"][schema["$ref"]]
    kind = schema.get("type")
    if kind == "object" and isinstance(value, dict):
        properties = schema.get("properties")
        if properties is None:
            extra = schema.get("additionalProperties")
            for key, item in value.items():
                if extra:
                    check_shape(document, extra, item, f"{where}.{key}")
            return
        for key, item in value.items():
            if key not in properties:
                raise AssertionError(f"{where}: {key!r} is not a field of {sorted(properties)}")
            check_shape(document, properties[key], item, f"{where}.{key}")
    elif kind == "array" and isinstance(value, list):
        for index, item in enumerate(value):
            check_shape(document, schema["items"], item, f"{where}[{index}]")
    elif kind == "boolean" and not isinstance(value, bool):
        raise AssertionError(f"{where}: {value!r} is not a boolean")
    elif kind == "string" and not isinstance(value, str):
        raise AssertionError(f"{where}: {value!r} is not a string (int64 travels as a string)")


@dataclass
class Project:
    project_id: str
    number: str
    apis: set[str] = field(default_factory=set)
    billing: bool = True
    firebase: bool = True
    databases: set[str] = field(default_factory=set)
    releases: set[str] = field(default_factory=set)
    members: set[str] = field(default_factory=set)  # IAM policy members


def google_error(code: int, status: str, message: str, reason: str = "", **meta: str) -> dict:
    details = []
    if reason:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
                "metadata": meta,
            }
        )
    return {"error": {"code": code, "message": message, "status": status, "details": details}}


class GooglePeer:
    def __init__(self) -> None:
        self.documents = {api: discovery(api) for api in DOCUMENTS}
        self.routes = {
            api: [
                (m["httpMethod"], _pattern(m.get("flatPath") or m["path"]), m)
                for m in _methods(doc)
            ]
            for api, doc in self.documents.items()
        }
        self.reset()

    def reset(self) -> None:
        self.projects: dict[str, Project] = {}
        self.refusals: dict[str, tuple[int, dict]] = {}  # api -> (HTTP status, error body)
        self.violations: list[str] = []
        self.calls: list[str] = []

    def add(self, project: Project) -> Project:
        self.projects[project.project_id] = project
        return project

    def route(self, verb: str, path: str) -> tuple[str, dict[str, Any], list[str]] | None:
        api, _, rest = path.lstrip("/").partition("/")
        for method_verb, pattern, method in self.routes.get(api, []):
            match = pattern.fullmatch(rest)
            if match and method_verb == verb:
                return api, method, [unquote(g) for g in match.groups()]
        return None

    def answer(self, verb: str, url: str, body: Any) -> tuple[int, Any]:
        parts = urlsplit(url)
        routed = self.route(verb, parts.path)
        if routed is None:
            self.violations.append(f"{verb} {parts.path}: no such method in the discovery document")
            return 404, google_error(404, "NOT_FOUND", "no such method")
        api, method, args = routed
        self.calls.append(method["id"])
        if api in self.refusals:
            return self.refusals[api]
        status, payload = self.handle(method["id"], args, parse_qs(parts.query), body)
        if status == 200:
            try:
                check_shape(self.documents[api], method["response"], payload, method["id"])
            except AssertionError as exc:
                self.violations.append(str(exc))
                return 500, google_error(500, "INTERNAL", str(exc))
        return status, payload

    def _project(self, key: str) -> Project | None:
        for project in self.projects.values():
            if key in (project.project_id, project.number):
                return project
        return None

    def handle(self, method: str, args: list[str], query: dict, body: Any) -> tuple[int, Any]:
        key = next((a for a in args if a != "projects"), "")  # batchGet: {v1Id}/{v1Id1}
        project = self._project(key.removeprefix("projects/").split("/")[0])
        denied = google_error(403, "PERMISSION_DENIED", "The caller does not have permission")
        if project is None:
            if method == "firestore.projects.databases.get":
                return 404, google_error(404, "NOT_FOUND", "Project not found")
            return 403, denied
        if method == "cloudresourcemanager.projects.get":
            return 200, {
                "projectNumber": project.number,
                "projectId": project.project_id,
                "lifecycleState": "ACTIVE",
                "name": project.project_id,
            }
        if method == "cloudresourcemanager.projects.getIamPolicy":
            members = sorted(project.members)
            bindings = [{"role": "roles/firestore.serviceAgent", "members": members}]
            return 200, {"version": 1, "etag": "BwXyz", "bindings": bindings if members else []}
        if method == "serviceusage.services.batchGet":
            services = []
            for name in query.get("names", []):
                api = name.rsplit("/", 1)[-1]
                services.append(
                    {
                        "name": f"projects/{project.number}/services/{api}",
                        "parent": f"projects/{project.number}",
                        "state": "ENABLED" if api in project.apis else "DISABLED",
                    }
                )
            return 200, {"services": services}
        if method == "cloudbilling.projects.getBillingInfo":
            return 200, {
                "name": f"projects/{project.project_id}/billingInfo",
                "projectId": project.project_id,
                "billingAccountName": "billingAccounts/012345-6789AB-CDEF01"
                if project.billing
                else "",
                "billingEnabled": project.billing,
            }
        if method == "firebase.projects.get":
            if not project.firebase:
                return 404, google_error(404, "NOT_FOUND", "Firebase project not found")
            return 200, {
                "projectId": project.project_id,
                "projectNumber": project.number,
                "name": f"projects/{project.project_id}",
                "displayName": project.project_id,
                "state": "ACTIVE",
            }
        if method == "firestore.projects.databases.get":
            database = args[1]
            if database not in project.databases:
                return 404, google_error(404, "NOT_FOUND", f"Database {database} not found")
            return 200, {
                "name": f"projects/{project.project_id}/databases/{database}",
                "locationId": "nam5",
                "type": "FIRESTORE_NATIVE",
                "concurrencyMode": "PESSIMISTIC",
            }
        if method == "firebaserules.projects.releases.get":
            name = args[0].split("/releases/", 1)[1] if "/releases/" in args[0] else args[1]
            if name not in project.releases:
                return 404, google_error(404, "NOT_FOUND", f"Release {name} not found")
            return 200, {
                "name": f"projects/{project.project_id}/releases/{name}",
                "rulesetName": f"projects/{project.project_id}/rulesets/abc",
                "createTime": "2026-01-01T00:00:00Z",
            }
        self.violations.append(f"{method}: not expected by the preflight tests")
        return 501, google_error(501, "UNIMPLEMENTED", method)


class _Handler(JsonHandler):
    peer: GooglePeer

    def _serve(self, verb: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        self.send_json(*self.peer.answer(verb, self.path, body))

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")


def start(peer: GooglePeer, port: int) -> ThreadingHTTPServer:
    return start_peer(_Handler, peer, port)
