"""The backup bucket's objects through google-cloud-storage, with its errors as one line."""

from __future__ import annotations

from typing import Any

from spendsense.errors import BadInput, OperationFailed, one_line


def list_blobs(client: Any, bucket: str, prefix: str) -> list[Any]:
    """Every object under `prefix` in `bucket`; a listing error as one line."""
    try:
        return list(client.list_blobs(bucket, prefix=prefix))
    except Exception as exc:
        raise describe_gcs_error(exc, f"list gs://{bucket}/{prefix}") from None


def describe_gcs_error(exc: Exception, doing: str) -> Exception:
    """A google-cloud-storage error as one line (NotFound and Forbidden named plainly)."""
    from google.api_core import exceptions as gexc

    if isinstance(exc, gexc.NotFound):
        return BadInput(
            f"{doing}: not found ({one_line(exc)}); check the stack output backup_bucket"
        )
    if isinstance(exc, gexc.Forbidden):
        return BadInput(f"{doing}: access denied ({one_line(exc)}); check your Google credentials")
    return OperationFailed(f"{doing}: {type(exc).__name__}: {one_line(exc)}")
