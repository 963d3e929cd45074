"""The weekly security review's report (docs/security-review.md): failed authentications of the
API by day, by client address and by path (Logs Insights on the application log), Firestore
security-rules denials (Cloud Monitoring) and the API's 4xx responses (CloudWatch), over one
window ending now. The sources: security_logs.py and security_metrics.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from spendsense.units import describe_duration

# Logs Insights bills by the data scanned; a month of logs is the review's widest useful view.
SINCE_MAX = timedelta(days=31)


def window(since: timedelta, now: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, now): a window of a day or more starts at 00:00 UTC, so that the first day is
    whole and the daily buckets of all three sources are UTC days (`--since 7d` on a Monday
    at 07:00: from the Monday before at 00:00)."""
    end = (now or datetime.now(UTC)).replace(microsecond=0)
    start = end - since
    if since >= timedelta(days=1):
        start = start.replace(hour=0, minute=0, second=0)
    return start, end


def build_report(
    *,
    stack: str,
    since: timedelta,
    start: datetime,
    end: datetime,
    auth_failures: Callable[[], dict[str, Any]],
    rules_denials: Callable[[], dict[str, Any]],
    api_4xx: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """The report as data (the --json shape); each source is called once, in this order."""
    return {
        "stack": stack,
        "window": {
            "since": describe_duration(since),
            "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "auth_failures": auth_failures(),
        "firestore_rules_denials": rules_denials(),
        "api_4xx": api_4xx(),
    }


def _days(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return ["    by day: none"]
    return ["    by day:", *(f"      {row['day']}  {row['count']:>8,}" for row in rows)]


def safe(value: Any, width: int = 100) -> str:
    """A value a client chose (a path, an address) as one printable line: control characters
    (terminal escapes) and backticks (the workflow's Markdown fence) escaped, cut to `width`."""
    text = "".join(
        ch if ch.isprintable() and ch != "`" else ascii(ch)[1:-1] if ch != "`" else "\\x60"
        for ch in str(value)
    )
    text = text or "(none)"
    return text if len(text) <= width else text[: width - 3] + "..."


def _top(title: str, key: str, rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return [f"    {title}: none"]
    shown = [(safe(row[key]), row["count"]) for row in rows]
    width = max(len(text) for text, _ in shown)
    return [f"    {title}:", *(f"      {text.ljust(width)}  {n:>8,}" for text, n in shown)]


def render_text(report: dict[str, Any]) -> str:
    """The report for a person (and the workflow's job summary)."""
    w = report["window"]
    auth = report["auth_failures"]
    fields = auth["fields"]
    statuses = ", ".join(str(s) for s in fields["statuses"])
    lines = [
        f"Security report, stack {report['stack']}: {w['start']} to {w['end']} (last {w['since']})",
        "",
        f"  Failed authentications (HTTP {statuses} in field {fields['status']}): "
        f"{auth['total']:,}",
        *_days(auth["by_day"]),
        *_top(f"top client addresses ({fields['client']})", "client", auth["top_clients"]),
        *_top(f"top paths ({fields['path']})", "path", auth["top_paths"]),
        "",
        f"  Firestore security-rules denials: {report['firestore_rules_denials']['total']:,}",
        *_days(report["firestore_rules_denials"]["by_day"]),
        "",
        f"  API 4xx responses (App Runner): {report['api_4xx']['total']:,}",
        *_days(report["api_4xx"]["by_day"]),
    ]
    return "\n".join(lines)
