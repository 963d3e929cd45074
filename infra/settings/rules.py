"""The settings' shared rules: the error type, the reusable field validators and the base model.

Every validator checks what is *valid* (what the provider or the API accepts) and raises
ValueError with the text that follows "<key>: ". What the runbook *allows* within that is the
policy pack's to judge (docs/design.md#valid-and-allowed).
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import pulumi
from croniter import croniter
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from infra.limits import limits
from infra.paths import REPO_ROOT

NAMESPACE = "spendsense"
# The runbook's limits (policies/limits.json, runbook.json), read once.
LIMITS = limits()
# App Runner's CPU sizes and the memory sizes each allows: API facts kept in the same data file
# the policy pack and `spendsense scale` read.
CPU_MEMORY_PAIRS: dict[str, tuple[str, ...]] = dict(LIMITS.apprunner.cpu_memory_pairs)
MEMORY_SIZES: tuple[str, ...] = tuple(
    sorted({m for ms in CPU_MEMORY_PAIRS.values() for m in ms}, key=lambda m: float(m.split()[0]))
)
# The retention values CloudWatch Logs accepts (PutRetentionPolicy).
LOG_RETENTION_DAYS: tuple[int, ...] = LIMITS.cloudwatch.log_retention_days
STACK_ENVIRONMENTS = ("staging", "production")
# Variables the program sets itself, and App Runner's own prefix.
RESERVED_VARIABLES = ("ENVIRONMENT", "JWT_SECRETS", "PORT")
RESERVED_VARIABLE_PREFIX = "AWSAPPRUNNER"
# local@domain.tld: no spaces, no empty label in the domain (a@.x.com, a@x..com are refused).
EMAIL_RE = re.compile(r"^[^@\s]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}$")
# AWS Budgets notifies at most 10 e-mail addresses per notification.
MAX_ALERT_EMAILS = 10


class SettingsError(pulumi.RunError):
    """A bad stack setting. Pulumi prints a RunError as its message alone, without a traceback."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"{key}: {problem}")


class FieldError(ValueError):
    """Raised by a model validator to blame one field (by its YAML name)."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(problem)


T = TypeVar("T")


def _got(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


def _num(bound: float) -> str:
    """1000000, not 1e+06; 0.01 stays 0.01."""
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


def between(lo: float, hi: float) -> Callable[[T], T]:
    def check(value: T) -> T:
        if not lo <= value <= hi:  # type: ignore[operator]
            raise ValueError(f"must be between {_num(lo)} and {_num(hi)} (got {_got(value)})")
        return value

    return check


def one_of(*allowed: Any) -> Callable[[T], T]:
    def check(value: T) -> T:
        if value not in allowed:
            raise ValueError(
                f"must be one of {', '.join(str(a) for a in allowed)} (got {_got(value)})"
            )
        return value

    return check


def matches(pattern: str, what: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"must be {what} (got {_got(value)})")
        return value

    return check


def optional(check: Callable[[str], str]) -> Callable[[str | None], str | None]:
    """`check` for a value that may be left out (None)."""

    def check_optional(value: str | None) -> str | None:
        return None if value is None else check(value)

    return check_optional


def https_url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme != "https" or not parsed.hostname or " " in value:
        raise ValueError(
            f"must be an https:// URL such as https://app.example.com (got {_got(value)})"
        )
    return value.rstrip("/")


def path_in_url(value: str) -> str:
    # Route 53 health checks take a resource path of at most 255 characters.
    if not value.startswith("/") or " " in value or len(value) > 255:
        raise ValueError(
            f"must be a URL path starting with /, at most 255 characters, such as /health "
            f"(got {_got(value)})"
        )
    return value


def site_url(value: str) -> str:
    """An https URL of a site's root: the health check probes its host on 443 at /."""
    value = https_url(value)
    parsed = urlparse(value)
    if parsed.port not in (None, 443) or parsed.path not in ("", "/") or parsed.query:
        raise ValueError(
            "must be the site's root, https://host with no port, path or query, such as "
            f"https://app.example.com (got {_got(value)})"
        )
    return value


def cron(value: str) -> str:
    if len(value.split()) != 5 or not croniter.is_valid(value):
        raise ValueError(
            f'must be a 5-field cron expression such as "0 2 * * *" (got {_got(value)})'
        )
    return value


def iana_time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"must be an IANA time zone such as UTC or America/New_York (got {_got(value)})"
        ) from None
    return value


def existing_file(value: str) -> str:
    path = resolve_repo_path(value)
    if not path.is_file():
        raise ValueError(
            f"must name an existing file, relative to the repository root or absolute "
            f"(got {_got(value)}, looked at {path})"
        )
    return value


def resolve_repo_path(value: str) -> Path:
    """Paths in settings are relative to the repository root, whichever file named them."""
    path = Path(value)
    return path if path.is_absolute() else REPO_ROOT / path


class Model(BaseModel):
    """Stack settings: camelCase keys in YAML, snake_case in Python, frozen, no unknown keys."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        # Strict: `deleteProtection: "yes"` or `minInstances: "2"` is an error, not a guess.
        # Values are validated as JSON (see loader.parse_object), so lists fill tuples.
        strict=True,
    )
