"""The monthly restore drill (runbook: "Test backup restoration").

Import the newest daily export into the empty test project (the program grants it read
access to the backup bucket), count the documents per collection, and compare with what the
export holds: in an empty database an import must reproduce the export exactly, so any
difference (fewer or more) is a failed drill. Each step is timed, which is the number the
runbook's recovery-time objective needs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from spendsense.errors import BadInput, OperationFailed, SpendsenseError, failure_reason
from spendsense.ops.backups.layout import Export
from spendsense.ops.backups.listing import ExportContents, export_counts, newest_daily_export
from spendsense.ops.firestore.data import DataApi
from spendsense.ops.firestore.errors import AdminOperationFailed, RequestUnanswered
from spendsense.ops.firestore.export_import import ExportImport
from spendsense.ops.import_verify import Verification, count_against
from spendsense.ops.stack_projects import check_project_id

DEFAULT_TEST_PROJECT = "spendsense-test"


@dataclass
class DrillReport:
    export: Export
    target: str
    expected: ExportContents
    verification: Verification
    seconds: dict[str, float] = field(default_factory=dict)
    export_age_hours: float = 0.0

    @property
    def ok(self) -> bool:
        return self.verification.exact

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "export": self.export.path,
            "export_age_hours": round(self.export_age_hours, 1),
            "target": self.target,
            "documents_expected": self.expected.total,
            "documents_found": sum(c.actual for c in self.verification.counts),
            "collections": self.verification.to_json(),
            "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
        }

    def lines(self) -> list[str]:
        verdict = "PASSED" if self.ok else "FAILED"
        out = [
            f"Restore drill {verdict}: {self.export.path} "
            f"({self.export_age_hours:.1f} h old) into {self.target}",
        ]
        width = max([len("collection"), *(len(c.collection) for c in self.verification.counts)])
        out.append(f"  {'collection':<{width}}  {'export':>8}  {'restored':>8}")
        for count in self.verification.counts:
            mark = "" if count.status == "ok" else f"  <- {count.status}"
            out.append(
                f"  {count.collection:<{width}}  {count.expected:>8}  {count.actual:>8}{mark}"
            )
        timing = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.seconds.items())
        out.append(f"  time: {timing}")
        return out


def check_target(target_project: str, own_project: str, stacks: dict[str, str]) -> str:
    """The drill's target must be a project id and belong to no stack: never the stack's own
    database nor any other stack's (`stacks`: project -> stack, from the stack files)."""
    check_project_id(target_project, "--target-project")
    if target_project == own_project:
        raise BadInput(
            f"--target-project: {target_project} is the stack's own database; a drill imports "
            f"into an empty test project (e.g. {DEFAULT_TEST_PROJECT}), never into production"
        )
    if target_project in stacks:
        raise BadInput(
            f"--target-project: {target_project} is the Firestore project of stack "
            f"{stacks[target_project]}; a drill imports into an empty test project (e.g. "
            f"{DEFAULT_TEST_PROJECT}) that belongs to no stack"
        )
    return target_project


def clean_command(stack: str, target_project: str) -> str:
    """The command that empties the test project (printed when the drill leaves data)."""
    return f"spendsense drill --stack {stack} --target-project {target_project} --clean --yes"


def empty_test_database(
    data: DataApi,
    *,
    forbidden: dict[str, str],
    batch: int = 500,
    progress: Callable[[str], None] | None = None,
) -> int:
    """Delete every document in the test database behind `data`; the number deleted.

    Only ever a test project: refuses (exit 2) a project in `forbidden` (the stacks' own
    projects), whoever calls it. Ends by checking that no collection is left.
    """
    if data.project in forbidden:
        raise BadInput(
            f"refusing to empty {data.project}/{data.database}: it is the Firestore project of "
            f"stack {forbidden[data.project]}, not a test project"
        )
    deleted = 0
    previous: set[str] = set()
    while True:
        names = data.document_names(limit=batch)
        if not names:
            break
        if previous.intersection(names):
            raise OperationFailed(
                f"emptying {data.project}/{data.database}: documents deleted a moment ago are "
                f"still listed (e.g. {sorted(previous.intersection(names))[0]}); after {deleted} "
                "deletions, stopped rather than loop"
            )
        data.delete_documents(names)
        deleted += len(names)
        previous = set(names)
        if progress is not None:
            progress(f"emptying {data.project}/{data.database}: {deleted} documents deleted")
    left = data.collection_ids()
    if left:
        raise OperationFailed(
            f"emptying {data.project}/{data.database}: {deleted} documents deleted but "
            f"collections {', '.join(left)} are still listed"
        )
    return deleted


def pick_export(storage: Any, bucket: str, prefix: str) -> Export:
    export = newest_daily_export(storage, bucket, prefix)
    if export is None:
        raise OperationFailed(
            f"no daily export in gs://{bucket}/{prefix}; run `spendsense backup verify`"
        )
    if not export.complete:
        raise OperationFailed(
            f"the newest daily export {export.path} is incomplete (no .overall_export_metadata); "
            "the drill needs a complete one: run `spendsense backup verify`"
        )
    return export


def run_drill(
    *,
    storage: Any,
    export: Export,
    backend: ExportImport,
    data: DataApi,
    now: datetime,
    progress: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    clean_hint: str = "",
) -> DrillReport:
    """Import `export` into the (empty) database behind `data` and compare the counts."""
    target = f"{data.project}/{data.database}"
    present = data.collection_ids()
    if present:
        how = f"empty it with `{clean_hint}`" if clean_hint else "empty it"
        raise BadInput(
            f"--target-project: {target} is not empty (collections: {', '.join(present)}); "
            f"a drill needs an empty database: {how} or pick another test project"
        )
    seconds: dict[str, float] = {}
    started = clock()
    if progress is not None:
        progress(f"reading what {export.path} holds")
    expected = export_counts(storage, export)
    seconds["read export"] = clock() - started
    started = clock()
    operation: list[str] = []
    try:
        backend.import_documents(
            data.project, data.database, export.path, progress=progress, on_started=operation.append
        )
    except (Exception, KeyboardInterrupt) as exc:  # whatever it is, say what the target holds
        reason = failure_reason(exc)
        if (
            not operation
            and isinstance(exc, SpendsenseError)
            and not isinstance(exc, RequestUnanswered)
        ):
            kind = BadInput if isinstance(exc, BadInput) else OperationFailed
            raise kind(f"restore drill: {reason} -- {target} was not touched") from None
        how = f"`{clean_hint}`" if clean_hint else "deleting every document in it"
        if operation and isinstance(exc, AdminOperationFailed):
            after = "; empty it with "
        elif operation:
            after = (
                f"; the import {operation[0]} may still be running: when it has ended, empty it "
                "with "
            )
        else:
            # No answer, a server error, Ctrl-C or an unexpected error while the request was
            # in flight: the import may have started anyway.
            outcome = exc.outcome if isinstance(exc, RequestUnanswered) else "got no clear answer"
            after = (
                f"; the import may have started (its request {outcome}): check `gcloud firestore "
                f"operations list --project {data.project}`; when it has ended, empty it with "
            )
        raise OperationFailed(
            f"restore drill: {reason} -- {target} may hold part of {export.path}{after}{how}"
        ) from None
    seconds["import"] = clock() - started
    started = clock()
    verification = count_against(expected.counts, data)
    seconds["count"] = clock() - started
    return DrillReport(
        export=export,
        target=target,
        expected=expected,
        verification=verification,
        seconds=seconds,
        export_age_hours=export.age(now).total_seconds() / 3600,
    )
