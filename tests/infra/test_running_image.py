"""After `spendsense deploy`, no `pulumi up` may change the running image (issue 12, point 4).

The program reads the image the service runs now through the AWS provider (the tagging API,
then Cloud Control) and passes it back as the input. Here the mock runtime answers those two
look-ups the way AWS does for a stack whose service runs a deployed image, or misses it (the
tagging API has not listed it yet, or a tag was lost), or cannot read it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi
import pytest
from pulumi.runtime import mocks as pulumi_mocks
from spendsense.plan.recorder import (
    ACCOUNT_ID,
    RealisticMocks,
    RecordedResource,
    Recording,
    run_program,
)

from infra.components.running_image import IMAGE_PATH, image_identifier, service_arn
from tests.infra.conftest import with_changes

SERVICE = "aws:apprunner/service:Service"
TAGGING = "aws:resourcegroupstaggingapi/getResources:getResources"
CLOUD_CONTROL = "aws:cloudcontrol/getResource:getResource"
REPO = f"{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/spendsense-api"
DEPLOYED = f"{REPO}:20261127_0930"


class LiveService(RealisticMocks):
    """AWS as it is after `spendsense deploy --image-tag 20261127_0930` on production."""

    def __init__(self, service_name: str, image: str | None, *, listed: bool = True) -> None:
        super().__init__()
        self.arn = f"arn:aws:apprunner:us-east-1:{ACCOUNT_ID}:service/{service_name}/0a1b2c3d"
        self.image = image
        self.listed = listed  # False: the tagging API does not return it (yet, or lost tag)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        self.calls.append((args.token, dict(args.args)))
        if args.token == TAGGING:
            other = f"arn:aws:apprunner:us-east-1:{ACCOUNT_ID}:service/another-service/ffff"
            listed = [self.arn] if self.listed else []
            return {
                "id": "us-east-1",
                "resourceTagMappingLists": [
                    {"resourceArn": arn, "tags": {}, "complianceDetails": []}
                    for arn in [other, *listed]
                ],
            }, []
        if args.token == CLOUD_CONTROL and args.args.get("identifier") == self.arn:
            repository: dict[str, Any] = {"ImageRepositoryType": "ECR"}
            if self.image is not None:
                repository["ImageIdentifier"] = self.image
            properties = {
                "ServiceName": "spendsense-api",
                "SourceConfiguration": {
                    "ImageRepository": repository,
                    "AutoDeploymentsEnabled": False,
                },
            }
            return {
                "id": self.arn,
                "identifier": self.arn,
                "typeName": "AWS::AppRunner::Service",
                "properties": json.dumps(properties),
            }, []
        return super().call(args)


def record_live(
    stack: str,
    changes: dict[str, Any],
    mocks: LiveService,
    on_record: Callable[[RecordedResource], None] | None = None,
) -> Recording:
    from infra.program import main

    values = with_changes(stack, changes)
    config = {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    return run_program(main, config, stack=stack, preview=False, mocks=mocks, on_record=on_record)


def test_pulumi_up_after_a_deploy_passes_the_running_image_back() -> None:
    mocks = LiveService("spendsense-api", DEPLOYED)
    rec = record_live("production", {}, mocks)
    service = rec.one(SERVICE)
    image = service.inputs["sourceConfiguration"]["imageRepository"]["imageIdentifier"]
    assert image == DEPLOYED
    # The value is the input itself: ignore_changes would make the engine send the state's
    # stale value instead whenever anything else in the source configuration changes.
    assert service.ignore_changes == []


def at_path(inputs: dict[str, Any], path: str) -> Any:
    """The value an engine property path (`a.b.c`) names in the recorded inputs."""
    value: Any = inputs
    for part in path.split("."):
        value = value[part]
    return value


def test_a_lookup_that_misses_an_existing_service_keeps_the_states_image() -> None:
    """The tagging API does not list the service: the initial tag goes in under ignore_changes.

    The engine then uses the image in the state's inputs for an existing service (the one the
    last `pulumi up` found running), and the program's value only when creating the service.
    """
    mocks = LiveService("spendsense-api", DEPLOYED, listed=False)
    rec = record_live("production", {"spendsense:api.port": 8080}, mocks)
    service = rec.one(SERVICE)
    assert service.ignore_changes == [IMAGE_PATH]
    # The path names the image in the engine's (camelCase) view of the inputs: a new stack's
    # service is created from the initial tag, which ECR's lifecycle never expires.
    assert at_path(service.inputs, IMAGE_PATH) == f"{REPO}:bootstrap"
    assert [token for token, _ in mocks.calls if token == CLOUD_CONTROL] == []


def test_a_service_found_by_its_tags_but_unreadable_fails_the_run_in_one_line() -> None:
    """Cloud Control cannot read it (denied, throttled, not found): no guess, no fallback."""

    class Unreadable(LiveService):
        def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
            if args.token == CLOUD_CONTROL:
                self.calls.append((args.token, dict(args.args)))
                reason = (
                    "AccessDeniedException: not authorized to perform apprunner:DescribeService"
                )
                return {}, [("identifier", reason)]
            return super().call(args)

    mocks = Unreadable("spendsense-api", DEPLOYED)
    registered: list[str] = []
    with pytest.raises(pulumi.RunError) as failure:
        record_live("production", {}, mocks, lambda r: registered.append(r.type))
    # The look-up comes before every resource: a failed run has changed nothing.
    assert registered and all(t.startswith("pulumi:providers:") for t in registered), registered
    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith(f"cannot read the image App Runner service {mocks.arn} runs")
    assert "AccessDeniedException" in message and "run again" in message


def test_a_service_found_without_an_image_fails_the_run_instead_of_the_initial_tag() -> None:
    mocks = LiveService("spendsense-api", None)
    with pytest.raises(pulumi.RunError, match="refusing to guess it"):
        record_live("production", {}, mocks)


def test_a_failing_tag_lookup_fails_the_run_in_one_line() -> None:
    class Denied(LiveService):
        def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
            if args.token == TAGGING:
                return {}, [("tagFilters", "AccessDeniedException: tag:GetResources")]
            return super().call(args)

    with pytest.raises(pulumi.RunError, match=r"^cannot look up the running image .*GetResources"):
        record_live("production", {}, Denied("spendsense-api", DEPLOYED))


def test_a_neighbouring_change_resends_the_running_image_not_the_initial_one() -> None:
    """A new port or variable makes the provider re-send the whole image block."""
    mocks = LiveService("spendsense-api", DEPLOYED)
    rec = record_live(
        "production",
        {"spendsense:api.port": 8080, "spendsense:api.environmentVariables": {"LOG_LEVEL": "info"}},
        mocks,
    )
    repository = rec.one(SERVICE).inputs["sourceConfiguration"]["imageRepository"]
    assert repository["imageConfiguration"]["port"] == "8080"
    assert repository["imageIdentifier"] == DEPLOYED


def test_the_service_is_found_by_its_stacks_tags_and_name() -> None:
    mocks = LiveService("spendsense-api-staging", f"{REPO}-staging:20261127_0930")
    rec = record_live("staging", {}, mocks)
    repository = rec.one(SERVICE).inputs["sourceConfiguration"]["imageRepository"]
    assert repository["imageIdentifier"] == f"{REPO}-staging:20261127_0930"
    (tagging,) = [args for token, args in mocks.calls if token == TAGGING]
    assert tagging["resourceTypeFilters"] == ["apprunner:service"]
    assert {f["key"]: f["values"] for f in tagging["tagFilters"]} == {
        "Project": ["spendsense"],
        "Environment": ["staging"],
    }


def test_another_stacks_service_is_not_taken_for_this_one() -> None:
    assert service_arn([], "spendsense-api") is None

    class Mapping:
        resource_arn = f"arn:aws:apprunner:us-east-1:{ACCOUNT_ID}:service/spendsense-api-staging/1"

    assert service_arn([Mapping()], "spendsense-api") is None
    assert service_arn([Mapping()], "spendsense-api-staging") == Mapping.resource_arn


def test_properties_without_an_image_give_none() -> None:
    assert image_identifier(None) is None
    assert image_identifier("not json") is None
    assert image_identifier(json.dumps({"SourceConfiguration": {}})) is None
