"""What `spendsense bootstrap` does: bring a new stack's image registry up before its service.

App Runner cannot create a service from an image that does not exist, and the registry is
created by the same program, so a new stack comes up in two steps: a targeted `pulumi up` of
the registry (and of what it needs), then, once the image `api.initialImageTag` is pushed, the
full `pulumi up`. "Bootstrap complete" means: the ECR repository exists and holds that image
(or the stack's App Runner service already exists).

The targets are computed from the program itself, run under the mock runtime: the ECR
repository and its lifecycle policy, then everything they need, closed under parents,
dependencies and providers. A child whose parent is not targeted is refused by the engine
(pulumi/pulumi#14531); a targeted component may bring its children (pulumi/pulumi#7605), so a
targeted component's children are targeted too, and so are theirs' dependencies. The explicit
provider is listed as well (whether the engine targets providers by itself depends on its
version, pulumi/pulumi#14238). The root stack resource is never listed (it is created anyway,
and as a component it would bring everything).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from spendsense.clients import describe_aws_error
from spendsense.errors import OperationFailed

SEED_TYPES = ("aws:ecr/repository:Repository", "aws:ecr/lifecyclePolicy:LifecyclePolicy")
ROOT_STACK_TYPE = "pulumi:pulumi:Stack"


def target_closure(resources: Sequence[Any], seed_types: Iterable[str] = SEED_TYPES) -> list[str]:
    """The URNs to pass to `pulumi up --target`: the seeds and everything they need.

    `resources` are the recorder's RecordedResource objects (urn, type, parent, custom,
    provider, dependencies).
    """
    by_urn = {r.urn: r for r in resources}
    children: dict[str, list[str]] = {}
    for r in resources:
        children.setdefault(r.parent, []).append(r.urn)
    seeds = [r.urn for r in resources if r.type in set(seed_types)]
    if not seeds:
        raise OperationFailed("the program declares no ECR repository: nothing to bootstrap first")
    closure: set[str] = set()
    pending = list(seeds)
    while pending:
        urn = pending.pop()
        if urn in closure or urn not in by_urn:
            continue  # the root stack (never recorded) or already in
        closure.add(urn)
        resource = by_urn[urn]
        pending.append(resource.parent)
        pending.extend(resource.dependencies)
        if resource.provider:
            pending.append(provider_urn(resource.provider))
        if not resource.custom:
            pending.extend(children.get(urn, []))
    return [r.urn for r in resources if r.urn in closure and r.type != ROOT_STACK_TYPE]


def provider_urn(reference: str) -> str:
    """A provider reference is `<urn>::<id>`."""
    return reference.rsplit("::", 1)[0]


def pulumi_up_command(stack: str, targets: Sequence[str]) -> list[str]:
    """The targeted `pulumi up`, with the stack's policy pack as every deploy runs it."""
    command = [
        "pulumi",
        "up",
        "--stack",
        stack,
        "--yes",
        "--policy-pack",
        "policies",
        "--policy-pack-config",
        f"policies/config/{stack}.json",
        "--message",
        "spendsense bootstrap: the image registry before the API service",
    ]
    for urn in targets:
        command += ["--target", urn]
    return command


@dataclass(frozen=True)
class RegistryState:
    service_exists: bool
    repository_exists: bool
    image_exists: bool

    @property
    def complete(self) -> bool:
        return self.service_exists or (self.repository_exists and self.image_exists)

    @property
    def needs_registry(self) -> bool:
        """The registry must be created first (a targeted `pulumi up`): nothing is complete
        and the ECR repository does not exist yet."""
        return not self.complete and not self.repository_exists


def registry_state(
    ecr: Any, apprunner: Any, repository_name: str, tag: str, service_name: str
) -> RegistryState:
    """What exists now: the App Runner service, the ECR repository, the initial image."""
    return RegistryState(
        service_exists=_service_exists(apprunner, service_name),
        repository_exists=(exists := _repository_exists(ecr, repository_name)),
        image_exists=exists and _image_exists(ecr, repository_name, tag),
    )


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _service_exists(client: Any, service_name: str) -> bool:
    token: str | None = None
    try:
        while True:  # App Runner has no paginator for ListServices
            page = client.list_services(**({"NextToken": token} if token else {}))
            for summary in page.get("ServiceSummaryList", []):
                if summary.get("ServiceName") == service_name:
                    return True
            token = page.get("NextToken")
            if not token:
                return False
    except Exception as exc:
        raise describe_aws_error(exc, "list the App Runner services") from None


def _repository_exists(client: Any, repository_name: str) -> bool:
    try:
        client.describe_repositories(repositoryNames=[repository_name])
    except Exception as exc:
        if _code(exc) == "RepositoryNotFoundException":
            return False
        raise describe_aws_error(exc, f"look up ECR repository {repository_name}") from None
    return True


def _image_exists(client: Any, repository_name: str, tag: str) -> bool:
    try:
        client.describe_images(repositoryName=repository_name, imageIds=[{"imageTag": tag}])
    except Exception as exc:
        if _code(exc) == "ImageNotFoundException":
            return False
        raise describe_aws_error(exc, f"look up {repository_name}:{tag} in ECR") from None
    return True
