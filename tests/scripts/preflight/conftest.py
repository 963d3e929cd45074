"""Fixtures for `spendsense preflight`: every peer it talks to, on loopback.

- AWS: moto's server (STS, ECR, S3 for an s3:// state backend) through AWS_ENDPOINT_URL, and
  botocore's Stubber (model-checked) for App Runner, which moto does not have;
- Google: `google_peer.GooglePeer`, answering in the shape of the discovery documents;
- Vercel and Pulumi Cloud: `web_peer.WebPeer`, answering in the shape of their REST APIs.

`world` arranges a stack whose every check passes (service deployed, image in ECR, APIs on,
billing, Firebase, the test project and its agent, the Vercel team and project, an s3://
state bucket); each test then breaks one thing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.apprunner_stub import ModelCheckedStubber, apprunner_client
from tests.conftest import free_port
from tests.scripts.preflight import google_peer, web_peer
from tests.scripts.preflight.google_peer import GooglePeer, Project

ACCOUNT = "123456789012"
SERVICE = "spendsense-api-staging"
SERVICE_ARN = (
    f"arn:aws:apprunner:us-east-1:{ACCOUNT}:service/{SERVICE}/0123456789abcdef0123456789abcdef"
)
REPOSITORY = "spendsense-api-staging"
REPO_URL = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{REPOSITORY}"
PROJECT = "spendsense-staging"
TEST_PROJECT = "spendsense-test"
TEST_NUMBER = "222222222222"
STATE_BUCKET = "spendsense-pulumi-state"
TOKEN = "vercel-test-token"
AGENT = f"serviceAccount:service-{TEST_NUMBER}@gcp-sa-firestore.iam.gserviceaccount.com"


@pytest.fixture(scope="session")
def _google() -> Iterator[tuple[str, GooglePeer]]:
    peer = GooglePeer()
    port = free_port()
    server = google_peer.start(peer, port)
    try:
        yield f"http://127.0.0.1:{port}", peer
    finally:
        server.shutdown()


@pytest.fixture(scope="session")
def _web() -> Iterator[tuple[str, web_peer.WebPeer]]:
    peer = web_peer.WebPeer()
    port = free_port()
    server = web_peer.start(peer, port)
    try:
        yield f"http://127.0.0.1:{port}", peer
    finally:
        server.shutdown()


@pytest.fixture(scope="session")
def aws_admin(moto_server: str) -> Any:
    """aws_admin(service): a boto3 client on the moto server for arranging test data."""
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


@pytest.fixture(scope="session")
def _apprunner_client() -> Any:
    return apprunner_client()


def manifest() -> str:
    """A Docker image manifest (schema 2) for moto's PutImage."""
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 7023,
                "digest": "sha256:" + "b" * 64,
            },
            "layers": [],
        }
    )


def summary() -> dict[str, Any]:
    now = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)
    return {
        "ServiceName": SERVICE,
        "ServiceId": "0123456789abcdef0123456789abcdef",
        "ServiceArn": SERVICE_ARN,
        "ServiceUrl": "abc123.us-east-1.awsapprunner.com",
        "CreatedAt": now,
        "UpdatedAt": now,
        "Status": "RUNNING",
    }


def described(image: str) -> dict[str, Any]:
    service = summary()
    service.update(
        {
            "SourceConfiguration": {
                "ImageRepository": {"ImageIdentifier": image, "ImageRepositoryType": "ECR"}
            },
            "InstanceConfiguration": {"Cpu": "1024", "Memory": "2048"},
            "AutoScalingConfigurationSummary": {
                "AutoScalingConfigurationArn": (
                    f"arn:aws:apprunner:us-east-1:{ACCOUNT}:autoscalingconfiguration/{SERVICE}/1/"
                    "abcdef0123456789"
                ),
                "AutoScalingConfigurationName": SERVICE,
                "AutoScalingConfigurationRevision": 1,
            },
            "NetworkConfiguration": {"EgressConfiguration": {"EgressType": "DEFAULT"}},
        }
    )
    return {"Service": service}


@dataclass
class World:
    """The arranged peers; the helpers change one thing each."""

    google: GooglePeer
    web: web_peer.WebPeer
    apprunner: ModelCheckedStubber
    aws: Any  # aws_admin(service)
    project: Project
    test_project: Project
    web_url: str

    def service_deployed(self, image: str | None = None) -> None:
        self.apprunner.add_response("list_services", {"ServiceSummaryList": [summary()]}, {})
        self.apprunner.add_response(
            "describe_service",
            described(image or f"{REPO_URL}:bootstrap"),
            {"ServiceArn": SERVICE_ARN},
        )

    def no_service(self) -> None:
        self.apprunner.add_response("list_services", {"ServiceSummaryList": []}, {})

    def repository(self, *tags: str) -> None:
        self.aws("ecr").create_repository(repositoryName=REPOSITORY)
        for tag in tags:
            self.aws("ecr").put_image(
                repositoryName=REPOSITORY, imageManifest=manifest(), imageTag=tag
            )


@pytest.fixture
def world(
    aws_env: str,
    aws_admin: Any,
    _google: tuple[str, GooglePeer],
    _web: tuple[str, web_peer.WebPeer],
    _apprunner_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> Iterator[World]:
    from spendsense.ops import preflight_aws

    google_url, google = _google
    web_url, web = _web
    google.reset()
    web.reset()
    for api in google_peer.DOCUMENTS:
        monkeypatch.setenv(f"SPENDSENSE_{api.upper()}_API", f"{google_url}/{api}")
    monkeypatch.setenv("SPENDSENSE_VERCEL_API", f"{web_url}/vercel")
    monkeypatch.setenv("VERCEL_API_TOKEN", TOKEN)
    monkeypatch.delenv("VERCEL_TOKEN", raising=False)
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"s3://{STATE_BUCKET}")
    monkeypatch.delenv("PULUMI_ACCESS_TOKEN", raising=False)
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "pulumi-home"))
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "STORAGE_EMULATOR_HOST", "SPENDSENSE_DEBUG"):
        monkeypatch.delenv(name, raising=False)

    from spendsense.clients import make_client as real_make_client

    stubber = ModelCheckedStubber(_apprunner_client)

    def make_client(service: str, region: str) -> Any:
        if service == "apprunner":
            return _apprunner_client
        return real_make_client(service, region=region)

    monkeypatch.setattr(preflight_aws, "make_client", make_client)
    aws_admin("s3").create_bucket(Bucket=STATE_BUCKET)
    from spendsense.ops.preflight_google import REQUIRED_APIS

    required = set(REQUIRED_APIS)
    project = google.add(Project(PROJECT, "111111111111", apis=required))
    test = google.add(
        Project(TEST_PROJECT, TEST_NUMBER, apis={"firestore.googleapis.com"}, members={AGENT})
    )
    web.token = TOKEN
    web.teams = {"team_spendsense": "spendsense"}
    web.projects = {"prj_spendsense_dashboard": []}
    stubber.activate()
    world = World(google, web, stubber, aws_admin, project, test, web_url)
    try:
        yield world
    finally:
        stubber.deactivate()
    stubber.assert_no_pending_responses()
    assert not google.violations, google.violations
    assert not web.violations, web.violations
