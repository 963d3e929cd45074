"""Fixtures for the service commands (deploy, scale, health, status, logs, outputs): a real
local API server, outputs files, stubs. Registered for tests/scripts by its conftest.py.

- `api_server`: a real HTTP server on loopback (one per session) whose `/health` answer is
  chosen per test: healthy, unhealthy, slow, 500, invalid JSON; `refused_url` has nobody
  listening.
- `raw_server`: a socket-level HTTP server whose answer is sent byte by byte (trickled
  headers or body, a stalled body), recording whether the client hung up early.
- `stack_outputs`: writes a contract-3 outputs file pointing at that server and moto.
- `apprunner`: a ModelCheckedStubber on a real botocore App Runner client, installed at the
  one seam (`spendsense.ops.apprunner.make_apprunner_client`); every expected request must
  be made, and nothing else.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.apprunner_stub import ModelCheckedStubber, apprunner_client
from tests.conftest import free_port

ACCOUNT = "123456789012"
SERVICE_NAME = "spendsense-api-staging"
SERVICE_ARN = f"arn:aws:apprunner:us-east-1:{ACCOUNT}:service/{SERVICE_NAME}/0123456789abcdef"
REPO_NAME = "spendsense-api-staging"
REPO_URL = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{REPO_NAME}"
HEALTHY = {"status": "healthy", "database": "healthy", "api_version": "1.0.0"}


class ApiBehaviour:
    """What the local API answers on /health (and / for the frontend check)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.code = 200
        self.body: bytes = json.dumps(HEALTHY).encode()
        self.delay = 0.0
        self.frontend_code = 200
        self.requests: list[str] = []
        self.sequence: list[tuple[int, bytes]] = []  # answers used once each, before `code/body`

    def answer(self, code: int, body: Any) -> None:
        self.code = code
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()


class _Handler(BaseHTTPRequestHandler):
    behaviour: ApiBehaviour

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        behaviour = self.server.behaviour  # type: ignore[attr-defined]
        behaviour.requests.append(self.path)
        if self.path.rstrip("/").endswith("/health"):
            if behaviour.delay:
                time.sleep(behaviour.delay)
            if behaviour.sequence:
                code, body = behaviour.sequence.pop(0)
            else:
                code, body = behaviour.code, behaviour.body
        else:
            code, body = behaviour.frontend_code, b"<html>dashboard</html>"
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)

    do_HEAD = do_GET


@pytest.fixture(scope="session")
def _api_server() -> Iterator[tuple[str, ApiBehaviour]]:
    behaviour = ApiBehaviour()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.behaviour = behaviour  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", behaviour
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def api_server(_api_server: tuple[str, ApiBehaviour]) -> tuple[str, ApiBehaviour]:
    """(base URL, behaviour) of the real local API; healthy unless the test changes it."""
    _api_server[1].reset()
    return _api_server


@pytest.fixture
def refused_url() -> str:
    """A loopback URL nobody listens on."""
    return f"http://127.0.0.1:{free_port()}"


def outputs_values(base_url: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "environment": "staging",
        "region": "us-east-1",
        "api_url": base_url,
        "api_service_arn": SERVICE_ARN,
        "api_service_name": SERVICE_NAME,
        "ecr_repository_url": REPO_URL,
        "ecr_repository_name": REPO_NAME,
        "log_group_names": [
            f"/aws/apprunner/{SERVICE_NAME}/0123456789abcdef/application",
            f"/aws/apprunner/{SERVICE_NAME}/0123456789abcdef/service",
        ],
        "dashboard_name": "SpendSense-API-staging",
        "dashboard_url": "https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards:name=SpendSense-API-staging",
        "alarm_topic_arn": f"arn:aws:sns:us-east-1:{ACCOUNT}:spendsense-alarms-staging",
        "jwt_secret_arn": (
            f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:spendsense-jwt-staging"
        ),
        "firestore_project": "spendsense-staging",
        "firestore_database": "(default)",
        "backup_bucket": "spendsense-staging-backups",
        "backup_prefix": "daily/",
        "backup_schedule": "0 2 * * *",
        "vercel_project_id": "prj_spendsense_dashboard",
        "vercel_team_id": "team_spendsense",
        "frontend_url": base_url + "/",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


@pytest.fixture
def write_outputs(tmp_path: Path, api_server: tuple[str, ApiBehaviour]):
    """write_outputs(**overrides) -> path of a staging outputs file (api_url = the local API)."""

    def write(**overrides: Any) -> str:
        path = tmp_path / "outputs-staging.json"
        path.write_text(json.dumps(outputs_values(api_server[0], **overrides)), encoding="utf-8")
        return str(path)

    return write


@pytest.fixture(scope="session")
def _apprunner_client() -> Any:
    """One real botocore App Runner client (creating one loads the API model: ~0.3 s)."""
    return apprunner_client()


@pytest.fixture(scope="session")
def aws_admin(moto_server: str):
    """aws_admin(service): a boto3 client on the moto server for arranging test data, made once."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    clients: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in clients:
            clients[service] = session.client(service, endpoint_url=moto_server)  # type: ignore[call-overload]
        return clients[service]

    return client


@pytest.fixture
def apprunner(
    monkeypatch: pytest.MonkeyPatch, _apprunner_client: Any
) -> Iterator[ModelCheckedStubber]:
    """A model-checked App Runner Stubber at the commands' one seam; all expectations
    must be met."""
    from spendsense.ops import apprunner as ops_apprunner

    client = _apprunner_client
    stubber = ModelCheckedStubber(client)
    monkeypatch.setattr(ops_apprunner, "make_apprunner_client", lambda **_: client)
    monkeypatch.setattr(ops_apprunner, "RETRY_DELAYS", (0.0, 0.0, 0.0, 0.0))
    stubber.activate()
    yield stubber
    stubber.deactivate()


def service(
    *,
    status: str = "RUNNING",
    image: str = f"{REPO_URL}:20261126_010000",
    cpu: str = "1024",
    memory: str = "2048",
    asc_name: str = "spendsense-api-staging",
    asc_revision: int = 1,
) -> dict[str, Any]:
    """A DescribeService `Service` as App Runner returns it."""
    from datetime import datetime

    now = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)
    return {
        "ServiceName": SERVICE_NAME,
        "ServiceId": "0123456789abcdef0123456789abcdef",
        "ServiceArn": SERVICE_ARN,
        "ServiceUrl": "abc123.us-east-1.awsapprunner.com",
        "CreatedAt": now,
        "UpdatedAt": now,
        "Status": status,
        "SourceConfiguration": {
            "ImageRepository": {
                "ImageIdentifier": image,
                "ImageConfiguration": {
                    "Port": "8000",
                    "RuntimeEnvironmentVariables": {"ENVIRONMENT": "staging"},
                    "RuntimeEnvironmentSecrets": {
                        "JWT_SECRET": (
                            f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:"
                            "spendsense-jwt-staging"
                        )
                    },
                },
                "ImageRepositoryType": "ECR",
            },
            "AutoDeploymentsEnabled": False,
            "AuthenticationConfiguration": {
                "AccessRoleArn": f"arn:aws:iam::{ACCOUNT}:role/spendsense-apprunner-ecr-access"
            },
        },
        "InstanceConfiguration": {
            "Cpu": cpu,
            "Memory": memory,
            "InstanceRoleArn": f"arn:aws:iam::{ACCOUNT}:role/spendsense-apprunner-instance",
        },
        "AutoScalingConfigurationSummary": {
            "AutoScalingConfigurationArn": (
                f"arn:aws:apprunner:us-east-1:{ACCOUNT}:autoscalingconfiguration/{asc_name}/"
                f"{asc_revision}/abcdef0123456789"
            ),
            "AutoScalingConfigurationName": asc_name,
            "AutoScalingConfigurationRevision": asc_revision,
        },
        "NetworkConfiguration": {"EgressConfiguration": {"EgressType": "DEFAULT"}},
    }


def op(n: int) -> str:
    """A realistic App Runner operation id (a UUID: the model wants 36 characters)."""
    return f"00000000-0000-4000-8000-{n:012d}"


def operation(op_id: str, status: str, kind: str = "UPDATE_SERVICE") -> dict[str, Any]:
    """A ListOperations response holding one operation."""
    return {
        "OperationSummaryList": [
            {"Id": op_id, "Type": kind, "Status": status, "TargetArn": SERVICE_ARN}
        ]
    }


def throttled(stubber: ModelCheckedStubber, method: str, times: int = 1) -> None:
    for _ in range(times):
        stubber.add_client_error(
            method,
            service_error_code="ThrottlingException",
            service_message="Rate exceeded",
            http_status_code=429,
        )


# --- a socket-level HTTP server for answers no well-behaved server gives -------------------
class RawServer:
    """A socket-level HTTP server on loopback whose answer the test scripts byte by byte:
    headers at once, then the body as `mode` says (or, "trickle headers", everything a byte
    at a time). It records whether the client closed the
    connection before the whole body was sent."""

    def __init__(self, mode: str, body: bytes, interval: float = 0.2) -> None:
        import socket
        import threading

        self.mode = mode
        self.body = body
        self.interval = interval
        self.closed_early = threading.Event()
        self.sent_all = threading.Event()
        self.stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.url = f"{self.base_url}/health"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _client_gone(self, conn, wait: float) -> bool:
        """Wait up to `wait` s; True if the client closed its end meanwhile."""
        import select

        readable, _, _ = select.select([conn], [], [], wait)
        if not readable:
            return False
        try:
            return conn.recv(1024) == b""
        except OSError:
            return True

    def _serve(self) -> None:
        self._listener.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                continue
            with conn:
                self._answer(conn)

    def _answer(self, conn) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            data = conn.recv(4096)
            if not data:
                return
            request += data
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(self.body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        try:
            if self.mode == "trickle headers":  # the status line and headers a byte at a time
                data = head + self.body
                for index in range(len(data)):
                    conn.sendall(data[index : index + 1])
                    if self._client_gone(conn, self.interval) or self.stop.is_set():
                        self.closed_early.set()
                        return
                self.sent_all.set()
                return
            conn.sendall(head)
            if self.mode == "at once":
                conn.sendall(self.body)
            else:
                # "trickle": one byte per interval; "stall": 5 bytes, then nothing
                count = len(self.body) if self.mode == "trickle" else 5
                for index in range(count):
                    conn.sendall(self.body[index : index + 1])
                    if self._client_gone(conn, self.interval) or self.stop.is_set():
                        self.closed_early.set()
                        return
                while self.mode == "stall" and not self.stop.is_set():
                    if self._client_gone(conn, self.interval):
                        self.closed_early.set()
                        return
        except OSError:
            self.closed_early.set()
            return
        self.sent_all.set()

    def close(self) -> None:
        self.stop.set()
        self._thread.join(timeout=5)
        self._listener.close()


@pytest.fixture
def raw_server():
    servers: list[RawServer] = []

    def start(mode: str, body: bytes, interval: float = 0.2) -> RawServer:
        servers.append(RawServer(mode, body, interval))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


# --- a bucket in the GCS emulator (tests/conftest.py starts it) ------------------------------
@pytest.fixture
def gcs_bucket(gcs_server: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh bucket in the GCS emulator (STORAGE_EMULATOR_HOST points at it)."""
    import uuid

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server)
    from spendsense.clients import storage_client

    return storage_client("spendsense-staging").create_bucket(f"backups-{uuid.uuid4().hex[:10]}")


# ---------------------------------------------------------------------------------------------
# A small AWS JSON-protocol peer: real HTTP on loopback, answering each X-Amz-Target with what
# the test's `answer` returns. For answers moto cannot give (a 5xx, an expired token).
# ---------------------------------------------------------------------------------------------
Answer = Any  # Callable[[str], tuple[int, dict[str, Any]]]: the operation name -> (status, body)


@pytest.fixture
def aws_json_peer(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Start a peer: `start(answer, content_type)` returns the list of targets it was sent."""
    servers: list[ThreadingHTTPServer] = []

    def start(answer: Answer, content_type: str = "application/x-amz-json-1.0") -> list[str]:
        targets: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                target = self.headers.get("X-Amz-Target", "")
                targets.append(target)
                code, body = answer(target.rpartition(".")[2])
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_REGION", "us-east-1")
        return targets

    try:
        yield start
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
