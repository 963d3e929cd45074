"""A pytest plugin that records every cloud API call the `spendsense` code makes during a run.

Loaded with `-p tests.ci.call_recorder` (tests/ci/test_ci_calls.py runs the commands' own
tests under it). AWS: it wraps botocore's `BaseClient._make_api_call`, the one method every
client operation goes through (before botocore's `before-call` handlers, so calls a Stubber
answers or an error ends are recorded too); a call counts only when a frame of
`scripts/spendsense/` is on the stack, so the tests' own set-up calls (creating the moto
repository, pushing images) are not the command's. Google: it wraps
`spendsense.ops.preflight_google.Google.request`, through which every preflight REST call goes
(with the project number a Resource Manager lookup answered, to name projects by id), and
`requests.Session.request` for the calls to Cloud Monitoring's REST API (`status`'s Firestore
usage, `security report`'s rules denials: monitoring.googleapis.com, or the local server
SPENDSENSE_MONITORING_API names in tests). At the end of the session the calls go, as JSON
lines, to the file named by SPENDSENSE_CALL_LOG.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

CODE = str(Path(__file__).resolve().parents[2] / "scripts" / "spendsense") + os.sep
# Request parameters that name the resource a call acts on (ECR, App Runner, S3, Logs).
RESOURCE_PARAMS = (
    "repositoryName",
    "repositoryNames",
    "ServiceArn",
    "Bucket",
    "Key",
    "Prefix",
    "logGroupName",
    "queryId",
)
MONITORING_API = "https://monitoring.googleapis.com"
_calls: list[dict[str, Any]] = []
_test = {"file": ""}  # the test file running now: which command's tests made the call


def pytest_runtest_setup(item: Any) -> None:
    _test["file"] = item.nodeid.split("::", 1)[0]


def _caller() -> str | None:
    """The innermost frame in scripts/spendsense (path relative to the repository), if any."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(CODE):
            return "scripts/spendsense/" + filename[len(CODE) :].replace(os.sep, "/")
        frame = frame.f_back  # type: ignore[assignment]
    return None


def pytest_configure(config: Any) -> None:
    from botocore.client import BaseClient

    original = BaseClient._make_api_call

    def recording(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        caller = _caller()
        if caller is None:
            return original(self, operation_name, api_params)
        model = self.meta.service_model
        entry = {
            "kind": "aws",
            "test": _test["file"],
            "service": model.service_name,
            "signing_name": model.signing_name,
            "operation": operation_name,
            "region": self.meta.region_name,
            "params": {k: api_params[k] for k in RESOURCE_PARAMS if k in api_params},
            "caller": caller,
        }
        _calls.append(entry)
        answer = original(self, operation_name, api_params)
        if isinstance(answer, dict) and "queryId" in answer:
            # StartQuery: which query later GetQueryResults calls read (test_ci_calls.py
            # authorizes those on the query's log group, as the reference scopes them).
            entry["params"]["queryId"] = answer["queryId"]
        return answer

    BaseClient._make_api_call = recording  # type: ignore[method-assign]
    _record_google()
    _record_monitoring()


def _record_google() -> None:
    from spendsense.ops import preflight_google

    original = preflight_google.Google.request

    def recording(
        self: Any, method: str, api: str, path: str, body: Any = None
    ) -> preflight_google.Answer:
        answer = original(self, method, api, path, body)
        entry = {
            "kind": "gcp",
            "test": _test["file"],
            "api": api,
            "method": method,
            "path": path.split("?", 1)[0],
        }
        if api == "cloudresourcemanager" and method == "GET" and isinstance(answer.body, dict):
            entry["number"] = str(answer.body.get("projectNumber") or "")
        _calls.append(entry)
        return answer

    preflight_google.Google.request = recording  # type: ignore[method-assign]


def _record_monitoring() -> None:
    import requests

    original = requests.Session.request

    def recording(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        base = (os.environ.get("SPENDSENSE_MONITORING_API") or MONITORING_API).rstrip("/") + "/"
        caller = _caller()
        # Monitoring API v3 only (a test's token endpoint on the same local server is not).
        if caller is not None and str(url).startswith(base + "v3/"):
            _calls.append(
                {
                    "kind": "gcp",
                    "test": _test["file"],
                    "api": "monitoring",
                    "method": method.upper(),
                    "path": str(url)[len(base) :].split("?", 1)[0],
                    "caller": caller,
                }
            )
        return original(self, method, url, *args, **kwargs)

    requests.Session.request = recording  # type: ignore[method-assign]


def pytest_unconfigure(config: Any) -> None:
    target = os.environ.get("SPENDSENSE_CALL_LOG")
    if target:
        Path(target).write_text("".join(json.dumps(c) + "\n" for c in _calls), encoding="utf-8")
