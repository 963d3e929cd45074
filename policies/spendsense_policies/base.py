"""Building blocks shared by the service modules.

A resource policy is a function ``check(props, config) -> messages`` plus the resource types
it judges; a stack policy is ``check(resources, config) -> (urn, message)`` pairs. The
wrappers here add what every policy needs:

- the policy's config is its schema defaults overlaid with whatever `Configure` sent, so the
  pack behaves the same with no config, with exactly its defaults, or with a stack's file;
- a value that is unknown during preview is never a pass and never a crash: a check yields
  `Pending("<what> is")` for it and goes on judging the values it knows, so a known
  violation is reported even beside an unknown neighbour; once the check is done, the engine
  shows one advisory "cannot be checked until deployment" naming every pending value (a check
  that reads an unknown through the SDK's proxy stops there, with the same advisory);
- numbers from config may arrive as floats (protobuf Struct), so they are compared as floats.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

try:  # args.not_applicable() raises it; it must reach the SDK, not become a violation
    from pulumi_policy.policy import _NotApplicableError as _NotApplicable
except ImportError:  # pragma: no cover - another SDK version

    class _NotApplicable(Exception):  # type: ignore[no-redef]
        pass


from spendsense_policies.config import defaults, limit

UNTIL_DEPLOYMENT = "cannot be checked until deployment"

Props = Mapping[str, Any]
ResourceCheck = Callable[[Props, Mapping[str, Any]], Iterable[str]]
StackCheck = Callable[[Sequence[PolicyResource], Mapping[str, Any]], Iterable[tuple[str, str]]]


class Unknown:
    """A value that the engine will only know after deployment (a preview's unknown)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"Unknown({self.path})"


class Pending(str):
    """Yielded by a check instead of a message: this value (`"<what> is"`) is unknown during
    preview, so the check cannot judge it, and it goes on with the values it knows."""


class PendingUnknowns(UnknownValueError):
    """Raised by a policy that found no violation but could not judge some values."""

    def __init__(self, what: Iterable[str]) -> None:
        super().__init__("04da6b54-80e4-46f7-96ec-b56ff0331ba9", [])
        self.what = sorted(set(what))
        self.message = f"{UNTIL_DEPLOYMENT}: {'; '.join(self.what)} not known during preview"


def _until_deployment(exc: UnknownValueError, resource: str = "") -> UnknownValueError:
    if isinstance(exc, PendingUnknowns):
        return exc
    path = ".".join(str(p) for p in exc.props) or "a value"
    where = f"{resource} " if resource else ""
    return PendingUnknowns([f"{where}{path} is"])


def unreadable(policy: str, what: str, exc: Exception) -> str:
    """The message for input a policy cannot read (malformed, not unknown)."""
    detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return (
        f"{policy} could not read {what} ({type(exc).__name__}: {detail}), so it cannot judge "
        "it; fix the value to the shape the provider documents"
    )


def get(value: Any, *path: str | int, default: Any = None) -> Any:
    """Read a nested property; `Unknown` if any step is unknown, `default` if absent.

    An Unknown met on the way is returned as it is (with its path), never the default: a
    value below an unknown is unknown too, not absent.
    """
    current = value
    walked: list[str] = []
    for key in path:
        walked.append(str(key))
        if isinstance(current, Unknown):
            return current
        try:
            if isinstance(key, int):
                if not isinstance(current, Sequence) or isinstance(current, str):
                    return default
                current = current[key] if 0 <= key < len(current) else None
            else:
                if not isinstance(current, Mapping):
                    return default
                current = current.get(key)
        except UnknownValueError:
            return Unknown(".".join(walked))
        if current is None:
            return default
    return current


def number(value: Any) -> float | None:
    """A number from config or props (ints, floats and numeric strings), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def fmt(value: float | None) -> str:
    return "unset" if value is None else f"{value:g}"


def _merged(schema: PolicyConfigSchema | None, sent: Mapping[str, Any]) -> dict[str, Any]:
    merged = defaults(schema)
    merged.update({k: v for k, v in sent.items() if k != "enforcementLevel"})
    return merged


def _report_all(
    found: Callable[[], Iterable[tuple[str | None, str]]],
    report: ReportViolation,
    name: str,
    what: str,
) -> None:
    """Report each (urn, message) as the check yields it, and collect each `Pending` it yields.

    After the check, the pending values (if any) become one advisory "cannot be checked until
    deployment". An unknown read through the proxy stops the check with the same advisory
    (naming what was already pending too); any other error is reported as unreadable input of
    this policy, so one malformed resource never stops the pack."""
    pending: list[str] = []
    try:
        for urn, message in found():
            if isinstance(message, Pending):
                pending.append(str(message))
            else:
                report(message, urn or None)
    except UnknownValueError as exc:
        stopped = _until_deployment(exc)
        if pending and isinstance(stopped, PendingUnknowns):
            raise PendingUnknowns([*pending, *stopped.what]) from None
        raise stopped from None
    except _NotApplicable:
        raise
    except Exception as exc:
        report(unreadable(name, what, exc), None)
        return
    if pending:
        raise PendingUnknowns(pending)


def resource_policy(
    name: str,
    description: str,
    checks: Mapping[str, ResourceCheck],
    *,
    config: PolicyConfigSchema | None = None,
    severity: Severity = Severity.HIGH,
    remediation: str | None = None,
) -> ResourceValidationPolicy:
    """A policy that judges each resource on its own: `checks` maps a type to its check."""
    by_type = dict(checks)

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        check = by_type.get(args.resource_type)
        if check is None:
            return
        merged = _merged(config, args.get_config())
        _report_all(
            lambda: ((None, m) for m in check(args.props, merged)),
            report,
            name,
            f"this {args.resource_type}'s properties",
        )

    policy = ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        config_schema=config,
        severity=severity,
        remediation_steps=remediation,
    )
    return policy


def resource_policy_with_args(
    name: str,
    description: str,
    check: Callable[[ResourceValidationArgs, Mapping[str, Any]], Iterable[str]],
    *,
    config: PolicyConfigSchema | None = None,
    severity: Severity = Severity.HIGH,
    remediation: str | None = None,
) -> ResourceValidationPolicy:
    """A resource policy that needs more than the props (options such as `protect`); `check`
    skips the resource types it does not judge."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        merged = _merged(config, args.get_config())
        _report_all(
            lambda: ((None, m) for m in check(args, merged)),
            report,
            name,
            f"this {args.resource_type}",
        )

    policy = ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        config_schema=config,
        severity=severity,
        remediation_steps=remediation,
    )
    return policy


def stack_policy(
    name: str,
    description: str,
    check: StackCheck,
    *,
    config: PolicyConfigSchema | None = None,
    severity: Severity = Severity.HIGH,
    remediation: str | None = None,
) -> StackValidationPolicy:
    """A policy that judges the stack as a whole (e.g. "every service has an alarm")."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        merged = _merged(config, args.get_config())
        _report_all(lambda: check(args.resources, merged), report, name, "the stack's resources")

    return StackValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        config_schema=config,
        severity=severity,
        remediation_steps=remediation,
    )


def of_type(resources: Iterable[PolicyResource], *types: str) -> Iterator[PolicyResource]:
    wanted = set(types)
    return (r for r in resources if r.resource_type in wanted)


def refers_to(resource: PolicyResource, target: PolicyResource, value: Any, *keys: Any) -> bool:
    """Does `resource` point at `target`: by a known value among `keys`, or by a dependency?

    In a real preview of a new stack, a reference to another resource's output (an ARN, an
    id) is unknown; the engine still reports the dependency, so that decides.
    """
    known = not isinstance(value, Unknown) and value not in (None, "")
    if known and any(
        k not in (None, "") and not isinstance(k, Unknown) and value == k for k in keys
    ):
        return True
    deps = {d.urn for d in resource.dependencies}
    for prop_deps in resource.property_dependencies.values():
        deps.update(d.urn for d in prop_deps)
    if target.urn in deps:
        return True
    # A parent that is the target (rare) also counts.
    return resource.parent is not None and resource.parent.urn == target.urn


# Names that look like secrets; the program's settings refuse them as plain variables too.
SECRET_NAME_RE: str = limit("secrets", "secretNamePattern")
