"""The trust stack and the main program agree: what each deploy role is scoped to (names,
tags, boundary) is what that stack really creates, so a deploy is not denied for a name or a
tag the trust does not know. Both run under Pulumi's mock runtime."""

from __future__ import annotations

import pytest
from spendsense.plan.recorder import Recording

from infra.ci_trust.settings import EnvironmentSettings, parse_trust_settings
from tests.ci.test_ci_trust import stack_config
from tests.infra.conftest import record

# Name inputs of the AWS resources that have a physical name, and the fixed path before it.
NAME_INPUTS = (
    "name",
    "serviceName",
    "dashboardName",
    "autoScalingConfigurationName",
    "observabilityConfigurationName",
)
NAME_PATHS = ("/aws/lambda/", "/aws/apprunner/", "alias/")
# Resources AWS or Pulumi name: the deploy role reaches them by their tags.
TAG_SCOPED = ("aws:iam/role:Role", "aws:kms/key:Key")
# Resources that are part of another one (no name or tags of their own in IAM).
SUBORDINATE = ("aws:iam/rolePolicy:RolePolicy", "aws:ecr/lifecyclePolicy:LifecyclePolicy")


@pytest.fixture(scope="module", params=["staging", "production"])
def stack(request: pytest.FixtureRequest) -> tuple[str, Recording]:
    return request.param, record(request.param)


def environment(name: str) -> EnvironmentSettings:
    return parse_trust_settings(stack_config()).environment(name)


def test_every_named_aws_resource_starts_with_its_environments_prefix(
    stack: tuple[str, Recording],
) -> None:
    name, recording = stack
    prefixes = environment(name).resource_prefixes
    for resource in recording.resources:
        if not resource.type.startswith("aws:") or resource.type in SUBORDINATE:
            continue
        for key in NAME_INPUTS:
            value = resource.inputs.get(key)
            if isinstance(value, str) and resource.type != "aws:iam/role:Role":
                physical = value
                for path in NAME_PATHS:
                    physical = physical.removeprefix(path)
                assert physical.startswith(tuple(prefixes)), (
                    f"{name}: {resource.type} {resource.name} is named {value!r}; the "
                    f"{name} deploy role may only act on names starting with {prefixes} "
                    "(infra/ci_trust/Pulumi.ci.yaml, environments[].resourcePrefixes)"
                )


def test_tag_scoped_resources_carry_the_stacks_tags(stack: tuple[str, Recording]) -> None:
    name, recording = stack
    for resource in recording.resources:
        if resource.type in TAG_SCOPED:
            tags = resource.inputs.get("tags") or {}
            assert tags.get("Project") == "spendsense", resource.name
            assert tags.get("Environment") == name, resource.name


def test_every_role_carries_its_environments_boundary(stack: tuple[str, Recording]) -> None:
    """The deploy role may create a role only with its environment's boundary: the stack file's
    `spendsense:iamPermissionsBoundary` must name that environment's `boundaryName`."""
    name, recording = stack
    expected = f"arn:aws:iam::123456789012:policy/{environment(name).boundary_name}"
    for role in recording.by_type("aws:iam/role:Role"):
        assert role.inputs.get("permissionsBoundary") == expected, (
            f"Pulumi.{name}.yaml: spendsense:iamPermissionsBoundary must be "
            f"{environment(name).boundary_name} (role {role.name} carries "
            f"{role.inputs.get('permissionsBoundary')!r})"
        )
