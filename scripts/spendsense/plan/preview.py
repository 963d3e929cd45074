"""Run the program offline, judge it with the policy pack, and collect the result.

The pack is started first, as its own process, so that its start-up (~0.4 s of imports)
overlaps with the program's provider imports; it is killed whatever happens.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spendsense.errors import BadInput, OperationFailed
from spendsense.plan import projects
from spendsense.plan.analyzer import (
    Diagnostic,
    PackError,
    PackResource,
    PolicyPackProcess,
    load_policy_config,
    merge_config,
)
from spendsense.plan.projects import Project
from spendsense.readers import DEFAULT_LIMIT, read_yaml
from spendsense.repo import pack_dir as repo_pack_dir

if TYPE_CHECKING:
    from spendsense.plan.recorder import RecordedResource, Recording

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
    directory: str = "."  # the project directory (-C), relative to the repository root
    policy_config: Path | None = None

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


STACK_FILE_LIMIT = DEFAULT_LIMIT  # 1 MiB; a real stack file is ~5 KB
STACK_FILE = "a stack file in the Pulumi.<stack>.yaml format"


def load_stack_config(project: Project, stack: str, config_file: str | None = None) -> Any:
    """A stack's settings as the program reads them: an `infra.stack_config.StackConfig`.

    Public API (used by `spendsense bootstrap` and the tests). Reads `config_file`
    (`--config FILE`), else the project's `Pulumi.<stack>.yaml`, through the bounded reader and
    the hostile-YAML-proof loader; `secure:` values become a placeholder and their keys are
    listed as secret. BadInput (one line) for a file that is not a stack file, or whose
    `environment` names another of the project's stacks."""
    from infra.stack_config import SECRET_PLACEHOLDER, StackConfig

    option = "--config" if config_file is not None else "--stack"
    path = Path(config_file) if config_file is not None else project.stack_file(stack)
    document = read_yaml(path, option, limit=STACK_FILE_LIMIT, what=STACK_FILE)
    if not isinstance(document, dict) or not isinstance(document.get("config"), dict):
        raise BadInput(
            f"{option}: {path}: expected a top-level 'config:' mapping of stack settings"
        )
    secrets: set[str] = set()

    def strip_secure(value: Any, key: str) -> Any:
        if isinstance(value, dict):
            if set(value) == {"secure"}:
                secrets.add(key)
                return SECRET_PLACEHOLDER
            return {k: strip_secure(v, key) for k, v in value.items()}
        if isinstance(value, list):
            return [strip_secure(v, key) for v in value]
        return value

    values = {str(k): strip_secure(v, str(k)) for k, v in document["config"].items()}
    config = StackConfig(path=path, values=values, secret_keys=frozenset(secrets))
    key = project.environment_key
    environment = config.values.get(key) if key else None
    if key and environment in project.stacks() and environment != stack:
        # The policy config (enforcement, bucket names, tags) is chosen by --stack: judging
        # one stack's settings with the other's gives dozens of false violations.
        raise BadInput(
            f"{path.name}: {key} is {environment!r} but --stack is {stack!r}; "
            f"use --stack {environment} with this file, or a config file for {stack}"
        )
    return config


def record_program(
    project: Project,
    stack: str,
    config: Any,
    on_record: Callable[[RecordedResource], None] | None = None,
) -> Recording:
    """Run `project`'s program on `config` (from `load_stack_config`) under the mock runtime,
    as a preview, and return what the engine would see.

    Public API (used by `spendsense bootstrap` and the tests). `on_record` is called with each
    resource as it is registered. A settings error of the program becomes BadInput (exit 2,
    one line); any other failure of the program, OperationFailed."""
    from spendsense.plan.recorder import run_program

    settings_errors = project.settings_errors()
    try:
        return run_program(
            project.main(),
            config.as_pulumi_config(),
            stack=stack,
            project=project.name,
            secret_keys=sorted(config.secret_keys),
            preview=True,
            on_record=on_record,
        )
    except settings_errors as exc:
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
    pack: PolicyPackProcess,
    stack: str,
    resources: list[RecordedResource],
    policy_config: Path,
    project: str = PROJECT,
) -> tuple[str, list[Diagnostic]]:
    """Configure the pack for `stack` and run every resource and the stack through it."""
    session = PackSession(pack, stack, policy_config, project=project)
    session.begin()
    for resource in resources:
        session.submit(resource)
    return session.finish(resources)


class PackSession:
    """One plan's conversation with the pack, as the engine has it during a preview.

    `begin` connects and configures the pack (`GetAnalyzerInfo`, `Configure`,
    `ConfigureStack`) in a background thread, so that it happens while the program's providers
    are imported. `submit` hands it each custom resource as the program registers it, and the
    same thread sends its `Analyze` call (up to 8 in flight), so the pack judges the stack
    while the program is still running; `finish` waits for those answers, in registration
    order, and sends `AnalyzeStack` with every resource. Errors (the pack did not start, it
    stopped answering) are raised by `finish` as PackError.
    """

    _DONE = object()

    def __init__(
        self,
        pack: PolicyPackProcess,
        stack: str,
        policy_config: Path,
        window: int = 8,
        *,
        project: str = PROJECT,
    ) -> None:
        self.pack = pack
        self.stack = stack
        self.project = project
        self.policy_config = policy_config
        self.window = window
        self.name = ""
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._found: list[Diagnostic] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="policy-pack", daemon=True)

    def begin(self) -> None:
        # Everything the thread imports is imported here first, in the caller's thread: two
        # threads importing pulumi's circular proto package at once fail with "partially
        # initialized module" (seen under load, more often without bytecode).
        import grpc  # noqa: F401
        from google.protobuf import empty_pb2, json_format, struct_pb2  # noqa: F401
        from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc  # noqa: F401

        self._thread.start()

    def submit(self, resource: RecordedResource) -> None:
        """Called from the mock runtime's threads for every registered resource: never raises."""
        if analyzed(resource):
            self._queue.put(resource)

    def stop(self) -> None:
        """Let the thread end (idempotent); the program may have failed before `finish`."""
        self._queue.put(self._DONE)

    def finish(self, resources: list[RecordedResource]) -> tuple[str, list[Diagnostic]]:
        import grpc

        self.stop()
        self._thread.join()
        try:
            if self._error is not None:
                raise self._error
            everything = pack_resources(resources)
            found = self._found + self.pack.analyze_stack(
                everything, stack_urn=stack_urn(self.stack, self.project)
            )
        except grpc.RpcError as exc:
            raise PackError(
                f"policy pack stopped answering: {exc.code().name}: {exc.details()}"
            ) from None
        return self.name, found

    def _run(self) -> None:
        try:
            self.pack.connect()
            self.name, policies = self.pack.info()
            self.pack.configure(merge_config(policies, load_policy_config(self.policy_config)))
            self.pack.configure_stack(self.stack, self.project, dry_run=True)
            in_flight: list[tuple[str, Any]] = []
            while True:
                item = self._queue.get()
                if item is self._DONE:
                    break
                (request,) = pack_resources([item])
                in_flight.append((request.urn, self.pack.analyze_future(request)))
                if len(in_flight) >= self.window:
                    self._collect(in_flight.pop(0))
            for pending in in_flight:
                self._collect(pending)
        except BaseException as exc:
            self._error = exc  # raised by finish(), in the caller's thread

    def _collect(self, pending: tuple[str, Any]) -> None:
        urn, future = pending
        self._found.extend(self.pack.diagnostics(future.result(), urn))


def notes_for(recording: Recording) -> list[str]:
    notes = []
    note = recording.outputs.get("frontend_redeploy_note")
    public = [
        r
        for r in recording.resources
        if r.type.startswith("vercel:") and str(r.inputs.get("key", "")).startswith("NEXT_PUBLIC_")
    ]
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
    lean_providers: bool = False,
    project: Project | None = None,
) -> PlanResult:
    """The whole offline preview. BadInput (exit 2) for anything the user must fix first.

    Without `pack`, the policy pack in `pack_dir` (default: policies/) is started first, so
    it starts while the program's providers are imported, and killed at the end. A running
    `pack` (tests, the bench) is reused and left running. `lean_providers` imports only the
    provider modules the program uses (`spendsense.plan.providers`; for a process that does
    nothing else). `project` is the Pulumi project to plan (`-C`; default: the main one).
    """
    project = project or projects.MAIN
    project.check_stack(stack)
    pack_dir = pack_dir or repo_pack_dir()
    policy_config = project.policy_config(pack_dir, stack)
    own = pack is None
    if pack is None:
        try:
            pack = PolicyPackProcess.start(pack_dir)
        except (PackError, OSError) as exc:
            raise BadInput(f"policy pack: {exc}") from None
    session = PackSession(pack, stack, policy_config, project=project.name)
    try:
        session.begin()
        config = load_stack_config(project, stack, config_file)
        if lean_providers:
            from spendsense.plan.providers import import_lean

            import_lean()
        recording = record_program(project, stack, config, on_record=session.submit)
        try:
            pack_name, violations = session.finish(recording.resources)
        except PackError as exc:
            raise BadInput(str(exc)) from None
    finally:
        session.stop()
        if own:
            pack.close()
    return PlanResult(
        stack=stack,
        project=recording.project,
        config_file=config.path,
        pack_name=pack_name,
        resources=recording.resources,
        outputs=recording.outputs,
        violations=sorted(violations, key=violation_order),
        notes=notes_for(recording),
        directory=project.relative,
        policy_config=policy_config,
    )


_LEVEL_ORDER = {"mandatory": 0, "remediate": 1, "advisory": 2, "disabled": 3}


def violation_order(v: Diagnostic) -> tuple[int, str, str]:
    return (_LEVEL_ORDER.get(v.level, 9), v.policy, v.urn)
