"""Fixtures for the data and release commands (backup, restore, drill, rollback frontend,
rotate-jwt): real local HTTP servers, the GCS and Firestore emulators, and stack-output files.
Registered for tests/scripts by its conftest.py.

- `http_server`: a real HTTP server on loopback whose answers a test scripts per request
  (method and path), recording every request (query, headers, JSON body) for assertions.
- `gcs`: the GCS emulator from PyPI (gcp-storage-emulator), once per session, reached through
  STORAGE_EMULATOR_HOST like the CLI reaches it; each test gets a fresh bucket.
- `firestore_emulator`: Google's Firestore emulator (spendsense.firestore_emulator), once per
  session; tests use their own project ids so they do not see each other's data.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.stub import ANY

from tests.conftest import free_port

TOPIC = "arn:aws:sns:us-east-1:123456789012:spendsense-api-alerts"
STAGING_TOPIC = "arn:aws:sns:us-east-1:123456789012:spendsense-api-staging-alerts"

BASE_OUTPUTS: dict[str, Any] = {
    "region": "us-east-1",
    "api_service_arn": (
        "arn:aws:apprunner:us-east-1:123456789012:service/spendsense-api/"
        "8fe1e10304f84fd2b0df550fe98a71fa"
    ),
    "api_service_name": "spendsense-api",
    "api_url": "https://abc123.us-east-1.awsapprunner.com",
    "alarm_topic_arn": TOPIC,
    "jwt_secret_arn": "",
    "firestore_project": "spendsense-production",
    "firestore_database": "(default)",
    "backup_bucket": "spendsense-backups",
    "backup_prefix": "daily/",
    "backup_retention_days": 30,
    "vercel_project_id": "prj_spendsense_dashboard",
    "vercel_team_id": "team_spendsense",
    "frontend_url": "https://spendsense.vercel.app",
}


@pytest.fixture
def write_stack_outputs(tmp_path: Path) -> Callable[..., str]:
    """Write a stack-outputs JSON file (contract 3) and return its path; an override of None
    leaves that output out (an older outputs file)."""

    def write(stack: str = "staging", **overrides: Any) -> str:
        data = dict(BASE_OUTPUTS, environment=stack)
        if stack == "staging":
            data["firestore_project"] = "spendsense-staging"  # as Pulumi.staging.yaml says
        data.update(overrides)
        data = {key: value for key, value in data.items() if value is not None}
        path = tmp_path / f"outputs-{stack}-{uuid.uuid4().hex[:6]}.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        return str(path)

    return write


# --- a scripted HTTP server --------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


Answer = tuple[int, Any]  # (status, JSON body or None)
DROP: Answer = (0, None)  # close the connection without answering (a request lost on the way)


@dataclass
class ScriptedServer:
    url: str
    requests: list[Request] = field(default_factory=list)
    routes: dict[tuple[str, str], Callable[[Request], Answer] | list[Answer]] = field(
        default_factory=dict
    )

    def on(self, method: str, path: str, *answers: Answer | Callable[[Request], Answer]) -> None:
        """Answer `method path` with these answers in turn (the last one repeats), or call a
        function for each request."""
        if len(answers) == 1 and callable(answers[0]):
            self.routes[(method, path)] = answers[0]
        else:
            self.routes[(method, path)] = list(answers)  # type: ignore[arg-type]

    def answer(self, request: Request) -> Answer:
        route = self.routes.get((request.method, request.path))
        if route is None:
            return 404, {"error": {"code": "not_found", "message": f"no route {request.path}"}}
        if callable(route):
            return route(request)
        return route.pop(0) if len(route) > 1 else route[0]


@pytest.fixture
def http_server() -> Iterator[ScriptedServer]:
    port = free_port()
    server_state = ScriptedServer(url=f"http://127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            request = Request(
                self.command,
                parts.path,
                parse_qs(parts.query),
                {k.lower(): v for k, v in self.headers.items()},
                body,
            )
            server_state.requests.append(request)
            status, payload = server_state.answer(request)
            if (status, payload) == DROP:
                self.close_connection = True
                return
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- a bucket in the GCS emulator (tests/conftest.py starts it) ------------------------------


@dataclass
class Gcs:
    url: str
    bucket: str
    client: Any

    def put(self, name: str, data: bytes = b"x") -> None:
        self.client.bucket(self.bucket).blob(name).upload_from_string(data)

    def names(self, prefix: str = "") -> list[str]:
        return sorted(b.name for b in self.client.list_blobs(self.bucket, prefix=prefix))


@pytest.fixture
def gcs(gcs_server: str, monkeypatch: pytest.MonkeyPatch) -> Gcs:
    """A fresh bucket in the GCS emulator; STORAGE_EMULATOR_HOST points at it."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server)
    from spendsense.clients import storage_client

    client = storage_client("spendsense-production")
    name = f"backups-{uuid.uuid4().hex[:10]}"
    client.create_bucket(name)
    return Gcs(gcs_server, name, client)


# --- the Firestore emulator -----------------------------------------------------------------


def unique_project(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --- App Runner (botocore Stubber, checked against the API model) ---------------------------

SERVICE_ARN = BASE_OUTPUTS["api_service_arn"]


def service(status: str = "RUNNING") -> dict[str, Any]:
    """A DescribeService `Service` with every field the API model requires."""
    from datetime import UTC, datetime

    return {
        "ServiceName": "spendsense-api",
        "ServiceId": "8fe1e10304f84fd2b0df550fe98a71fa",
        "ServiceArn": SERVICE_ARN,
        "ServiceUrl": "abc123.us-east-1.awsapprunner.com",
        "CreatedAt": datetime(2026, 1, 1, tzinfo=UTC),
        "UpdatedAt": datetime(2026, 11, 1, tzinfo=UTC),
        "Status": status,
        "SourceConfiguration": {
            "ImageRepository": {
                "ImageIdentifier": (
                    "123456789012.dkr.ecr.us-east-1.amazonaws.com/spendsense-api:v42"
                ),
                "ImageRepositoryType": "ECR",
            }
        },
        "InstanceConfiguration": {"Cpu": "2048", "Memory": "4096"},
        "AutoScalingConfigurationSummary": {},
        "NetworkConfiguration": {},
    }


def operation_summary(operation_id: str, kind: str, status: str) -> dict[str, Any]:
    return {"Id": operation_id, "Type": kind, "Status": status, "TargetArn": SERVICE_ARN}


@pytest.fixture
def apprunner_stub() -> Iterator[Any]:
    """A real botocore App Runner client under ModelCheckedStubber; asserts every expected call
    was made."""
    from tests.apprunner_stub import ModelCheckedStubber, apprunner_client

    client = apprunner_client()
    stubber = ModelCheckedStubber(client)
    stubber.activate()
    yield stubber
    stubber.deactivate()


@pytest.fixture
def health_server(http_server: ScriptedServer) -> ScriptedServer:
    """The API's /health on a real local HTTP server, healthy unless a test says otherwise."""
    http_server.on(
        "GET",
        "/health",
        (200, {"status": "healthy", "database": "healthy", "api_version": "1.0.0"}),
    )
    return http_server


def lay_out_export(gcs: Gcs, folder: str, complete: bool = True, outputs: int = 2) -> None:
    """Objects named as a managed Firestore export writes them into `folder` (no trailing /):
    `<folder>/all_namespaces/all_kinds/{all_namespaces_all_kinds.export_metadata,output-N}`
    and, when complete, `<folder>/<name>.overall_export_metadata` (written last)."""
    name = folder.rsplit("/", 1)[-1]
    kinds = f"{folder}/all_namespaces/all_kinds"
    for index in range(outputs):
        gcs.put(f"{kinds}/output-{index}", b"\x00" * 100)
    gcs.put(f"{kinds}/all_namespaces_all_kinds.export_metadata", b"m" * 10)
    if complete:
        gcs.put(f"{folder}/{name}.overall_export_metadata", b"o" * 5)


# --- restore: the service's alarms in moto, and App Runner's pause and resume ---------------

PAUSE_OP = "11111111-2222-4333-8444-555555555555"
RESUME_OP = "66666666-7777-4888-9999-000000000000"
ALARMS = ["spendsense-api-5xx-rate", "spendsense-api-latency-p95"]


# Alarms a production restore must never silence: staging's (same name prefix, staging's
# topic), the frontend's availability alarms (the frontend is not paused), and another
# service's.
UNTOUCHED = {
    "other-service-cpu": TOPIC,
    "spendsense-api-staging-5xx-rate": STAGING_TOPIC,
    "spendsense-api-staging-availability-daily": STAGING_TOPIC,
    "spendsense-api-frontend-availability": TOPIC,
    "spendsense-api-frontend-availability-daily": TOPIC,
}


def put_alarm(client: Any, name: str, topic: str = TOPIC, enabled: bool = True) -> None:
    client.put_metric_alarm(
        AlarmName=name,
        MetricName="RequestLatency",
        Namespace="AWS/AppRunner",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=500,
        ComparisonOperator="GreaterThanThreshold",
        ActionsEnabled=enabled,
        AlarmActions=[topic],
    )


@pytest.fixture
def cloudwatch(aws_env: str) -> Any:
    """The service's alarms in moto (ALARMS, actions on, notifying TOPIC) and the UNTOUCHED
    ones, actions on too."""
    from spendsense.clients import make_client

    client = make_client("cloudwatch")
    for name in ALARMS:
        put_alarm(client, name)
    for name, topic in UNTOUCHED.items():
        put_alarm(client, name, topic)
    return client


def actions_enabled(cloudwatch: Any) -> dict[str, bool]:
    alarms = cloudwatch.describe_alarms()["MetricAlarms"]
    return {a["AlarmName"]: a["ActionsEnabled"] for a in alarms}


def silenced_state(*silenced: str) -> dict[str, bool]:
    """`actions_enabled` when exactly `silenced` are off: every other alarm is on."""
    return {**{name: True for name in [*ALARMS, *UNTOUCHED]}, **{n: False for n in silenced}}


# --- restore() called directly: an export, and the Admin API on a local server -----------------


def make_export(prefix: str = "daily/20261124_020000/", size: int = 0) -> Any:
    """An Export of the production bucket (not read: the tests pass the expected counts)."""
    from datetime import UTC

    from spendsense.ops.backups.layout import Export, parse_stamp

    moment = parse_stamp(prefix.rstrip("/").rsplit("/", 1)[-1].removeprefix("manual-"))
    assert moment is not None
    kind = "manual" if prefix.startswith("manual-") else "daily"
    return Export("spendsense-backups", prefix, kind, moment.astimezone(UTC), True, size, 4)


def run_restore(server_url: str, apprunner_client: Any, cloudwatch: Any, **overrides: Any) -> Any:
    """`restore()` of production's own database through the Admin API at `server_url` (no
    sleeping), with the stack's alarm topic; keyword arguments override any of it."""
    import requests
    from spendsense.ops.backups.listing import ExportContents
    from spendsense.ops.firestore.data import DataApi
    from spendsense.ops.firestore.managed import ManagedExportImport
    from spendsense.ops.restore import restore

    kwargs: dict[str, Any] = {
        "export": make_export(),
        "expected": ExportContents({}),
        "backend": ManagedExportImport(requests.Session(), server_url, poll=0),
        "data": DataApi(requests.Session(), server_url, "spendsense-production", "(default)"),
        "project": "spendsense-production",
        "database": "(default)",
        "own": True,
        "service_arn": SERVICE_ARN,
        "service_name": "spendsense-api",
        "alarm_topic_arn": TOPIC,
        "apprunner_client": apprunner_client,
        "cloudwatch": cloudwatch,
        "poll": 0,
        "sleep": lambda seconds: None,
    }
    kwargs.update(overrides)
    return restore(**kwargs)


PARAMS = {"ServiceArn": SERVICE_ARN}
LISTING = {"ServiceArn": SERVICE_ARN, "MaxResults": ANY}


def expect_pause(stubber: Any, before: str = "RUNNING", status: str = "SUCCEEDED") -> None:
    """DescribeService (`before`), PauseService, and the pause operation `status`."""
    stubber.add_response("describe_service", {"Service": service(before)}, PARAMS)
    stubber.add_response(
        "pause_service",
        {"Service": service("OPERATION_IN_PROGRESS"), "OperationId": PAUSE_OP},
        PARAMS,
    )
    stubber.add_response(
        "list_operations",
        {"OperationSummaryList": [operation_summary(PAUSE_OP, "PAUSE_SERVICE", status)]},
        LISTING,
    )


def expect_resume(stubber: Any, status: str = "SUCCEEDED") -> None:
    """DescribeService (PAUSED), ResumeService, and the resume operation `status`."""
    stubber.add_response("describe_service", {"Service": service("PAUSED")}, PARAMS)
    stubber.add_response(
        "resume_service",
        {"Service": service("OPERATION_IN_PROGRESS"), "OperationId": RESUME_OP},
        PARAMS,
    )
    stubber.add_response(
        "list_operations",
        {"OperationSummaryList": [operation_summary(RESUME_OP, "RESUME_SERVICE", status)]},
        LISTING,
    )


def expect_pause_and_resume(stubber: Any) -> None:
    expect_pause(stubber)
    expect_resume(stubber)
