"""The API's application logs from CloudWatch Logs (runbook, "View Logs").

Events are read with FilterLogEvents one page at a time and handed on as they arrive; nothing
holds a whole log group in memory (`--limit N` keeps at most N events). `--follow` polls with
a cursor that reaches back a minute for events ingested late and skips the ones it printed.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from spendsense.clients import describe_aws_error
from spendsense.errors import BadInput

APPLICATION_SUFFIX = "/application"
# CloudWatch Logs keeps events for at most 10 years (3653 days); a longer window finds nothing
# more, and a much longer one overflows datetime.
SINCE_MAX = timedelta(days=3653)
# --limit keeps this many events in memory at most.
LIMIT_MAX = 100_000


def parse_since(text: str) -> timedelta:
    """`30m`, `1h`, `2d`, `45s`, `1w` -> a timedelta up to SINCE_MAX; BadInput otherwise."""
    from spendsense.units import parse_duration

    return parse_duration(text, "--since", maximum=SINCE_MAX)


PATTERN_MAX = 1024  # FilterLogEvents' filterPattern


def _short(text: str, width: int = 60) -> str:
    return repr(text if len(text) <= width else text[:width] + "...")


def validate_pattern(pattern: str | None) -> str | None:
    """The --filter pattern, or BadInput if CloudWatch Logs cannot take it (over 1024 chars)."""
    if pattern is not None and len(pattern) > PATTERN_MAX:
        raise BadInput(
            f"--filter: the pattern {_short(pattern)} has {len(pattern)} characters; CloudWatch "
            f"Logs takes at most {PATTERN_MAX}; pass a shorter pattern"
        )
    return pattern or None


def application_log_group(log_group_names: Any, source: str) -> str:
    """The group in the `log_group_names` output that ends with /application."""
    names = log_group_names
    if isinstance(names, str):
        try:
            names = json.loads(names)
        except ValueError:
            names = [names]
    if not isinstance(names, list):
        names = []
    for name in names:
        if isinstance(name, str) and name.endswith(APPLICATION_SUFFIX):
            return name
    raise BadInput(
        f"stack output 'log_group_names' in {source} has no group ending in "
        f"{APPLICATION_SUFFIX} (got {log_group_names!r}); run `pulumi up` or pass the right "
        "--outputs"
    )


@dataclass(frozen=True)
class LogEvent:
    timestamp: int  # ms since the epoch
    stream: str
    message: str
    event_id: str

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp / 1000, tz=UTC)

    def iso_time(self) -> str:
        return self.time.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.timestamp % 1000:03d}Z"

    def to_json(self) -> dict[str, Any]:
        return {
            "time": self.iso_time(),
            "timestamp": self.timestamp,
            "stream": self.stream,
            "message": self.message,
            "event_id": self.event_id,
        }

    def text(self) -> str:
        return f"{self.iso_time()} {self.stream} {self.message}"


def missing_log_group(group: str) -> BadInput:
    """A log group a stack output names that the region does not have."""
    return BadInput(
        f"log group {group} does not exist (stack output log_group_names); "
        "check the stack outputs and the region"
    )


def iter_events(
    client: Any,
    group: str,
    *,
    start_ms: int,
    end_ms: int | None = None,
    pattern: str | None = None,
    page_size: int = 1000,
) -> Iterator[LogEvent]:
    """Events of `group` from `start_ms`, oldest first, fetched page by page as consumed."""
    params: dict[str, Any] = {"logGroupName": group, "startTime": start_ms, "limit": page_size}
    if end_ms is not None:
        params["endTime"] = end_ms
    if pattern:
        params["filterPattern"] = pattern
    while True:
        try:
            page = client.filter_log_events(**params)
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException":
                raise missing_log_group(group) from None
            if code == "InvalidParameterException" and pattern:
                raise BadInput(
                    f"--filter: CloudWatch Logs rejected the pattern {_short(pattern)}; see "
                    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html"
                ) from None
            raise describe_aws_error(exc, f"read log group {group}") from None
        for event in page.get("events", []):
            yield LogEvent(
                timestamp=int(event["timestamp"]),
                stream=str(event.get("logStreamName", "")),
                message=str(event.get("message", "")).rstrip("\n"),
                event_id=str(event.get("eventId", "")),
            )
        token = page.get("nextToken")
        if not token or token == params.get("nextToken"):
            return
        params["nextToken"] = token


def last(events: Iterable[LogEvent], limit: int | None) -> Iterable[LogEvent]:
    """All events (streamed) or only the newest `limit` (at most `limit` held)."""
    if limit is None:
        return events
    return deque(events, maxlen=limit)


# App Runner writes one log stream per instance and CloudWatch Logs ingests them with some lag,
# so an event stamped before the newest one printed may still arrive. Each --follow poll goes
# back this far, and events already printed are recognised by their id.
FOLLOW_LAG_MS = 60_000


class Cursor:
    """Where a follow left off: the newest timestamp printed, and the ids of the events printed
    in the last FOLLOW_LAG_MS before it (older ids are forgotten: no poll reaches back to them,
    so memory stays bounded by one lag window of events)."""

    def __init__(self, start_ms: int, lag_ms: int = FOLLOW_LAG_MS) -> None:
        self.start_ms = start_ms  # the newest timestamp printed (or the window's start)
        self.floor_ms = start_ms  # nothing before the window the user asked for
        self.lag_ms = lag_ms
        self.seen: dict[str, int] = {}  # event id -> timestamp
        self._prune_above = 1024

    def poll_start(self) -> int:
        """Where the next poll starts: a lag window before the newest event printed."""
        return max(self.floor_ms, self.start_ms - self.lag_ms)

    def _forget_old(self) -> None:
        horizon = self.poll_start()
        self.seen = {key: stamp for key, stamp in self.seen.items() if stamp >= horizon}
        self._prune_above = max(1024, 2 * len(self.seen))

    def new(self, events: Iterable[LogEvent]) -> Iterator[LogEvent]:
        """The events not printed yet, in the order given."""
        for event in events:
            if event.timestamp < self.floor_ms or event.event_id in self.seen:
                continue
            self.seen[event.event_id] = event.timestamp
            if event.timestamp > self.start_ms:
                self.start_ms = event.timestamp
            if len(self.seen) > self._prune_above:
                self._forget_old()
            yield event
        self._forget_old()


def follow(
    client: Any,
    group: str,
    *,
    cursor: Cursor,
    emit: Callable[[LogEvent], None],
    pattern: str | None = None,
    poll: float = 2.0,
    polls: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    page_size: int = 1000,
) -> None:
    """Poll for events the cursor has not printed and emit them, `polls` times (forever if
    None). Each poll reaches back cursor.lag_ms before the newest event printed, so an event
    ingested late from another instance's stream is still printed, once."""
    done = 0
    while polls is None or done < polls:
        sleep(poll)
        start = cursor.poll_start()
        for event in cursor.new(
            iter_events(client, group, start_ms=start, pattern=pattern, page_size=page_size)
        ):
            emit(event)
        done += 1


def since_ms(since: timedelta, now: datetime | None = None) -> int:
    moment = (now or datetime.now(UTC)) - since
    return int(moment.timestamp() * 1000)
