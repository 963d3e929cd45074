"""CloudWatch Logs: every log group of the stack, and every one App Runner creates, expires.

Checkov CKV_AWS_66: a log group without a retention keeps (and bills) its logs forever. The
stack's own `LogGroup`s must set one CloudWatch accepts; App Runner creates
/aws/apprunner/<service name>/<service id>/{application,service} itself, with "never expire",
so the stack must set theirs (a dynamic resource with logGroupNames + retentionDays).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import Policy, PolicyResource

from spendsense_policies.base import (
    PendingUnknowns,
    Props,
    Unknown,
    fmt,
    get,
    number,
    resource_policy,
    stack_policy,
)
from spendsense_policies.config import limit, schema
from spendsense_policies.index import StackIndex, pointed_at

SERVICE = "aws:apprunner/service:Service"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
DYNAMIC = "pulumi-python:dynamic:Resource"
APPRUNNER_LOG_PREFIX = "/aws/apprunner/"


def check_log_retention(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    yield from _retention(number(props.get("retentionInDays")), config)


def check_managed_retention(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    """A dynamic resource that sets the retention of log groups someone else creates (App
    Runner creates its own, with "never expire"): ``logGroupNames`` + ``retentionDays``."""
    keys = set(props)  # presence only: reading an unknown list here would stop the check
    if "logGroupNames" not in keys or "retentionDays" not in keys:
        return
    yield from _retention(number(props.get("retentionDays")), config, "retentionDays")


APPRUNNER_LOG_KINDS = ("application", "service")


def check_apprunner_log_groups(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    """App Runner creates /aws/apprunner/<name>/<id>/{application,service} itself, with
    "never expire": each needs a LogGroup of the stack or a retention resource (a dynamic
    resource with logGroupNames + retentionDays) naming it. Whether the retention value is
    acceptable is aws-cloudwatch-log-retention's job."""
    index = StackIndex(resources)
    pending: list[str] = []
    names: list[tuple[PolicyResource, str]] = []
    for service in index.of_type(SERVICE):
        name = get(service.props, "serviceName")
        if isinstance(name, Unknown):
            pending.append(f"the name of App Runner service {service.name} is")
        elif isinstance(name, str):
            names.append((service, name))
    groups: list[tuple[PolicyResource, Any]] = []
    for group in index.of_type(LOG_GROUP):
        if get(group.props, "retentionInDays") is not None:
            groups.append((group, get(group.props, "name")))
    for managed in index.of_type(DYNAMIC):
        if get(managed.props, "retentionDays") is None:
            continue
        listed = get(managed.props, "logGroupNames")
        if isinstance(listed, Unknown):
            groups.append((managed, listed))
        elif isinstance(listed, Sequence) and not isinstance(listed, str):
            groups.extend((managed, get(listed, i)) for i in range(len(listed)))
    # Service name -> kinds with a retention, for every name whose prefix
    # /aws/apprunner/<name>/ a group's name starts with; urns that holders of unknown names
    # point at (such a holder may name the service's groups).
    covered: dict[str, set[str]] = {}
    unknown_for: set[str] = set()
    for holder, group_name in groups:
        if isinstance(group_name, str) and group_name.startswith(APPRUNNER_LOG_PREFIX):
            rest = group_name[len(APPRUNNER_LOG_PREFIX) :]
            kinds = {k for k in APPRUNNER_LOG_KINDS if group_name.endswith(f"/{k}")}
            end = rest.find("/")
            while end >= 0:
                covered.setdefault(rest[:end], set()).update(kinds)
                end = rest.find("/", end + 1)
        elif isinstance(group_name, Unknown):
            unknown_for |= pointed_at(holder)
    for service, name in names:
        prefix = f"{APPRUNNER_LOG_PREFIX}{name}/"
        kinds = covered.get(name, set())
        unknown = service.urn in unknown_for
        missing = [k for k in APPRUNNER_LOG_KINDS if k not in kinds]
        if missing and unknown:
            pending.append(f"the log groups whose retention is set for {name} are")
        elif missing:
            yield (
                service.urn,
                f"App Runner service {name} writes to {prefix}<service id>/"
                f"{{{','.join(missing)}}}, which App Runner creates with no retention "
                "(never expire, Checkov CKV_AWS_66), and nothing in the stack sets one; add a "
                "retention resource (logGroupNames + retentionDays) or LogGroups for them",
            )
    if pending:
        raise PendingUnknowns(pending)


def _retention(
    days: float | None, config: Mapping[str, Any], field: str = "retentionInDays"
) -> Iterator[str]:
    accepted = [number(d) for d in config["acceptedDays"]]
    minimum = number(config["minimumDays"]) or 0
    if not days:
        yield (
            f"{field} is not set, so the logs are kept (and paid for) forever; set "
            "spendsense:monitoring.logRetentionDays (e.g. 30 or 90)"
        )
    elif days not in accepted:
        yield (
            f"{field} is {fmt(days)}, which CloudWatch Logs does not accept; use one of "
            f"{', '.join(fmt(d) for d in accepted)}"
        )
    elif days < minimum:
        yield (
            f"{field} is {fmt(days)}; logs must be kept at least {fmt(minimum)} days to "
            f"investigate incidents: set spendsense:monitoring.logRetentionDays to {fmt(minimum)} "
            "or more"
        )


def policies() -> list[Policy]:
    return [
        stack_policy(
            "aws-apprunner-log-retention",
            "Every App Runner service's application and service log groups (created by App "
            "Runner, never expiring) must get a retention from the stack (Checkov CKV_AWS_66).",
            check_apprunner_log_groups,
        ),
        resource_policy(
            "aws-cloudwatch-log-retention",
            "CloudWatch log groups must have a retention period that CloudWatch accepts, not "
            "'never expire' (Checkov CKV_AWS_66).",
            {LOG_GROUP: check_log_retention, DYNAMIC: check_managed_retention},
            config=schema(
                {
                    "acceptedDays": (
                        limit("cloudwatch", "logRetentionDays"),
                        "Retention values CloudWatch accepts.",
                    ),
                    "minimumDays": (
                        limit("cloudwatch", "minLogRetentionDays"),
                        "Shortest retention allowed (days).",
                    ),
                }
            ),
        ),
    ]
