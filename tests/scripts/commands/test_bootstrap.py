"""`spendsense bootstrap` (issue 12, point 5): a new stack gets its registry from a targeted
`pulumi up` whose targets are closed under parents, dependencies and providers (what the engine
requires, pulumi/pulumi#14531), and is complete only when ECR holds `api.initialImageTag`.
ECR is moto's server; App Runner the model-checked Stubber."""

from __future__ import annotations

import pytest
from spendsense.cli import main
from spendsense.ops.bootstrap import provider_urn, pulumi_up_command, target_closure

from tests.infra.conftest import record
from tests.scripts.commands.test_deploy import push

REPO = "spendsense-api-staging"
SERVICE = "spendsense-api-staging"


@pytest.fixture(scope="module")
def production():  # type: ignore[no-untyped-def]
    return record("production")


def test_the_targets_are_closed_under_parents_dependencies_and_providers(production) -> None:
    targets = set(target_closure(production.resources))
    by_urn = {r.urn: r for r in production.resources}
    for urn in targets:
        resource = by_urn[urn]
        if resource.parent in by_urn:  # not the root stack
            assert resource.parent in targets, f"{urn}: parent not targeted (pulumi#14531)"
        for dependency in resource.dependencies:
            assert dependency in targets, f"{urn}: depends on untargeted {dependency}"
        if resource.provider:
            assert provider_urn(resource.provider) in targets
        if not resource.custom:
            children = [r.urn for r in production.resources if r.parent == urn]
            assert set(children) <= targets, f"{urn}: a targeted component's children"


def test_the_targets_hold_the_registry_and_not_the_service(production) -> None:
    types = {
        r.type for r in production.resources if r.urn in set(target_closure(production.resources))
    }
    assert {
        "aws:ecr/repository:Repository",
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
        "spendsense:aws:Registry",
        "pulumi:providers:aws",
    } <= types
    assert "aws:apprunner/service:Service" not in types
    assert not any(t.startswith(("gcp:", "vercel:")) for t in types)


def test_the_targeted_up_runs_the_policy_pack_of_its_stack() -> None:
    command = pulumi_up_command("staging", ["urn:a", "urn:b"])
    assert command[:5] == ["pulumi", "up", "--stack", "staging", "--yes"]
    assert command[command.index("--policy-pack-config") + 1] == "policies/config/staging.json"
    assert command[-4:] == ["--target", "urn:a", "--target", "urn:b"]


def no_service(apprunner) -> None:  # type: ignore[no-untyped-def]
    apprunner.add_response("list_services", {"ServiceSummaryList": []}, {})


def bootstrap(*args: str):  # type: ignore[no-untyped-def]
    return main(["bootstrap", "--stack", "staging", *args])


def test_a_new_stack_without_yes_says_which_targeted_up_it_would_run(
    apprunner, aws_env, aws_admin, capsys
) -> None:
    no_service(apprunner)
    assert bootstrap() == 0
    out = capsys.readouterr().out
    assert f"Would create ECR repository {REPO} (stack staging)" in out
    assert "pulumi stack select staging --create" in out
    assert (
        "--target 'urn:pulumi:staging::spendsense::spendsense:aws:Registry$aws:ecr/repository:"
        "Repository::registry-repository'" in out
    )
    assert "Nothing changed" in out
    assert not aws_admin("ecr").describe_repositories()["repositories"]
    apprunner.assert_no_pending_responses()


def test_a_repository_without_the_initial_image_is_incomplete(
    apprunner, aws_env, aws_admin, capsys
) -> None:
    aws_admin("ecr").create_repository(repositoryName=REPO)
    no_service(apprunner)
    assert bootstrap("--yes") == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "bootstrap incomplete" in err and f"{REPO}:bootstrap" in err


def test_the_initial_image_in_the_repository_is_complete(
    apprunner, aws_env, aws_admin, capsys
) -> None:
    client = aws_admin("ecr")
    client.create_repository(repositoryName=REPO)
    push(client, "bootstrap")
    no_service(apprunner)
    assert bootstrap() == 0
    assert "Bootstrap complete" in capsys.readouterr().out


def test_a_stack_whose_service_exists_is_left_alone(apprunner, aws_env, capsys) -> None:
    arn = f"arn:aws:apprunner:us-east-1:123456789012:service/{SERVICE}/0123456789abcdef"
    apprunner.add_response(
        "list_services",
        {"ServiceSummaryList": [{"ServiceName": "other"}], "NextToken": "t"},
        {},
    )
    apprunner.add_response(
        "list_services",
        {"ServiceSummaryList": [{"ServiceName": SERVICE, "ServiceArn": arn}]},
        {"NextToken": "t"},
    )
    assert bootstrap("--yes") == 0
    assert "already has App Runner service" in capsys.readouterr().out
    apprunner.assert_no_pending_responses()


def test_yes_without_the_pulumi_cli_is_bad_input_and_changes_nothing(
    apprunner, aws_env, aws_admin, capsys, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    no_service(apprunner)
    assert bootstrap("--yes") == 2
    assert "Pulumi CLI is not on PATH" in capsys.readouterr().err
    assert not aws_admin("ecr").describe_repositories()["repositories"]


def test_targets_file_for_ci_lists_what_a_new_stack_creates_first(
    apprunner, aws_env, tmp_path, capsys
) -> None:
    no_service(apprunner)
    path = tmp_path / "targets"
    assert bootstrap("--targets", str(path)) == 0
    urns = path.read_text().splitlines()
    assert any(u.endswith("aws:ecr/repository:Repository::registry-repository") for u in urns)
    assert not any("apprunner/service:Service" in u for u in urns)
    assert "wrote the" in capsys.readouterr().out


def test_targets_file_is_empty_once_the_registry_exists(
    apprunner, aws_env, aws_admin, tmp_path
) -> None:
    client = aws_admin("ecr")
    client.create_repository(repositoryName=REPO)
    push(client, "bootstrap")
    no_service(apprunner)
    path = tmp_path / "targets"
    assert bootstrap("--targets", str(path)) == 0
    assert path.read_text() == ""


@pytest.mark.parametrize(
    ("service", "repository", "image", "needed"),
    [
        (False, False, False, True),
        (False, True, False, False),  # the repository exists: push the image, no targeted up
        (False, True, True, False),
        (True, False, False, False),  # a service exists: the stack is past its bootstrap
    ],
)
def test_the_registry_is_needed_only_before_anything_exists(
    service: bool, repository: bool, image: bool, needed: bool
) -> None:
    from spendsense.ops.bootstrap import RegistryState

    assert RegistryState(service, repository, image).needs_registry is needed
