"""`spendsense preflight` against local peers: every check's ok, missing and refused paths."""

from __future__ import annotations

import json
from typing import Any

import pytest
from spendsense.cli import main

from tests.scripts.preflight.conftest import REPO_URL, World


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(["preflight", "--stack", "staging", *args])
    out, err = capsys.readouterr()
    return rc, out, err


def checks(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    rc, out, err = run(capsys, "--json", *args)
    assert err == ""
    report = json.loads(out)
    return rc, {check["id"]: check for check in report["checks"]}


def test_all_ok(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.service_deployed()
    world.repository("bootstrap")
    rc, out, err = run(capsys)
    assert err == ""
    lines = out.strip().splitlines()
    assert rc == 0, out
    assert all(line.startswith("ok ") for line in lines[:-1]), out
    assert "every check passed" in lines[-1] and "bootstrap complete" in lines[-1]


def test_json_shape(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.service_deployed()
    world.repository("bootstrap")
    rc, out, err = run(capsys, "--json")
    report = json.loads(out)
    assert rc == 0 and err == ""
    assert set(report) == {"stack", "passed", "bootstrap", "state", "counts", "checks"}
    assert report["stack"] == "staging" and report["passed"] is True
    assert report["bootstrap"] == "complete"
    assert report["state"] == "s3://spendsense-pulumi-state: no state for staging yet"
    assert report["counts"]["ok"] == len(report["checks"]) == 20
    for check in report["checks"]:
        assert set(check) == {"id", "status", "passed", "detail", "fix", "import"}
        assert check["status"] == "ok" and check["passed"] is True and check["fix"] is None


# --- each kind of missing --------------------------------------------------------------------


def test_disabled_api_is_missing_with_the_enable_command(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.service_deployed()
    world.repository("bootstrap")
    world.project.apis -= {"workflows.googleapis.com", "firebase.googleapis.com"}
    rc, found = checks(capsys)
    check = found["gcp.apis[spendsense-staging]"]
    assert rc == 1 and check["status"] == "missing" and not check["passed"]
    assert check["fix"] == (
        "gcloud services enable firebase.googleapis.com workflows.googleapis.com "
        "--project spendsense-staging"
    )
    assert [c for c in found.values() if not c["passed"]] == [check]


def test_billing_firebase_and_agent_missing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.service_deployed()
    world.repository("bootstrap")
    world.project.billing = False
    world.project.firebase = False
    world.test_project.members = set()
    world.test_project.apis = set()
    rc, found = checks(capsys)
    assert rc == 1
    billing = found["gcp.billing[spendsense-staging]"]
    assert billing["status"] == "missing"
    assert billing["fix"].startswith("gcloud billing projects link spendsense-staging")
    firebase = found["gcp.firebase[spendsense-staging]"]
    assert firebase["status"] == "missing"
    assert "firebase projects:addfirebase spendsense-staging" in firebase["fix"]
    # The program creates the test project's Firestore agent (gcp.projects.ServiceIdentity)
    # before the bucket binding names it: its absence is reported, not a failure.
    agent = found["gcp.firestore_agent[spendsense-test]"]
    assert agent["status"] == "ok" and agent["passed"]
    assert "does not exist yet: `pulumi up` creates it" in agent["detail"]
    assert found["gcp.apis[spendsense-test]"]["fix"] == (
        "gcloud services enable firestore.googleapis.com --project spendsense-test"
    )


def test_missing_test_project_blocks_its_checks(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.service_deployed()
    world.repository("bootstrap")
    del world.google.projects["spendsense-test"]
    rc, found = checks(capsys)
    assert rc == 1
    assert found["gcp.project[spendsense-test]"]["status"] == "missing"
    for check_id in (
        "gcp.apis[spendsense-test]",
        "gcp.billing[spendsense-test]",
        "gcp.firestore_agent[spendsense-test]",
    ):
        assert found[check_id]["status"] == "unknown"
        assert "gcp.project[spendsense-test] failed" in found[check_id]["detail"]


def test_api_disabled_on_the_calling_project(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.scripts.preflight.google_peer import google_error

    world.service_deployed()
    world.repository("bootstrap")
    world.google.refusals["cloudbilling"] = (
        403,
        google_error(
            403,
            "PERMISSION_DENIED",
            "Cloud Billing API has not been used in project 999 before or it is disabled.",
            "SERVICE_DISABLED",
            consumer="projects/999",
            service="cloudbilling.googleapis.com",
        ),
    )
    rc, found = checks(capsys)
    billing = found["gcp.billing[spendsense-staging]"]
    assert rc == 1 and billing["status"] == "missing"
    assert billing["fix"] == "gcloud services enable cloudbilling.googleapis.com --project 999"


def test_permission_denied_names_the_permission(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.scripts.preflight.google_peer import google_error

    world.service_deployed()
    world.repository("bootstrap")
    world.google.refusals["firebase"] = (
        403,
        google_error(403, "PERMISSION_DENIED", "The caller does not have permission"),
    )
    rc, found = checks(capsys)
    firebase = found["gcp.firebase[spendsense-staging]"]
    assert rc == 1 and firebase["status"] == "denied"
    assert "firebase.projects.get" in firebase["fix"]


def test_deployed_image_gone_from_ecr_is_missing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.service_deployed(f"{REPO_URL}:20261126_010000")
    world.repository("bootstrap")
    rc, found = checks(capsys)
    image = found["aws.image"]
    assert rc == 1 and image["status"] == "missing"
    assert "20261126_010000 is no longer in ECR" in image["detail"]


def test_registry_missing_after_bootstrap_is_a_failure(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.service_deployed()
    rc, found = checks(capsys)
    assert rc == 1
    assert found["aws.ecr"]["status"] == "missing"
    assert "the App Runner service exists" in found["aws.ecr"]["detail"]


def test_vercel_token_team_and_project(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.service_deployed()
    world.repository("bootstrap")
    world.web.teams = {}
    world.web.projects = {}
    rc, found = checks(capsys)
    assert rc == 1
    assert found["vercel.team"]["status"] == "denied"
    assert found["vercel.project"]["status"] == "denied"
    assert found["vercel.api_url_variable"]["status"] == "unknown"


def test_vercel_project_not_found(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.service_deployed()
    world.repository("bootstrap")
    world.web.projects = {}
    rc, found = checks(capsys)
    assert rc == 1
    assert found["vercel.team"]["status"] == "ok"
    assert found["vercel.project"]["status"] == "missing"


def test_no_vercel_token(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    world.service_deployed()
    world.repository("bootstrap")
    monkeypatch.delenv("VERCEL_API_TOKEN")
    rc, found = checks(capsys)
    assert rc == 1
    assert found["vercel.token"]["status"] == "missing"
    assert "VERCEL_API_TOKEN" in found["vercel.token"]["fix"]
    assert found["vercel.project"]["status"] == "unknown"


def test_a_vercel_override_that_is_not_local_never_gets_the_token(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SPENDSENSE_VERCEL_API only points at a local test server, in preflight too: another
    value is refused before any request carries the token there."""
    world.service_deployed()
    world.repository("bootstrap")
    monkeypatch.setenv("SPENDSENSE_VERCEL_API", "https://collector.example.net")
    rc, found = checks(capsys)
    assert rc != 0
    assert found["vercel.project"]["status"] == "unknown"
    assert (
        "SPENDSENSE_VERCEL_API='https://collector.example.net'" in found["vercel.project"]["detail"]
    )
    assert "local test server" in found["vercel.project"]["detail"]
    assert found["vercel.project"]["fix"] == "unset SPENDSENSE_VERCEL_API"


def test_state_bucket_missing(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    world.service_deployed()
    world.repository("bootstrap")
    monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://no-such-state-bucket")
    rc, found = checks(capsys)
    assert rc == 1
    assert found["pulumi.backend"]["status"] == "missing"
    assert "no-such-state-bucket does not exist" in found["pulumi.backend"]["detail"]


def test_no_aws_credentials_blocks_the_aws_checks(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    world.google.projects.clear()  # nothing else matters here; AWS is what is checked
    world.project.apis.clear()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    rc, found = checks(capsys)
    assert rc == 1
    assert found["aws.identity"]["status"] == "missing"
    assert "no AWS credentials" in found["aws.identity"]["detail"]
    for check_id in ("aws.apprunner", "aws.ecr", "aws.image"):
        assert found[check_id]["status"] == "unknown"


# --- App Runner refused ----------------------------------------------------------------------


def test_apprunner_refused_says_closed_to_new_customers(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.apprunner.add_client_error(
        "list_services",
        service_error_code="SubscriptionRequiredException",
        service_message="The AWS Access Key Id needs a subscription for the service",
        http_status_code=403,
    )
    rc, out, _ = run(capsys)
    line = next(line for line in out.splitlines() if " aws.apprunner " in line)
    assert rc == 1
    assert line.startswith("refused ")
    assert "closed to new AWS customers since 2026-04-30" in line
    assert "apprunner-availability-change" in line


def test_apprunner_access_denied_without_iam_message_is_the_closure(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.apprunner.add_client_error(
        "list_services",
        service_error_code="AccessDeniedException",
        service_message="Access denied",
        http_status_code=403,
    )
    rc, found = checks(capsys)
    assert rc == 1 and found["aws.apprunner"]["status"] == "refused"


def test_apprunner_iam_denial_is_a_permission_to_grant(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.apprunner.add_client_error(
        "list_services",
        service_error_code="AccessDeniedException",
        service_message=(
            "User: arn:aws:sts::123456789012:assumed-role/deploy/ci is not authorized to "
            "perform: apprunner:ListServices"
        ),
        http_status_code=403,
    )
    rc, found = checks(capsys)
    assert rc == 1 and found["aws.apprunner"]["status"] == "denied"
    assert "apprunner:ListServices" in found["aws.apprunner"]["fix"]


# --- before bootstrap ------------------------------------------------------------------------


def test_before_bootstrap_nothing_exists(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.no_service()
    rc, out, _ = run(capsys, "--json")
    report = json.loads(out)
    found = {check["id"]: check for check in report["checks"]}
    assert rc == 0 and report["passed"] is True and report["bootstrap"] == "pending"
    for check_id in ("aws.ecr", "aws.image"):
        assert found[check_id]["status"] == "expected-before-bootstrap"
        assert found[check_id]["passed"] is True
        assert "bootstrap" in found[check_id]["fix"]


def test_before_bootstrap_registry_without_image(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.no_service()
    world.repository("20261126_010000")
    rc, found = checks(capsys)
    assert rc == 0
    assert found["aws.ecr"]["status"] == "ok"
    assert found["aws.image"]["status"] == "expected-before-bootstrap"
    assert "no image tagged bootstrap" in found["aws.image"]["detail"]


def test_bootstrap_complete_before_the_service(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.no_service()
    world.repository("bootstrap")
    rc, out, _ = run(capsys, "--json")
    report = json.loads(out)
    assert rc == 0 and report["bootstrap"] == "complete"
    image = next(c for c in report["checks"] if c["id"] == "aws.image")
    assert image["status"] == "ok" and "api.initialImageTag" in image["detail"]


# --- objects to import -----------------------------------------------------------------------

ENV_ID = "FdT2e1E5Of6Cihmt"


def existing_objects(world: World) -> None:
    world.service_deployed()
    world.repository("bootstrap")
    world.project.databases.add("(default)")
    world.project.releases.add("cloud.firestore")
    world.web.projects["prj_spendsense_dashboard"] = [
        {
            "id": ENV_ID,
            "key": "NEXT_PUBLIC_API_URL",
            "value": "https://api.example.com",
            "target": ["preview"],
            "type": "plain",
        }
    ]


def state_file(tmp_path: Any, resources: list[dict[str, Any]], stack: str = "staging") -> str:
    urn = f"urn:pulumi:{stack}::spendsense"
    document = {
        "version": 3,
        "deployment": {
            "manifest": {"time": "2026-11-27T05:00:00Z", "version": "v3.200.0"},
            "resources": [
                {
                    "urn": f"{urn}::pulumi:pulumi:Stack::spendsense-{stack}",
                    "type": "pulumi:pulumi:Stack",
                },
                *resources,
            ],
        },
    }
    path = tmp_path / "state.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


MANAGED = [
    {
        "urn": (
            "urn:pulumi:staging::spendsense::spendsense:gcp:Firestore$gcp:firestore/database:"
            "Database::firestore-database"
        ),
        "type": "gcp:firestore/database:Database",
        "id": "projects/spendsense-staging/databases/(default)",
    },
    {
        "urn": (
            "urn:pulumi:staging::spendsense::spendsense:vercel:Frontend$vercel:index/"
            "projectEnvironmentVariable:ProjectEnvironmentVariable::frontend-api-url"
        ),
        "type": "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable",
        "id": ENV_ID,
    },
]
IMPORT_IDS = {
    "gcp.database[spendsense-staging]": "projects/spendsense-staging/databases/(default)",
    "vercel.api_url_variable": f"team_spendsense/prj_spendsense_dashboard/{ENV_ID}",
}


def test_existing_objects_without_state_need_import(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    existing_objects(world)
    # Pulumi Cloud without a token: neither the backend nor the stack's state can be read.
    monkeypatch.setenv("PULUMI_BACKEND_URL", world.web_url + "/pulumi")
    rc, found = checks(capsys)
    assert found["pulumi.backend"]["status"] == "missing"
    assert rc == 1
    for check_id, import_id in IMPORT_IDS.items():
        check = found[check_id]
        assert check["status"] == "import" and not check["passed"]
        assert "import it unless this stack already manages it" in check["detail"]
        assert check["import"] == check["fix"]
        assert check["import"].startswith(
            "pulumi import --stack staging --yes --generate-code=false"
        )
        assert check["import"].endswith(f" '{import_id}'")
    # An existing `cloud.firestore` release (made in the console) is taken over in place by the
    # program's RulesRelease: no import, whatever the state says.
    release = found["gcp.rules_release[spendsense-staging]"]
    assert release["status"] == "ok" and "no import needed" in release["detail"]
    database = found["gcp.database[spendsense-staging]"]["import"]
    assert (
        "--parent 'firestore=urn:pulumi:staging::spendsense::spendsense:gcp:Firestore::firestore'"
        in database
    )
    assert "--provider 'gcp=urn:pulumi:staging::spendsense::pulumi:providers:gcp::gcp'" in database
    assert "'gcp:firestore/database:Database' firestore-database " in database


def test_existing_objects_managed_by_the_state_are_ok(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    existing_objects(world)
    rc, found = checks(capsys, "--state", state_file(tmp_path, MANAGED))
    assert rc == 0, [c for c in found.values() if not c["passed"]]
    for check_id in IMPORT_IDS:
        assert found[check_id]["status"] == "ok"
        assert "this stack manages it" in found[check_id]["detail"]


def test_existing_objects_on_a_new_stack_must_be_imported(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    existing_objects(world)  # the s3:// backend holds no state for staging
    rc, out, _ = run(capsys, "--json")
    report = json.loads(out)
    assert rc == 1 and report["state"].endswith("no state for staging yet")
    for check in report["checks"]:
        if check["id"] in IMPORT_IDS:
            assert check["status"] == "import"
            assert "this stack does not manage it" in check["detail"]


def checkpoint(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A self-managed backend's checkpoint file."""
    stack = {
        "urn": "urn:pulumi:staging::spendsense::pulumi:pulumi:Stack::spendsense-staging",
        "type": "pulumi:pulumi:Stack",
    }
    latest = {"manifest": {"time": "2026-11-27T05:00:00Z"}, "resources": [stack, *resources]}
    return {
        "version": 3,
        "checkpoint": {"stack": "organization/spendsense/staging", "latest": latest},
    }


def test_state_read_from_the_s3_backend(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    import gzip

    existing_objects(world)
    key = ".pulumi/stacks/spendsense/staging.json.gz"
    body = gzip.compress(json.dumps(checkpoint(MANAGED)).encode())
    world.aws("s3").put_object(Bucket="spendsense-pulumi-state", Key=key, Body=body)
    rc, out, _ = run(capsys, "--json")
    report = json.loads(out)
    assert rc == 0, out
    assert report["state"] == f"s3://spendsense-pulumi-state/{key}"
    for check in report["checks"]:
        if check["id"] in IMPORT_IDS:
            assert check["status"] == "ok"


def test_state_read_from_pulumi_cloud(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    existing_objects(world)
    monkeypatch.setenv("PULUMI_BACKEND_URL", world.web_url + "/pulumi")
    monkeypatch.setenv("PULUMI_ACCESS_TOKEN", "pul-test")
    world.web.pulumi_token = "pul-test"
    export = {"version": 3, "deployment": checkpoint(MANAGED)["checkpoint"]["latest"]}
    world.web.pulumi_stacks["deploy-bot/spendsense/staging"] = export
    rc, found = checks(capsys)
    assert rc == 0
    for check_id in IMPORT_IDS:
        assert found[check_id]["status"] == "ok"


def test_existing_objects_not_in_the_state_must_be_imported(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    existing_objects(world)
    provider = {
        "urn": "urn:pulumi:staging::spendsense::pulumi:providers:gcp::gcp",
        "type": "pulumi:providers:gcp",
        "id": "6e408db6-0000-4000-8000-000000000000",
    }
    rc, found = checks(capsys, "--state", state_file(tmp_path, [provider]))
    assert rc == 1
    for check_id in IMPORT_IDS:
        check = found[check_id]
        assert check["status"] == "import"
        assert "this stack does not manage it" in check["detail"]
    database = found["gcp.database[spendsense-staging]"]["import"]
    assert f"--provider 'gcp={provider['urn']}'" in database


def test_an_apprunner_service_in_the_state_ends_before_bootstrap(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    world.no_service()  # App Runner lists none (e.g. deleted by hand) but the stack has one
    service = {
        "urn": (
            "urn:pulumi:staging::spendsense::spendsense:aws:ApiService$aws:apprunner/service:"
            "Service::api-service"
        ),
        "type": "aws:apprunner/service:Service",
        "id": "arn:aws:apprunner:us-east-1:123456789012:service/spendsense-api-staging/x",
    }
    rc, found = checks(capsys, "--state", state_file(tmp_path, [service]))
    assert rc == 1
    assert found["aws.ecr"]["status"] == "missing"


# --- bad input (with the peers in place: nothing must be asked of them) ---------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("not json", "not JSON"),
        ('{"resources": []}', "not a Pulumi stack export"),
        ('{"version": 3, "deployment": {"resources": {}}}', "is not a list of objects"),
    ],
)
def test_bad_state_file(
    world: World,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
    content: str,
    expected: str,
) -> None:
    path = tmp_path / "state.json"
    path.write_text(content, encoding="utf-8")
    rc, out, err = run(capsys, "--state", str(path))
    assert rc == 2 and out == ""
    assert err.startswith("error: --state: ") and expected in err
    assert len(err.strip().splitlines()) == 1


def test_state_of_another_stack(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    path = state_file(tmp_path, [], stack="production")
    rc, out, err = run(capsys, "--state", path)
    assert rc == 2 and out == ""
    assert "is the state of spendsense/production, not of spendsense/staging" in err


def test_missing_state_file(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    rc, _, err = run(capsys, "--state", str(tmp_path / "none.json"))
    assert rc == 2 and "--state: " in err and "no such file" in err
    assert "pulumi stack export --stack staging --file FILE" in err


def test_unknown_stack(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["preflight", "--stack", "prod"])
    _, err = capsys.readouterr()
    assert rc == 2 and "--stack" in err and "'prod' is not one of" in err


def test_stack_file_of_another_environment(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    from spendsense.repo import stack_file

    path = tmp_path / "Pulumi.staging.yaml"
    path.write_text(stack_file("production").read_text(encoding="utf-8"), encoding="utf-8")
    rc, out, err = run(capsys, "--stack-file", str(path))
    assert rc == 2 and out == ""
    assert "spendsense:environment is 'production' but --stack is 'staging'" in err


def test_bad_setting_in_the_stack_file(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    from spendsense.repo import stack_file

    text = stack_file("staging").read_text(encoding="utf-8")
    path = tmp_path / "Pulumi.staging.yaml"
    path.write_text(text.replace("initialImageTag: bootstrap", "initialImageTag: -bad"), "utf-8")
    rc, out, err = run(capsys, "--stack-file", str(path))
    assert rc == 2 and out == ""
    assert "spendsense:api.initialImageTag" in err and len(err.strip().splitlines()) == 1


def test_bad_input_asks_no_peer(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    path = tmp_path / "state.json"
    path.write_text("[]", encoding="utf-8")
    rc, out, _ = run(capsys, "--state", str(path))
    assert rc == 2 and out == ""
    assert world.google.calls == []
