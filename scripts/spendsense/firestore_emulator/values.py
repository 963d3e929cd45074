"""Python values as Firestore REST `Value`s and back (`to_fields`, `from_fields`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Timestamp:
    """A Firestore timestamp given as its RFC 3339 text (e.g. a document's `updateTime`)."""

    rfc3339: str


def to_value(value: Any) -> dict[str, Any]:
    """A Python value as a Firestore REST `Value`."""
    if value is None:
        return {"nullValue": None}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"integerValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, Timestamp):
        return {"timestampValue": value.rfc3339}
    if isinstance(value, datetime):
        return {"timestampValue": value.isoformat().replace("+00:00", "Z")}
    if isinstance(value, dict):
        return {"mapValue": {"fields": to_fields(value)}}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [to_value(v) for v in value]}}
    raise TypeError(f"cannot store {type(value).__name__} in Firestore: {value!r}")


def to_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {key: to_value(value) for key, value in data.items()}


def from_value(value: dict[str, Any]) -> Any:
    """A Firestore REST `Value` as a Python value (timestamps stay RFC 3339 strings)."""
    if "nullValue" in value:
        return None
    if "booleanValue" in value:
        return bool(value["booleanValue"])
    if "integerValue" in value:
        return int(value["integerValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "mapValue" in value:
        return from_fields(value["mapValue"].get("fields", {}))
    if "arrayValue" in value:
        return [from_value(v) for v in value["arrayValue"].get("values", [])]
    for key in ("stringValue", "timestampValue", "referenceValue", "bytesValue"):
        if key in value:
            return value[key]
    if "geoPointValue" in value:
        return value["geoPointValue"]
    raise ValueError(f"unknown Firestore value: {value!r}")


def from_fields(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: from_value(value) for key, value in fields.items()}
