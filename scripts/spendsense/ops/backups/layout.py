"""The names of the backup bucket's export folders and the `Export` record (no I/O).

An export's folder is ``daily/YYYYMMDD_HHMMSS/`` (under the stack's backup prefix) or
``manual-YYYYMMDD_HHMMSS/``; its time is the folder name's (UTC). `group_exports` turns a
listing of objects into exports; `parse_export_path` reads the path a user passes (`--from`).
`INCOMPLETE_NOTE` says what to do about a folder a failed export left behind (the Firestore
export seam quotes it too, which is why it lives at this, the lowest, level).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from spendsense.errors import BadInput

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
DAILY_RE = re.compile(r"^(?P<stamp>\d{8}_\d{6})/")
MANUAL_RE = re.compile(r"^manual-(?P<stamp>\d{8}_\d{6})/")


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


def normal_prefix(prefix: str) -> str:
    """An object prefix as a folder: no leading slash, one trailing slash ("" for the root)."""
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


def group_exports(
    bucket: str, blobs: Iterable[Any], folder_re: re.Pattern[str], kind: str, base: str
) -> list[Export]:
    """The export folders (of `kind`, named as `folder_re` matches after `base`) that the
    listed objects make up; objects outside such a folder are ignored."""
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
                f"{option}: {path[:200]!r} is in bucket {given_bucket[:100]!r}, not the stack's "
                "backup "
                f"bucket {bucket!r}; pass an export listed by `spendsense backup list`"
            )
    prefix = normal_prefix(text)
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
