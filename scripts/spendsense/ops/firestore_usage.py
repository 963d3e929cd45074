"""Today's Firestore usage against the team's daily caps: the `usage` row of `spendsense status`.

Owns reading Cloud Monitoring for the day's document reads, writes and deletes and the stored
bytes, and comparing them with the caps the stack exports as `firestore_usage_caps`
(infra/settings/firestore_quota.py: `dailyReadCap`, ..., `quotaWarningFraction`,
`usageTimeZone`). The caps come from the stack's outputs, not from the stack file: they are
the numbers the deployed alert policies use.

"Today" is since 00:00 in the caps' time zone (`usageTimeZone`, default America/Los_Angeles,
where Firestore's free quota resets). The alert policies sum a rolling 24 hours instead
(infra/components/firestore_quota.py says why); so the alert can fire while this row shows
today under the threshold, after a busy end of yesterday.

REST call (one per metric, all reads): Cloud Monitoring v3 `GET
/v3/projects/{project}/timeSeries` (`projects.timeSeries.list`, permission
`monitoring.timeSeries.list`, in roles/monitoring.viewer), answer `ListTimeSeriesResponse`
(https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.timeSeries/list). Operations
are DELTA counts summed per minute (ALIGN_SUM over 60 s, REDUCE_SUM across series), so the
day starts within a minute of midnight; storage is a GAUGE, its newest point of the last day.
Metrics: firestore.googleapis.com/document/{read,write,delete}_ops_count and
firestore.googleapis.com/storage/data_and_index_storage_bytes on the monitored resource
firestore.googleapis.com/Database (https://cloud.google.com/monitoring/api/metrics_gcp_d_h).

`SPENDSENSE_MONITORING_API` points the calls at another base URL (tests); a loopback http://
URL gets no credentials.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests

from spendsense.errors import BadInput, OperationFailed, one_line
from spendsense.ops.status import FAILING, NOT_CHECKED, OK, Check

MONITORING_API = "https://monitoring.googleapis.com"
SCOPE = "https://www.googleapis.com/auth/monitoring.read"
RESOURCE_TYPE = "firestore.googleapis.com/Database"
OPERATION_METRICS = {
    "reads": "firestore.googleapis.com/document/read_ops_count",
    "writes": "firestore.googleapis.com/document/write_ops_count",
    "deletes": "firestore.googleapis.com/document/delete_ops_count",
}
STORAGE_METRIC = "firestore.googleapis.com/storage/data_and_index_storage_bytes"
CAPS_OUTPUT = "firestore_usage_caps"
NAME = "usage"
_CAP_KEYS = ("reads", "writes", "deletes", "storage_bytes")
_PAGES = 50  # a day of per-minute points is one page; a bound, not an expectation


@dataclass(frozen=True)
class UsageCaps:
    reads: int
    writes: int
    deletes: int
    storage_bytes: int
    warning_fraction: float
    time_zone: str

    def cap(self, kind: str) -> int:
        return int(getattr(self, kind))


def parse_caps(value: Any) -> UsageCaps:
    """The `firestore_usage_caps` output, checked; BadInput naming the output if malformed."""
    expected = (
        f"stack output '{CAPS_OUTPUT}' must be an object with whole-number caps "
        f"{', '.join(_CAP_KEYS)} (at least 1), warning_fraction (0.1-1) and time_zone (an IANA "
        "time zone); run `pulumi up` or pass --outputs FILE from this version of the program"
    )
    if not isinstance(value, Mapping):
        raise BadInput(f"{expected} (got {type(value).__name__})")
    caps: dict[str, Any] = {}
    for key in _CAP_KEYS:
        item = value.get(key)
        if isinstance(item, bool) or not isinstance(item, int) or item < 1:
            raise BadInput(f"{expected} (got {key}={item!r})")
        caps[key] = item
    fraction = value.get("warning_fraction")
    if (
        isinstance(fraction, bool)
        or not isinstance(fraction, int | float)
        or not 0.1 <= fraction <= 1
    ):
        raise BadInput(f"{expected} (got warning_fraction={fraction!r})")
    zone = value.get("time_zone")
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        raise BadInput(f"{expected} (got time_zone={zone!r})") from None
    return UsageCaps(**caps, warning_fraction=float(fraction), time_zone=str(zone))


def day_start(now: datetime, time_zone: str) -> datetime:
    """00:00 today in `time_zone`, as an aware datetime in UTC."""
    local = now.astimezone(ZoneInfo(time_zone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def endpoint() -> str:
    return (os.environ.get("SPENDSENSE_MONITORING_API") or MONITORING_API).rstrip("/")


def credentials_problem(doing: str, exc: Exception) -> Exception:
    """google.auth's errors inside a request, as one line: refused credentials (RefreshError:
    expired or revoked) are bad input with the fix; an unreachable token endpoint
    (TransportError) is a failed operation; anything else is re-raised as it is."""
    from google.auth import exceptions

    if isinstance(exc, exceptions.RefreshError):
        return BadInput(
            f"{doing}: the Google credentials could not be used (RefreshError: "
            f"{one_line(exc)}); run `gcloud auth application-default login`"
        )
    if isinstance(exc, exceptions.TransportError):
        return OperationFailed(f"{doing}: Google's token endpoint did not answer ({one_line(exc)})")
    return exc


def monitoring_session() -> Any:
    """Application Default Credentials; none for a loopback http:// endpoint (tests)."""
    parts = urlsplit(endpoint())
    if parts.scheme == "http" and parts.hostname in {"127.0.0.1", "localhost", "::1"}:
        return requests.Session()
    try:
        import google.auth
        from google.auth.transport.requests import AuthorizedSession

        credentials, _ = google.auth.default(scopes=[SCOPE])
    except Exception as exc:  # DefaultCredentialsError and friends
        raise BadInput(
            f"no Google credentials ({type(exc).__name__}); run `gcloud auth application-default "
            "login` or set GOOGLE_APPLICATION_CREDENTIALS (in CI: the google-github-actions/auth "
            "step)"
        ) from None
    return AuthorizedSession(credentials)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return " ".join((response.text or response.reason or "").split())[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        text = f"{error.get('status') or error.get('code') or ''}: {error.get('message') or ''}"
        return " ".join(text.strip(": ").split())[:200]
    return str(body)[:200]


def list_time_series(
    session: Any, project: str, params: Mapping[str, str], timeout: float
) -> list[dict[str, Any]]:
    """Every `TimeSeries` of one projects.timeSeries.list, following nextPageToken."""
    url = f"{endpoint()}/v3/projects/{quote(project, safe='')}/timeSeries"
    found: list[dict[str, Any]] = []
    token = ""
    for _ in range(_PAGES):
        query = dict(params, pageToken=token) if token else dict(params)
        doing = f"Cloud Monitoring timeSeries.list on project {project}"
        try:
            response = session.get(url, params=query, timeout=timeout)
        except requests.RequestException as exc:
            raise OperationFailed(f"{doing}: no answer ({one_line(exc)})") from None
        except Exception as exc:
            raise credentials_problem(doing, exc) from None
        if response.status_code in (401, 403):
            raise BadInput(
                f"{doing} refused ({_error(response)}); the identity needs "
                "monitoring.timeSeries.list on the project (the CI checks account: its custom role "
                "spendsenseChecksMetricsReader)"
            )
        if not response.ok:
            raise OperationFailed(f"{doing}: HTTP {response.status_code}: {_error(response)}")
        try:
            body = response.json()
        except ValueError:
            raise OperationFailed(f"{doing}: the answer is not JSON") from None
        if not isinstance(body, dict):
            raise OperationFailed(f"{doing}: the answer is not a ListTimeSeriesResponse")
        found.extend(s for s in body.get("timeSeries") or [] if isinstance(s, dict))
        token = str(body.get("nextPageToken") or "")
        if not token:
            return found
    raise OperationFailed(f"Cloud Monitoring returned more than {_PAGES} pages of time series")


def _value(point: Any) -> float:
    value = point.get("value") if isinstance(point, dict) else None
    if not isinstance(value, dict):
        return 0.0
    for key in ("int64Value", "doubleValue"):
        if key in value:
            try:
                number = float(value[key])  # int64 travels as a string
            except (TypeError, ValueError):
                return 0.0
            return number if math.isfinite(number) else 0.0
    return 0.0


def _filter(metric: str, database: str) -> str:
    return (
        f'metric.type = "{metric}" AND resource.type = "{RESOURCE_TYPE}" AND '
        f'resource.label.database_id = "{database}"'
    )


def operations_since(
    session: Any,
    project: str,
    database: str,
    metric: str,
    start: datetime,
    end: datetime,
    timeout: float,
) -> int:
    """The DELTA `metric`'s total between `start` and `end` (summed per minute)."""
    if end - start < timedelta(minutes=1):
        return 0  # the day is not a minute old: no aligned point yet, and no interval to ask
    params = {
        "filter": _filter(metric, database),
        "interval.startTime": _stamp(start),
        "interval.endTime": _stamp(end),
        "aggregation.alignmentPeriod": "60s",
        "aggregation.perSeriesAligner": "ALIGN_SUM",
        "aggregation.crossSeriesReducer": "REDUCE_SUM",
        "view": "FULL",
    }
    series = list_time_series(session, project, params, timeout)
    return round(sum(_value(p) for s in series for p in s.get("points") or []))


def stored_bytes(
    session: Any, project: str, database: str, end: datetime, timeout: float
) -> int | None:
    """The newest stored-bytes point of the last day (None: no point in it)."""
    params = {
        "filter": _filter(STORAGE_METRIC, database),
        "interval.startTime": _stamp(end - timedelta(days=1)),
        "interval.endTime": _stamp(end),
        "view": "FULL",
    }
    series = list_time_series(session, project, params, timeout)
    newest = [s["points"][0] for s in series if isinstance(s.get("points"), list) and s["points"]]
    if not newest:
        return None
    # Points come newest first; one series per database, summed if Google ever splits it.
    return round(sum(_value(p) for p in newest))


@dataclass(frozen=True)
class Usage:
    start: datetime
    used: dict[str, int | None]  # reads, writes, deletes, storage_bytes


def read_usage(
    session: Any, project: str, database: str, caps: UsageCaps, now: datetime, timeout: float
) -> Usage:
    start = day_start(now, caps.time_zone)
    used: dict[str, int | None] = {
        kind: operations_since(session, project, database, metric, start, now, timeout)
        for kind, metric in OPERATION_METRICS.items()
    }
    used["storage_bytes"] = stored_bytes(session, project, database, now, timeout)
    return Usage(start, used)


def _shown(kind: str, value: int) -> str:
    return f"{value / 2**30:.2f} GiB" if kind == "storage_bytes" else f"{value:,}"


def summarize(usage: Usage, caps: UsageCaps) -> tuple[bool, str, dict[str, Any]]:
    """(over a warning threshold?, the row's one line, its JSON data)."""
    parts: list[str] = []
    over: list[str] = []
    data: dict[str, Any] = {}
    for kind in _CAP_KEYS:
        cap = caps.cap(kind)
        used = usage.used.get(kind)
        name = "storage" if kind == "storage_bytes" else kind
        if used is None:
            parts.append(f"{name} no data/{_shown(kind, cap)}")
            data[name] = {"used": None, "cap": cap, "percent": None}
            continue
        percent = 100 * used / cap
        data[name] = {"used": used, "cap": cap, "percent": round(percent, 1)}
        parts.append(f"{name} {_shown(kind, used)}/{_shown(kind, cap)} ({percent:.0f}%)")
        if used >= cap:
            over.append(f"{name} over the cap")
        elif used >= cap * caps.warning_fraction:
            over.append(f"{name} over {caps.warning_fraction:.0%} of the cap")
    local = usage.start.astimezone(ZoneInfo(caps.time_zone))
    line = f"since {local:%Y-%m-%d %H:%M} {caps.time_zone}: " + ", ".join(parts)
    if over:
        line += " - " + "; ".join(over)
    return bool(over), line, data


def usage_check(
    caps_value: Any,
    project: Callable[[], str],
    database: Callable[[], str],
    make_session: Callable[[], Any] = monitoring_session,
    now: datetime | None = None,
    timeout: float = 10.0,
) -> Check:
    """The `usage` row: failing once a day's usage passes its cap's warning fraction (when
    the alert policy fires too); "not checked" without the caps output (a stack deployed
    before the caps existed), like `backup` without its bucket."""
    if caps_value is None:
        return Check(
            NAME,
            NOT_CHECKED,
            f"stack output '{CAPS_OUTPUT}' is missing (deployed before the Firestore caps "
            "existed); run `pulumi up`",
        )
    caps = parse_caps(caps_value)
    project_id, database_id = project(), database()
    usage = read_usage(
        make_session(), project_id, database_id, caps, now or datetime.now(UTC), timeout
    )
    over, line, data = summarize(usage, caps)
    data.update(
        {
            "project": project_id,
            "database": database_id,
            "day_start": _stamp(usage.start),
            "time_zone": caps.time_zone,
            "warning_fraction": caps.warning_fraction,
        }
    )
    return Check(NAME, FAILING if over else OK, line, data)
