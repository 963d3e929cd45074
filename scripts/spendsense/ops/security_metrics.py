"""Daily counts from metrics, for `spendsense security report`: the API's 4xx responses
(App Runner's CloudWatch metric) and the Firestore security-rules denials (the Cloud Monitoring
metric of the `rules-denials` alert policy, infra/components/firestore.py).

- App Runner publishes `4xxStatusResponses` in `AWS/AppRunner` with the dimensions
  `ServiceName` and `ServiceID` (https://docs.aws.amazon.com/apprunner/latest/dg/monitor-cw.html);
  read with GetMetricData, one-day periods, `Sum`.
- Cloud Monitoring: `projects.timeSeries.list`
  (https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.timeSeries/list), filter
  `firestore.googleapis.com/rules/evaluation_count` with `metric.label.result = "DENY"` on the
  stack's database, aligned per day with ALIGN_SUM and summed across series (REDUCE_SUM);
  points carry `value.int64Value` as a string and `interval.endTime`
  (https://cloud.google.com/monitoring/api/ref_v3/rest/v3/TimeSeries). Needs
  `monitoring.timeSeries.list`. `SPENDSENSE_MONITORING_API` overrides the base URL (tests).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from spendsense.clients import describe_aws_error
from spendsense.errors import BadInput, OperationFailed, one_line
from spendsense.ops.firestore.transport import google_session, int64, json_object

DAY = 86_400
MONITORING_API = "https://monitoring.googleapis.com"
DENIALS_METRIC = "firestore.googleapis.com/rules/evaluation_count"
MAX_PAGES = 100


def service_dimensions(service_arn: str) -> dict[str, str]:
    """`arn:aws:apprunner:R:A:service/NAME/ID` -> {ServiceName: NAME, ServiceID: ID}."""
    _, _, tail = service_arn.partition(":service/")
    name, _, service_id = tail.partition("/")
    if not name or not service_id:
        raise BadInput(
            f"stack output 'api_service_arn' is not an App Runner service ARN ({service_arn!r})"
        )
    return {"ServiceName": name, "ServiceID": service_id}


def api_4xx(client: Any, service_arn: str, start: datetime, end: datetime) -> dict[str, Any]:
    """The API's 4xx responses per day (UTC days of the metric's one-day periods)."""
    dims = service_dimensions(service_arn)
    query = {
        "Id": "fourxx",
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/AppRunner",
                "MetricName": "4xxStatusResponses",
                "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
            },
            "Period": DAY,
            "Stat": "Sum",
        },
        "ReturnData": True,
    }
    points: dict[str, float] = {}
    params: dict[str, Any] = {
        "MetricDataQueries": [query],
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
    }
    doing = f"read App Runner's 4xxStatusResponses of {dims['ServiceName']}"
    for _ in range(MAX_PAGES):
        try:
            answer = client.get_metric_data(**params)
        except Exception as exc:
            raise describe_aws_error(exc, doing) from None
        for result in answer.get("MetricDataResults", []):
            for stamp, value in zip(
                result.get("Timestamps", []), result.get("Values", []), strict=False
            ):
                day = stamp.astimezone(UTC).strftime("%Y-%m-%d")
                points[day] = points.get(day, 0) + float(value)
        token = answer.get("NextToken")
        if not token:
            break
        params["NextToken"] = token
    by_day = [{"day": day, "count": int(points[day])} for day in sorted(points)]
    return {
        "metric": "AWS/AppRunner 4xxStatusResponses",
        "total": sum(d["count"] for d in by_day),
        "by_day": by_day,
    }


def denials_filter(database: str) -> str:
    """The alert policy's filter (infra/components/firestore.py, `rules-denials`)."""
    return " AND ".join(
        [
            'resource.type = "firestore.googleapis.com/Database"',
            f'resource.label.database_id = "{database}"',
            f'metric.type = "{DENIALS_METRIC}"',
            'metric.label.result = "DENY"',
        ]
    )


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def rules_denials(
    project: str, database: str, start: datetime, end: datetime, session: Any = None
) -> dict[str, Any]:
    """Firestore security-rules denials per day on the stack's database."""
    session = session or google_session()
    base = (os.environ.get("SPENDSENSE_MONITORING_API") or MONITORING_API).rstrip("/")
    url = f"{base}/v3/projects/{quote(project, safe='')}/timeSeries"
    params: dict[str, str] = {
        "filter": denials_filter(database),
        "interval.startTime": _rfc3339(start),
        "interval.endTime": _rfc3339(end),
        "aggregation.alignmentPeriod": f"{DAY}s",
        "aggregation.perSeriesAligner": "ALIGN_SUM",
        "aggregation.crossSeriesReducer": "REDUCE_SUM",
        "view": "FULL",
    }
    doing = f"read Firestore rules denials of {project}/{database} from Cloud Monitoring"
    points: dict[str, int] = {}
    for _ in range(MAX_PAGES):
        body = _get(session, url, params, doing, project)
        for series in body.get("timeSeries") or []:
            for point in json_object(series).get("points") or []:
                point = json_object(point)
                ended = str(json_object(point.get("interval")).get("endTime", ""))
                value = json_object(point.get("value"))
                count = int64(value.get("int64Value"))
                if count is None and isinstance(value.get("doubleValue"), (int, float)):
                    count = int(value["doubleValue"])
                if count is None or len(ended) < 10:
                    raise OperationFailed(
                        f"{doing}: a point of an unexpected shape ({point!r:.120})"
                    )
                # A one-day bucket ending at 00:00 counts for the day before.
                day = _day_of_bucket(ended)
                points[day] = points.get(day, 0) + count
        token = body.get("nextPageToken")
        if not token:
            break
        params["pageToken"] = str(token)
    by_day = [{"day": day, "count": points[day]} for day in sorted(points)]
    return {
        "metric": f"{DENIALS_METRIC} (result=DENY)",
        "total": sum(d["count"] for d in by_day),
        "by_day": by_day,
    }


def _get(session: Any, url: str, params: dict[str, str], doing: str, project: str) -> Any:
    """One GET; one-line errors (permission, not found, other HTTP errors, no answer)."""
    import requests

    try:
        response = session.get(url, params=params, timeout=60)
    except requests.RequestException as exc:
        raise OperationFailed(f"{doing}: no answer ({one_line(exc)})") from None
    except Exception as exc:  # google.auth's RefreshError / TransportError (firestore_usage.py)
        from spendsense.ops.firestore_usage import credentials_problem

        raise credentials_problem(doing, exc) from None
    try:
        body = response.json()
    except ValueError:
        body = None
    error = json_object(json_object(body).get("error"))
    message = f"{error.get('status', '')}: {error.get('message', '')}".strip(": ")
    message = message or response.text[:200] or response.reason
    if response.status_code in (401, 403):
        raise BadInput(
            f"{doing}: permission denied ({message}); the account needs "
            f"monitoring.timeSeries.list on project {project} (the CI checks account: its "
            "custom role spendsenseChecksMetricsReader)"
        )
    if response.status_code == 404:
        raise BadInput(f"{doing}: not found ({message}); check stack output firestore_project")
    if response.status_code == 400:
        raise OperationFailed(f"{doing}: Cloud Monitoring refused the request ({message})")
    if not response.ok:
        raise OperationFailed(f"{doing}: HTTP {response.status_code}: {message}")
    if body is None:
        raise OperationFailed(f"{doing}: the answer is not JSON")
    return json_object(body)


def _day_of_bucket(end_time: str) -> str:
    """The UTC day a one-day bucket ending at `end_time` (RFC 3339) mostly covers."""
    moment = datetime.fromisoformat(end_time.replace("Z", "+00:00"))
    return (moment - timedelta(seconds=1)).strftime("%Y-%m-%d")
