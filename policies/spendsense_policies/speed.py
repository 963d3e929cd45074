"""Make the pack fast enough for big stacks (>= 1,000 resources/s through `Analyze`).

Three changes to how pulumi-policy 1.21 serves `Analyze`, neither to what it answers:

1. Deserialize a resource's properties once per call, not once per policy.

pulumi-policy 1.21 turns the request's properties into Python values (MessageToDict, then
deserialize_properties, then the unknown-checking proxy) again for every policy: with 24
policies that is ~90 % of the pack's time, ~800 resources/s (docs/design.md#fact-analyzer).
`install()` makes those three steps answer the same input object with the same result, so
each request is converted once and every policy reads the same read-only view.

2. Skip, per call, the policies that cannot judge the request's resource type (each resource
policy here names its types; the SDK would still build its arguments, config and proxies
for every resource policy and let most of them return at once). `relevant(policies)` wraps
the pack's policy list so that, during one `Analyze`, iterating it yields only those policies.
A skipped policy would have returned without a diagnostic, so the answer is the same.

3. Serve with one worker thread (see `_OneWorker`).

`SPENDSENSE_PACK_SPEED=0` in the pack's environment (`spendsense plan` hands the pack its own)
runs the plain SDK instead: `__main__.py` asks `enabled()` before installing anything, so
`make bench` can measure what the patches are worth.

Safe because: the request (and so its `properties` message) is immutable while it is served;
each cache entry keeps a strong reference to its key object, so an `id` cannot be reused
while cached; caches are per thread and bounded; no
policy in this pack mutates `props` (they only read, with `.get()`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

_CAP = 4096  # > the resources of one AnalyzeStack request, so every policy after the first hits


class _Memo(threading.local):
    def __init__(self) -> None:
        self.tables: dict[str, dict[int, tuple[Any, Any]]] = {}


_memo = _Memo()


def _remember(table: str, key: Any, compute: Callable[[], Any]) -> Any:
    cache = _memo.tables.setdefault(table, {})
    hit = cache.get(id(key))
    if hit is not None and hit[0] is key:
        return hit[1]
    value = compute()
    if len(cache) >= _CAP:
        cache.clear()
    cache[id(key)] = (key, value)
    return value


class _JsonFormat:
    """`google.protobuf.json_format`, with MessageToDict memoized per message object."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def MessageToDict(self, message: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            return self._real.MessageToDict(message, *args, **kwargs)
        return _remember("dict", message, lambda: self._real.MessageToDict(message))


def _memoized(table: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(value: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            return function(value, *args, **kwargs)
        return _remember(table, value, lambda: function(value))

    wrapper.__wrapped__ = function  # type: ignore[attr-defined]
    return wrapper


_current = threading.local()  # the resource type of the Analyze call this thread serves


class _Relevant(list):
    """The pack's policies; inside `Analyze`, only those that judge the request's type."""

    def __init__(self, policies: list[Any]) -> None:
        super().__init__(policies)
        self._by_type: dict[str, list[Any]] = {}

    def __iter__(self) -> Any:
        type_ = getattr(_current, "type", None)
        if type_ is None:
            return super().__iter__()
        chosen = self._by_type.get(type_)
        if chosen is None:
            chosen = [p for p in super().__iter__() if _judges(p, type_)]
            self._by_type[type_] = chosen
        return iter(chosen)


def _judges(policy: Any, type_: str) -> bool:
    from pulumi_policy import ResourceValidationPolicy

    if not isinstance(policy, ResourceValidationPolicy):
        return False  # stack policies never run in Analyze
    types = getattr(policy, "resource_types", None)
    return types is None or type_ in types


def relevant(policies: list[Any]) -> list[Any]:
    """The list to give `PolicyPack(policies=...)` (a list, as the SDK requires)."""
    return _Relevant(policies)


class _OneWorker:
    """`concurrent.futures` for the SDK's gRPC server, with one worker thread instead of four.

    The servicer is pure Python under the GIL: more threads only add contention (measured:
    ~20 % more Analyze calls per second with one). Requests that arrive together queue.
    """

    @staticmethod
    def ThreadPoolExecutor(max_workers: int | None = None, **kwargs: Any) -> Any:
        from concurrent.futures import ThreadPoolExecutor

        return ThreadPoolExecutor(max_workers=1, **kwargs)


# The pulumi-policy minor versions whose internals these patches were written and tested
# against (policies/requirements.txt pins the same). Any other version runs the plain SDK.
TESTED_VERSIONS = ((1, 21),)
_PATCHED = ("json_format", "deserialize_properties", "unknown_checking_proxy", "futures")


def sdk_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pulumi-policy")
    except PackageNotFoundError:  # pragma: no cover - the SDK is always installed
        return "unknown"


def supported(version: str) -> bool:
    """Is `version` ("1.21.0") a pulumi-policy release these patches were tested with?"""
    parts = version.split(".")
    try:
        return (int(parts[0]), int(parts[1])) in TESTED_VERSIONS
    except (IndexError, ValueError):
        return False


ENV = "SPENDSENSE_PACK_SPEED"
_ON, _OFF = ("1", "on", "true", "yes", ""), ("0", "off", "false", "no")


def enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether `__main__.py` installs the patches: `SPENDSENSE_PACK_SPEED` unset or 1, not 0.

    Any other value raises ValueError with a one-line message naming the variable."""
    value = environ.get(ENV, "1").strip().lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise ValueError(
        f"{ENV} is {environ[ENV]!r}; expected 1 (patch pulumi-policy for speed, the default) or "
        "0 (run the plain SDK, e.g. to measure the difference)"
    )


def install(version: str | None = None) -> bool:
    """Patch the SDK's analyzer (idempotent). Call before building the PolicyPack.

    Returns False, and patches nothing, unless the installed pulumi-policy (or `version`) is
    a tested one and has every internal patched here: the pack then runs on the plain SDK,
    slower but with the same answers.
    """
    from pulumi_policy import policy as sdk

    if not supported(sdk_version() if version is None else version):
        return False
    if not all(hasattr(sdk, name) for name in _PATCHED) or not hasattr(
        getattr(sdk, "_PolicyAnalyzerServicer", None), "Analyze"
    ):
        return False
    if isinstance(sdk.json_format, _JsonFormat):
        return True
    sdk.json_format = _JsonFormat(sdk.json_format)
    sdk.deserialize_properties = _memoized("deserialized", sdk.deserialize_properties)
    sdk.unknown_checking_proxy = _memoized("proxy", sdk.unknown_checking_proxy)
    sdk.futures = _OneWorker  # type: ignore[assignment]
    analyze = sdk._PolicyAnalyzerServicer.Analyze

    def Analyze(self: Any, request: Any, context: Any) -> Any:
        _current.type = request.type
        try:
            return analyze(self, request, context)
        finally:
            _current.type = None

    sdk._PolicyAnalyzerServicer.Analyze = Analyze  # type: ignore[method-assign]
    return True
