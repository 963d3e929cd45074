"""Indexes over one `AnalyzeStack` request, so stack policies look resources up instead of
comparing every pair.

A stack policy asks "which alarms watch this service?", "which lifecycle policy names this
repository?": comparing each service with each alarm costs services x alarms, which grows with
the square of the stack (`make bench`'s growth series). `StackIndex` answers the two ways a
resource points at another (`base.refers_to`): by a dependency (or being its child), looked up
by urn, and by a known value equal to one of the target's keys, looked up in a `ValueIndex`.
Lookups return resources in the stack's order, so a policy's findings come out in the same
order as when it compared every pair.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Generic, TypeVar

from pulumi_policy import PolicyResource

from spendsense_policies.base import Unknown

T = TypeVar("T")


def known(value: Any) -> bool:
    """A value `refers_to` compares: neither unknown nor empty."""
    return not isinstance(value, Unknown) and value is not None and not _empty_string(value)


def _empty_string(value: Any) -> bool:
    return isinstance(value, str) and value == ""


def pointed_at(resource: PolicyResource) -> set[str]:
    """The urns `resource` points at without a value: its dependencies and its parent."""
    urns = {d.urn for d in resource.dependencies}
    for prop_deps in resource.property_dependencies.values():
        urns.update(d.urn for d in prop_deps)
    if resource.parent is not None:
        urns.add(resource.parent.urn)
    return urns


class ValueIndex(Generic[T]):
    """Items by key value, for `value == key` lookups (known values and keys only)."""

    def __init__(self) -> None:
        self._hashed: dict[Any, list[T]] = {}
        self._unhashable: list[tuple[Any, T]] = []

    def add(self, key: Any, item: T) -> None:
        if not known(key):
            return
        try:
            self._hashed.setdefault(key, []).append(item)
        except TypeError:  # a list or mapping: compared one by one
            self._unhashable.append((key, item))

    def get(self, value: Any) -> list[T]:
        if not known(value):
            return []
        try:
            found = list(self._hashed.get(value, ()))
        except TypeError:
            found = []
        found.extend(item for key, item in self._unhashable if value == key)
        return found


class StackIndex:
    """The resources of one stack by type, and who points at whom by dependency."""

    def __init__(self, resources: Sequence[PolicyResource]) -> None:
        self.resources = list(resources)
        self._position = {id(r): i for i, r in enumerate(self.resources)}
        self._by_type: dict[str, list[PolicyResource]] = {}
        self._by_urn: dict[str, list[PolicyResource]] = {}
        self._pointed_at: dict[int, set[str]] = {}
        self._pointing: dict[str, list[PolicyResource]] = {}
        for resource in self.resources:
            self._by_type.setdefault(resource.resource_type, []).append(resource)
            self._by_urn.setdefault(resource.urn, []).append(resource)
            urns = pointed_at(resource)
            self._pointed_at[id(resource)] = urns
            for urn in urns:
                self._pointing.setdefault(urn, []).append(resource)

    def of_type(self, type_: str) -> list[PolicyResource]:
        return list(self._by_type.get(type_, ()))

    def in_order(self, found: Iterable[T], key: Any = None) -> list[T]:
        """`found` (resources, or items whose `key(item)` is one) once each, in stack order."""
        pick = key or (lambda item: item)
        unique: dict[int, T] = {}
        for item in found:
            unique.setdefault(id(pick(item)), item)
        return sorted(unique.values(), key=lambda item: self._position.get(id(pick(item)), -1))

    def pointing_at(self, target: PolicyResource, type_: str) -> list[PolicyResource]:
        """Resources of `type_` that depend on `target` or are its children."""
        return [r for r in self._pointing.get(target.urn, ()) if r.resource_type == type_]

    def pointed_at_by(self, resource: PolicyResource, type_: str) -> list[PolicyResource]:
        """Resources of `type_` that `resource` depends on or is a child of."""
        urns = self._pointed_at.get(id(resource))
        if urns is None:
            urns = pointed_at(resource)
        return [t for urn in urns for t in self._by_urn.get(urn, ()) if t.resource_type == type_]

    def points_at_any(self, resource: PolicyResource, urns: set[str]) -> bool:
        own = self._pointed_at.get(id(resource))
        return not (urns.isdisjoint(pointed_at(resource) if own is None else own))

    def referring(
        self,
        target: PolicyResource,
        type_: str,
        by_value: ValueIndex[PolicyResource] | None = None,
        *keys: Any,
    ) -> list[PolicyResource]:
        """Resources of `type_` that refer to `target` (`base.refers_to`), in stack order:
        those depending on it, and those whose value in `by_value` equals one of `keys`."""
        found = self.pointing_at(target, type_)
        if by_value is not None:
            for key in keys:
                found.extend(by_value.get(key))
        return self.in_order(found)
