"""Firestore exports in the backup bucket: find them, judge them, and read what they hold.

Layout (docs/design.md#backup-layout): each daily run goes to ``daily/YYYYMMDD_HHMMSS/`` and
manual exports go to ``manual-YYYYMMDD_HHMMSS/`` at the bucket's root. An export's time is
read from that folder name (UTC), never from object timestamps (they are upload times, and
an emulator cannot set them). An export is *complete* when its
``<folder>.overall_export_metadata`` object is present: Firestore writes it last.

What an export holds is read from the export itself: its ``output-N`` files are LevelDB log
files whose records are the documents as ``EntityProto`` messages (the Datastore format
Firestore exports use). `export_counts` reads every record's key to count documents per
collection ID (a subcollection ``users/u1/items`` counts under ``items``, the way a
collection-group query counts), so restore and drill can compare the database with the
export without trusting anything but the files. Reading the counts downloads the export's
output files one at a time into a temporary file.
"""

from __future__ import annotations

import re
import struct
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

from spendsense.errors import BadInput, OperationFailed, SpendsenseError, failure_reason

DAILY_PREFIX = "daily/"
MANUAL_PREFIX = "manual-"
METADATA_SUFFIX = ".overall_export_metadata"
STAMP_FORMAT = "%Y%m%d_%H%M%S"
# What to say about a folder a failed or cancelled export left behind. It cannot be deleted:
# the bucket's retention policy (backup.retentionDays, locked in production by
# backup.lockRetentionPolicy) refuses any delete of an object younger than the retention,
# and the lifecycle rule removes `manual-*` folders later (backup.manualRetentionDays).
INCOMPLETE_NOTE = (
    f"the folder has no {METADATA_SUFFIX}, so `spendsense restore` refuses it and `spendsense "
    "backup list` shows it INCOMPLETE; the bucket's retention policy forbids deleting it "
    "before its retention ends and the lifecycle rule removes it later: nothing needs doing"
)
_DAILY_RE = re.compile(r"^(?P<stamp>\d{8}_\d{6})/")
_MANUAL_RE = re.compile(r"^manual-(?P<stamp>\d{8}_\d{6})/")


class ExportFormatError(OperationFailed):
    """An export file is not the LevelDB log / EntityProto format Firestore writes."""


@dataclass(frozen=True)
class Export:
    """One export folder in the backup bucket."""

    bucket: str
    prefix: str  # the object prefix of the folder, ending in "/" (e.g. "daily/20261127_020000/")
    kind: str  # "daily" or "manual"
    time: datetime  # UTC, from the folder name
    complete: bool  # its .overall_export_metadata object is present
    size_bytes: int
    objects: int

    @property
    def path(self) -> str:
        """`gs://<bucket>/<folder>/`, what `gcloud firestore import` takes."""
        return f"gs://{self.bucket}/{self.prefix}"

    @property
    def name(self) -> str:
        """The folder's last name (`20261127_020000` or `manual-20261127_020000`)."""
        return self.prefix.rstrip("/").rsplit("/", 1)[-1]

    def age(self, now: datetime) -> timedelta:
        return now - self.time

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "time": self.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "complete": self.complete,
            "size_bytes": self.size_bytes,
            "objects": self.objects,
        }


def parse_stamp(stamp: str) -> datetime | None:
    """`YYYYMMDD_HHMMSS` as an aware UTC datetime, or None if it is not a valid time."""
    try:
        moment = datetime.strptime(stamp, STAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None
    # Firestore has no exports before 1970 or after 2999; such a name is not an export's.
    return moment if 1970 <= moment.year <= 2999 else None


def stamp(moment: datetime) -> str:
    """The folder-name form of a time (UTC)."""
    return moment.astimezone(UTC).strftime(STAMP_FORMAT)


def manual_export_prefix(moment: datetime) -> str:
    """The folder a manual export taken at `moment` goes to: `manual-YYYYMMDD_HHMMSS/`."""
    return f"{MANUAL_PREFIX}{stamp(moment)}/"


def _normal_prefix(prefix: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/" if prefix else ""


@dataclass
class _Folder:
    prefix: str
    kind: str
    time: datetime
    complete: bool = False
    size: int = 0
    objects: int = 0


def _group(
    bucket: str, blobs: Iterable[Any], folder_re: re.Pattern[str], kind: str, base: str
) -> list[Export]:
    folders: dict[str, _Folder] = {}
    for blob in blobs:
        name: str = blob.name
        rest = name[len(base) :]
        match = folder_re.match(rest)
        if not match:
            continue
        when = parse_stamp(match.group("stamp"))
        if when is None:
            continue
        prefix = base + match.group(0)
        folder = folders.setdefault(prefix, _Folder(prefix, kind, when))
        folder.objects += 1
        folder.size += int(blob.size or 0)
        inner = name[len(prefix) :]
        if "/" not in inner and inner.endswith(METADATA_SUFFIX):
            folder.complete = True
    return [
        Export(bucket, f.prefix, f.kind, f.time, f.complete, f.size, f.objects)
        for f in folders.values()
    ]


def _list_blobs(client: Any, bucket: str, prefix: str) -> list[Any]:
    try:
        return list(client.list_blobs(bucket, prefix=prefix))
    except Exception as exc:
        raise describe_gcs_error(exc, f"list gs://{bucket}/{prefix}") from None


def describe_gcs_error(exc: Exception, doing: str) -> Exception:
    """A google-cloud-storage error as one line (NotFound and Forbidden named plainly)."""
    from google.api_core import exceptions as gexc

    if isinstance(exc, gexc.NotFound):
        return BadInput(
            f"{doing}: not found ({_first_line(exc)}); check the stack output backup_bucket"
        )
    if isinstance(exc, gexc.Forbidden):
        return BadInput(
            f"{doing}: access denied ({_first_line(exc)}); check your Google credentials"
        )
    return OperationFailed(f"{doing}: {type(exc).__name__}: {_first_line(exc)}")


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def list_exports(client: Any, bucket: str, prefix: str = DAILY_PREFIX) -> list[Export]:
    """Every daily export (under `prefix`) and manual export (`manual-*`), newest first."""
    base = _normal_prefix(prefix)
    daily = _group(bucket, _list_blobs(client, bucket, base), _DAILY_RE, "daily", base)
    manual = _group(bucket, _list_blobs(client, bucket, MANUAL_PREFIX), _MANUAL_RE, "manual", "")
    return sorted(daily + manual, key=lambda e: (e.time, e.kind), reverse=True)


def newest_daily_export(client: Any, bucket: str, prefix: str = DAILY_PREFIX) -> Export | None:
    """The newest export under `daily/` (complete or not), or None if there is none."""
    base = _normal_prefix(prefix)
    daily = _group(bucket, _list_blobs(client, bucket, base), _DAILY_RE, "daily", base)
    return max(daily, key=lambda e: e.time, default=None)


def parse_export_path(bucket: str, path: str, option: str = "--from") -> tuple[str, datetime]:
    """(folder prefix, time) of the export `path` names, without reading the bucket:
    `gs://<bucket>/daily/YYYYMMDD_HHMMSS/`, `daily/...`, `manual-...` (with or without the
    trailing slash). Exit 2 if it cannot name an export folder of the stack's bucket."""
    text = path.strip()
    if text.startswith("gs://"):
        rest = text[len("gs://") :]
        given_bucket, _, text = rest.partition("/")
        if not given_bucket:
            raise BadInput(
                f"{option}: {path[:200]!r} names no bucket; expected gs://{bucket}/daily/"
                "YYYYMMDD_HHMMSS/ (see `spendsense backup list`)"
            )
        if given_bucket != bucket:
            raise BadInput(
                f"{option}: {path[:200]!r} is in bucket {given_bucket[:100]!r}, not the stack's backup "
                f"bucket {bucket!r}; pass an export listed by `spendsense backup list`"
            )
    prefix = _normal_prefix(text)
    name = prefix.rstrip("/").rsplit("/", 1)[-1]
    stamp_text = name[len(MANUAL_PREFIX) :] if name.startswith(MANUAL_PREFIX) else name
    when = parse_stamp(stamp_text) if re.fullmatch(r"\d{8}_\d{6}", stamp_text) else None
    if not prefix or when is None or not prefix.isascii() or not prefix.isprintable():
        raise BadInput(
            f"{option}: {path[:200]!r} is not an export folder; expected gs://{bucket}/daily/"
            f"YYYYMMDD_HHMMSS/ or gs://{bucket}/manual-YYYYMMDD_HHMMSS/ "
            "(see `spendsense backup list`)"
        )
    return prefix, when


def find_export(client: Any, bucket: str, path: str) -> Export:
    """The export that `path` names (see `parse_export_path`), checked in the bucket: it
    holds objects and its `.overall_export_metadata`. Exit 2 otherwise."""
    prefix, when = parse_export_path(bucket, path)
    name = prefix.rstrip("/").rsplit("/", 1)[-1]
    kind = "manual" if name.startswith(MANUAL_PREFIX) else "daily"
    blobs = _list_blobs(client, bucket, prefix)
    if not blobs:
        raise BadInput(
            f"--from: gs://{bucket}/{prefix} holds no objects; pass an export listed by "
            "`spendsense backup list`"
        )
    size = sum(int(b.size or 0) for b in blobs)
    complete = any(
        "/" not in b.name[len(prefix) :] and b.name.endswith(METADATA_SUFFIX) for b in blobs
    )
    if not complete:
        raise BadInput(
            f"--from: gs://{bucket}/{prefix} is not a complete export (no {METADATA_SUFFIX} "
            "object: the export failed or is still running); pick a complete one from "
            "`spendsense backup list`"
        )
    return Export(bucket, prefix, kind, when, True, size, len(blobs))


# --- verify --------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    newest: Export | None
    problems: list[str]
    checked_at: datetime
    max_age: timedelta
    retention_days: int
    daily_count: int

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "newest": self.newest.to_json() if self.newest else None,
            "problems": self.problems,
            "checked_at": self.checked_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "max_age_hours": self.max_age.total_seconds() / 3600,
            "retention_days": self.retention_days,
            "daily_exports": self.daily_count,
        }


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} h"


# How long past the retention a daily export may still be listed (see verify_exports).
LIFECYCLE_SLACK_DAYS = 2


def verify_exports(
    exports: list[Export], *, now: datetime, max_age: timedelta, retention_days: int
) -> VerifyResult:
    """The runbook's daily "Verify backups completed".

    - the newest daily export is complete and younger than `max_age`;
    - no daily export is older than the retention plus 2 days (the lifecycle rule works): an
      export's age is measured from its folder's name, the time the export *started*, while
      its objects are written minutes to hours later, and Cloud Storage runs lifecycle
      deletions asynchronously, up to about a day after an object qualifies; plus one day
      would flag a healthy bucket, plus two days cannot;
    - no daily export is dated in the future (a clock or naming fault).
    """
    daily = sorted((e for e in exports if e.kind == "daily"), key=lambda e: e.time, reverse=True)
    problems: list[str] = []
    newest = daily[0] if daily else None
    if newest is None:
        problems.append("no daily export found; check the Cloud Scheduler export job")
    else:
        if not newest.complete:
            problems.append(
                f"the newest daily export {newest.path} is incomplete (no {METADATA_SUFFIX}): "
                "it failed or is still running"
            )
        if newest.age(now) > max_age:
            problems.append(
                f"the newest daily export {newest.path} is {_hours(newest.age(now))} old, "
                f"over the limit of {_hours(max_age)}"
            )
    limit = timedelta(days=retention_days + LIFECYCLE_SLACK_DAYS)
    too_old = [e for e in daily if e.age(now) > limit]
    if too_old:
        oldest = too_old[-1]
        problems.append(
            f"{len(too_old)} daily export(s) older than the {retention_days}-day retention plus "
            f"{LIFECYCLE_SLACK_DAYS} days (oldest {oldest.path}): the bucket's lifecycle rule is "
            "not deleting them"
        )
    future = [e for e in daily if e.time - now > timedelta(minutes=5)]
    if future:
        problems.append(
            f"{len(future)} daily export(s) dated in the future (e.g. {future[0].path}); "
            "check the export job's naming"
        )
    return VerifyResult(
        ok=not problems,
        newest=newest,
        problems=problems,
        checked_at=now,
        max_age=max_age,
        retention_days=retention_days,
        daily_count=len(daily),
    )


_DURATION_RE = re.compile(r"^\s*(\d{1,12}(?:\.\d{1,6})?)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_DURATION = timedelta(days=3650)


def parse_duration(text: str, option: str) -> timedelta:
    """`26h`, `90m`, `2d`, `45s` as a timedelta (at most 3650 days); exit 2 otherwise."""
    match = _DURATION_RE.match(text)
    if not match or float(match.group(1)) <= 0:
        raise BadInput(
            f"{option}: {text!r} is not a duration; use a positive number with s, m, h or d "
            "(e.g. 26h)"
        )
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds > MAX_DURATION.total_seconds():
        raise BadInput(f"{option}: {text!r} is too long; the most is 3650d (e.g. 26h)")
    return timedelta(seconds=seconds)


# --- what an export holds --------------------------------------------------------------------

BLOCK_SIZE = 32768
_HEADER = struct.Struct("<IHB")
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def _masked_crc(kind: int, data: bytes) -> int | None:
    try:
        import google_crc32c
    except ImportError:  # pragma: no cover - google-cloud-storage depends on it
        return None
    crc = google_crc32c.value(bytes([kind]) + data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def iter_log_records(stream: BinaryIO, name: str = "export file") -> Iterator[bytes]:
    """The records of a LevelDB log file (32 KiB blocks of checksummed fragments)."""
    pending: bytearray | None = None
    offset = 0
    while True:
        block = stream.read(BLOCK_SIZE)
        if not block:
            break
        pos = 0
        while pos + _HEADER.size <= len(block):
            crc, length, kind = _HEADER.unpack_from(block, pos)
            if kind == 0 and length == 0 and crc == 0:
                break  # zero padding up to the end of the block
            start = pos + _HEADER.size
            data = block[start : start + length]
            if len(data) != length or kind not in (FULL, FIRST, MIDDLE, LAST):
                raise ExportFormatError(
                    f"{name} is not a Firestore export file (bad record at byte {offset + pos})"
                )
            expected = _masked_crc(kind, data)
            if expected is not None and expected != crc:
                raise ExportFormatError(
                    f"{name} is damaged: checksum mismatch in the record at byte {offset + pos}"
                )
            if kind == FULL:
                yield data
            elif kind == FIRST:
                pending = bytearray(data)
            elif pending is None:
                raise ExportFormatError(f"{name} is damaged: a record fragment without its start")
            else:
                pending += data
                if kind == LAST:
                    yield bytes(pending)
                    pending = None
            pos = start + length
        offset += len(block)
    if pending is not None:
        raise ExportFormatError(f"{name} is truncated: its last record is incomplete")


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ExportFormatError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int, Any]]:
    """Protocol-buffer wire fields: (number, wire type, value); a group yields its byte range."""
    pos = start
    end = len(data) if end is None else end
    while pos < end:
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, wire, value
        elif wire == 1:
            yield number, wire, data[pos : pos + 8]
            pos += 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            yield number, wire, data[pos : pos + length]
            pos += length
        elif wire == 5:
            yield number, wire, data[pos : pos + 4]
            pos += 4
        elif wire == 3:  # start group: find its end group, yield the inner bytes
            inner_start = pos
            depth = 1
            while depth:
                inner_key, after = _varint(data, pos)
                inner_wire = inner_key & 7
                if inner_wire == 4:
                    depth -= 1
                    if depth == 0:
                        yield number, 3, data[inner_start:pos]
                        pos = after
                        break
                    pos = after
                    continue
                if inner_wire == 3:
                    depth += 1
                    pos = after
                    continue
                pos = after
                if inner_wire == 0:
                    _, pos = _varint(data, pos)
                elif inner_wire == 1:
                    pos += 8
                elif inner_wire == 2:
                    length, pos = _varint(data, pos)
                    pos += length
                elif inner_wire == 5:
                    pos += 4
                else:
                    raise ExportFormatError(f"unknown wire type {inner_wire}")
        else:
            raise ExportFormatError(f"unknown wire type {wire}")
        if pos > end:
            raise ExportFormatError("field runs past the end of its message")


def document_path(entity: bytes) -> list[tuple[str, str]]:
    """The key path of one exported document: [(collection id, document id), ...].

    EntityProto.key (field 13) is a Reference whose path (field 14) is a list of Element
    groups (field 1) with the kind (2: the collection id) and a name (4) or numeric id (3).
    """
    for number, wire, value in _fields(entity):
        if number == 13 and wire == 2:
            for ref_number, ref_wire, ref_value in _fields(value):
                if ref_number == 14 and ref_wire == 2:
                    path: list[tuple[str, str]] = []
                    for el_number, el_wire, el_value in _fields(ref_value):
                        if el_number == 1 and el_wire == 3:
                            kind = doc_id = ""
                            for n, w, v in _fields(el_value):
                                if n == 2 and w == 2:
                                    kind = v.decode("utf-8", "replace")
                                elif n == 4 and w == 2:
                                    doc_id = v.decode("utf-8", "replace")
                                elif n == 3 and w == 0:
                                    doc_id = str(v)
                            path.append((kind, doc_id))
                    if path:
                        return path
    raise ExportFormatError("a record holds no document key")


def count_records(stream: BinaryIO, name: str, counts: Counter[str]) -> None:
    """Add each document in one output file to `counts` under its collection id."""
    for record in iter_log_records(stream, name):
        try:
            path = document_path(record)
        except ExportFormatError as exc:
            raise ExportFormatError(f"{name}: {exc}") from None
        counts[path[-1][0]] += 1


@dataclass
class ExportContents:
    """Documents per collection id in an export, and the files read."""

    counts: dict[str, int] = field(default_factory=dict)
    files: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def export_counts(client: Any, export: Export) -> ExportContents:
    """Count the documents in an export per collection id, from its output files in GCS."""
    blobs = [
        b
        for b in _list_blobs(client, export.bucket, export.prefix)
        if re.search(r"/output-\d+$", b.name)
    ]
    counts: Counter[str] = Counter()
    bucket = client.bucket(export.bucket)
    for blob in blobs:
        with tempfile.TemporaryFile() as handle:
            try:
                bucket.blob(blob.name).download_to_file(handle)
            except Exception as exc:
                raise describe_gcs_error(
                    exc, f"download gs://{export.bucket}/{blob.name}"
                ) from None
            handle.seek(0)
            count_records(handle, f"gs://{export.bucket}/{blob.name}", counts)
    return ExportContents(counts=dict(sorted(counts.items())), files=len(blobs))


# --- manual export -------------------------------------------------------------------------

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
    from spendsense.ops.firestore_admin import (
        AdminOperationFailed,
        ExportCancelled,
        RequestUnanswered,
    )

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
    if _list_blobs(storage, bucket, prefix):
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
    blobs = _list_blobs(storage, bucket, prefix)
    exports = _group(bucket, blobs, _MANUAL_RE, "manual", "")
    if not exports or not exports[0].complete:
        raise OperationFailed(
            f"the export operation ended but gs://{bucket}/{prefix} is not complete; treat it "
            f"as failed: {INCOMPLETE_NOTE}"
        )
    return exports[0]
