"""Which image the API's App Runner service runs right now, read live during every `pulumi up`.

Why: `spendsense deploy` changes the image outside Pulumi. Under `ignore_changes` the engine
would send the image stored in the state (the last value Pulumi applied: CI never refreshes)
whenever it updates the service, and the AWS provider re-sends the whole source configuration,
image included, when anything in it changes (terraform-provider-aws, internal/service/apprunner/
service.go, resourceServiceUpdate: `if d.HasChange("source_configuration") { input.
SourceConfiguration = expandServiceSourceConfiguration(d.Get("source_configuration")...) }`).
A refresh does not help either: Pulumi keeps the state's value for an ignored property
(https://www.pulumi.com/docs/iac/concepts/options/ignorechanges/, pulumi/pulumi#16146).
So the program feeds the running image in as the input: a later `pulumi up` re-sends exactly
the image that runs, whatever else it changes.

How, through the AWS provider (its credentials, region and profile, in preview too): the
Resource Groups Tagging API finds the service by its `Project`/`Environment` tags and its name,
and Cloud Control reads its `SourceConfiguration` (AWS::AppRunner::Service). Both are the
synchronous form of the invokes, so the answer is a plain value when the service is registered
and can choose the service's resource options, which must be plain values then:

- found and readable: `RunningImage(image)`; the image is the input, no `ignore_changes`.
- found by its tags but Cloud Control cannot read it, or it has no image: the run fails with one
  line (`pulumi.RunError`). Never a fallback: a guess here is what would roll production back.
- no service found: `RunningImage(None)`. The service gets `api.initialImageTag` as the input
  AND `ignore_changes` on IMAGE_PATH. For a new stack that creates it from the initial tag (an
  ignored property is still taken from the program when the state has no value, "most
  importantly when creating the resource": the ignoreChanges page above). For an existing
  service the lookup missed (the tagging API is eventually consistent, a tag was removed or
  renamed), the engine keeps the image in the state's inputs instead of the initial tag: the
  image the lookup found at the last `pulumi up` that ran, since every such run fed the live
  image in. That is the running image unless `spendsense deploy` (or `rollback api`) ran
  since that last `pulumi up`: then an update that touches the source configuration sends the
  image of that last `up`. It is `initialImageTag` only for a stack with no `pulumi up` since
  its first one (the one that created the service).

Why not the reviewer's alternative, the stack's own last `api_service_arn` output through a
StackReference to itself: a StackReference's outputs are `Output`s, resolved after the service's
options must be fixed, so they cannot choose `ignore_changes`; Pulumi's StackReference docs
describe reading other stacks, not the one being updated (whose state is locked and rewritten
during the update); a first `up` that failed after creating the service leaves no outputs
(pulumi/pulumi#16289), so that case would still need the tagging API; and `spendsense plan`'s
mock runtime would need a fake backend for it. The tagging API needs no state access and the
same two read grants the preview role already has (infra/ci_trust/aws_program_calls.py).

The mock runtime answers these invokes through `Mocks.call` (RealisticMocks answers nothing for
them: no service, as for a new stack); a real `pulumi preview` runs them too (invokes with known
arguments run in preview).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.settings import Settings

SERVICE_TYPE = "AWS::AppRunner::Service"
# The service's image as the engine names it (an ignore_changes property path).
IMAGE_PATH = "sourceConfiguration.imageRepository.imageIdentifier"


@dataclass(frozen=True)
class RunningImage:
    """The image the stack's service runs now; `image` None: no service was found."""

    image: str | None

    @property
    def ignore_changes(self) -> list[str]:
        """Keep the state's image when no service was found (see the module docstring)."""
        return [] if self.image else [IMAGE_PATH]


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


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def running_image(settings: Settings, provider: pulumi.ProviderResource) -> RunningImage:
    """Look the stack's service up now; raise a one-line RunError if it is found but unreadable."""
    options = pulumi.InvokeOptions(provider=provider)
    try:
        found = aws.resourcegroupstaggingapi.get_resources(
            resource_type_filters=["apprunner:service"],
            tag_filters=[
                {"key": key, "values": [value]}
                for key, value in settings.tags.items()
                if key in ("Project", "Environment")
            ],
            opts=options,
        )
    except Exception as exc:  # the provider's error, as one line
        raise pulumi.RunError(
            f"cannot look up the running image of App Runner service "
            f"{settings.api.service_name!r} (tag:GetResources): {_one_line(exc)}; "
            "fix the access and run again"
        ) from None
    arn = service_arn(found.resource_tag_mapping_lists, settings.api.service_name)
    if arn is None:
        return RunningImage(None)
    try:
        live = aws.cloudcontrol.get_resource(type_name=SERVICE_TYPE, identifier=arn, opts=options)
        image = image_identifier(live.properties)
        why = "its properties have no SourceConfiguration.ImageRepository.ImageIdentifier"
    except Exception as exc:  # the provider's error, as one line
        image, why = None, _one_line(exc)
    if image is None:
        raise pulumi.RunError(
            f"cannot read the image App Runner service {arn} runs (Cloud Control GetResource): "
            f"{why}; refusing to guess it (a guess could roll the API back): fix the read "
            "(cloudformation:GetResource, apprunner:DescribeService) and run again"
        )
    return RunningImage(image)
