"""The runbook numbers quoted in prose are the ones in the data files.

Each limit is written once, in policies/limits.json or runbook.json (read through
infra/limits.py). Pages that quote one in prose (README.md, docs/policies.md,
docs/operations-data.md, docs/ci.md) are checked
here: a quoted number that differs from the data fails, and so does a quote this test can no
longer find (reworded pages update the pattern). The settings reference is generated instead
(test_configuration_tables.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from infra.limits import PACK_LIMITS_FILE, limits, number
from tests.docs.repository import REPO_ROOT

LIMITS = limits()

README = REPO_ROOT / "README.md"
POLICIES = REPO_ROOT / "docs" / "policies.md"
OPERATIONS_DATA = REPO_ROOT / "docs" / "operations-data.md"
CI = REPO_ROOT / "docs" / "ci.md"


def _hh_mm(cron: str) -> str:
    minute, hour = cron.split()[:2]
    return f"{int(hour):02d}:{int(minute):02d}"


def _export_time() -> str:
    """The daily export's time as the pages write it: `02:00 UTC`."""
    return f"{_hh_mm(LIMITS.backup.schedule)} {LIMITS.backup.time_zone}"


def _daily_downtime_seconds() -> str:
    """The downtime a day's availability budget allows, in whole seconds (86 for 99.9 %)."""
    return str(round(24 * 3600 * (100 - LIMITS.cloudwatch.availability_percent) / 100))


# (page, pattern with one group, the data's value as the page writes it)
QUOTES: list[tuple[Path, str, Callable[[], str]]] = [
    (README, r"daily Firestore export at (\d\d:\d\d) UTC", lambda: _hh_mm(LIMITS.backup.schedule)),
    (README, r"daily Firestore export at \d\d:\d\d (\S+) to", lambda: LIMITS.backup.time_zone),
    (README, r"gs://([a-z0-9.-]+)/daily/", lambda: LIMITS.backup.bucket_name),
    (README, r"kept (\d+) days, undeletable", lambda: str(LIMITS.backup.retention_days)),
    (
        README,
        r"the ([\d.]+) % target is an alarm",
        lambda: number(LIMITS.cloudwatch.availability_percent),
    ),
    (README, r"dashboard `([\w-]+)`", lambda: LIMITS.cloudwatch.dashboard_name_prefix),
    (POLICIES, r"alarm at <= (\d+) ms", lambda: number(LIMITS.cloudwatch.latency_p95_ms)),
    (
        POLICIES,
        r"Requests` at <= ([\d.]+) %",
        lambda: number(LIMITS.cloudwatch.error_rate_percent),
    ),
    (
        POLICIES,
        r"below ([\d.]+) % or stricter",
        lambda: number(LIMITS.cloudwatch.availability_percent),
    ),
    (POLICIES, r"`CPUUtilization` <= ([\d.]+) %", lambda: number(LIMITS.cloudwatch.cpu_percent)),
    (
        POLICIES,
        r"`MemoryUtilization` <= ([\d.]+) %",
        lambda: number(LIMITS.cloudwatch.memory_percent),
    ),
    (
        POLICIES,
        r"`[^`]+` objects after exactly (\d+) days",
        lambda: str(LIMITS.backup.retention_days),
    ),
    (POLICIES, r"at least every (\d+) days", lambda: str(LIMITS.secrets.max_rotation_days)),
    (
        POLICIES,
        r"\n(\d+) for the latency, error-rate",
        lambda: str(LIMITS.cloudwatch.p2_alarm_max_minutes),
    ),
    (
        POLICIES,
        r"`\), (\d+) for the availability alarm",
        lambda: str(LIMITS.cloudwatch.outage_alarm_max_minutes),
    ),
    (
        POLICIES,
        r"the program's daily ([\d.]+) %",
        lambda: number(LIMITS.cloudwatch.availability_percent),
    ),
    (POLICIES, r"and at most ([\d.]+ vCPU) / [\d.]+ GB", lambda: LIMITS.apprunner.max_cpu),
    (POLICIES, r"and at most [\d.]+ vCPU / ([\d.]+ GB)", lambda: LIMITS.apprunner.max_memory),
    (POLICIES, r"`minSize` >= (\d+)", lambda: str(LIMITS.apprunner.min_instances)),
    (POLICIES, r"`maxSize` <= (\d+)", lambda: str(LIMITS.apprunner.max_instances)),
    (POLICIES, r"`maxConcurrency` <= (\d+)", lambda: str(LIMITS.apprunner.max_concurrency)),
    (POLICIES, r"HTTP health check on `([^`]+)`", lambda: LIMITS.apprunner.health_check_path),
    (
        POLICIES,
        r"does not count\) on `([^`]+)` over HTTP",
        lambda: LIMITS.apprunner.health_check_path,
    ),
    (POLICIES, r"at most (\d+) images", lambda: str(LIMITS.ecr.max_images)),
    (
        POLICIES,
        r"a dashboard named `([^`.]+)\.\.\.`",
        lambda: LIMITS.cloudwatch.dashboard_name_prefix,
    ),
    (
        POLICIES,
        r"CloudWatch accepts, >= (\d+) days",
        lambda: str(LIMITS.cloudwatch.min_log_retention_days),
    ),
    (
        POLICIES,
        r"without an age of at least (\d+) days",
        lambda: str(LIMITS.backup.retention_days),
    ),
    (POLICIES, r"deletes `([^`]+)` objects after exactly", lambda: LIMITS.backup.prefix),
    (POLICIES, r"export\b[^|]*? at `([^`]+)` `[^`]+`", lambda: LIMITS.backup.schedule),
    (POLICIES, r"export\b[^|]*? at `[^`]+` `([^`]+)`", lambda: LIMITS.backup.time_zone),
    (POLICIES, r"`gs://<bucketName>/([^`]+)`", lambda: LIMITS.backup.prefix),
    (
        POLICIES,
        r"\*\*alert within (\d+) hours\*\*",
        lambda: number(LIMITS.cloudwatch.p2_alarm_max_minutes / 60),
    ),
    (OPERATIONS_DATA, r"the scheduled export at (\d\d:\d\d [\w/]+)", _export_time),
    (OPERATIONS_DATA, r"for the (\d\d:\d\d [\w/]+) run", _export_time),
    (OPERATIONS_DATA, r"export running at (\d\d:\d\d [\w/]+)", _export_time),
    (CI, r"after the (\d\d:\d\d [\w/]+) export", _export_time),
    (
        OPERATIONS_DATA,
        r"outlives the (\d+) days on purpose",
        lambda: str(LIMITS.backup.retention_days),
    ),
    (OPERATIONS_DATA, r'"Kept (\d+)\s+days"', lambda: str(LIMITS.backup.retention_days)),
    (
        OPERATIONS_DATA,
        r"means at least (\d+) days \(retention policy\)",
        lambda: str(LIMITS.backup.retention_days),
    ),
    (
        OPERATIONS_DATA,
        r"`backup\.retentionDays`, (\d+) days",
        lambda: str(LIMITS.backup.retention_days),
    ),
    (
        OPERATIONS_DATA,
        r"averaged over 24 hours\s+against ([\d.]+) %",
        lambda: number(LIMITS.cloudwatch.availability_percent),
    ),
    (OPERATIONS_DATA, r"about (\d+) s of downtime", _daily_downtime_seconds),
]


@pytest.mark.parametrize(
    ("page", "pattern", "expected"),
    QUOTES,
    ids=[f"{page.name}:{pattern}" for page, pattern, _ in QUOTES],
)
def test_quoted_number_is_the_data(page: Path, pattern: str, expected: Callable[[], str]) -> None:
    found = re.findall(pattern, page.read_text(encoding="utf-8"))
    assert found, f"{page.name} no longer says {pattern!r}: update the page or this test"
    assert set(found) == {expected()}, (
        f"{page.name}: {pattern!r} quotes {sorted(set(found))}, the data says {expected()}"
    )


def _scalar_limits() -> Iterator[tuple[str, str]]:
    data = json.loads(PACK_LIMITS_FILE.read_text(encoding="utf-8"))
    for _section, values in data.items():
        if isinstance(values, dict):
            for key, value in values.items():
                if isinstance(value, (int, float, str)) and not isinstance(value, bool):
                    yield key, number(value) if not isinstance(value, str) else value


# Policy config keys named differently from their limits.json key.
ALIASES = {"minimumDays": "minLogRetentionDays"}


def test_policy_config_defaults_in_the_policy_table_are_the_data() -> None:
    """docs/policies.md's limits column writes a default as `key` (value): each must be the
    value in policies/limits.json."""
    limits = dict(_scalar_limits())
    text = POLICIES.read_text(encoding="utf-8")
    quoted = re.findall(r"`(\w+)` \(([^)`;,]+)\)", text)
    checked = 0
    wrong: list[str] = []
    for key, value in quoted:
        name = ALIASES.get(key, key)
        # Not a default: "`bucketName` (per stack)", and the pattern is too long to quote.
        if name not in limits or name == "secretNamePattern" or value == "per stack":
            continue
        checked += 1
        if value.strip() != limits[name]:
            wrong.append(f"`{key}` ({value}) but limits.json says {limits[name]}")
    assert checked >= 10, f"only {checked} defaults found: did the table's format change?"
    assert not wrong, "docs/policies.md: " + "; ".join(wrong)
