"""Point the live `cloud.firestore` rules release at a ruleset, in place (UpdateRelease).

Why not `gcp.firebaserules.Release`: in terraform-provider-google(-beta) 7.x, which pulumi-gcp
bundles, `ruleset_name` is `ForceNew` and the resource's Update only stores `deletion_policy`
(https://github.com/hashicorp/terraform-provider-google-beta/blob/main/google-beta/services/firebaserules/resource_firebaserules_release.go);
its Create applies with the DCL's CreateDirective, which refuses a release that already exists
("Resource already exists - apply blocked by lifecycle params",
https://github.com/hashicorp/terraform-provider-google/issues/20917). So every rules change is a
replacement: with `deletion_policy = ABANDON` the old release leaves the state, then the create
fails because the release still exists, and the old rules stay live
(https://github.com/hashicorp/terraform-provider-google/issues/25823).

This dynamic resource does what `firebase deploy --only firestore:rules` does: it reads the
release (`projects.releases.get`), creates it only when it does not exist
(`projects.releases.create`) and otherwise switches it to the new ruleset with one
`projects.releases.patch` (UpdateRelease). The release is never deleted on a rules change, so
there is no moment without rules, and a release made earlier in the console is simply taken
over (no `pulumi import`). It is deleted only when the stack says so (`deleteOnDestroy`, set
when `protectStatefulResources` is off, so a staging `pulumi destroy` can then delete the
ruleset). Methods and bodies follow the Rules API's discovery document
(https://firebaserules.googleapis.com/$discovery/rest?version=v1).

Drift: `pulumi up` in CI runs without `--refresh`, and the engine's Diff compares the stack's
state with the program only. So `diff` also GETs the live release whenever state and program
agree, and reports a change when someone switched it to another ruleset (the console,
`firebase deploy`) or deleted it: the update then switches it back in place (or creates it).
`read` serves `pulumi refresh`. Contract: pulumi.dynamic.ResourceProvider.diff returns a
DiffResult whose `changes=True` with no `replaces` makes the engine call `update`; `read`
returns a ReadResult whose empty id means "gone"
(https://github.com/pulumi/pulumi/blob/master/sdk/python/lib/pulumi/dynamic/dynamic.py and
.../dynamic/__main__.py, Diff and Read).

Credentials, as the gcp provider takes them: `gcp:accessToken` (else GOOGLE_OAUTH_ACCESS_TOKEN),
else `gcp:credentials` (a key file's path or contents; else GOOGLE_CREDENTIALS), else
Application Default Credentials; then `gcp:impersonateServiceAccount` (else
GOOGLE_IMPERSONATE_SERVICE_ACCOUNT) on top
(https://www.pulumi.com/registry/packages/gcp/installation-configuration/). A dynamic provider
receives the whole stack configuration in `configure`
(https://github.com/pulumi/pulumi/pull/17673), so nothing of it is stored in the state. User
credentials need a quota project (Rules API calls with end-user credentials are refused
without one): the stack's `gcp:billingProject`, else the credentials' own, else the target
project.

DO NOT MOVE OR RENAME this module or `RulesReleaseProvider`: every stack's state stores the
provider pickled by reference to `infra.components.rules_release.RulesReleaseProvider` (dill,
pulumi.dynamic.dynamic.serialize_provider), and the engine unpickles that state's copy for
every later update, refresh and destroy. tests/infra/test_rules_release_state.py holds the
pickle existing stacks hold.
"""

from __future__ import annotations

import json
import os
from typing import Any, Protocol

import pulumi
from pulumi.dynamic import (
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

RULES_API = "https://firebaserules.googleapis.com/v1"
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)


class RulesApiError(Exception):
    """The Rules API refused a call (one line: method, name, status and message)."""


class _Response(Protocol):
    status_code: int
    text: str

    def json(self) -> Any: ...


class _Session(Protocol):
    def request(self, method: str, url: str, **kwargs: Any) -> _Response: ...


class RulesApi:
    """The three release calls this resource makes (and delete, for a staging teardown)."""

    def __init__(self, session: _Session, endpoint: str = RULES_API) -> None:
        self._session = session
        self._endpoint = endpoint.rstrip("/")

    def _call(self, method: str, name: str, body: dict[str, Any] | None = None) -> Any:
        response = self._session.request(method, f"{self._endpoint}/{name}", json=body, timeout=60)
        if response.status_code == 404:
            return None
        if response.status_code >= 300:
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:200]
            raise RulesApiError(
                f"Firebase Rules API {method} {name}: HTTP {response.status_code}: {message}"
            )
        return response.json() if response.text else {}

    def get_release(self, release: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._call("GET", release)
        return found

    def create_release(self, project: str, release: str, ruleset: str) -> dict[str, Any]:
        created: dict[str, Any] = self._call(
            "POST", f"projects/{project}/releases", {"name": release, "rulesetName": ruleset}
        )
        return created

    def update_release(self, release: str, ruleset: str) -> dict[str, Any] | None:
        # UpdateReleaseRequest, as the Firebase CLI sends it (no updateMask: name and
        # rulesetName are the only fields a release has).
        body = {"release": {"name": release, "rulesetName": ruleset}}
        updated: dict[str, Any] | None = self._call("PATCH", release, body)
        return updated

    def delete_release(self, release: str) -> None:
        self._call("DELETE", release)


def release_path(project: str, release: str) -> str:
    """`projects/<project>/releases/<release>` (release ids may contain `/`)."""
    return f"projects/{project}/releases/{release}"


def apply_release(api: RulesApi, project: str, release: str, ruleset: str) -> dict[str, Any]:
    """Make `release` serve `ruleset`: patch it when it exists, create it only when it does not.

    Never deletes: a release that exists keeps serving its old ruleset until the patch
    switches it, in one call.
    """
    name = release_path(project, release)
    current = api.get_release(name)
    if current is None:
        try:
            return api.create_release(project, name, ruleset)
        except RulesApiError as exc:
            if "HTTP 409" not in str(exc):
                raise
            # Someone (the console, the Firebase CLI) created it in between: take it over.
            current = {}
    if current and current.get("rulesetName") == ruleset:
        return current
    updated = api.update_release(name, ruleset)
    if updated is None:
        raise RulesApiError(
            f"Firebase Rules API PATCH {name}: the release was deleted while this update ran; "
            "run `pulumi up` again: it will be created"
        )
    return updated


# The gcp provider's settings this resource honours: (stack config key, environment variable).
GCP_SETTINGS = {
    "accessToken": ("gcp:accessToken", "GOOGLE_OAUTH_ACCESS_TOKEN"),
    "credentials": ("gcp:credentials", "GOOGLE_CREDENTIALS"),
    "impersonateServiceAccount": (
        "gcp:impersonateServiceAccount",
        "GOOGLE_IMPERSONATE_SERVICE_ACCOUNT",
    ),
}


def _from_info(info: dict[str, Any]) -> Any:
    """Credentials from a key file's contents, by its `type` (google-auth's typed loaders)."""
    import google.auth
    from google.oauth2 import credentials as user_credentials
    from google.oauth2 import service_account

    if info.get("type") == "service_account":
        return service_account.Credentials.from_service_account_info(info, scopes=list(SCOPES))
    if info.get("type") == "authorized_user":
        return user_credentials.Credentials.from_authorized_user_info(info, scopes=list(SCOPES))
    credentials, _ = google.auth.load_credentials_from_dict(info, scopes=list(SCOPES))
    return credentials


def gcp_credentials(settings: dict[str, str]) -> Any:
    """The credentials the gcp provider would use for these settings (see the module doc)."""
    import google.auth
    from google.auth import impersonated_credentials
    from google.oauth2 import credentials as user_credentials

    credentials: Any
    if settings.get("accessToken"):
        credentials = user_credentials.Credentials(token=settings["accessToken"])
    elif settings.get("credentials"):
        value = settings["credentials"]
        if not value.lstrip().startswith("{"):  # a path, as the gcp provider also accepts
            with open(value, encoding="utf-8") as key_file:
                value = key_file.read()
        credentials = _from_info(json.loads(value))
    else:
        credentials, _ = google.auth.default(scopes=list(SCOPES))
    if settings.get("impersonateServiceAccount"):
        credentials = impersonated_credentials.Credentials(
            source_credentials=credentials,
            target_principal=settings["impersonateServiceAccount"],
            target_scopes=list(SCOPES),
        )
    return credentials


def rules_session(props: dict[str, Any], settings: dict[str, str] | None = None) -> _Session:
    """An authorized requests session with the gcp provider's credentials."""
    from google.auth.transport.requests import AuthorizedSession

    credentials = gcp_credentials(settings or {})
    quota = props.get("quotaProject") or ""
    if hasattr(credentials, "with_quota_project"):
        if not quota and getattr(credentials, "quota_project_id", None) is None:
            # Only end-user credentials need one; a service account's own project is used.
            from google.oauth2 import credentials as user_credentials

            if isinstance(credentials, user_credentials.Credentials):
                quota = props["project"]
        if quota:
            credentials = credentials.with_quota_project(quota)
    return AuthorizedSession(credentials)


class RulesReleaseProvider(ResourceProvider):
    # Filled by `configure` in the engine's provider process; never pickled into the state
    # (the program pickles a fresh provider, with an empty instance dict).
    _settings: dict[str, str] | None = None

    def configure(self, req: ConfigureRequest) -> None:
        settings = {}
        for key, (config_key, variable) in GCP_SETTINGS.items():
            value = req.config.get(config_key) or os.environ.get(variable) or ""
            if value:
                settings[key] = str(value)
        self._settings = settings

    def _api(self, props: dict[str, Any]) -> RulesApi:
        if self._settings is None:  # not configured by an engine (tests): the environment only
            self._settings = {
                key: os.environ[variable]
                for key, (_, variable) in GCP_SETTINGS.items()
                if os.environ.get(variable)
            }
        return RulesApi(rules_session(props, self._settings), props.get("endpoint") or RULES_API)

    def _outs(self, props: dict[str, Any], live: dict[str, Any]) -> dict[str, Any]:
        return {**props, "updateTime": live.get("updateTime") or ""}

    def create(self, props: dict[str, Any]) -> CreateResult:
        live = apply_release(
            self._api(props), props["project"], props["release"], props["rulesetName"]
        )
        return CreateResult(
            id_=release_path(props["project"], props["release"]), outs=self._outs(props, live)
        )

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = ("project", "release", "rulesetName", "deleteOnDestroy", "quotaProject")
        changed = [k for k in keys if olds.get(k) != news.get(k)]
        if not changed:
            # State and program agree; the live release may not (switched or deleted by hand).
            live = self._api(news).get_release(release_path(news["project"], news["release"]))
            if live is None or live.get("rulesetName") != news["rulesetName"]:
                changed.append("rulesetName")
        # Another project or release is another object; a new ruleset is an in-place update.
        replaces: list[str] = [k for k in ("project", "release") if k in changed]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """`pulumi refresh`: the live ruleset, or gone (empty id) when the release was deleted."""
        live = self._api(props).get_release(id_)
        if live is None:
            return ReadResult("", {})
        outs = {**props, "rulesetName": live.get("rulesetName") or "", **self._outs({}, live)}
        return ReadResult(id_, outs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        live = apply_release(self._api(news), news["project"], news["release"], news["rulesetName"])
        return UpdateResult(outs=self._outs(news, live))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        # The live rules stay unless the stack is one that may be torn down (staging).
        if props.get("deleteOnDestroy"):
            self._api(props).delete_release(release_path(props["project"], props["release"]))


class RulesRelease(pulumi.dynamic.Resource):
    """The `cloud.firestore` release, switched to `ruleset_name` in place on every change."""

    # Outputs: the properties below, by their camelCase names (`release`, `rulesetName`).
    release: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        project: str,
        release: str,
        ruleset_name: pulumi.Input[str],
        delete_on_destroy: bool,
        quota_project: str = "",
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            RulesReleaseProvider(),
            name,
            {
                "project": project,
                "release": release,
                "rulesetName": ruleset_name,
                "deleteOnDestroy": delete_on_destroy,
                "quotaProject": quota_project,
                "endpoint": "",
                "updateTime": None,
            },
            opts,
        )
