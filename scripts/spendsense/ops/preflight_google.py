"""Preflight on Google Cloud: credentials, APIs, billing, Firebase, the test project, imports.

REST calls (all reads; shapes from Google's discovery documents):
- Cloud Resource Manager v1 `GET /v1/projects/{id}` (projectNumber; `resourcemanager.projects.get`)
  on the stack's project and the test project, and `POST /v1/projects/{id}:getIamPolicy` on
  the test project (`resourcemanager.projects.getIamPolicy`) to see its Firestore service agent;
- Service Usage v1 `GET /v1/projects/{id}/services:batchGet?names=...`
  (`serviceusage.services.get`);
- Cloud Billing v1 `GET /v1/projects/{id}/billingInfo` (`billingEnabled`; needs
  `resourcemanager.projects.get`, per the method's documentation);
- Firebase Management v1beta1 `GET /v1beta1/projects/{id}` (`firebase.projects.get`);
- Firestore Admin v1 `GET /v1/projects/{id}/databases/{db}` (`datastore.databases.getMetadata`);
- Firebase Rules v1 `GET /v1/projects/{id}/releases/{name}` (`firebaserules.releases.get`).

A service agent (service-N@gcp-sa-firestore.iam.gserviceaccount.com) lives in a project of
Google's, so `iam.serviceAccounts.get` cannot read it from the test project; when Google
creates it, it grants it roles/firestore.serviceAgent on the project, which the project's IAM
policy shows. That binding is what this checks.

`SPENDSENSE_<API>_API` (e.g. SPENDSENSE_SERVICEUSAGE_API) points one API at another base URL
(tests); when every API is pointed at a loopback http:// URL, requests carry no credentials.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from spendsense.errors import one_line
from spendsense.ops.preflight import (
    DATABASE,
    DENIED,
    MISSING,
    OK,
    UNKNOWN,
    Check,
    StackState,
    blocked,
    existing_object,
)

ENDPOINTS = {
    "cloudresourcemanager": "https://cloudresourcemanager.googleapis.com",
    "serviceusage": "https://serviceusage.googleapis.com",
    "cloudbilling": "https://cloudbilling.googleapis.com",
    "firebase": "https://firebase.googleapis.com",
    "firestore": "https://firestore.googleapis.com",
    "firebaserules": "https://firebaserules.googleapis.com",
}
SCOPE = "https://www.googleapis.com/auth/cloud-platform"

# What the program creates, by pulumi-gcp module, and the API each one needs (a test runs the
# program under the mock runtime and checks that every gcp module it uses is listed here).
MODULE_APIS: dict[str, tuple[str, ...]] = {
    "firestore": ("firestore.googleapis.com",),
    "firebaserules": ("firebaserules.googleapis.com",),
    "monitoring": ("monitoring.googleapis.com",),
    "storage": ("storage.googleapis.com",),
    "serviceaccount": ("iam.googleapis.com",),
    "projects": ("cloudresourcemanager.googleapis.com", "serviceusage.googleapis.com"),
    "organizations": ("cloudresourcemanager.googleapis.com",),  # get_project lookups
    "workflows": ("workflows.googleapis.com",),
    # The scheduler job posts to workflowexecutions.googleapis.com (backups.py).
    "cloudscheduler": ("cloudscheduler.googleapis.com", "workflowexecutions.googleapis.com"),
}
# Not created by the program but needed all the same: Firebase (the rules' custom claims come
# from Firebase Auth), Cloud Billing (billing is checked and exports need it).
EXTRA_APIS = ("firebase.googleapis.com", "cloudbilling.googleapis.com")
REQUIRED_APIS = tuple(
    sorted({api for apis in MODULE_APIS.values() for api in apis} | set(EXTRA_APIS))
)
# The restore drill imports into the test project: Firestore there, and its service agent.
TEST_PROJECT_APIS = ("firestore.googleapis.com",)
AGENT_ROLE = "roles/firestore.serviceAgent"


def endpoint(api: str) -> str:
    return (os.environ.get(f"SPENDSENSE_{api.upper()}_API") or ENDPOINTS[api]).rstrip("/")


def _all_local() -> bool:
    for api in ENDPOINTS:
        parts = urlsplit(endpoint(api))
        if parts.scheme != "http" or parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
            return False
    return True


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no answer
    body: Any
    reason: str = ""  # google.rpc.ErrorInfo reason, e.g. SERVICE_DISABLED
    message: str = ""
    consumer: str = ""  # ErrorInfo metadata.consumer ("projects/123")


class Google:
    """An authorised session and the one request function the checks use."""

    def __init__(self, session: Any, timeout: float = 30.0) -> None:
        self.session = session
        self.timeout = timeout

    def request(self, method: str, api: str, path: str, body: Any = None) -> Answer:
        url = f"{endpoint(api)}/{path}"
        try:
            response = self.session.request(method, url, json=body, timeout=self.timeout)
        except (requests.RequestException, OSError) as exc:
            return Answer(0, None, message=one_line(exc))
        except Exception as exc:  # google.auth.exceptions.RefreshError and friends
            return Answer(0, None, message=f"{type(exc).__name__}: {str(exc)[:200]}")
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.ok:
            return Answer(response.status_code, data)
        error = data.get("error") if isinstance(data, dict) else None
        error = error if isinstance(error, dict) else {}
        reason = consumer = ""
        for detail in error.get("details") or []:
            if isinstance(detail, dict) and detail.get("reason"):
                reason = str(detail["reason"])
                consumer = str((detail.get("metadata") or {}).get("consumer") or "")
        message = " ".join(str(error.get("message") or response.reason or "").split())[:200]
        return Answer(response.status_code, data, reason, message, consumer)


def _trouble(check_id: str, answer: Answer, api: str, grant: str) -> Check:
    """The check for an answer that is neither a success nor the expected 404."""
    service = f"{api}.googleapis.com"
    if answer.status == 0:
        return Check(check_id, UNKNOWN, f"no answer from {service} ({answer.message})", "try again")
    if answer.reason == "SERVICE_DISABLED":
        where = answer.consumer.removeprefix("projects/") or "the project your credentials use"
        return Check(
            check_id,
            MISSING,
            f"the {service} API is disabled on project {where}, which these calls are billed to",
            f"gcloud services enable {service} --project {where}",
        )
    if answer.status in (401, 403):
        return Check(
            check_id,
            DENIED,
            f"{service} refused ({answer.status}: {answer.message})",
            f"grant {grant} to this identity (CI: infra/ci_trust)",
        )
    return Check(
        check_id,
        UNKNOWN,
        f"{service} answered HTTP {answer.status}: {answer.message}",
        "try again",
    )


def credentials_check() -> tuple[Check, Google | None]:
    """Application Default Credentials, and a quota project for user credentials."""
    if _all_local():
        return Check("gcp.credentials", OK, "local endpoints: no credentials sent"), Google(
            requests.Session()
        )
    try:
        import google.auth
        from google.auth.transport.requests import AuthorizedSession

        credentials, _ = google.auth.default(scopes=[SCOPE])
    except Exception as exc:  # DefaultCredentialsError and friends
        return (
            Check(
                "gcp.credentials",
                MISSING,
                f"no Google credentials ({type(exc).__name__})",
                "gcloud auth application-default login (or set GOOGLE_APPLICATION_CREDENTIALS; "
                "in CI: the google-github-actions/auth step)",
            ),
            None,
        )
    kind = type(credentials).__module__
    quota = getattr(credentials, "quota_project_id", None) or os.environ.get(
        "GOOGLE_CLOUD_QUOTA_PROJECT"
    )
    session = Google(AuthorizedSession(credentials))
    if kind.startswith("google.oauth2.credentials") and not quota:
        return (
            Check(
                "gcp.credentials",
                MISSING,
                "user credentials without a quota project: Google refuses many of the "
                "program's API calls made with them",
                "gcloud auth application-default set-quota-project PROJECT",
            ),
            session,
        )
    detail = f"Application Default Credentials ({type(credentials).__name__})"
    return Check(
        "gcp.credentials", OK, detail + (f", quota project {quota}" if quota else "")
    ), session


def project_check(google: Google, project: str, role: str) -> tuple[Check, str | None]:
    """(the check, the project number or None)."""
    check_id = f"gcp.project[{project}]"
    answer = google.request("GET", "cloudresourcemanager", f"v1/projects/{quote(project)}")
    if answer.status == 200 and isinstance(answer.body, dict):
        number = str(answer.body.get("projectNumber") or "")
        state = answer.body.get("lifecycleState")
        if state and state != "ACTIVE":
            return (
                Check(
                    check_id,
                    MISSING,
                    f"{role} {project} is {state}",
                    f"gcloud projects undelete {project}",
                ),
                None,
            )
        return Check(check_id, OK, f"{role} {project} exists (number {number})"), number or None
    if answer.status in (403, 404) and answer.reason != "SERVICE_DISABLED":
        # Resource Manager answers 403 both for a project that does not exist and for one the
        # caller may not see.
        return (
            Check(
                check_id,
                MISSING,
                f"{role} {project} does not exist or this identity may not see it "
                f"(HTTP {answer.status})",
                f"create it (gcloud projects create {project}) or grant this identity "
                "roles/browser on it",
            ),
            None,
        )
    return _trouble(check_id, answer, "cloudresourcemanager", "resourcemanager.projects.get"), None


def apis_check(
    google: Google, project: str, required: tuple[str, ...], number: str | None = None
) -> Check:
    """Service Usage names projects by number in its examples ("projects/123"); the id is
    the fallback when Resource Manager did not give the number."""
    check_id = f"gcp.apis[{project}]"
    parent = f"projects/{quote(number or project)}"
    names = "&".join(f"names={parent}/services/{api}" for api in required)
    answer = google.request("GET", "serviceusage", f"v1/{parent}/services:batchGet?{names}")
    if answer.status != 200 or not isinstance(answer.body, dict):
        return _trouble(check_id, answer, "serviceusage", "serviceusage.services.get")
    enabled = {
        str(service.get("name", "")).rsplit("/", 1)[-1]
        for service in answer.body.get("services") or []
        if isinstance(service, dict) and service.get("state") == "ENABLED"
    }
    missing = [api for api in required if api not in enabled]
    if missing:
        return Check(
            check_id,
            MISSING,
            f"{len(missing)} of {len(required)} required APIs not enabled: {', '.join(missing)}",
            f"gcloud services enable {' '.join(missing)} --project {project}",
        )
    listed = f"all {len(required)} required APIs" if len(required) > 3 else ", ".join(required)
    return Check(check_id, OK, f"{listed} enabled")


def billing_check(google: Google, project: str) -> Check:
    check_id = f"gcp.billing[{project}]"
    answer = google.request("GET", "cloudbilling", f"v1/projects/{quote(project)}/billingInfo")
    if answer.status != 200 or not isinstance(answer.body, dict):
        return _trouble(check_id, answer, "cloudbilling", "resourcemanager.projects.get")
    if answer.body.get("billingEnabled") is True:
        account = answer.body.get("billingAccountName") or "an account"
        return Check(check_id, OK, f"billing enabled ({account})")
    return Check(
        check_id,
        MISSING,
        "billing is not enabled (Firestore exports and imports need it)",
        f"gcloud billing projects link {project} --billing-account=ACCOUNT_ID",
    )


def firebase_check(google: Google, project: str) -> Check:
    check_id = f"gcp.firebase[{project}]"
    answer = google.request("GET", "firebase", f"v1beta1/projects/{quote(project)}")
    if answer.status == 200:
        return Check(check_id, OK, "Firebase is on")
    if answer.status == 404:
        return Check(
            check_id,
            MISSING,
            "Firebase is not added to the project (the rules' custom claims come from "
            "Firebase Auth)",
            f"firebase projects:addfirebase {project} (or the Firebase console: Add project, "
            "choose this Google Cloud project)",
        )
    return _trouble(check_id, answer, "firebase", "firebase.projects.get (roles/firebase.viewer)")


def _existing(
    google: Google,
    check_id: str,
    api: str,
    path: str,
    what: str,
    target: Any,
    resource_id: str,
    stack: str,
    state: StackState | None,
    grant: str,
) -> Check:
    answer = google.request("GET", api, path)
    if answer.status == 404:
        return Check(check_id, OK, f"{what} does not exist: `pulumi up` creates it")
    if answer.status == 200:
        return existing_object(check_id, what, target, resource_id, stack, state)
    return _trouble(check_id, answer, api, grant)


def database_check(
    google: Google, project: str, database: str, stack: str, state: StackState | None
) -> Check:
    resource_id = f"projects/{project}/databases/{database}"
    return _existing(
        google,
        f"gcp.database[{project}]",
        "firestore",
        f"v1/projects/{quote(project)}/databases/{quote(database, safe='()')}",
        f"Firestore database {database}",
        DATABASE,
        resource_id,
        stack,
        state,
        "datastore.databases.getMetadata",
    )


def release_name(database: str) -> str:
    """As infra.components.firestore.release_name (a test checks they agree)."""
    return "cloud.firestore" if database == "(default)" else f"cloud.firestore/{database}"


def release_check(google: Google, project: str, database: str) -> Check:
    """The rules release needs no import: the program's RulesRelease (a dynamic resource,
    infra/components/rules_release.py) takes over an existing release and switches it to the
    new ruleset in place. The read still shows that the deploy identity can see it."""
    name = release_name(database)
    check_id = f"gcp.rules_release[{project}]"
    answer = google.request(
        "GET",
        "firebaserules",
        f"v1/projects/{quote(project)}/releases/{quote(name, safe='/.')}",
    )
    if answer.status == 404:
        return Check(check_id, OK, f"rules release {name} does not exist: `pulumi up` creates it")
    if answer.status == 200:
        return Check(
            check_id,
            OK,
            f"rules release {name} exists: `pulumi up` takes it over and switches it to the "
            "stack's ruleset in place (no import needed)",
        )
    return _trouble(check_id, answer, "firebaserules", "firebaserules.releases.get")


def agent_check(google: Google, project: str, number: str) -> Check:
    check_id = f"gcp.firestore_agent[{project}]"
    agent = f"service-{number}@gcp-sa-firestore.iam.gserviceaccount.com"
    answer = google.request(
        "POST",
        "cloudresourcemanager",
        f"v1/projects/{quote(project)}:getIamPolicy",
        {"options": {"requestedPolicyVersion": 3}},
    )
    if answer.status != 200 or not isinstance(answer.body, dict):
        return _trouble(
            check_id, answer, "cloudresourcemanager", "resourcemanager.projects.getIamPolicy"
        )
    members = {
        str(member)
        for binding in answer.body.get("bindings") or []
        if isinstance(binding, dict)
        for member in binding.get("members") or []
    }
    if f"serviceAccount:{agent}" in members:
        return Check(check_id, OK, f"Firestore service agent {agent} exists")
    # The program creates the agent (gcp.projects.ServiceIdentity in infra/components/backups.py)
    # before the bucket binding that names it, so its absence is no failure.
    return Check(
        check_id,
        OK,
        f"Firestore service agent {agent} does not exist yet: `pulumi up` creates it "
        "(services.generateServiceIdentity) before the backup bucket's binding names it",
    )


def check_google(
    project: str,
    test_project: str | None,
    database: str,
    stack: str,
    state: StackState | None,
) -> list[Check]:
    credentials, google = credentials_check()
    ids = [
        f"gcp.project[{project}]",
        f"gcp.apis[{project}]",
        f"gcp.billing[{project}]",
        f"gcp.firebase[{project}]",
        f"gcp.database[{project}]",
        f"gcp.rules_release[{project}]",
    ]
    if test_project:
        ids += [
            f"gcp.project[{test_project}]",
            f"gcp.apis[{test_project}]",
            f"gcp.billing[{test_project}]",
            f"gcp.firestore_agent[{test_project}]",
        ]
    if google is None:
        return [credentials, *(blocked(check_id, "gcp.credentials") for check_id in ids)]
    found, number = project_check(google, project, "project")
    checks = [credentials, found]
    checks += [
        apis_check(google, project, REQUIRED_APIS, number),
        billing_check(google, project),
        firebase_check(google, project),
        database_check(google, project, database, stack, state),
        release_check(google, project, database),
    ]
    if test_project:
        test, number = project_check(google, test_project, "test project (backup.testProject)")
        checks.append(test)
        if number is None:
            checks += [blocked(i, f"gcp.project[{test_project}]") for i in ids[-3:]]
        else:
            checks += [
                apis_check(google, test_project, TEST_PROJECT_APIS, number),
                billing_check(google, test_project),
                agent_check(google, test_project, number),
            ]
    return checks
