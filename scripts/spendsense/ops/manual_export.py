"""`spendsense backup create`: a manual export of the database into the backup bucket.

It drives the Firestore export seam (`spendsense.ops.firestore`) and checks the result in
the bucket (`spendsense.ops.backups`), so it sits above both. Whatever ends an export early,
the error says what its folder holds and what to do about it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from spendsense.errors import BadInput, OperationFailed, SpendsenseError, failure_reason
from spendsense.ops.backups.gcs import list_blobs
from spendsense.ops.backups.layout import (
    INCOMPLETE_NOTE,
    MANUAL_RE,
    Export,
    group_exports,
    manual_export_prefix,
)
from spendsense.ops.firestore.errors import (
    AdminOperationFailed,
    ExportCancelled,
    RequestUnanswered,
)

PITR_WINDOW = timedelta(days=7)


def parse_at(text: str, now: datetime) -> datetime:
    """`--at`: an ISO 8601 time with an offset, on a whole minute, in the past, within the
    point-in-time-recovery window (7 days); exit 2 otherwise."""
    from spendsense.ops.window import parse_time

    moment = parse_time(text, "--at", example="2026-11-27T03:15:00Z")
    if moment.second or moment.microsecond:
        rounded = moment.replace(second=0, microsecond=0)
        raise BadInput(
            f"--at: {text!r} is not on a whole minute; Firestore exports snapshots by the minute "
            f"(e.g. {rounded:%Y-%m-%dT%H:%MZ})"
        )
    if moment >= now:
        raise BadInput(f"--at: {text!r} is not in the past")
    if now - moment > PITR_WINDOW:
        raise BadInput(
            f"--at: {text!r} is more than 7 days ago, outside the point-in-time-recovery window; "
            "restore a daily export instead (`spendsense backup list`)"
        )
    return moment


def _export_failure(
    exc: BaseException, folder: str, started: list[str], project: str
) -> SpendsenseError:
    """The error for an export that did not end well, saying what is in its folder."""
    reason = failure_reason(exc)
    if isinstance(exc, ExportCancelled):
        return exc  # its message already names the folder and what it means
    if not started and isinstance(exc, SpendsenseError) and not isinstance(exc, RequestUnanswered):
        # Refused before an operation existed (an error answer, a bad --at).
        return type(exc)(f"{reason} -- nothing was exported to {folder}")
    if isinstance(exc, AdminOperationFailed):
        return OperationFailed(
            f"{reason} -- it may have left partial data in {folder}: {INCOMPLETE_NOTE}"
        )
    if not started:
        # No answer, a server error, Ctrl-C or an unexpected error while the request was in
        # flight: the export may have started anyway.
        outcome = exc.outcome if isinstance(exc, RequestUnanswered) else "got no clear answer"
        return OperationFailed(
            f"{reason} -- an export may have started anyway (its request {outcome}): check "
            f"`gcloud firestore operations list --project {project}`; if one runs, {folder} is "
            "usable once `spendsense backup list` shows it complete"
        )
    return OperationFailed(
        f"{reason} -- export operation {started[0]} may still be writing to {folder}: it is "
        "usable once `spendsense backup list` shows it complete; if it stays INCOMPLETE, "
        + INCOMPLETE_NOTE.replace("the folder has", "it has", 1)
    )


def ensure_new_folder(storage: Any, bucket: str, moment: datetime) -> str:
    """The manual-export folder for `moment`; exit 2 if it already holds objects."""
    prefix = manual_export_prefix(moment)
    if list_blobs(storage, bucket, prefix):
        raise BadInput(
            f"gs://{bucket}/{prefix} already exists; wait a second and run it again, or pick "
            "another --at"
        )
    return prefix


def create_manual_export(
    backend: Any,
    storage: Any,
    *,
    bucket: str,
    project: str,
    database: str,
    now: datetime,
    at: datetime | None = None,
    progress: Any = None,
) -> Export:
    """Export the database to `gs://<bucket>/manual-YYYYMMDD_HHMMSS/` and check the result.

    The folder is named after the data's time: `--at` when given, else now.
    """
    prefix = ensure_new_folder(storage, bucket, at or now)
    folder = f"gs://{bucket}/{prefix}"
    started: list[str] = []
    try:
        backend.export_documents(
            project,
            database,
            folder,
            snapshot_time=at,
            progress=progress,
            on_started=started.append,
        )
    except (Exception, KeyboardInterrupt) as exc:  # whatever it is, say what the folder holds
        raise _export_failure(exc, folder, started, project) from None
    blobs = list_blobs(storage, bucket, prefix)
    exports = group_exports(bucket, blobs, MANUAL_RE, "manual", "")
    if not exports or not exports[0].complete:
        raise OperationFailed(
            f"the export operation ended but gs://{bucket}/{prefix} is not complete; treat it "
            f"as failed: {INCOMPLETE_NOTE}"
        )
    return exports[0]
