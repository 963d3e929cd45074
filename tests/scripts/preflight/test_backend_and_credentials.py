"""`spendsense preflight`: the state backend (Pulumi Cloud's shape, S3 on moto, the GCS emulator,
a local directory) and Google credentials."""

from __future__ import annotations

import json
from typing import Any

import pytest
from spendsense.cli import main

from tests.conftest import free_port
from tests.scripts.preflight.conftest import World


def backend(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    rc = main(["preflight", "--stack", "staging", "--json"])
    out, _ = capsys.readouterr()
    checks = {c["id"]: c for c in json.loads(out)["checks"]}
    return rc, checks


@pytest.fixture
def deployed(world: World) -> World:
    world.service_deployed()
    world.repository("bootstrap")
    return world


def test_pulumi_cloud_token_accepted(
    deployed: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = deployed.web_url + "/pulumi"
    monkeypatch.setenv("PULUMI_BACKEND_URL", url)
    monkeypatch.setenv("PULUMI_ACCESS_TOKEN", "pul-test")
    deployed.web.pulumi_token = "pul-test"
    rc, checks = backend(capsys)
    assert rc == 0
    assert checks["pulumi.backend"]["status"] == "ok"
    assert "logged in as deploy-bot" in checks["pulumi.backend"]["detail"]


def test_pulumi_cloud_token_refused(
    deployed: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULUMI_BACKEND_URL", deployed.web_url + "/pulumi")
    monkeypatch.setenv("PULUMI_ACCESS_TOKEN", "pul-expired")
    deployed.web.pulumi_token = "pul-test"
    rc, checks = backend(capsys)
    assert rc == 1 and checks["pulumi.backend"]["status"] == "denied"


def test_pulumi_login_token_from_credentials_file(
    deployed: World,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    url = deployed.web_url + "/pulumi"
    home = tmp_path / "pulumi-home"
    home.mkdir()
    (home / "credentials.json").write_text(
        json.dumps({"current": url, "accessTokens": {url: "pul-stored"}}), encoding="utf-8"
    )
    monkeypatch.delenv("PULUMI_BACKEND_URL")
    deployed.web.pulumi_token = "pul-stored"
    rc, checks = backend(capsys)
    assert rc == 0
    assert checks["pulumi.backend"]["detail"].startswith("(`pulumi login`)")


def test_pulumi_cloud_without_token(
    deployed: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULUMI_BACKEND_URL", deployed.web_url + "/pulumi")
    rc, checks = backend(capsys)
    assert rc == 1 and checks["pulumi.backend"]["status"] == "missing"
    assert checks["pulumi.backend"]["fix"].startswith("pulumi login ")


def test_s3_backend_with_this_stack_state(
    deployed: World, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed.aws("s3").put_object(
        Bucket="spendsense-pulumi-state", Key=".pulumi/stacks/spendsense/staging.json", Body=b"{}"
    )
    rc, checks = backend(capsys)
    assert rc == 0
    assert "has state for this stack" in checks["pulumi.backend"]["detail"]


def test_gcs_backend_on_the_emulator(
    deployed: World,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    gcs_server: str,
) -> None:
    from spendsense.clients import storage_client

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server)
    storage_client().create_bucket("spendsense-state-gcs")
    monkeypatch.setenv("PULUMI_BACKEND_URL", "gs://spendsense-state-gcs")
    rc, checks = backend(capsys)
    assert rc == 0 and checks["pulumi.backend"]["status"] == "ok"
    monkeypatch.setenv("PULUMI_BACKEND_URL", "gs://spendsense-no-such-bucket")
    rc, checks = backend(capsys)
    assert rc == 1 and checks["pulumi.backend"]["status"] == "missing"


def test_local_backend(
    deployed: World,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path}")
    rc, checks = backend(capsys)
    assert rc == 0 and checks["pulumi.backend"]["status"] == "ok"
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path}/absent")
    rc, checks = backend(capsys)
    assert rc == 1 and checks["pulumi.backend"]["status"] == "missing"


def test_no_google_credentials_blocks_the_google_checks(
    deployed: World,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    from tests.scripts.preflight.google_peer import DOCUMENTS

    for api in DOCUMENTS:  # the real endpoints: credentials are needed, and there are none
        monkeypatch.delenv(f"SPENDSENSE_{api.upper()}_API")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # google-auth: do not probe the metadata server
    refused = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("GCE_METADATA_HOST", refused)
    monkeypatch.setenv("GCE_METADATA_IP", refused)
    rc, checks = backend(capsys)
    assert rc == 1
    assert checks["gcp.credentials"]["status"] == "missing"
    assert "gcloud auth application-default login" in checks["gcp.credentials"]["fix"]
    google = [
        c for c in checks.values() if c["id"].startswith("gcp.") and c["id"] != "gcp.credentials"
    ]
    assert len(google) == 10
    assert all(c["status"] == "unknown" for c in google)
    assert deployed.google.calls == []
