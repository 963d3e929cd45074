"""Which image the API's App Runner service runs right now, read live during every `pulumi up`.

Why: `spendsense deploy` changes the image outside Pulumi. Under `ignore_changes` the engine
would send the image stored in the state (the initial tag: CI never refreshes) whenever it
updates the service, and the AWS provider re-sends the whole source configuration, image
included, when anything in it changes (terraform-provider-aws, internal/service/apprunner/
service.go, resourceServiceUpdate: `if d.HasChange("source_configuration") { input.
SourceConfiguration = expandServiceSourceConfiguration(d.Get("source_configuration")...) }`).
A refresh does not help either: Pulumi keeps the state's value for an ignored property
(https://www.pulumi.com/docs/iac/concepts/options/ignorechanges/, pulumi/pulumi#16146).
So the program feeds the running image in as the input: a later `pulumi up` re-sends exactly
the image that runs, whatever else it changes.

How, through the AWS provider (its credentials, region and profile, in preview too):
the Resource Groups Tagging API finds the service by its `Project`/`Environment` tags and its
name, and Cloud Control reads its `SourceConfiguration` (AWS::AppRunner::Service). No service
found (a new stack, or the mock runtime): None, and the service is created from
`api.initialImageTag`. The tagging API is eventually consistent: in the minutes after the
service's creation it may not list it yet, and the program then falls back to the initial tag,
which is what the service runs at that point (only a deploy in those minutes would be undone;
the README's "Checks after the first deployment" shows how to see the service listed).
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.settings import Settings

SERVICE_TYPE = "AWS::AppRunner::Service"


def service_arn(mappings: Any, service_name: str) -> str | None:
    """The ARN of the service called `service_name` among the tagging API's results."""
    for mapping in mappings or []:
        arn = str(getattr(mapping, "resource_arn", "") or "")
        if f":service/{service_name}/" in arn:
            return arn
    return None


def image_identifier(properties: str | None) -> str | None:
    """SourceConfiguration.ImageRepository.ImageIdentifier of Cloud Control's properties."""
    try:
        document = json.loads(properties or "{}")
    except ValueError:
        return None
    source = document.get("SourceConfiguration") or {}
    image = (source.get("ImageRepository") or {}).get("ImageIdentifier")
    return str(image) if image else None


def running_image(
    settings: Settings, provider: pulumi.ProviderResource
) -> pulumi.Output[str | None]:
    """The image identifier the stack's service runs now, or None when there is no service."""
    options = pulumi.InvokeOutputOptions(provider=provider)
    found = aws.resourcegroupstaggingapi.get_resources_output(
        resource_type_filters=["apprunner:service"],
        tag_filters=[
            {"key": key, "values": [value]}
            for key, value in settings.tags.items()
            if key in ("Project", "Environment")
        ],
        opts=options,
    )

    def read(mappings: Any) -> pulumi.Output[str | None] | None:
        arn = service_arn(mappings, settings.api.service_name)
        if arn is None:
            return None
        live = aws.cloudcontrol.get_resource_output(
            type_name=SERVICE_TYPE, identifier=arn, opts=options
        )
        return live.properties.apply(image_identifier)

    return found.resource_tag_mapping_lists.apply(read)  # type: ignore[arg-type,return-value]
