"""The format of a Firestore export's files, decoded without the Datastore SDK.

An export's ``output-N`` files are LevelDB log files (32 KiB blocks of checksummed record
fragments) whose records are the documents as ``EntityProto`` messages, the Datastore format
Firestore exports use. `count_records` reads every record's key to count documents per
collection ID (a subcollection ``users/u1/items`` counts under ``items``, the way a
collection-group query counts), so restore and drill can compare the database with the
export without trusting anything but the files.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Iterator
from typing import Any, BinaryIO

from spendsense.errors import OperationFailed


class ExportFormatError(OperationFailed):
    """An export file is not the LevelDB log / EntityProto format Firestore writes."""


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
