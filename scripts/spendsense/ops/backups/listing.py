"""The exports in the backup bucket: all of them, the newest daily one, the one a path names,
and the documents one holds.

Reading the counts downloads the export's output files one at a time into a temporary file
and decodes them (`export_format`), so restore and drill compare the database with the
export without trusting anything but the files.
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from spendsense.errors import BadInput
from spendsense.ops.backups.export_format import count_records
from spendsense.ops.backups.gcs import describe_gcs_error, list_blobs
from spendsense.ops.backups.layout import (
    DAILY_PREFIX,
    DAILY_RE,
    MANUAL_PREFIX,
    MANUAL_RE,
    METADATA_SUFFIX,
    Export,
    group_exports,
    normal_prefix,
    parse_export_path,
)


def list_exports(client: Any, bucket: str, prefix: str = DAILY_PREFIX) -> list[Export]:
    """Every daily export (under `prefix`) and manual export (`manual-*`), newest first."""
    base = normal_prefix(prefix)
    daily = group_exports(bucket, list_blobs(client, bucket, base), DAILY_RE, "daily", base)
    manual = group_exports(
        bucket, list_blobs(client, bucket, MANUAL_PREFIX), MANUAL_RE, "manual", ""
    )
    return sorted(daily + manual, key=lambda e: (e.time, e.kind), reverse=True)


def newest_daily_export(client: Any, bucket: str, prefix: str = DAILY_PREFIX) -> Export | None:
    """The newest export under `daily/` (complete or not), or None if there is none."""
    base = normal_prefix(prefix)
    daily = group_exports(bucket, list_blobs(client, bucket, base), DAILY_RE, "daily", base)
    return max(daily, key=lambda e: e.time, default=None)


def find_export(client: Any, bucket: str, path: str) -> Export:
    """The export that `path` names (see `parse_export_path`), checked in the bucket: it
    holds objects and its `.overall_export_metadata`. Exit 2 otherwise."""
    prefix, when = parse_export_path(bucket, path)
    name = prefix.rstrip("/").rsplit("/", 1)[-1]
    kind = "manual" if name.startswith(MANUAL_PREFIX) else "daily"
    blobs = list_blobs(client, bucket, prefix)
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
        for b in list_blobs(client, export.bucket, export.prefix)
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
