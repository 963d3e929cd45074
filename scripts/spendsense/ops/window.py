"""The maintenance window (the runbook's, `maintenanceWindow` in runbook.json).

The window is wall-clock time in its time zone, so in UTC it moves by an hour when daylight
saving time starts or ends (07:00-09:00 UTC in winter, 06:00-08:00 UTC in summer). Every
computation here is done in local time with `zoneinfo` and converted back, and takes `now`
as an argument so the rules are tested with a fixed clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from spendsense.errors import BadInput
from spendsense.repo import runbook_file

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class MaintenanceWindow:
    weekday: int  # Monday = 0
    start: time
    end: time
    zone: ZoneInfo

    def describe(self) -> str:
        return f"{WEEKDAYS[self.weekday]}s {self.start:%H:%M}-{self.end:%H:%M} {self.zone.key}"

    def _local(self, day: date, moment: time) -> datetime:
        # Round-trip through UTC so a wall time that does not exist (a DST gap) moves forward.
        naive = datetime.combine(day, moment)
        return naive.replace(tzinfo=self.zone).astimezone(UTC).astimezone(self.zone)

    def occurrence(self, day: date) -> tuple[datetime, datetime]:
        """The window on local date `day` (which must be the window's weekday), in UTC."""
        return (
            self._local(day, self.start).astimezone(UTC),
            self._local(day, self.end).astimezone(UTC),
        )


@dataclass(frozen=True)
class WindowStatus:
    window: MaintenanceWindow
    now: datetime
    inside: bool
    current_end: datetime | None  # when inside: the end of this window
    next_start: datetime  # the next window that starts after now
    next_end: datetime

    def to_json(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return (
                None
                if moment is None
                else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
            )

        def local(moment: datetime) -> str:
            return moment.astimezone(self.window.zone).isoformat()

        return {
            "window": self.window.describe(),
            "time_zone": self.window.zone.key,
            "now": iso(self.now),
            "inside": self.inside,
            "current_end": iso(self.current_end),
            "next_start": iso(self.next_start),
            "next_start_local": local(self.next_start),
            "next_end": iso(self.next_end),
        }


def load_window(path: Path | None = None) -> MaintenanceWindow:
    """The window from runbook.json at the repository root (key `maintenanceWindow`), read by
    infra/limits.py."""
    from infra.limits import LimitsError, read_runbook

    path = runbook_file() if path is None else path
    try:
        data = read_runbook(path).maintenance_window
        weekday = WEEKDAYS.index(data.weekday)
        start = time.fromisoformat(data.start)
        end = time.fromisoformat(data.end)
        zone = ZoneInfo(data.time_zone)
    except (LimitsError, ValueError, ZoneInfoNotFoundError) as exc:
        raise BadInput(
            f"{path}: maintenanceWindow must have weekday (e.g. Tuesday), start and end (HH:MM) "
            f"and timeZone (an IANA name) ({type(exc).__name__}: {exc})"
        ) from None
    if end <= start:
        raise BadInput(f"{path}: maintenanceWindow.end must be after start on the same day")
    return MaintenanceWindow(weekday, start, end, zone)


def window_status(window: MaintenanceWindow, now: datetime) -> WindowStatus:
    """Whether `now` (aware) is inside the window, and when the next one starts."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local_today = now.astimezone(window.zone).date()
    inside = False
    current_end: datetime | None = None
    upcoming: tuple[datetime, datetime] | None = None
    for offset in range(-1, 9):
        day = local_today + timedelta(days=offset)
        if day.weekday() != window.weekday:
            continue
        start, end = window.occurrence(day)
        if start <= now < end:
            inside, current_end = True, end
        elif start > now and upcoming is None:
            upcoming = (start, end)
    assert upcoming is not None  # a weekday recurs within any 8 days
    return WindowStatus(window, now, inside, current_end, upcoming[0], upcoming[1])


def describe_status(status: WindowStatus) -> str:
    """One line for a person, in the window's own time zone and UTC."""
    zone = status.window.zone

    def both(moment: datetime) -> str:
        return f"{moment.astimezone(zone):%a %Y-%m-%d %H:%M %Z} ({moment:%H:%M} UTC)"

    if status.inside and status.current_end is not None:
        return (
            f"inside the maintenance window ({status.window.describe()}) until "
            f"{both(status.current_end)}; next one starts {both(status.next_start)}"
        )
    wait = status.next_start - status.now
    hours = wait.total_seconds() / 3600
    return (
        f"outside the maintenance window ({status.window.describe()}); the next one starts "
        f"{both(status.next_start)}, in {hours:.1f} h"
    )


# --- time inputs -----------------------------------------------------------------------------

# The times a command accepts (`--now`, `--at`): far enough either way for any rehearsal,
# near enough that every date computation (a week ahead, a time zone's offset) stays valid.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


def parse_time(text: str, option: str, example: str = "2026-11-03T07:30:00Z") -> datetime:
    """An ISO 8601 time with an offset, as UTC, between 1970 and 2999; exit 2 otherwise."""
    try:
        moment: datetime | None = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadInput(f"{option}: {text!r} is not an ISO 8601 time with an offset; e.g. {example}")
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        moment = None
    if moment is None or not EARLIEST <= moment < LATEST:
        raise BadInput(
            f"{option}: {text!r} is out of range; give a time between 1970-01-01 and "
            f"2999-12-31 (e.g. {example})"
        )
    return moment


def utc_now() -> datetime:
    """The real clock (one seam: tests that act with --yes set the time here, not with --now)."""
    return datetime.now(UTC)


def parse_now(text: str | None, option: str = "--now") -> datetime:
    """`--now` (ISO 8601 with an offset, for rehearsals and tests) or the current time."""
    if text is None:
        return utc_now()
    return parse_time(text, option)


class Seconds(click.ParamType):
    """A number of seconds between `low` and `high` (no nan, no inf): for --timeout and
    --poll-interval, whose values feed deadlines and sleeps."""

    name = "seconds"

    def __init__(self, low: float, high: float) -> None:
        self.low = low
        self.high = high

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float | int) and not isinstance(value, bool):
            number = float(value)
        else:
            try:
                number = float(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(number) or not self.low <= number <= self.high:
            self.fail(
                f"{value!r} is not a number of seconds from {self.low:g} to {self.high:g}",
                param,
                ctx,
            )
        return number


TIMEOUT = Seconds(1, 86_400)  # an export, import or App Runner operation: at most a day
POLL_INTERVAL = Seconds(0, 3600)
