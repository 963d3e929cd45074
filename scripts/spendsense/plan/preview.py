"""Run the program offline, judge it with the policy pack, and collect the result.

The pack is started first, as its own process, so that its start-up (~0.4 s of imports)
overlaps with the program's provider imports; it is killed whatever happens.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spendsense.errors import BadInput, OperationFailed
from spendsense.plan.analyzer import (
    PACK_DIR,
    Diagnostic,
    PackError,
    PackResource,
    PolicyPackProcess,
    load_policy_config,
    merge_config,
)

if TYPE_CHECKING:
    from spendsense.recorder import RecordedResource, Recording

PROJECT = "spendsense"
REDEPLOY_NOTE = (
    "NEXT_PUBLIC_ values are compiled into the frontend at build time: a change takes effect "
    "only with a new Vercel deployment (vercel --prod, or push a commit)."
)


@dataclass
class PlanResult:
    stack: str
    project: str
    config_file: Path
    pack_name: str
    resources: list[RecordedResource]
    outputs: dict[str, Any]
    violations: list[Diagnostic]
    notes: list[str] = field(default_factory=list)

    @property
    def stack_urn(self) -> str:
        return stack_urn(self.stack, self.project)

    def count(self, level: str) -> int:
        return sum(1 for v in self.violations if v.level == level)

    @property
    def ok(self) -> bool:
        return self.count("mandatory") == 0

    def by_type(self) -> Counter[str]:
        return Counter(r.type for r in self.resources)


def stack_urn(stack: str, project: str = PROJECT) -> str:
    return f"urn:pulumi:{stack}::{project}::pulumi:pulumi:Stack::{project}-{stack}"


def _load_config(stack: str, config_file: str | None) -> Any:
    from infra.stack_config import StackFileError, load_stack_config, stack_file

    try:
        path = Path(config_file) if config_file else stack_file(stack)
        return load_stack_config(path)
    except StackFileError as exc:
        raise BadInput(str(exc)) from None


def _record(stack: str, config: Any) -> Recording:
    from infra.settings import SettingsError
    from spendsense.recorder import run_program

    try:
        from infra.program import main

        return run_program(
            main,
            config.as_pulumi_config(),
            stack=stack,
            project=PROJECT,
            secret_keys=sorted(config.secret_keys),
            preview=True,
        )
    except SettingsError as exc:
        raise BadInput(f"{config.path.name}: {exc}") from None
    except Exception as exc:
        if os.environ.get("SPENDSENSE_DEBUG"):
            raise
        first = (str(exc).strip().splitlines() or [""])[0]
        raise OperationFailed(
            f"the program failed under the mock runtime: {type(exc).__name__}: {first} "
            "(set SPENDSENSE_DEBUG=1 for the traceback)"
        ) from None


def pack_resources(resources: list[RecordedResource]) -> list[PackResource]:
    return [
        PackResource(
            urn=r.urn,
            type=r.type,
            name=r.name,
            properties=r.wire,
            parent=r.parent,
            protect=r.protect,
            dependencies=tuple(r.dependencies),
        )
        for r in resources
    ]


def analyzed(resource: RecordedResource) -> bool:
    """The engine runs resource policies on custom resources (providers aside)."""
    return resource.custom and not resource.type.startswith("pulumi:providers:")


def judge(
    pack: PolicyPackProcess, stack: str, resources: list[RecordedResource], policy_config: Path
) -> tuple[str, list[Diagnostic]]:
    """Configure the pack for `stack` and run every resource and the stack through it."""
    import grpc

    try:
        return _judge(pack, stack, resources, policy_config)
    except grpc.RpcError as exc:
        raise PackError(
            f"policy pack stopped answering: {exc.code().name}: {exc.details()}"
        ) from None


def _judge(
    pack: PolicyPackProcess, stack: str, resources: list[RecordedResource], policy_config: Path
) -> tuple[str, list[Diagnostic]]:
    pack.connect()
    name, policies = pack.info()
    pack.configure(merge_config(policies, load_policy_config(policy_config)))
    pack.configure_stack(stack, PROJECT, dry_run=True)
    everything = pack_resources(resources)
    found = pack.analyze_many(
        [p for p, r in zip(everything, resources, strict=True) if analyzed(r)]
    )
    found += pack.analyze_stack(everything, stack_urn=stack_urn(stack))
    return name, found


def notes_for(recording: Recording) -> list[str]:
    notes = []
    note = recording.outputs.get("frontend_redeploy_note")
    public = [
        r for r in recording.resources
        if r.type.startswith("vercel:") and str(r.inputs.get("key", "")).startswith("NEXT_PUBLIC_")
    ]  # fmt: skip
    if isinstance(note, str) and note not in ("[unknown]", "[secret]"):
        notes.append(note)
    elif public:
        notes.append(REDEPLOY_NOTE)
    return notes


def run_plan(
    stack: str,
    config_file: str | None = None,
    *,
    pack: PolicyPackProcess | None = None,
    pack_dir: Path | None = None,
) -> PlanResult:
    """The whole offline preview. BadInput (exit 2) for anything the user must fix first.

    Without `pack`, the policy pack in `pack_dir` (default: policies/) is started first, so
    it starts while the program's providers are imported, and killed at the end. A running
    `pack` (tests, the bench) is reused and left running.
    """
    pack_dir = pack_dir or PACK_DIR
    policy_config = pack_dir / "config" / f"{stack}.json"
    own = pack is None
    if pack is None:
        try:
            pack = PolicyPackProcess.start(pack_dir)
        except (PackError, OSError) as exc:
            raise BadInput(f"policy pack: {exc}") from None
    try:
        config = _load_config(stack, config_file)
        recording = _record(stack, config)
        try:
            pack_name, violations = judge(pack, stack, recording.resources, policy_config)
        except PackError as exc:
            raise BadInput(str(exc)) from None
    finally:
        if own:
            pack.close()
    return PlanResult(
        stack=stack,
        project=recording.project,
        config_file=config.path,
        pack_name=pack_name,
        resources=recording.resources,
        outputs=recording.outputs,
        violations=sorted(violations, key=_violation_order),
        notes=notes_for(recording),
    )


_LEVEL_ORDER = {"mandatory": 0, "remediate": 1, "advisory": 2, "disabled": 3}


def _violation_order(v: Diagnostic) -> tuple[int, str, str]:
    return (_LEVEL_ORDER.get(v.level, 9), v.policy, v.urn)
