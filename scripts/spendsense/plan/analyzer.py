"""Drive a CrossGuard policy pack through its Analyzer gRPC interface, as the engine does.

The pack runs as its own process (cwd = the pack folder, ``python __main__.py``) and writes
its port as the first line of stdout. `PolicyPackProcess.start` returns at once, so callers can
do other work (import the providers, run the program) while the pack starts; `connect` waits
for the port. The process is always killed by `close` (or the context manager).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spendsense.repo import pack_dir as repo_pack_dir

LEVELS = ("advisory", "mandatory", "remediate", "disabled")
_PREVIEW_PREFIX = re.compile(r"^can't run policy '[^']*' from policy pack '[^']*' during preview: ")


class PackError(Exception):
    """The pack did not start or did not answer; one line, with the pack's stderr if any."""


@dataclass(frozen=True)
class PackResource:
    """A resource as the analyzer receives it (inputs in the engine's wire form)."""

    urn: str
    type: str
    name: str
    properties: Any  # google.protobuf.struct_pb2.Struct
    parent: str = ""
    protect: bool = False
    dependencies: Sequence[str] = ()
    property_dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Diagnostic:
    policy: str
    level: str
    urn: str
    message: str
    description: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "policy": self.policy,
            "level": self.level,
            "urn": self.urn,
            "message": self.message,
        }


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    description: str
    level: str
    kind: str  # "resource" or "stack"
    defaults: dict[str, Any]
    schema: Mapping[str, Any] = field(default_factory=dict)  # property -> JSON schema


def _level_name(value: int) -> str:
    from pulumi.runtime.proto import analyzer_pb2

    return str(analyzer_pb2.EnforcementLevel.Name(value)).lower()


def _level_value(name: str) -> int:
    from pulumi.runtime.proto import analyzer_pb2

    return int(analyzer_pb2.EnforcementLevel.Value(name.upper()))


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "number": (int, float),
    "integer": (int, float),
    "string": (str,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _type_problem(spec: Any, value: Any) -> str | None:
    """Why `value` does not fit the property's schema type, or None."""
    if not isinstance(spec, Mapping) or spec.get("type") not in _JSON_TYPES:
        return None
    wanted = str(spec["type"])
    fits = isinstance(value, _JSON_TYPES[wanted]) and (
        wanted == "boolean" or not isinstance(value, bool)
    )
    if fits and wanted == "integer" and isinstance(value, float) and not value.is_integer():
        fits = False
    if fits:
        return None
    article = "an" if wanted[0] in "aeiou" else "a"
    return f"expected {article} {wanted}, got {json.dumps(value)}"


def merge_config(
    policies: Iterable[PolicyInfo], user: Mapping[str, Any] | None = None
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every policy's config as the Pulumi CLI sends it: schema defaults, then the user's file.

    The file has the CLI's format: ``{"all": "mandatory", "<policy>": "advisory" | {
    "enforcementLevel": "...", "<property>": value}}``.
    """
    user = dict(user or {})
    everyone = user.get("all")
    if isinstance(everyone, Mapping):
        everyone = everyone.get("enforcementLevel")
    merged: dict[str, tuple[str, dict[str, Any]]] = {}
    for policy in policies:
        level = str(everyone) if everyone else policy.level
        properties = dict(policy.defaults)
        own = user.get(policy.name)
        if isinstance(own, str):
            level = own
        elif isinstance(own, Mapping):
            level = str(own.get("enforcementLevel") or level)
            for key, value in own.items():
                if key == "enforcementLevel":
                    continue
                problem = _type_problem(policy.schema.get(key), value)
                if problem:
                    raise PackError(f"policy config: {policy.name}.{key}: {problem}")
                properties[key] = value
        if level not in LEVELS:
            raise PackError(
                f"policy config: {policy.name}: unknown enforcement level {level!r}; use one of "
                f"{', '.join(LEVELS)}"
            )
        merged[policy.name] = (level, properties)
    unknown = sorted(set(user) - {"all"} - set(merged))
    if unknown:
        raise PackError(f"policy config names unknown policies: {', '.join(unknown)}")
    return merged


def load_policy_config(path: Path) -> dict[str, Any]:
    from spendsense.errors import BadInput
    from spendsense.readers import read_json

    try:
        data = read_json(path, "policy config", what="a JSON object of policy names")
    except BadInput as exc:
        raise PackError(str(exc)) from None
    if not isinstance(data, dict):
        raise PackError(f"policy config {path}: must be a JSON object of policy names")
    return data


class PolicyPackProcess:
    """A running policy pack and a gRPC client for it."""

    def __init__(self, process: subprocess.Popen[bytes], pack_dir: Path) -> None:
        self.process = process
        self.pack_dir = pack_dir
        self.port: int | None = None
        self._channel: Any = None
        self._stub: Any = None
        self._stderr: Any = None
        self._closing = threading.RLock()

    @classmethod
    def start(cls, pack_dir: Path | None = None, python: str | None = None) -> PolicyPackProcess:
        """Start the pack like the engine: its folder as cwd, `python __main__.py`
        (default: the repository's `policies/`)."""
        pack_dir = repo_pack_dir() if pack_dir is None else pack_dir
        if not (pack_dir / "__main__.py").is_file():
            raise PackError(f"policy pack: {pack_dir}/__main__.py does not exist")
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)  # the pack must stand on its own
        env["PYTHONUNBUFFERED"] = "1"
        # stderr goes to a file, not a pipe: a chatty pack must never block on a full pipe.
        stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        process = subprocess.Popen(
            [python or sys.executable, "__main__.py"],
            cwd=pack_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
        )
        pack = cls(process, pack_dir)
        pack._stderr = stderr
        return pack

    # -- lifecycle -------------------------------------------------------------------------
    def connect(self, timeout: float = 30.0) -> None:
        """Wait for the port line and open the channel; PackError if the pack dies or hangs."""
        if self._stub is not None:
            return
        import grpc
        from pulumi.runtime.proto import analyzer_pb2_grpc

        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise PackError(
                    f"policy pack in {self.pack_dir} did not print its port within {timeout:g} s"
                )
            ready, _, _ = select.select([self.process.stdout], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.process.stdout.fileno(), 64)
            if not chunk:
                self._fail_started()
            line += chunk
        try:
            self.port = int(line.strip())
        except ValueError:
            self.close()
            raise PackError(
                f"policy pack printed {line.strip()[:80]!r} instead of its port"
            ) from None
        self._channel = grpc.insecure_channel(
            f"127.0.0.1:{self.port}",
            options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)],
        )
        self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)

    def _fail_started(self) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        stderr = b""
        if self._stderr is not None:
            with contextlib.suppress(OSError, ValueError):
                self._stderr.seek(0)
                stderr = self._stderr.read()
        lines = [ln for ln in stderr.decode("utf-8", "replace").strip().splitlines() if ln.strip()]
        reason = lines[-1].strip() if lines else f"exit code {self.process.returncode}"
        self.close()
        raise PackError(f"policy pack in {self.pack_dir} did not start: {reason[:300]}")

    def close(self) -> None:
        """Close the channel and kill the pack (idempotent; safe from two threads at once)."""
        with self._closing:
            if self._channel is not None:
                self._channel.close()
                self._channel = None
                self._stub = None
            if self.process.poll() is None:
                self.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
            for stream in (self.process.stdout, self._stderr):
                if stream is not None:
                    stream.close()

    def __enter__(self) -> PolicyPackProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def stub(self) -> Any:
        self.connect()
        return self._stub

    # -- the Analyzer interface ------------------------------------------------------------
    def info(self) -> tuple[str, list[PolicyInfo]]:
        """(pack name, its policies) from GetAnalyzerInfo."""
        from google.protobuf import empty_pb2, json_format

        answer = self.stub.GetAnalyzerInfo(empty_pb2.Empty())
        policies = []
        for policy in answer.policies:
            schema = json_format.MessageToDict(policy.configSchema.properties)
            defaults = {
                k: v["default"] for k, v in schema.items() if isinstance(v, dict) and "default" in v
            }
            kind = "stack" if policy.policy_type == 2 else "resource"
            policies.append(
                PolicyInfo(
                    policy.name,
                    policy.description,
                    _level_name(policy.enforcementLevel),
                    kind,
                    defaults,
                    schema,
                )
            )
        return answer.name, policies

    def configure(self, config: Mapping[str, tuple[str, Mapping[str, Any]]]) -> None:
        from google.protobuf import struct_pb2
        from pulumi.runtime.proto import analyzer_pb2

        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, (level, properties) in config.items():
            struct = struct_pb2.Struct()
            struct.update(dict(properties))
            request.policyConfig[name].CopyFrom(
                analyzer_pb2.PolicyConfig(enforcementLevel=_level_value(level), properties=struct)  # type: ignore[arg-type]
            )
        self.stub.Configure(request)

    def configure_stack(self, stack: str, project: str, *, dry_run: bool = True) -> None:
        from pulumi.runtime.proto import analyzer_pb2

        self.stub.ConfigureStack(
            analyzer_pb2.AnalyzerStackConfigureRequest(
                stack=stack, project=project, dry_run=dry_run
            )
        )

    @staticmethod
    def _options(resource: PackResource) -> Any:
        from pulumi.runtime.proto import analyzer_pb2

        return analyzer_pb2.AnalyzerResourceOptions(
            protect=resource.protect, parent=resource.parent
        )

    def diagnostics(self, answer: Any, default_urn: str) -> list[Diagnostic]:
        """The violations in an `Analyze` or `AnalyzeStack` answer."""
        found = []
        for diagnostic in answer.diagnostics:
            message = diagnostic.message
            prefix = diagnostic.description + "\n"
            if diagnostic.description and message.startswith(prefix):
                message = message[len(prefix) :]
            # The SDK's wording for a value unknown during preview; keep only the policy's part.
            message = _PREVIEW_PREFIX.sub("", message)
            found.append(
                Diagnostic(
                    policy=diagnostic.policyName,
                    level=_level_name(diagnostic.enforcementLevel),
                    urn=diagnostic.urn or default_urn,
                    message=message.strip(),
                    description=diagnostic.description,
                )
            )
        return found

    def _request(self, resource: PackResource) -> Any:
        from pulumi.runtime.proto import analyzer_pb2

        return analyzer_pb2.AnalyzeRequest(
            type=resource.type,
            properties=resource.properties,
            urn=resource.urn,
            name=resource.name,
            options=self._options(resource),
        )

    def analyze(self, resource: PackResource) -> list[Diagnostic]:
        return self.diagnostics(self.stub.Analyze(self._request(resource)), resource.urn)

    def analyze_future(self, resource: PackResource) -> Any:
        """Send `Analyze` for `resource` without waiting; `.result()` is the answer."""
        return self.stub.Analyze.future(self._request(resource))

    def analyze_many(self, resources: Sequence[PackResource], window: int = 8) -> list[Diagnostic]:
        """`Analyze` for every resource, `window` calls in flight at a time, in order."""
        futures: list[tuple[PackResource, Any]] = []
        found: list[Diagnostic] = []
        for resource in resources:
            futures.append((resource, self.stub.Analyze.future(self._request(resource))))
            if len(futures) >= window:
                done, future = futures.pop(0)
                found.extend(self.diagnostics(future.result(), done.urn))
        for done, future in futures:
            found.extend(self.diagnostics(future.result(), done.urn))
        return found

    def analyze_stack(
        self, resources: Sequence[PackResource], stack_urn: str = ""
    ) -> list[Diagnostic]:
        from pulumi.runtime.proto import analyzer_pb2

        request = analyzer_pb2.AnalyzeStackRequest()
        for resource in resources:
            item = request.resources.add()
            item.type = resource.type
            item.properties.CopyFrom(resource.properties)
            item.urn = resource.urn
            item.name = resource.name
            item.options.CopyFrom(self._options(resource))
            item.parent = resource.parent
            item.dependencies.extend(resource.dependencies)
            for key, urns in resource.property_dependencies.items():
                item.propertyDependencies[key].urns.extend(urns)
        return self.diagnostics(self.stub.AnalyzeStack(request), stack_urn)


def struct_of(properties: Mapping[str, Any]) -> Any:
    """A protobuf Struct from plain JSON-like properties (tests and the bench)."""
    from google.protobuf import struct_pb2

    struct = struct_pb2.Struct()
    struct.update(dict(properties))
    return struct
