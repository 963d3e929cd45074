"""Reading what an export holds: real exports written by the Firestore emulator (the same
LevelDB-log / EntityProto format a managed export writes), including a document larger than a
32 KiB log block, and damaged files that must be refused."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import pytest
from spendsense.ops.backups.export_format import ExportFormatError, count_records

from tests.scripts.scripted_peers import unique_project


@pytest.fixture(scope="module")
def exported(firestore_emulator, tmp_path_factory) -> Path:
    """One export of: 3 users (one 100 KB document), 2 accounts under a user, 1
    numeric-looking id."""
    project = unique_project("format")
    rest = firestore_emulator.rest(project)
    rest.set("users/alice", {"bio": "x" * 100_000})
    rest.set("users/bob", {"name": "Bob"})
    rest.set("users/12345", {"name": "digits"})
    rest.set("users/alice/accounts/a1", {"balance": 1})
    rest.set("users/bob/accounts/b1", {"balance": 2})
    folder = firestore_emulator.export(str(tmp_path_factory.mktemp("export")), project=project)
    return Path(folder)


def output_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("output-*"))


def test_counts_per_collection_id_including_a_document_spanning_blocks(exported):
    """Every document is counted once under its own collection id, whatever its size."""
    counts: Counter[str] = Counter()
    for path in output_files(exported):
        with path.open("rb") as handle:
            count_records(handle, path.name, counts)
    assert dict(counts) == {"users": 3, "accounts": 2}
    assert sum(p.stat().st_size for p in output_files(exported)) > 100_000


def test_a_flipped_byte_is_a_checksum_error(exported):
    """A damaged record fails its CRC32C check: the export is refused, not half-counted."""
    data = bytearray(output_files(exported)[0].read_bytes())
    data[40] ^= 0xFF
    with pytest.raises(ExportFormatError, match="checksum mismatch"):
        count_records(io.BytesIO(bytes(data)), "output-0", Counter())


def test_a_truncated_file_is_refused(exported):
    """A file cut inside a record (here inside the 100 KB document) is refused."""
    data = max((p.read_bytes() for p in output_files(exported)), key=len)
    with pytest.raises(ExportFormatError):
        count_records(io.BytesIO(data[:40_000]), "output-0", Counter())


def test_a_file_that_is_not_an_export_is_refused():
    """Text is not a LevelDB log: refused with the file's name."""
    with pytest.raises(ExportFormatError, match=r"notes\.txt"):
        count_records(
            io.BytesIO(b"this is a text file, not an export\n" * 10), "notes.txt", Counter()
        )
