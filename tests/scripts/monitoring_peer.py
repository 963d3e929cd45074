"""A local HTTP server that answers Cloud Monitoring v3 `projects.timeSeries.list` in the shape
of Google's discovery document (monitoring.v3.json, shipped with google-api-python-client).

There is no Cloud Monitoring emulator. The server routes by the discovery document's
`flatPath`, refuses query parameters the method does not have (recorded as violations), checks
every answer against `ListTimeSeriesResponse` (an answer with a field Google's schema does not
have fails the test), and uses Google's error model for refusals.

What it knows: the series the test puts in (`add(metric, points, labels)`, points as
(end time, value), one point a minute for DELTA metrics), filtered by the request's
`metric.type` and `resource.label.database_id` and by `interval.startTime`/`endTime` (a point
counts when its end time is inside), summed across series when `crossSeriesReducer` is
`REDUCE_SUM` (the points being per-minute already, a 60 s ALIGN_SUM keeps them as they are),
newest point first as the API returns them, `pageSize` points a page with `nextPageToken`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.scripts.json_server import JsonHandler, start_peer
from tests.scripts.preflight.google_peer import _pattern, check_shape, google_error

MINUTE = timedelta(minutes=1)


def _document() -> dict[str, Any]:
    import googleapiclient

    folder = os.path.join(os.path.dirname(googleapiclient.__file__), "discovery_cache", "documents")
    with open(os.path.join(folder, "monitoring.v3.json"), encoding="utf-8") as handle:
        document: dict[str, Any] = json.load(handle)
    return document


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Series:
    metric: str
    kind: str  # DELTA or GAUGE
    database: str
    labels: dict[str, str]
    points: list[tuple[datetime, int]]


@dataclass
class MonitoringPeer:
    document: dict[str, Any] = field(default_factory=_document)
    series: list[Series] = field(default_factory=list)
    requests: list[dict[str, list[str]]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    refusal: tuple[int, dict[str, Any]] | None = None
    page_size: int = 100_000

    def __post_init__(self) -> None:
        method = self.document["resources"]["projects"]["resources"]["timeSeries"]["methods"][
            "list"
        ]
        self.method = method
        self.route = _pattern(method["flatPath"])
        self.parameters = set(method["parameters"]) | {"fields", "alt", "prettyPrint", "key"}

    def add(
        self,
        metric: str,
        points: list[tuple[datetime, int]],
        kind: str = "DELTA",
        database: str = "(default)",
        **labels: str,
    ) -> None:
        self.series.append(Series(metric, kind, database, labels, points))

    def refuse(self, code: int, status: str, message: str) -> None:
        self.refusal = (code, google_error(code, status, message))

    # -- answering -------------------------------------------------------------------------
    def answer(self, verb: str, url: str) -> tuple[int, Any]:
        parts = urlsplit(url)
        match = self.route.fullmatch(parts.path.lstrip("/"))
        if verb != self.method["httpMethod"] or match is None:
            self.violations.append(f"{verb} {parts.path}: not projects.timeSeries.list")
            return 404, google_error(404, "NOT_FOUND", "no such method")
        query = parse_qs(parts.query)
        self.requests.append(query)
        unknown = sorted(set(query) - self.parameters)
        if unknown:
            self.violations.append(f"unknown query parameters {unknown}")
            return 400, google_error(400, "INVALID_ARGUMENT", f"unknown parameters {unknown}")
        if self.refusal:
            return self.refusal
        status, payload = self._list(unquote(match.group(1)), query)
        if status == 200:
            try:
                check_shape(self.document, self.method["response"], payload, "timeSeries.list")
            except AssertionError as exc:
                self.violations.append(str(exc))
                return 500, google_error(500, "INTERNAL", str(exc))
        return status, payload

    def _list(self, project: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        one = {key: values[0] for key, values in query.items()}
        wanted = re.search(r'metric\.type = "([^"]+)"', one.get("filter", ""))
        database = re.search(r'resource\.label\.database_id = "([^"]+)"', one.get("filter", ""))
        if not wanted or "interval.endTime" not in one:
            return 400, google_error(400, "INVALID_ARGUMENT", "filter and interval are required")
        end = _parse(one["interval.endTime"])
        start = _parse(one.get("interval.startTime", one["interval.endTime"]))
        found = [
            s
            for s in self.series
            if s.metric == wanted.group(1) and (not database or s.database == database.group(1))
        ]
        out: list[dict[str, Any]] = []
        for series in found:
            points = sorted(((t, v) for t, v in series.points if start < t <= end), reverse=True)
            out.append(self._series(project, series, points, series.labels))
        if one.get("aggregation.crossSeriesReducer") == "REDUCE_SUM" and found:
            totals: dict[datetime, int] = {}
            for series in found:
                for t, v in series.points:
                    if start < t <= end:
                        totals[t] = totals.get(t, 0) + v
            merged = sorted(totals.items(), reverse=True)
            out = [self._series(project, found[0], merged, {})]
        out = [s for s in out if s["points"]]
        offset = int(one.get("pageToken") or 0)
        page, rest = out[offset : offset + 1], out[offset + 1 :]
        body: dict[str, Any] = {"timeSeries": page} if page else {}
        if rest:
            body["nextPageToken"] = str(offset + 1)
        return 200, body

    def _series(
        self,
        project: str,
        series: Series,
        points: list[tuple[datetime, int]],
        labels: dict[str, str],
    ) -> dict[str, Any]:
        value_type = "INT64" if series.kind == "DELTA" else "DOUBLE"
        key = "int64Value" if value_type == "INT64" else "doubleValue"
        return {
            "metric": {"type": series.metric, "labels": labels},
            "resource": {
                "type": "firestore.googleapis.com/Database",
                "labels": {
                    "project_id": project,
                    "location": "nam5",
                    "database_id": series.database,
                },
            },
            "metricKind": series.kind,
            "valueType": value_type,
            "points": [
                {
                    # A GAUGE point is a moment; a DELTA point covers the minute before it.
                    "interval": {
                        "startTime": _stamp(t if series.kind == "GAUGE" else t - MINUTE),
                        "endTime": _stamp(t),
                    },
                    "value": {key: str(v) if key == "int64Value" else float(v)},
                }
                for t, v in points
            ],
        }


class _Handler(JsonHandler):
    peer: MonitoringPeer

    def do_GET(self) -> None:
        self.send_json(*self.peer.answer("GET", self.path))


@contextmanager
def serve(peer: MonitoringPeer) -> Iterator[str]:
    """The peer on a loopback port; yields its base URL."""
    server = start_peer(_Handler, peer)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
