"""spendsense.units and errors.one_line: one parser per quantity, one line per exception."""

from __future__ import annotations

from datetime import timedelta

import pytest
from spendsense import units
from spendsense.errors import BadInput, one_line

YEAR = timedelta(days=365)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30m", timedelta(minutes=30)), ("2d", timedelta(days=2)), (" 1w ", timedelta(weeks=1))],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert units.parse_duration(text, "--since", maximum=YEAR) == expected


def test_fractions_only_where_allowed() -> None:
    assert units.parse_duration("1.5h", "--max-age", maximum=YEAR, fractions=True) == timedelta(
        minutes=90
    )
    with pytest.raises(BadInput, match=r"--since: '1\.5h' is not a duration; use a positive whole"):
        units.parse_duration("1.5h", "--since", maximum=YEAR)


@pytest.mark.parametrize("text", ["0h", "-1h", "", "1y", "２h", "1e3h", "nan"])
def test_not_a_duration(text: str) -> None:
    with pytest.raises(BadInput, match="is not a duration"):
        units.parse_duration(text, "--max-age", maximum=YEAR, units="smhd", example="26h")


def test_the_limit_is_named_in_the_unit_it_reads_back() -> None:
    with pytest.raises(BadInput) as caught:
        units.parse_duration("99999999999d", "--max-age", maximum=timedelta(days=3650))
    assert str(caught.value) == (
        "--max-age: '99999999999d' is longer than the limit of 3650d; pass at most 3650d"
    )
    assert units.describe_duration(timedelta(minutes=90)) == "90m"


def test_sizes() -> None:
    assert units.size_value("2 vCPU") == 2.0
    assert units.size_value("0.5 GB") == 0.5
    assert units.size_value("two") != units.size_value("two")  # NaN
    assert units.human_size(512) == "512 B"
    assert units.human_size(5 * 1024 * 1024 // 2) == "2.5 MiB"
    assert units.exact_size(1024 * 1024) == "1 MiB"
    assert units.exact_size(64 * 1024) == "64 KiB"
    assert units.exact_size(1000) == "1000 bytes"


def test_one_line() -> None:
    assert one_line(ValueError("first\n  second\tthird")) == "first second third"
    assert one_line(ValueError("x" * 300)) == "x" * 200
    assert one_line(ValueError("x" * 300), None) == "x" * 300
    assert one_line(RuntimeError()) == "RuntimeError"
    assert one_line(KeyboardInterrupt()) == "interrupted"


def test_failure_reason_builds_on_one_line() -> None:
    from spendsense.errors import OperationFailed, failure_reason

    assert failure_reason(OperationFailed("pause failed")) == "pause failed"
    assert failure_reason(ValueError("a\nb")) == "unexpected error: ValueError: a b"
    assert failure_reason(ValueError()) == "unexpected error: ValueError"
    assert failure_reason(KeyboardInterrupt()) == "interrupted"
