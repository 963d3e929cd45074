"""The outputs contract: the type and shape of every stack output the CLI uses.

`infra/program.py` exports these outputs; a hand-edited or stale outputs file, or another
project's outputs, can hold anything. `StackOutputs.require` and `.get` check a value against
its entry here before any command uses it, so that `api_url: 12345` never becomes
`https://12345`, a `vercel_project_id` of `../..` never ends up in a Vercel URL path, and a
list never passes for a stack name. A value that breaks the contract is BadInput (exit 2)
naming the output, where it came from, what was expected and the value given; commands that
show rows (`status`) turn it into "not checked: <reason>" for the rows that need it.

Outputs not listed here are passed through unchecked (no command relies on them).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from spendsense.repo import STACKS


def _kind(value: Any) -> str:
    """What a JSON value of the wrong type is: "a list", "an int"."""
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


@dataclass(frozen=True)
class Shape:
    """What an output must be: `check(value)` returns None or why it is not."""

    expected: str
    check: Callable[[Any], str | None]


def _pattern(regex: str, *, max_length: int = 256) -> Callable[[Any], str | None]:
    compiled = re.compile(regex, re.ASCII)

    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return f"{_kind(value)}, not a string"
        if len(value) > max_length:
            return f"longer than {max_length} characters"
        if not compiled.fullmatch(value):
            return "not of that shape"
        return None

    return check


def _no_dot_segments(check: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    """A value that ends up in a URL path: never `.` or `..` as a whole or as a segment."""

    def wrapped(value: Any) -> str | None:
        problem = check(value)
        if problem is None and any(part in (".", "..") for part in str(value).split("/")):
            return "it has a '.' or '..' path segment"
        return problem

    return wrapped


_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)", re.ASCII)


def http_url_problem(value: Any) -> str | None:
    """Why `value` is not an absolute http(s) URL with a DNS or IP host, or None."""
    if not isinstance(value, str):
        return f"{_kind(value)}, not a string"
    if len(value) > 2048:
        return "longer than 2048 characters"
    if not value.isascii() or not value.isprintable() or any(c.isspace() for c in value):
        return "it has spaces, control or non-ASCII characters"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port outside 0..65535 or not a number
        host = parts.hostname
    except ValueError as exc:
        return str(exc)
    if parts.scheme not in ("http", "https"):
        return "no http:// or https:// scheme" if not parts.scheme else f"scheme {parts.scheme!r}"
    if not host:
        return "no host"
    if ":" not in host and not all(_HOST_LABEL.fullmatch(label) for label in host.split(".")):
        return f"host {host!r} is not a DNS name or IP address"
    if parts.username is not None or parts.password is not None:
        return "it carries a user name or password"
    return None


def _integer(low: int, high: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{_kind(value)}, not a whole number"
        if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
            return "not a whole number"
        if not low <= value <= high:
            return f"outside {low}..{high}"
        return None

    return check


def _stack(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"{_kind(value)}, not a string"
    return None if value in STACKS else "not a stack of this project"


def _log_groups(value: Any) -> str | None:
    items = value if isinstance(value, list) else None
    if isinstance(value, str):
        return None  # a JSON list in a string, as older `pulumi stack output` printed it
    if items is None or not all(isinstance(item, str) and item.startswith("/") for item in items):
        return "not a list of log group names"
    return None


_SEVERITIES = ("P0", "P1", "P2", "P3")


def _topic_arns(value: Any) -> str | None:
    """`alert_topic_arns`: exactly the keys P0..P3, each an SNS topic ARN."""
    if isinstance(value, str):
        import json

        try:
            value = json.loads(value)  # as older `pulumi stack output` printed a map
        except ValueError:
            return "not a JSON mapping"
    if not isinstance(value, dict):
        return f"{_kind(value)}, not a mapping"
    if sorted(value) != list(_SEVERITIES):
        return f"keys {sorted(value)}, not {list(_SEVERITIES)}"
    for key in _SEVERITIES:
        why = CONTRACT["alarm_topic_arn"].check(value[key])
        if why is not None:
            return f"{key}: {why}"
    return None


_REGION = r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}"
_ARN_HEAD = r"arn:aws(?:-[a-z]+)*:SERVICE:" + _REGION + r":[0-9]{12}:"
_GCP_PROJECT = r"[a-z][a-z0-9-]{4,28}[a-z0-9]"
_PATH_SEGMENT = r"[A-Za-z0-9_.-]+"
_TEXT = r"[^\x00-\x1f\x7f]+"

CONTRACT: dict[str, Shape] = {
    "environment": Shape(f"one of {', '.join(STACKS)}", _stack),
    "region": Shape("an AWS region such as us-east-1", _pattern(_REGION, max_length=32)),
    "api_url": Shape(
        "an http(s) URL such as https://abc.us-east-1.awsapprunner.com", http_url_problem
    ),
    "frontend_url": Shape("an http(s) URL such as https://app.example.com", http_url_problem),
    "dashboard_url": Shape("an http(s) URL", http_url_problem),
    "api_service_arn": Shape(
        "an App Runner service ARN (arn:aws:apprunner:REGION:ACCOUNT:service/NAME/ID)",
        _pattern(
            _ARN_HEAD.replace("SERVICE", "apprunner")
            + r"service/[A-Za-z0-9][A-Za-z0-9_-]{3,39}/[0-9a-f]{1,64}"
        ),
    ),
    "api_service_name": Shape(
        "an App Runner service name (4-40 letters, digits, - and _)",
        _pattern(r"[A-Za-z0-9][A-Za-z0-9_-]{3,39}"),
    ),
    "ecr_repository_url": Shape(
        "an ECR repository URL (ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME)",
        _pattern(
            r"[0-9]{12}\.dkr\.ecr\."
            + _REGION
            + r"\.amazonaws\.com(?:\.cn)?/[a-z0-9][a-z0-9._/-]{0,255}"
        ),
    ),
    "ecr_repository_name": Shape(
        "an ECR repository name (lowercase letters, digits, . _ - and /)",
        _no_dot_segments(_pattern(r"[a-z0-9](?:[a-z0-9._/-]{0,254}[a-z0-9])?")),
    ),
    "log_group_names": Shape("a list of CloudWatch log group names", _log_groups),
    "alarm_topic_arn": Shape(
        "an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)",
        _pattern(
            _ARN_HEAD.replace("SERVICE", "sns") + r"[A-Za-z0-9_-]{1,256}(?:\.fifo)?", max_length=400
        ),
    ),
    "alert_topic_arns": Shape(
        "a mapping of P0, P1, P2, P3 to SNS topic ARNs", lambda value: _topic_arns(value)
    ),
    "jwt_secret_arn": Shape(
        "a Secrets Manager secret ARN",
        _pattern(
            _ARN_HEAD.replace("SERVICE", "secretsmanager") + r"secret:[A-Za-z0-9/_+=.@-]{1,512}",
            max_length=700,
        ),
    ),
    "firestore_project": Shape(
        "a GCP project id (6-30 lowercase letters, digits and hyphens)", _pattern(_GCP_PROJECT)
    ),
    "backup_test_project": Shape("a GCP project id", _pattern(_GCP_PROJECT)),
    "firestore_database": Shape(
        "a Firestore database id: (default) or 4-63 lowercase letters, digits and hyphens",
        _pattern(r"\(default\)|[a-z][a-z0-9-]{2,61}[a-z0-9]"),
    ),
    "backup_bucket": Shape(
        "a Cloud Storage bucket name (3-63 lowercase letters, digits, - _ and .)",
        _no_dot_segments(_pattern(r"[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]")),
    ),
    "backup_prefix": Shape(
        "a folder in the bucket such as daily/",
        _no_dot_segments(_pattern(rf"(?:{_PATH_SEGMENT}/)*{_PATH_SEGMENT}/?", max_length=200)),
    ),
    "backup_retention_days": Shape("a whole number of days (1-3650)", _integer(1, 3650)),
    "backup_schedule": Shape("a cron schedule", _pattern(_TEXT)),
    "backup_time_zone": Shape("a time zone name", _pattern(r"[A-Za-z0-9_+/-]{1,64}")),
    "backup_workflow": Shape("a workflow name", _pattern(r"[A-Za-z0-9_/.-]{1,400}")),
    "dashboard_name": Shape("a dashboard name", _pattern(r"[A-Za-z0-9_-]{1,255}")),
    "vercel_project_id": Shape(
        "a Vercel project id or name (prj_..., letters, digits, . _ -)",
        _no_dot_segments(_pattern(r"[A-Za-z0-9_.-]{1,100}")),
    ),
    "vercel_team_id": Shape("a Vercel team id (team_...)", _pattern(r"team_[A-Za-z0-9_]{1,64}")),
}


def problem(name: str, value: Any) -> str | None:
    """Why the output `name` breaks the contract ("must be X (got Y: why)"), or None."""
    shape = CONTRACT.get(name)
    if shape is None:
        return None
    why = shape.check(value)
    if why is None:
        return None
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:80] + "..."
    return f"must be {shape.expected} (got {shown}: {why})"
