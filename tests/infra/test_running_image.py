"""After `spendsense deploy`, no `pulumi up` may change the running image (issue 12, point 4).

The program reads the image the service runs now through the AWS provider (the tagging API,
then Cloud Control) and passes it back as the input. Here the mock runtime answers those two
look-ups the way AWS does for a stack whose service runs a deployed image.
"""

from __future__ import annotations

import json
from typing import Any

from pulumi.runtime import mocks as pulumi_mocks
from spendsense.plan.recorder import ACCOUNT_ID, RealisticMocks, Recording, run_program

from infra.components.running_image import image_identifier, service_arn
from tests.infra.conftest import with_changes

SERVICE = "aws:apprunner/service:Service"
TAGGING = "aws:resourcegroupstaggingapi/getResources:getResources"
CLOUD_CONTROL = "aws:cloudcontrol/getResource:getResource"
REPO = f"{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/spendsense-api"
DEPLOYED = f"{REPO}:20261127_0930"


class LiveService(RealisticMocks):
    """AWS as it is after `spendsense deploy --image-tag 20261127_0930` on production."""

    def __init__(self, service_name: str, image: str) -> None:
        super().__init__()
        self.arn = f"arn:aws:apprunner:us-east-1:{ACCOUNT_ID}:service/{service_name}/0a1b2c3d"
        self.image = image
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        self.calls.append((args.token, dict(args.args)))
        if args.token == TAGGING:
            other = f"arn:aws:apprunner:us-east-1:{ACCOUNT_ID}:service/another-service/ffff"
            return {
                "id": "us-east-1",
                "resourceTagMappingLists": [
                    {"resourceArn": other, "tags": {}, "complianceDetails": []},
                    {"resourceArn": self.arn, "tags": {}, "complianceDetails": []},
                ],
            }, []
        if args.token == CLOUD_CONTROL and args.args.get("identifier") == self.arn:
            properties = {
                "ServiceName": "spendsense-api",
                "SourceConfiguration": {
                    "ImageRepository": {
                        "ImageIdentifier": self.image,
                        "ImageRepositoryType": "ECR",
                        "ImageConfiguration": {"Port": "8000"},
                    },
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


def record_live(stack: str, changes: dict[str, Any], mocks: LiveService) -> Recording:
    from infra.program import main

    values = with_changes(stack, changes)
    config = {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    return run_program(main, config, stack=stack, preview=False, mocks=mocks)


def test_pulumi_up_after_a_deploy_passes_the_running_image_back() -> None:
    mocks = LiveService("spendsense-api", DEPLOYED)
    rec = record_live("production", {}, mocks)
    service = rec.one(SERVICE)
    image = service.inputs["sourceConfiguration"]["imageRepository"]["imageIdentifier"]
    assert image == DEPLOYED
    # The value is the input itself: ignore_changes would make the engine send the state's
    # stale value instead whenever anything else in the source configuration changes.
    assert not any("imageIdentifier" in path for path in service.ignore_changes)


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
