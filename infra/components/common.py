"""Helpers every component uses: tags and labels set on each resource, and child options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from infra.settings import Settings


@dataclass(frozen=True)
class Providers:
    """Providers are created once (in program.py) and passed down to every component."""

    aws: pulumi.ProviderResource
    gcp: pulumi.ProviderResource
    vercel: pulumi.ProviderResource


def aws_tags(settings: Settings, **extra: str) -> dict[str, str]:
    """`Project`, `Environment`, `ManagedBy` (+ extras) for one AWS resource.

    Set on each resource explicitly: a provider's default tags are invisible to the mock
    runtime and to the policy pack (DESIGN.md).
    """
    return {**settings.tags, **extra}


def gcp_labels(settings: Settings, **extra: str) -> dict[str, str]:
    """`project`, `environment`, `managed-by` (+ extras) for one GCP resource."""
    return {**settings.labels, **extra}


def child(
    parent: pulumi.Resource, provider: pulumi.ProviderResource | None = None, **kwargs: object
) -> pulumi.ResourceOptions:
    """Options for a component's child: parented, on the given provider."""
    return pulumi.ResourceOptions(parent=parent, provider=provider, **kwargs)  # type: ignore[arg-type]


def stateful(settings: Settings) -> Mapping[str, bool]:
    """`protect` and `retain_on_delete` for a resource that holds data or identity.

    Driven by `spendsense:protectStatefulResources`, never by the stack's name.
    """
    on = settings.protect_stateful_resources
    return {"protect": on, "retain_on_delete": on}


def permissions_boundary(
    settings: Settings, provider: pulumi.ProviderResource
) -> pulumi.Output[str] | None:
    """The ARN of `spendsense:iamPermissionsBoundary` in this account, for every IAM role."""
    name = settings.iam_permissions_boundary
    if name is None:
        return None
    import pulumi_aws as aws

    account = aws.get_caller_identity_output(
        opts=pulumi.InvokeOutputOptions(provider=provider)
    ).account_id
    return pulumi.Output.concat("arn:aws:iam::", account, ":policy/", name)
