"""Verify an import against its export: every collection holds at least the export's documents.

An import overwrites documents with the same path and leaves newer ones in place, so a
collection may hold more than the export recorded, never fewer. Used by `restore` and `drill`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spendsense.ops.firestore.data import DataApi


@dataclass(frozen=True)
class CollectionCount:
    collection: str
    expected: int  # documents in the export (0 for a collection the export does not have)
    actual: int

    @property
    def status(self) -> str:
        if self.actual < self.expected:
            return "missing"
        return "more" if self.actual > self.expected else "ok"

    def to_json(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "expected": self.expected,
            "actual": self.actual,
            "status": self.status,
        }


@dataclass(frozen=True)
class Verification:
    counts: list[CollectionCount]

    @property
    def ok(self) -> bool:
        """Every collection holds at least what the export recorded."""
        return all(c.actual >= c.expected for c in self.counts)

    @property
    def exact(self) -> bool:
        """Every collection holds exactly what the export recorded (a drill's rule)."""
        return all(c.actual == c.expected for c in self.counts)

    @property
    def short(self) -> list[CollectionCount]:
        return [c for c in self.counts if c.status == "missing"]

    @property
    def more(self) -> list[CollectionCount]:
        return [c for c in self.counts if c.status == "more"]

    def to_json(self) -> list[dict[str, Any]]:
        return [c.to_json() for c in self.counts]

    def describe_short(self) -> str:
        return ", ".join(f"{c.collection} has {c.actual} of {c.expected}" for c in self.short)

    def describe_more(self) -> str:
        return ", ".join(f"{c.collection} ({c.actual} > {c.expected})" for c in self.more)


def count_against(expected: dict[str, int], data: DataApi) -> Verification:
    """Count the database per collection id and compare with what the export recorded.

    Collections in the export are counted as collection groups (any depth); top-level
    collections the export does not have are counted too and show as holding more.
    """
    extra = [cid for cid in data.collection_ids() if cid not in expected]
    actual = data.counts([*expected, *extra])
    return Verification(
        [
            CollectionCount(cid, expected.get(cid, 0), actual.get(cid, 0))
            for cid in sorted(set(expected) | set(extra))
        ]
    )
