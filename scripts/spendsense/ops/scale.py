"""`spendsense scale`: validate a new API size against the runbook's limits, write it into the
stack file, and optionally apply it at once through the App Runner API.

The limits come from `policies/limits.json`, the file the policy pack also reads, so the CLI
can never accept a size the pack rejects. The stack file is edited with ruamel.yaml's
round-trip mode, so its comments, order and layout survive.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spendsense.errors import BadInput, OperationFailed
from spendsense.units import SIZE_NUMBER, size_value

API_KEY = "spendsense:api"
LIMITS_PATH = Path("policies") / "limits.json"


@dataclass(frozen=True)
class ApprunnerLimits:
    pairs: Mapping[str, tuple[str, ...]]
    max_cpu: str
    max_memory: str
    min_instances: int
    max_instances: int
    max_concurrency: int

    def allowed_cpus(self) -> list[str]:
        top = size_value(self.max_cpu)
        return [cpu for cpu in self.pairs if size_value(cpu) <= top]

    def allowed_memories(self, cpu: str) -> list[str]:
        top = size_value(self.max_memory)
        return [memory for memory in self.pairs.get(cpu, ()) if size_value(memory) <= top]


def load_limits(repo_root: Path) -> ApprunnerLimits:
    """`apprunner` limits from `<repo_root>/policies/limits.json`, read by infra/limits.py."""
    from infra.limits import LimitsError, read_pack_limits

    path = repo_root / LIMITS_PATH
    try:
        data = read_pack_limits(path).apprunner
    except LimitsError as exc:
        raise BadInput(f"cannot read the App Runner limits: {exc}") from None
    return ApprunnerLimits(
        pairs=dict(data.cpu_memory_pairs),
        max_cpu=data.max_cpu,
        max_memory=data.max_memory,
        min_instances=data.min_instances,
        max_instances=data.max_instances,
        max_concurrency=data.max_concurrency,
    )


def _normalize(text: str, unit: str, known: list[str]) -> str | None:
    """`2`, `2 vCPU`, `2vcpu` -> the spelling in `known` with the same number, else None."""
    match = re.fullmatch(SIZE_NUMBER + r"\s*(" + unit + r")?", text.strip(), flags=re.IGNORECASE)
    if not match:
        return None
    value = float(match.group(1))
    return next((item for item in known if size_value(item) == value), f"{match.group(1)} {unit}")


def _whole(api: Mapping[str, Any], key: str, default: int, file_name: str) -> int:
    """A whole-number field of the stack file's spendsense:api, or BadInput naming it."""
    value = api.get(key, default)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise BadInput(
        f"{API_KEY}.{key} in {file_name} is {value!r}, not a whole number; fix the stack file "
        "(`spendsense plan` checks it)"
    )


@dataclass(frozen=True)
class Change:
    key: str  # the field inside spendsense:api (camelCase, as in the stack file)
    old: Any
    new: Any


@dataclass(frozen=True)
class ScalePlan:
    stack_file: Path
    changes: list[Change]
    api: dict[str, Any] = field(default_factory=dict)  # the resulting values
    # the fields the user asked for (camelCase), changed in the file or not
    requested: frozenset[str] = frozenset()

    @property
    def instance_changed(self) -> bool:
        return any(change.key in ("cpu", "memory") for change in self.changes)

    @property
    def scaling_changed(self) -> bool:
        return any(change.key in ("minInstances", "maxInstances") for change in self.changes)

    @property
    def instance_requested(self) -> bool:
        """--cpu or --memory was given: --now sets the live instance size."""
        return bool(self.requested & {"cpu", "memory"})

    @property
    def scaling_requested(self) -> bool:
        """--min or --max was given: --now makes a new auto scaling revision."""
        return bool(self.requested & {"minInstances", "maxInstances"})

    def live_summary(self) -> str:
        """What --now does to the live service, for "Would ..." and "Applied ..." lines."""
        what = []
        if self.instance_requested:
            what.append(f"instance size {self.api['cpu']} / {self.api['memory']}")
        if self.scaling_requested:
            what.append(
                "a new auto scaling revision with "
                f"{self.api['minInstances']}..{self.api['maxInstances']} instances"
            )
        return " and ".join(what)


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def read_stack_file(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            document = _yaml().load(handle)
    except FileNotFoundError:
        raise BadInput(f"{path} does not exist; pass an existing stack file") from None
    except Exception as exc:
        raise BadInput(f"{path} is not valid YAML ({type(exc).__name__})") from None
    config = document.get("config") if isinstance(document, Mapping) else None
    api = config.get(API_KEY) if isinstance(config, Mapping) else None
    if not isinstance(api, Mapping):
        raise BadInput(f"{path} has no `config: {API_KEY}:` object to scale")
    return document


def plan_scale(
    stack_file: Path,
    limits: ApprunnerLimits,
    *,
    cpu: str | None = None,
    memory: str | None = None,
    min_instances: int | None = None,
    max_instances: int | None = None,
) -> ScalePlan:
    """Validate the request against the limits and the stack file's current values."""
    if cpu is None and memory is None and min_instances is None and max_instances is None:
        raise BadInput("nothing to change: pass at least one of --cpu, --memory, --min, --max")
    api = read_stack_file(stack_file)["config"][API_KEY]
    name = stack_file.name
    where = f"{LIMITS_PATH.as_posix()}"
    cpus = limits.allowed_cpus()

    new_cpu = str(api.get("cpu", ""))
    if cpu is not None:
        normal = _normalize(cpu, "vCPU", list(limits.pairs))
        if normal not in cpus:
            raise BadInput(
                f"--cpu: {cpu!r} is not allowed; use one of {', '.join(cpus)} "
                f"(App Runner's sizes up to apprunner.maxCpu {limits.max_cpu} in {where})"
            )
        new_cpu = normal
    new_memory = str(api.get("memory", ""))
    memories = limits.allowed_memories(new_cpu)
    if memory is not None:
        normal = _normalize(memory, "GB", [m for ms in limits.pairs.values() for m in ms])
        if normal not in memories:
            raise BadInput(
                f"--memory: {memory!r} does not go with {new_cpu}; use one of "
                f"{', '.join(memories) or 'nothing (no allowed pair)'} (App Runner's pairs up to "
                f"apprunner.maxMemory {limits.max_memory} in {where})"
            )
        new_memory = normal
    elif new_memory not in memories:
        raise BadInput(
            f"--cpu: {new_cpu} does not go with the stack's memory {new_memory} ({name}); "
            f"pass --memory, one of {', '.join(memories)}"
        )

    low, high = limits.min_instances, limits.max_instances
    for option, value in (("--min", min_instances), ("--max", max_instances)):
        if value is not None and not low <= value <= high:
            raise BadInput(
                f"{option}: {value} is outside {low}..{high} "
                f"(apprunner.minInstances..apprunner.maxInstances in {where})"
            )
    new_min = min_instances if min_instances is not None else _whole(api, "minInstances", low, name)
    new_max = (
        max_instances if max_instances is not None else _whole(api, "maxInstances", high, name)
    )
    if new_min > new_max:
        if min_instances is not None and max_instances is not None:
            raise BadInput(f"--min: {new_min} is above --max {new_max}")
        if min_instances is not None:
            raise BadInput(
                f"--min: {new_min} is above the stack's maxInstances {new_max} ({name}); "
                "raise --max too"
            )
        raise BadInput(
            f"--max: {new_max} is below the stack's minInstances {new_min} ({name}); lower --min "
            "too"
        )

    wanted = {
        "cpu": new_cpu,
        "memory": new_memory,
        "minInstances": new_min,
        "maxInstances": new_max,
    }
    changes = [
        Change(key, api.get(key), value) for key, value in wanted.items() if api.get(key) != value
    ]
    result = {**{key: api.get(key) for key in ("maxConcurrency",)}, **wanted}
    given = {
        "cpu": cpu,
        "memory": memory,
        "minInstances": min_instances,
        "maxInstances": max_instances,
    }
    requested = frozenset(key for key, value in given.items() if value is not None)
    return ScalePlan(stack_file=stack_file, changes=changes, api=result, requested=requested)


def write_stack_file(plan: ScalePlan) -> None:
    """Write the plan's changes into the stack file, keeping comments, order and layout.

    The new text is written to a temporary file next to it and moved over it, so a failure
    (disk full, interrupted) leaves the old file whole rather than half written.
    """
    import io
    import os
    import tempfile

    yaml = _yaml()
    path = plan.stack_file
    document = read_stack_file(path)
    api = document["config"][API_KEY]
    for change in plan.changes:
        api[change.key] = change.new
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(buffer.getvalue())
            os.chmod(temporary, path.stat().st_mode & 0o7777)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise OperationFailed(
            f"cannot write {path} ({exc.strerror or exc}); it was left as it was"
        ) from None


@dataclass(frozen=True)
class AppliedNow:
    status: str  # the UpdateService operation's final status
    # the auto scaling configuration revision --now created: Pulumi does not manage it
    auto_scaling_arn: str | None = None


def unmanaged_revision_note(arn: str, stack: str) -> str:
    """What to do about an auto scaling revision `scale --now` created outside Pulumi."""
    return (
        f"Auto scaling configuration revision {arn} was created outside Pulumi, which does not "
        f"manage it: once `pulumi up --stack {stack}` has pointed the service at the stack's own "
        "configuration again (run `pulumi refresh` first so it sees the live change), delete it "
        f"with `aws apprunner delete-auto-scaling-configuration --auto-scaling-configuration-arn "
        f"{arn}` (App Runner refuses while a service uses it)."
    )


def apply_now(
    client: Any,
    service_arn: str,
    plan: ScalePlan,
    *,
    timeout: float,
    poll: float,
    progress: Callable[[str], None],
    service: dict[str, Any] | None = None,
) -> AppliedNow:
    """Apply the requested values through UpdateService (and a new auto scaling revision).
    `service` is a DescribeService result just read (else it is read here)."""
    from spendsense.ops import apprunner

    if service is None:
        service = apprunner.ensure_not_busy(client, service_arn)
    changes: dict[str, Any] = {}
    created: str | None = None
    if plan.instance_requested:
        instance: dict[str, Any] = {"Cpu": plan.api["cpu"], "Memory": plan.api["memory"]}
        role = service.get("InstanceConfiguration", {}).get("InstanceRoleArn")
        if role:
            instance["InstanceRoleArn"] = role
        changes["InstanceConfiguration"] = instance
    if plan.scaling_requested:
        summary = service.get("AutoScalingConfigurationSummary", {})
        name = (
            summary.get("AutoScalingConfigurationName")
            or apprunner.service_name_from_arn(service_arn)[:32]
        )
        params: dict[str, Any] = {
            "AutoScalingConfigurationName": name,
            "MinSize": int(plan.api["minInstances"]),
            "MaxSize": int(plan.api["maxInstances"]),
        }
        if plan.api.get("maxConcurrency") is not None:
            params["MaxConcurrency"] = int(plan.api["maxConcurrency"])
        response = apprunner.call(
            client,
            "create_auto_scaling_configuration",
            "create an App Runner auto scaling configuration revision",
            progress=progress,
            **params,
        )
        created = str(response["AutoScalingConfiguration"]["AutoScalingConfigurationArn"])
        progress(f"created auto scaling configuration {created} (not managed by Pulumi)")
        changes["AutoScalingConfigurationArn"] = created
    operation_id = apprunner.update_service(
        client, service_arn, "scale the App Runner service", progress=progress, **changes
    )
    progress(f"UpdateService: operation {operation_id}")
    status = apprunner.follow_or_explain(
        client,
        service_arn,
        operation_id,
        "scaling the service",
        timeout=timeout,
        poll=poll,
        progress=progress,
    )
    return AppliedNow(status=status, auto_scaling_arn=created)
