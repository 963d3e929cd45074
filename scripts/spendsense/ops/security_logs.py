"""Failed authentications in the API's application log, for `spendsense security report`:
the log fields a stack uses, and the CloudWatch Logs Insights queries that count them.

The fields (`spendsense:security` in `Pulumi.<stack>.yaml`: statusField, clientField, pathField,
failureStatuses) describe the API's log format, not something `pulumi up` creates, so they are
read from the checkout's stack file, parsed by the same settings model the program uses
(`infra.settings.security`, with the same defaults and one-line errors). The metric filter
counts the same lines (infra/components/auth_failures.py).

Queries run with StartQuery and are polled with GetQueryResults until `Complete`
(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartQuery.html,
API_GetQueryResults.html); the language: `filter f in [..]`, `stats count(*) as n by bin(1d)`,
aliases with `as`, `sort`, `limit`
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html,
CWL_QuerySyntax-alias.html). JSON fields are discovered by Logs Insights; nested ones are named
with dots (`http.status_code`), which the settings allow.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from spendsense.clients import describe_aws_error
from spendsense.errors import BadInput, OperationFailed
from spendsense.ops.logs import missing_log_group

SECURITY_KEY = "spendsense:security"
TOP = 10
# Logs Insights ends a query after 60 minutes; the report gives up sooner.
QUERY_TIMEOUT = 900.0
_RUNNING = {"Scheduled", "Running"}


@dataclass(frozen=True)
class LogFields:
    status: str
    client: str
    path: str
    statuses: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "client": self.client,
            "path": self.path,
            "statuses": list(self.statuses),
        }


def read_fields(stack_file: Path) -> LogFields:
    """The `spendsense:security` fields of the stack file (defaults where it has none)."""
    from spendsense.readers import read_yaml

    document = read_yaml(stack_file, "--stack", what="the stack's Pulumi.<stack>.yaml")
    config = document.get("config") if isinstance(document, Mapping) else None
    if not isinstance(config, Mapping):
        raise BadInput(f"{stack_file.name} has no `config:` mapping; restore the stack file")
    raw = config.get(SECURITY_KEY, {})
    from infra.settings import SecuritySettings, SettingsError
    from infra.settings.loader import _parse_object

    try:
        security = cast(SecuritySettings, _parse_object("security", raw))
    except SettingsError as exc:
        raise BadInput(f"{stack_file.name}: {exc}; fix the stack file") from None
    return LogFields(
        status=security.status_field,
        client=security.client_field,
        path=security.path_field,
        statuses=tuple(security.failure_statuses),
    )


def queries(fields: LogFields) -> dict[str, str]:
    """The three Logs Insights queries: failures per day, top clients, top paths."""
    statuses = ", ".join(str(s) for s in fields.statuses)
    failed = f"filter {fields.status} in [{statuses}]"
    return {
        "by_day": f"{failed} | stats count(*) as failures by bin(1d) as day | sort day asc",
        "by_client": (
            f"{failed} | stats count(*) as failures by {fields.client} as client "
            f"| sort failures desc | limit {TOP}"
        ),
        "by_path": (
            f"{failed} | stats count(*) as failures by {fields.path} as path "
            f"| sort failures desc | limit {TOP}"
        ),
    }


def _rows(results: Any) -> list[dict[str, str]]:
    """GetQueryResults' `results` ([[{field, value}, ...], ...]) as one dict per row."""
    rows: list[dict[str, str]] = []
    for row in results if isinstance(results, list) else []:
        cells = row if isinstance(row, list) else []
        rows.append(
            {
                str(cell.get("field")): str(cell.get("value", ""))
                for cell in cells
                if isinstance(cell, dict) and "field" in cell
            }
        )
    return rows


def _count(row: Mapping[str, str], doing: str) -> int:
    try:
        return int(float(row.get("failures", "")))
    except ValueError:
        raise OperationFailed(
            f"{doing}: Logs Insights returned a row without a count ({dict(row)!r})"
        ) from None


def run_queries(
    client: Any,
    group: str,
    fields: LogFields,
    start: datetime,
    end: datetime,
    *,
    poll: float = 2.0,
    timeout: float = QUERY_TIMEOUT,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Start the three queries on `group` for [start, end), wait for them; the counts."""
    started: dict[str, str] = {}
    for name, query in queries(fields).items():
        doing = f"start the Logs Insights query {name} on {group}"
        try:
            answer = client.start_query(
                logGroupName=group,
                startTime=int(start.timestamp()),
                endTime=int(end.timestamp()),
                queryString=query,
            )
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException":
                raise missing_log_group(group) from None
            if code in {"MalformedQueryException", "InvalidParameterException"}:
                raise BadInput(
                    f"{doing}: Logs Insights rejected {query!r}; check spendsense:security's "
                    "field names in the stack file"
                ) from None
            raise describe_aws_error(exc, doing) from None
        started[name] = str(answer["queryId"])
    rows = {
        name: _wait(client, query_id, name, poll=poll, timeout=timeout, sleep=sleep, clock=clock)
        for name, query_id in started.items()
    }
    by_day = [
        {"day": row.get("day", "")[:10], "count": _count(row, "failures by day")}
        for row in rows["by_day"]
    ]
    return {
        "fields": fields.to_json(),
        "total": sum(day["count"] for day in by_day),
        "by_day": by_day,
        "top_clients": [
            {"client": row.get("client", ""), "count": _count(row, "failures by client")}
            for row in rows["by_client"]
        ],
        "top_paths": [
            {"path": row.get("path", ""), "count": _count(row, "failures by path")}
            for row in rows["by_path"]
        ],
    }


def _wait(
    client: Any,
    query_id: str,
    name: str,
    *,
    poll: float,
    timeout: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> list[dict[str, str]]:
    deadline = clock() + timeout
    doing = f"read the Logs Insights query {name} ({query_id})"
    while True:
        try:
            answer = client.get_query_results(queryId=query_id)
        except Exception as exc:
            raise describe_aws_error(exc, doing) from None
        status = answer.get("status")
        if status == "Complete":
            return _rows(answer.get("results"))
        if status not in _RUNNING:
            raise OperationFailed(f"{doing}: the query ended {status}; run the report again")
        if clock() >= deadline:
            raise OperationFailed(
                f"{doing}: still {status} after {timeout:g} s; run the report again with a "
                "shorter --since"
            )
        sleep(poll)
