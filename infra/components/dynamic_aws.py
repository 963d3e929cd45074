"""What the program's small dynamic resources share: how they reach AWS.

A dynamic resource runs inside the Pulumi engine's Python provider host, not through the AWS
provider plugin, so it cannot borrow the provider's credentials. It uses boto3's default chain
(the same environment variables, `AWS_PROFILE`, SSO or OIDC web identity the AWS provider
reads), with the stack's region and, when the stack sets `aws:profile`, that profile.
Everything it needs travels in its properties, so the engine can run it again on its own.
"""

from __future__ import annotations

from typing import Any

import pulumi

from infra.settings import Settings


def aws_target(settings: Settings) -> dict[str, str]:
    """The region and the optional profile a dynamic resource uses (its properties)."""
    return {"region": settings.aws_region, "profile": pulumi.Config("aws").get("profile") or ""}


def aws_client(service: str, props: dict[str, Any]) -> Any:
    """A boto3 client for the region (and profile) in a dynamic resource's properties."""
    import boto3

    session = boto3.Session(profile_name=props.get("profile") or None)
    return session.client(service, region_name=props["region"])  # type: ignore[call-overload]
