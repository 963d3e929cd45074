"""Deserialize a resource's properties once per Analyze call, not once per policy.

pulumi-policy 1.21 turns the request's properties into Python values (MessageToDict, then
deserialize_properties, then the unknown-checking proxy) again for every policy: with 24
policies that is ~90 % of the pack's time (FACTS.md: ~800 resources/s with 25 policies).
`install()` makes those three steps answer the same input object with the same result, so
each request is converted once and every policy reads the same read-only view.

Safe because: the request (and so its `properties` message) is immutable while it is served;
each cache entry keeps a strong reference to its key object, so an `id` cannot be reused
while cached; caches are per thread (the SDK serves with a thread pool) and bounded; no
policy in this pack mutates `props` (they only read, with `.get()`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
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


def install() -> None:
    """Patch the SDK's analyzer module (idempotent)."""
    from pulumi_policy import policy as sdk

    if isinstance(sdk.json_format, _JsonFormat):
        return
    sdk.json_format = _JsonFormat(sdk.json_format)  # type: ignore[assignment]
    sdk.deserialize_properties = _memoized("deserialized", sdk.deserialize_properties)
    sdk.unknown_checking_proxy = _memoized("proxy", sdk.unknown_checking_proxy)
