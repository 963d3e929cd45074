"""The runbook's daily "Verify backups completed", judged from a listing of the exports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from spendsense.ops.backups.layout import METADATA_SUFFIX, Export


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


# `backup verify --max-age`: at most ten years (a longer one would judge nothing more).
MAX_AGE_LIMIT = timedelta(days=3650)
