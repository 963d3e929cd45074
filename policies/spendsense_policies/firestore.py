"""Firestore: rules with no open access, delete protection, and the daily 02:00 UTC export.

Runbook: "permissive rules never in production" (the test-mode rules file is the classic
leftover), daily backups at 2 AM UTC into ``gs://spendsense-backups/daily/``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import Policy, PolicyResource, ResourceValidationArgs

from spendsense_policies.base import (
    PendingUnknowns,
    Props,
    Unknown,
    get,
    of_type,
    refers_to,
    resource_policy,
    resource_policy_with_args,
    stack_policy,
)
from spendsense_policies.config import limit, schema

DATABASE = "gcp:firestore/database:Database"
RULESET = "gcp:firebaserules/ruleset:Ruleset"
JOB = "gcp:cloudscheduler/job:Job"
WORKFLOW = "gcp:workflows/workflow:Workflow"

# --------------------------------------------------------------------------------------------
# Rules files
# --------------------------------------------------------------------------------------------
_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
_VERSION = re.compile(r"""rules_version\s*=\s*['"]2['"]""")
_ALLOW = re.compile(r"\ballow\s+([a-z,\s]+?)\s*(?::\s*if\b(.*?))?;", re.DOTALL)
_TIME_ONLY = re.compile(r"^request\.time\s*<=?\s*timestamp\.date\([^()]*\)$")


def _strip_comments(text: str) -> str:
    # Keep line numbers: replace each comment by as many newlines as it spans.
    return _COMMENTS.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def _unwrap(expression: str) -> str:
    expression = " ".join(expression.split())
    while expression.startswith("(") and expression.endswith(")") and _balanced(expression[1:-1]):
        expression = expression[1:-1].strip()
    return expression


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def _split_top(expression: str, operator: str) -> list[str]:
    parts, depth, start, i = [], 0, 0, 0
    while i < len(expression):
        char = expression[i]
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif depth == 0 and expression.startswith(operator, i):
            parts.append(expression[start:i])
            start = i + len(operator)
            i += len(operator)
            continue
        i += 1
    parts.append(expression[start:])
    return [_unwrap(p) for p in parts]


def open_reason(condition: str | None) -> str | None:
    """Why an `allow` condition grants access to anyone, or None if it does not."""
    if condition is None:
        return "has no condition"
    for alternative in _split_top(_unwrap(condition), "||"):
        terms = _split_top(alternative, "&&")
        if all(t == "true" for t in terms):
            return "is `if true`"
        if all(t == "true" or _TIME_ONLY.match(t) for t in terms):
            return "is only a time limit (the test-mode leftover)"
    return None


def rules_problems(content: str, filename: str) -> Iterator[str]:
    text = _strip_comments(content)
    if not _VERSION.search(text):
        yield (
            f"{filename} does not declare rules_version = '2'; version 1 rules treat recursive "
            "wildcards differently: start the file with rules_version = '2';"
        )
    for match in _ALLOW.finditer(text):
        reason = open_reason(match.group(2))
        if reason:
            line = text.count("\n", 0, match.start()) + 1
            methods = " ".join(match.group(1).split())
            yield (
                f"{filename} line {line}: `allow {methods}` {reason}, so anyone on the internet "
                "can use it; require request.auth (and the user's own documents or a role)"
            )


def check_rules(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    source = props.get("source") or {}
    for item in source.get("files") or []:
        content = item.get("content")
        if isinstance(content, str):
            yield from rules_problems(content, str(item.get("name") or "rules"))


# --------------------------------------------------------------------------------------------
# The database
# --------------------------------------------------------------------------------------------
def check_delete_protection(
    args: ResourceValidationArgs, config: Mapping[str, Any]
) -> Iterator[str]:
    if args.resource_type != DATABASE:
        return
    if not config["production"]:
        args.not_applicable("not a production stack (policy config production=false)")
    state = args.props.get("deleteProtectionState")
    if state != "DELETE_PROTECTION_ENABLED":
        yield (
            f'deleteProtectionState is "{state or "unset"}"; a production database must not be '
            'deletable by one API call: set "DELETE_PROTECTION_ENABLED" '
            "(spendsense:firestore.deleteProtection: true)"
        )


def check_point_in_time_recovery(
    args: ResourceValidationArgs, config: Mapping[str, Any]
) -> Iterator[str]:
    if args.resource_type != DATABASE:
        return
    if not config["production"]:
        args.not_applicable("not a production stack (policy config production=false)")
    state = args.props.get("pointInTimeRecoveryEnablement")
    if state != "POINT_IN_TIME_RECOVERY_ENABLED":
        yield (
            f'pointInTimeRecoveryEnablement is "{state or "unset"}"; without it a bad write can '
            'only be undone from last night\'s export: set "POINT_IN_TIME_RECOVERY_ENABLED" '
            "(spendsense:firestore.pointInTimeRecovery: true)"
        )


# --------------------------------------------------------------------------------------------
# The daily export
# --------------------------------------------------------------------------------------------
def _decode(body: Any) -> str:
    if not isinstance(body, str):
        return ""
    try:
        return base64.b64decode(body, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return body


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key in value:
            yield from _texts(get(value, key))
    elif isinstance(value, Sequence):
        for i in range(len(value)):
            yield from _texts(get(value, i))


def _job_target(
    job: PolicyResource, workflows: list[PolicyResource]
) -> tuple[str, list[Any]] | None:
    """(what the job runs, texts that show where it writes), or None if it is no export job."""
    target = get(job.props, "httpTarget", default={})
    uri = get(target, "uri")
    body = _decode(get(target, "body"))
    if isinstance(uri, str) and ":exportDocuments" in uri:
        return "the Firestore export API", [body]
    for workflow in workflows:
        name = get(workflow.props, "name")
        if refers_to(job, workflow, None) or (
            isinstance(uri, str) and isinstance(name, str) and f"/workflows/{name}/" in uri
        ):
            source = get(workflow.props, "sourceContents")
            env = list(_texts(get(workflow.props, "userEnvVars", default={})))
            return f"workflow {name if isinstance(name, str) else workflow.name}", [
                source,
                body,
                *env,
            ]
    return None


_UTC = {
    "UTC",
    "Etc/UTC",
    "UCT",
    "Etc/UCT",
    "GMT",
    "Etc/GMT",
    "Universal",
    "Etc/Universal",
    "Zulu",
    "Etc/Zulu",
}


def _same_zone(a: Any, b: str) -> bool:
    return a == b or (a in _UTC and b in _UTC)


def check_export_schedule(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    databases = list(of_type(resources, DATABASE))
    if not databases:
        return
    workflows = list(of_type(resources, WORKFLOW))
    schedule, zone, prefix = str(config["schedule"]), str(config["timeZone"]), str(config["prefix"])
    jobs = [(job, t) for job in of_type(resources, JOB) if (t := _job_target(job, workflows))]
    if not jobs:
        yield (
            databases[0].urn,
            (
                f"no Cloud Scheduler job exports Firestore; the runbook backs up daily at 02:00 UTC: "
                f'add a job with schedule "{schedule}" and timeZone "{zone}" that runs the export '
                f"into {prefix}"
            ),
        )
        return
    pending: list[str] = []
    for job, (runs, texts) in jobs:
        actual = get(job.props, "schedule")
        actual_zone = get(job.props, "timeZone", default="UTC")
        if isinstance(actual, Unknown) or isinstance(actual_zone, Unknown):
            pending.append(f"the schedule of {job.name} is")
            continue
        if " ".join(str(actual).split()) != schedule or not _same_zone(actual_zone, zone):
            yield (
                job.urn,
                (
                    f'the export job {job.name} runs at "{actual}" ({actual_zone}); the runbook exports '
                    f'daily at 02:00 UTC: set spendsense:backup.schedule to "{schedule}" and '
                    f"timeZone to {zone}"
                ),
            )
        if get(job.props, "paused") is True:
            yield job.urn, f"the export job {job.name} is paused; set paused=False"
        if any(isinstance(t, Unknown) for t in texts) and not any(
            isinstance(t, str) and prefix in t for t in texts
        ):
            pending.append(f"where {runs} writes is")
        elif not any(isinstance(t, str) and prefix in t for t in texts):
            yield (
                job.urn,
                (
                    f"the export job {job.name} runs {runs}, which does not write under {prefix}; "
                    f"the runbook and the restore tools read daily exports from {prefix}YYYYMMDD_HHMMSS/"
                ),
            )
    if pending:
        raise PendingUnknowns(pending)


def policies() -> list[Policy]:
    production = {
        "production": (True, "Is this stack production? (set by policies/config/<stack>.json)")
    }
    return [
        stack_policy(
            "gcp-firestore-export-schedule",
            "Firestore must be exported daily at 02:00 UTC into the backup bucket's daily/ folder "
            "by a Cloud Scheduler job.",
            check_export_schedule,
            config=schema(
                {
                    "schedule": (limit("backup", "schedule"), "Cron of the daily export."),
                    "timeZone": (limit("backup", "timeZone"), "Time zone of the schedule."),
                    "prefix": (limit("backup", "prefix"), "Where the daily exports go."),
                }
            ),
        ),
        resource_policy(
            "gcp-firestore-rules-no-open-access",
            "Firestore security rules must use rules_version '2' and never allow access with a "
            "condition that is `true`, missing, or only a time limit.",
            {RULESET: check_rules},
            remediation="Require request.auth in every allow; deploy test-mode rules nowhere.",
        ),
        resource_policy_with_args(
            "gcp-firestore-delete-protection",
            "A production Firestore database must have delete protection enabled.",
            check_delete_protection,
            types=[DATABASE],
            config=schema(production),
        ),
        resource_policy_with_args(
            "gcp-firestore-point-in-time-recovery",
            "A production Firestore database must have point-in-time recovery enabled.",
            check_point_in_time_recovery,
            types=[DATABASE],
            config=schema(production),
        ),
    ]
