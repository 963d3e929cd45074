"""The export/import seam: what backup, restore and drill call (`ExportImport`) and what a
finished operation reports (`OperationResult`). `managed` and `emulated` implement it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class OperationResult:
    name: str
    state: str
    documents: int | None = None
    bytes: int | None = None


class ExportImport(Protocol):
    kind: str

    def export_documents(
        self,
        project: str,
        database: str,
        output_uri: str,
        *,
        snapshot_time: datetime | None = None,
        progress: Callable[[str], None] | None = None,
        on_started: Callable[[str], None] | None = None,
    ) -> OperationResult:
        """Export to `output_uri`; `on_started(operation name)` once the server accepted it."""
        ...

    def import_documents(
        self,
        project: str,
        database: str,
        input_uri: str,
        *,
        progress: Callable[[str], None] | None = None,
        on_started: Callable[[str], None] | None = None,
    ) -> OperationResult:
        """Import `input_uri`; `on_started(operation name)` is called once the server has
        accepted the import (before that, a refusal means the database was not touched, but
        `RequestUnanswered` means an import may have started)."""
        ...
