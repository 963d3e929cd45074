"""`spendsense bootstrap` on a program without an ECR repository: one line, no traceback."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from spendsense.errors import OperationFailed, SpendsenseError
from spendsense.ops.bootstrap import target_closure


def test_a_program_without_a_registry_is_one_line_not_a_traceback() -> None:
    bucket = SimpleNamespace(
        urn="urn:pulumi:staging::spendsense::aws:s3/bucket:Bucket::b",
        type="aws:s3/bucket:Bucket",
        parent="",
        custom=True,
        provider="",
        dependencies=[],
    )
    with pytest.raises(SpendsenseError) as caught:
        target_closure([bucket])
    assert isinstance(caught.value, OperationFailed)
    assert str(caught.value) == (
        "the program declares no ECR repository: nothing to bootstrap first"
    )
