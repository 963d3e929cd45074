"""The alert routes: `spendsense:monitoring.alertRoutes`, where each severity is delivered.

Owns the models of one route entry (`{email: ...}`, `{sms: ...}`, `{https: ...}` or
`{httpsUrlParameter: ...}`) and of the per-severity lists (`P0`..`P3`), with their validation.
Which severity an alert has is infra/severities.py's table; which endpoints a severity reaches
is this per-stack setting (docs/alerting.md).
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated
from urllib.parse import urlparse

from pydantic import Field, model_validator

from infra.settings.rules import EMAIL_RE, FieldError, Model, _got
from infra.severities import Severity

# E.164, as SNS and Cloud Monitoring take SMS numbers: + country code and number, 8-15 digits.
SMS_RE = re.compile(r"^\+[1-9][0-9]{7,14}$")
# An SSM parameter name (hierarchical, as `aws ssm put-parameter` takes it).
PARAMETER_RE = re.compile(r"^/?[A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]+)*$")
KINDS = ("email", "sms", "https", "httpsUrlParameter")
# Where a stack's `httpsUrlParameter`s live: the CI roles may read only the stack's own path
# (infra/ci_trust/aws_program_calls.py, ALERT_PARAMETER_PATH), so a parameter elsewhere would
# pass `make plan` and fail the first real preview.
PARAMETER_PATH = "/spendsense/{environment}/"
# Where an entry is delivered from: CloudWatch/EventBridge/Budgets through SNS (`aws`), Cloud
# Monitoring (`gcp`); an entry without `cloud` is used by both.
CLOUDS = ("aws", "gcp")


class AlertRoute(Model):
    """One endpoint of a severity's route: exactly one of the four keys."""

    email: Annotated[str | None, Field(description="An e-mail address.")] = None
    sms: Annotated[
        str | None,
        Field(
            description=(
                "A phone number in E.164 form (+15551234567). SMS to US numbers needs a registered "
                "origination number in AWS End User Messaging SMS."
            )
        ),
    ] = None
    https: Annotated[
        str | None,
        Field(description="An HTTPS endpoint with no key in it (no query, no user:password@)."),
    ] = None
    https_url_parameter: Annotated[
        str | None,
        Field(
            description=(
                "The name of an SSM SecureString parameter holding an HTTPS URL that embeds a key "
                "(a paging service's integration URL), under `/spendsense/<stack>/` (the only "
                "path the CI roles may read); read at deploy time, kept secret."
            )
        ),
    ] = None
    cloud: Annotated[
        str | None,
        Field(
            description=(
                "`aws` or `gcp`: only that cloud's alerts use this entry (SNS for CloudWatch, "
                "EventBridge and the budget; Cloud Monitoring for the Firestore and backup "
                "alerts); left out: both. For a paging service with one integration URL per "
                "sender (docs/alerting.md)."
            )
        ),
    ] = None

    @model_validator(mode="after")
    def _one_kind(self) -> AlertRoute:
        given = [k for k, v in zip(KINDS, self._values(), strict=True) if v is not None]
        if len(given) != 1:
            raise ValueError(
                f"each route must have exactly one of {', '.join(KINDS)} "
                f"(got {', '.join(given) or 'none'})"
            )
        if self.cloud is not None and self.cloud not in CLOUDS:
            raise ValueError(
                f"cloud must be aws or gcp, or left out for both (got {_got(self.cloud)})"
            )
        value = self.endpoint
        kind = given[0]
        if kind == "email" and not EMAIL_RE.fullmatch(value):
            raise ValueError(
                f"email must be an address like oncall@example.com (got {_got(value)})"
            )
        if kind == "sms" and not SMS_RE.fullmatch(value):
            raise ValueError(f"sms must be an E.164 number like +15551234567 (got {_got(value)})")
        if kind == "https":
            url = urlparse(value)
            if url.scheme != "https" or not url.hostname:
                raise ValueError(f"https must be an https:// URL (got {_got(value)})")
            if url.query or url.username or url.password:
                raise ValueError(
                    "https must not carry a key (query or user:password@): put the URL in an SSM "
                    "SecureString and name it with httpsUrlParameter",
                )
        if kind == "httpsUrlParameter" and not PARAMETER_RE.fullmatch(value):
            raise ValueError(
                "httpsUrlParameter must be an SSM parameter name like "
                "/spendsense/production/pager-url "
                f"(got {_got(value)})",
            )
        return self

    def _values(self) -> tuple[str | None, ...]:
        return (self.email, self.sms, self.https, self.https_url_parameter)

    @property
    def kind(self) -> str:
        """`email`, `sms`, `https` or `httpsUrlParameter`."""
        return next(k for k, v in zip(KINDS, self._values(), strict=True) if v is not None)

    @property
    def endpoint(self) -> str:
        """The address, number, URL or parameter name (never a secret: see `https`)."""
        return next(v for v in self._values() if v is not None)

    @property
    def protocol(self) -> str:
        """The SNS protocol of the subscription: `email`, `sms` or `https`."""
        return "https" if self.kind == "httpsUrlParameter" else self.kind

    @property
    def key(self) -> str:
        """A stable name for the endpoint's resources: its kind and a short hash of the
        endpoint (compared without case, as the settings compare them). Not its position: a
        subscription named by index would be renamed when an entry before it is removed, and
        Pulumi would create the "new" one (SNS answers Subscribe with the existing ARN) and then
        delete the "old" one, unsubscribing the endpoint while the state says it is there."""
        digest = hashlib.sha256(f"{self.kind}:{self.endpoint.lower()}".encode()).hexdigest()
        return f"{self.kind.lower()}-{digest[:8]}"

    def reaches(self, cloud: str) -> bool:
        """Whether `cloud`'s alerts (`aws` or `gcp`) are delivered to this entry."""
        return self.cloud is None or self.cloud == cloud

    def describe(self) -> str:
        """What `spendsense plan` shows: the endpoint, or the parameter's name, never a key."""
        if self.kind == "httpsUrlParameter":
            return f"https (URL in SSM parameter {self.endpoint})"
        return f"{self.kind}:{self.endpoint}"


Route = tuple[AlertRoute, ...]


def _described(severity: str, why: str) -> object:
    return Field(alias=severity, description=f"{severity}'s route ({why}): 1 or more entries.")


class AlertRoutesSettings(Model):
    """Each severity's endpoints. Every severity has at least one; a pager for P0/P1."""

    p0: Annotated[Route, _described("P0", "critical, page immediately")]
    p1: Annotated[Route, _described("P1", "high, within 30 minutes")]
    p2: Annotated[Route, _described("P2", "medium, within 2 hours")]
    p3: Annotated[Route, _described("P3", "low, next business day")]

    @model_validator(mode="after")
    def _each_severity(self) -> AlertRoutesSettings:
        for severity in Severity:
            routes = self.of(severity)
            if not routes:
                raise FieldError(
                    f"alertRoutes.{severity.value}",
                    "must list at least one route, e.g. [{email: oncall@example.com}] "
                    "(got an empty list)",
                )
            for cloud in CLOUDS:
                if not any(route.reaches(cloud) for route in routes):
                    raise FieldError(
                        f"alertRoutes.{severity.value}",
                        f"has no entry for {cloud}'s alerts (every entry has a cloud other than "
                        f"{cloud}); add one, or leave `cloud` out of an entry to use it for both",
                    )
            seen: set[tuple[str, str]] = set()
            for route in routes:
                key = (route.kind, route.endpoint.lower())
                if key in seen:
                    raise FieldError(
                        f"alertRoutes.{severity.value}",
                        f"must list each endpoint once (got {_got(route.endpoint)} twice)",
                    )
                seen.add(key)
        return self

    def of(self, severity: Severity) -> Route:
        return {Severity.P0: self.p0, Severity.P1: self.p1, Severity.P2: self.p2}.get(
            severity, self.p3
        )

    def endpoints(self, cloud: str) -> list[tuple[AlertRoute, list[Severity]]]:
        """Each distinct endpoint `cloud` uses once, with the severities that route to it."""
        found: dict[tuple[str, str], tuple[AlertRoute, list[Severity]]] = {}
        for severity in Severity:
            for route in self.of(severity):
                if not route.reaches(cloud):
                    continue
                key = (route.kind, route.endpoint.lower())
                found.setdefault(key, (route, []))[1].append(severity)
        return list(found.values())


def misplaced_parameter(routes: AlertRoutesSettings, environment: str) -> tuple[str, str] | None:
    """(field, problem) of the first `httpsUrlParameter` outside the stack's own path."""
    path = PARAMETER_PATH.format(environment=environment)
    for severity in Severity:
        for index, route in enumerate(routes.of(severity)):
            if route.kind == "httpsUrlParameter" and not route.endpoint.startswith(path):
                return (
                    f"alertRoutes.{severity.value}.{index}",
                    f"httpsUrlParameter must name a parameter under {path}, the only path the "
                    f"stack's CI roles may read (got {_got(route.endpoint)}); create it there "
                    "(docs/alerting.md)",
                )
    return None
