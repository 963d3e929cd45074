"""The `cloud.firestore` release against a local server that answers like the Rules API.

The Firebase Rules API has no emulator. The server below serves `projects.releases` get,
create, patch and delete at the paths and with the request and response shapes of the API's
discovery document (shipped with google-api-python-client): it refuses a create of an
existing release (409 ALREADY_EXISTS), a patch of a missing one (404) and any body field the
document does not define. Every request is logged, so a test can prove the release was never
deleted while the rules changed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import google.auth
import googleapiclient
import pytest
import requests
from google.auth import impersonated_credentials
from google.auth.credentials import AnonymousCredentials
from google.oauth2 import credentials as user_credentials
from pulumi.dynamic import Config, ConfigureRequest

from infra.components.rules_release import (
    RulesApi,
    RulesApiError,
    RulesReleaseProvider,
    apply_release,
    gcp_credentials,
)

PROJECT = "spendsense-production"
RELEASE = f"projects/{PROJECT}/releases/cloud.firestore"
OLD = f"projects/{PROJECT}/rulesets/11111111-old"
NEW = f"projects/{PROJECT}/rulesets/22222222-new"


def discovery() -> dict[str, Any]:
    path = (
        Path(googleapiclient.__file__).parent
        / "discovery_cache"
        / "documents"
        / "firebaserules.v1.json"
    )
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


DISCOVERY = discovery()
METHODS = DISCOVERY["resources"]["projects"]["resources"]["releases"]["methods"]
SCHEMAS = DISCOVERY["schemas"]


class RulesServer(ThreadingHTTPServer):
    releases: dict[str, dict[str, Any]]
    log: list[tuple[str, str]]
    authorization: list[str]


class Handler(BaseHTTPRequestHandler):
    server: RulesServer

    def log_message(self, *_args: Any) -> None:
        return None

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, code: int, status: str, message: str) -> None:
        self._send(code, {"error": {"code": code, "status": status, "message": message}})

    def _body(self, schema: str) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        body: dict[str, Any] = json.loads(self.rfile.read(length) or b"{}")
        allowed = set(SCHEMAS[schema]["properties"])
        unknown = set(body) - allowed
        assert not unknown, f"{schema} has no field {unknown} (discovery document)"
        return body

    def _name(self) -> str:
        assert self.path.startswith("/v1/"), self.path
        return self.path.removeprefix("/v1/")

    def _route(self, method: str) -> str:
        """The discovery method this HTTP method and path are (v1/{+name}... templates)."""
        name = self._name()
        for key, spec in METHODS.items():
            template = spec["path"].removeprefix("v1/")
            if spec["httpMethod"] != method:
                continue
            if template == "{+name}/releases" and name.endswith("/releases"):
                return key
            if template == "{+name}" and "/releases/" in name:
                return key
        raise AssertionError(f"no Rules API method is {method} {self.path}")

    def do_GET(self) -> None:
        assert self._route("GET") == "get"
        self.server.authorization.append(self.headers.get("Authorization") or "")
        self.server.log.append(("get", self._name()))
        found = self.server.releases.get(self._name())
        if found is None:
            self._error(404, "NOT_FOUND", f"Requested entity was not found: {self._name()}")
        else:
            self._send(200, found)

    def do_POST(self) -> None:
        assert self._route("POST") == "create"
        body = self._body("Release")
        self.server.log.append(("create", body["name"]))
        assert body["name"].startswith(self._name().removesuffix("/releases") + "/releases/")
        if body["name"] in self.server.releases:
            self._error(409, "ALREADY_EXISTS", f"Resource already exists: {body['name']}")
            return
        release = {
            **body,
            "createTime": "2026-12-01T00:00:00Z",
            "updateTime": "2026-12-01T00:00:00Z",
        }
        self.server.releases[body["name"]] = release
        self._send(200, release)

    def do_PATCH(self) -> None:
        assert self._route("PATCH") == "patch"
        body = self._body("UpdateReleaseRequest")
        release = body["release"]
        assert set(release) <= set(SCHEMAS["Release"]["properties"])
        name = self._name()
        self.server.log.append(("patch", name))
        if name not in self.server.releases:
            self._error(404, "NOT_FOUND", f"Requested entity was not found: {name}")
            return
        assert release["name"] == name
        updated = {**self.server.releases[name], **release, "updateTime": "2026-12-02T00:00:00Z"}
        self.server.releases[name] = updated
        self._send(200, updated)

    def do_DELETE(self) -> None:
        assert self._route("DELETE") == "delete"
        name = self._name()
        self.server.log.append(("delete", name))
        if self.server.releases.pop(name, None) is None:
            self._error(404, "NOT_FOUND", name)
        else:
            self._send(200, {})


@pytest.fixture
def server() -> Iterator[RulesServer]:
    httpd = RulesServer(("127.0.0.1", 0), Handler)
    httpd.releases, httpd.log, httpd.authorization = {}, [], []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def endpoint(server: RulesServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/v1"


def anonymous(monkeypatch: pytest.MonkeyPatch) -> None:
    """Application Default Credentials that need no token (the local server checks none)."""
    monkeypatch.setattr(google.auth, "default", lambda scopes=None: (AnonymousCredentials(), None))


def api(server: RulesServer) -> RulesApi:
    return RulesApi(requests.Session(), endpoint(server))


def test_the_first_deployment_creates_the_release(server: RulesServer) -> None:
    live = apply_release(api(server), PROJECT, "cloud.firestore", NEW)
    assert live["rulesetName"] == NEW
    assert server.log == [("get", RELEASE), ("create", RELEASE)]


def test_a_release_made_in_the_console_is_switched_not_recreated(server: RulesServer) -> None:
    """No `pulumi import`: an existing cloud.firestore release is patched in place."""
    server.releases[RELEASE] = {"name": RELEASE, "rulesetName": OLD}
    live = apply_release(api(server), PROJECT, "cloud.firestore", NEW)
    assert live["rulesetName"] == NEW
    assert server.log == [("get", RELEASE), ("patch", RELEASE)]


def test_a_rules_change_never_leaves_the_release_missing(
    server: RulesServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine's create then update, as `pulumi up` runs them: no delete, ever."""
    anonymous(monkeypatch)
    provider = RulesReleaseProvider()
    props = {
        "project": PROJECT,
        "release": "cloud.firestore",
        "rulesetName": OLD,
        "deleteOnDestroy": False,
        "quotaProject": "",
        "endpoint": endpoint(server),
    }
    created = provider.create(props)
    assert created.id == RELEASE
    new_props = {**props, "rulesetName": NEW}
    diff = provider.diff(created.id, created.outs, new_props)
    assert diff.changes is True and not diff.replaces, "a new ruleset is an update, not a replace"
    updated = provider.update(created.id, created.outs, new_props)
    assert updated.outs is not None and updated.outs["updateTime"] == "2026-12-02T00:00:00Z"
    assert server.releases[RELEASE]["rulesetName"] == NEW
    assert [method for method, _ in server.log] == ["get", "create", "get", "patch"]
    # A protected stack (production) never deletes the live rules, not even on destroy.
    provider.delete(created.id, new_props)
    assert RELEASE in server.releases
    assert "delete" not in [method for method, _ in server.log]


def test_a_staging_teardown_deletes_the_release_so_the_ruleset_can_go(
    server: RulesServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    anonymous(monkeypatch)
    server.releases[RELEASE] = {"name": RELEASE, "rulesetName": NEW}
    props = {
        "project": PROJECT,
        "release": "cloud.firestore",
        "rulesetName": NEW,
        "deleteOnDestroy": True,
        "quotaProject": "",
        "endpoint": endpoint(server),
    }
    RulesReleaseProvider().delete(RELEASE, props)
    assert server.log == [("delete", RELEASE)]
    assert RELEASE not in server.releases


def test_an_unchanged_release_is_left_alone(server: RulesServer) -> None:
    server.releases[RELEASE] = {"name": RELEASE, "rulesetName": NEW}
    apply_release(api(server), PROJECT, "cloud.firestore", NEW)
    assert server.log == [("get", RELEASE)]


def test_a_named_databases_release_keeps_its_slash(server: RulesServer) -> None:
    name = f"projects/{PROJECT}/releases/cloud.firestore/reports"
    apply_release(api(server), PROJECT, "cloud.firestore/reports", NEW)
    assert server.log == [("get", name), ("create", name)]


def test_a_refusal_is_one_line_naming_the_call(server: RulesServer) -> None:
    class Refusing(requests.Session):
        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            response = requests.Response()
            response.status_code = 403
            response._content = json.dumps(
                {"error": {"code": 403, "message": "The caller does not have permission"}}
            ).encode()
            return response

    with pytest.raises(RulesApiError) as caught:
        apply_release(RulesApi(Refusing(), endpoint(server)), PROJECT, "cloud.firestore", NEW)
    assert str(caught.value) == (
        f"Firebase Rules API GET {RELEASE}: HTTP 403: The caller does not have permission"
    )


# -- drift: the live release switched or deleted outside Pulumi ---------------------------------
def props_for(server: RulesServer, ruleset: str) -> dict[str, Any]:
    return {
        "project": PROJECT,
        "release": "cloud.firestore",
        "rulesetName": ruleset,
        "deleteOnDestroy": False,
        "quotaProject": "",
        "endpoint": endpoint(server),
        "updateTime": "2026-12-01T00:00:00Z",
    }


def test_a_release_switched_by_hand_is_switched_back_by_the_next_up(
    server: RulesServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`firebase deploy` (or the console) points the release at another ruleset; state and
    program still say NEW. CI runs `pulumi up` without refresh: the diff must see it."""
    anonymous(monkeypatch)
    server.releases[RELEASE] = {"name": RELEASE, "rulesetName": OLD}
    state = props_for(server, NEW)
    provider = RulesReleaseProvider()
    diff = provider.diff(RELEASE, state, dict(state))
    assert diff.changes is True and not diff.replaces, "drift is an in-place update"
    provider.update(RELEASE, state, dict(state))
    assert server.releases[RELEASE]["rulesetName"] == NEW
    assert [method for method, _ in server.log] == ["get", "get", "patch"]


def test_a_release_deleted_by_hand_is_created_by_the_next_up(
    server: RulesServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    anonymous(monkeypatch)
    state = props_for(server, NEW)
    provider = RulesReleaseProvider()
    assert provider.diff(RELEASE, state, dict(state)).changes is True
    provider.update(RELEASE, state, dict(state))
    assert server.releases[RELEASE]["rulesetName"] == NEW


def test_a_live_release_that_matches_is_no_change(
    server: RulesServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    anonymous(monkeypatch)
    server.releases[RELEASE] = {"name": RELEASE, "rulesetName": NEW}
    state = props_for(server, NEW)
    assert RulesReleaseProvider().diff(RELEASE, state, dict(state)).changes is False
    assert server.log == [("get", RELEASE)]


def test_refresh_reads_the_live_ruleset_or_reports_the_release_gone(
    server: RulesServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    anonymous(monkeypatch)
    server.releases[RELEASE] = {"name": RELEASE, "rulesetName": OLD, "updateTime": "t2"}
    state = props_for(server, NEW)
    read = RulesReleaseProvider().read(RELEASE, state)
    assert read.id == RELEASE and read.outs is not None
    assert read.outs["rulesetName"] == OLD and read.outs["updateTime"] == "t2"
    del server.releases[RELEASE]
    assert RulesReleaseProvider().read(RELEASE, state).id == ""


def test_a_release_deleted_during_the_update_says_what_to_do(server: RulesServer) -> None:
    class DeletesAfterGet(requests.Session):
        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            answer = super().request(method, url, *args, **kwargs)
            if method == "GET":
                server.releases.pop(RELEASE, None)
            return answer

    server.releases[RELEASE] = {"name": RELEASE, "rulesetName": OLD}
    with pytest.raises(RulesApiError) as caught:
        apply_release(
            RulesApi(DeletesAfterGet(), endpoint(server)), PROJECT, "cloud.firestore", NEW
        )
    assert str(caught.value) == (
        f"Firebase Rules API PATCH {RELEASE}: the release was deleted while this update ran; "
        "run `pulumi up` again: it will be created"
    )


# -- credentials: the gcp provider's settings, not only ADC -------------------------------------
def configured(config: dict[str, str]) -> RulesReleaseProvider:
    """A provider configured the way the engine does it (the whole stack configuration)."""
    provider = RulesReleaseProvider()
    provider.configure(ConfigureRequest(Config(config, "spendsense")))
    return provider


def no_adc(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(scopes: Any = None) -> Any:
        raise AssertionError("Application Default Credentials used instead of the stack's")

    monkeypatch.setattr(google.auth, "default", refuse)
    for variable in (
        "GOOGLE_OAUTH_ACCESS_TOKEN",
        "GOOGLE_CREDENTIALS",
        "GOOGLE_IMPERSONATE_SERVICE_ACCOUNT",
    ):
        monkeypatch.delenv(variable, raising=False)


def test_gcp_access_token_from_the_stack_config_is_used(
    server: RulesServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_adc(monkeypatch)
    server.releases[RELEASE] = {"name": RELEASE, "rulesetName": NEW}
    state = props_for(server, NEW)
    provider = configured({"gcp:accessToken": "token-from-stack-config"})
    assert provider.diff(RELEASE, state, dict(state)).changes is False
    assert server.authorization == ["Bearer token-from-stack-config"]


def test_gcp_credentials_contents_from_the_stack_config_are_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    no_adc(monkeypatch)
    info = {
        "type": "authorized_user",
        "client_id": "client.apps.example",
        "client_secret": "not-a-secret",
        "refresh_token": "refresh-from-stack-config",
    }
    credentials = gcp_credentials({"credentials": json.dumps(info)})
    assert isinstance(credentials, user_credentials.Credentials)
    assert credentials.refresh_token == "refresh-from-stack-config"


def test_gcp_impersonation_from_the_stack_config_wraps_the_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    no_adc(monkeypatch)
    account = "deploy@spendsense-production.iam.gserviceaccount.com"
    provider = configured({"gcp:accessToken": "t", "gcp:impersonateServiceAccount": account})
    assert provider._settings == {"accessToken": "t", "impersonateServiceAccount": account}
    credentials = gcp_credentials(provider._settings)
    assert isinstance(credentials, impersonated_credentials.Credentials)
    assert credentials.service_account_email == account
