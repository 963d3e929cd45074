"""`spendsense:security`: how the API's application log says "authentication failed", and when
a spike of such failures pages (infra/components/auth_failures.py, docs/security-review.md).

The API's log format is not in this repository, so the field names are settings. The defaults
fit a Python API that logs one JSON object per request, such as
`{"status": 401, "client_ip": "203.0.113.7", "path": "/api/login", ...}`. The same fields
drive the CloudWatch Logs metric filter (JSON filter pattern, `{ $.status = 401 || ... }`) and
`spendsense security report`'s Logs Insights queries, which read them from the stack file.

Each field's `description` is its row in docs/configuration.md (generated: see
infra/settings/reference.py).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from infra.settings.rules import Model, _got, between, matches

# A JSON field as both languages name it: `$.a.b` in a filter pattern, `a.b` in Logs Insights.
# Letters, digits and `_` per segment, so neither needs quoting.
_FIELD = r"[A-Za-z_][A-Za-z0-9_]{0,63}(?:\.[A-Za-z_][A-Za-z0-9_]{0,63}){0,4}"
_FIELD_WHAT = "a JSON field name such as status or http.status_code (letters, digits, _ and .)"
# PutMetricFilter: filterPattern is at most 1024 characters; metric namespaces and names may not
# contain `:`, `*` or `$` (terraform-provider-aws, internal/service/logs/metric_filter.go and
# validators.go: https://github.com/hashicorp/terraform-provider-aws/tree/main/internal/service/logs).
MAX_PATTERN = 1024


def _statuses(value: tuple[int, ...]) -> tuple[int, ...]:
    if not value:
        raise ValueError("must list at least one HTTP status, such as [401, 403] (got [])")
    for status in value:
        if not 400 <= status <= 499:
            raise ValueError(f"must be HTTP 4xx statuses such as 401 and 403 (got {status})")
    if len(set(value)) != len(value):
        raise ValueError(f"must list each status once (got {list(value)})")
    return value


def _pattern(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.strip() or len(value) > MAX_PATTERN or not value.isprintable():
        raise ValueError(
            f"must be a CloudWatch Logs filter pattern of 1-{MAX_PATTERN} printable characters, "
            f"such as {{ $.status = 401 || $.status = 403 }} (got {_got(value[:80])})"
        )
    return value.strip()


class SecuritySettings(Model):
    status_field: Annotated[
        str,
        AfterValidator(matches(_FIELD, _FIELD_WHAT)),
        Field(
            description=(
                "The JSON field of the API's request log line that holds the HTTP status "
                "(a number): `status`, or a nested one such as `http.status_code`."
            )
        ),
    ] = "status"
    client_field: Annotated[
        str,
        AfterValidator(matches(_FIELD, _FIELD_WHAT)),
        Field(
            description=(
                "The JSON field with the client's address (`client_ip`): the report's "
                "failures by client address."
            )
        ),
    ] = "client_ip"
    path_field: Annotated[
        str,
        AfterValidator(matches(_FIELD, _FIELD_WHAT)),
        Field(description="The JSON field with the request path (`path`): the report's paths."),
    ] = "path"
    failure_statuses: Annotated[
        tuple[int, ...],
        AfterValidator(_statuses),
        Field(
            description=(
                "The HTTP statuses that count as an authentication failure: 4xx, each once "
                "(`[401, 403]`)."
            )
        ),
    ] = (401, 403)
    filter_pattern: Annotated[
        str | None,
        AfterValidator(_pattern),
        Field(
            description=(
                "The metric filter's CloudWatch Logs pattern, 1-1024 characters; none: built "
                "from `statusField` and `failureStatuses` "
                "(`{ $.status = 401 || $.status = 403 }`). Set it for a log that is not JSON; "
                "the report still queries the fields above."
            )
        ),
    ] = None
    metric_namespace: Annotated[
        str,
        AfterValidator(
            matches(r"[^:*$\s][^:*$]{0,254}", "a CloudWatch namespace without : * or $")
        ),
        Field(
            description=(
                "The CloudWatch namespace of the failure count (`SpendSense/Security`); the "
                "metric is `<api.serviceName>-auth-failures`, one per stack."
            )
        ),
    ] = "SpendSense/Security"
    alarm_threshold: Annotated[
        int,
        AfterValidator(between(1, 1_000_000)),
        Field(
            description=(
                "Failed authentications in one period that page (P1, the runbook's "
                '"authentication failures"): 1-1000000. Set it above a busy period\'s normal '
                "count of expired sessions, so that only a spike (credential stuffing, a "
                "broken login) pages."
            )
        ),
    ] = 50
    alarm_period_minutes: Annotated[
        int,
        AfterValidator(between(1, 60)),
        Field(description="The alarm's period in minutes, 1-60; one period over pages."),
    ] = 5

    def default_pattern(self) -> str:
        """`{ $.status = 401 || $.status = 403 }`: the JSON filter pattern of the statuses."""
        terms = " || ".join(f"$.{self.status_field} = {s}" for s in self.failure_statuses)
        return "{ " + terms + " }"

    @property
    def pattern(self) -> str:
        """The metric filter's pattern: `filterPattern`, else `default_pattern()`."""
        return self.filter_pattern or self.default_pattern()
