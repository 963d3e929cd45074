"""Firestore: rules with no open access, delete protection, and the runbook's daily export.

Runbook: "permissive rules never in production" (the test-mode rules file is the classic
leftover), and daily backups at a fixed time into the backup bucket's daily folder (the
schedule, time zone, bucket and prefix: `limits.json` ``backup``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import Policy, PolicyResource, ResourceValidationArgs

from spendsense_policies.base import (
    Pending,
    PendingUnknowns,
    Props,
    Unknown,
    fmt,
    get,
    number,
    of_type,
    refers_to,
    resource_policy,
    resource_policy_with_args,
    stack_policy,
)
from spendsense_policies.config import limit, limits, schema
from spendsense_policies.firestore_rules import problems as rules_problems
from spendsense_policies.index import StackIndex

DATABASE = "gcp:firestore/database:Database"
RULESET = "gcp:firebaserules/ruleset:Ruleset"
JOB = "gcp:cloudscheduler/job:Job"
WORKFLOW = "gcp:workflows/workflow:Workflow"

# --------------------------------------------------------------------------------------------
# Rules files (read by firestore_rules.py)
# --------------------------------------------------------------------------------------------
# Firebase refuses a ruleset whose source is over 256 KB ("Size limits",
# https://firebase.google.com/docs/rules/manage-deploy); KB read as 1,000 bytes, the stricter.
MAX_RULES_BYTES = 256_000


def check_rules(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    files = get(props, "source", "files", default=[])
    if isinstance(files, Unknown):
        yield Pending("source.files is")
        return
    total, limit_bytes = 0, number(config["maxRulesBytes"]) or MAX_RULES_BYTES
    for i in range(len(files) if isinstance(files, Sequence) else 0):
        item = get(files, i)
        content = get(item, "content")
        name = get(item, "name")
        label = name if isinstance(name, str) and name else "rules"
        if isinstance(content, Unknown) or isinstance(item, Unknown):
            yield Pending(f"the content of {label} is")
        elif isinstance(content, str):
            total += len(content.encode("utf-8"))
            yield from rules_problems(content, label)
    if total > limit_bytes:
        yield (
            f"the ruleset's source is {total:,} bytes; Firebase refuses rules over 256 KB "
            f"(policy config maxRulesBytes: {fmt(limit_bytes)}), so this deployment would "
            "fail and leave the previous rules in place: factor repeated conditions into "
            "functions"
        )


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


# Starting a workflow is `POST .../workflows/<name>/executions` (Workflow Executions API,
# https://cloud.google.com/workflows/docs/reference/executions/rest/v1/projects.locations.workflows.executions/create);
# the export is `POST ...:exportDocuments`. Cloud Scheduler's httpMethod defaults to POST.
_EXECUTIONS = re.compile(
    r"^https://workflowexecutions\.googleapis\.com/v1/projects/[^/]+/locations/[^/]+"
    r"/workflows/([^/?#]+)/executions$"
)


def _method(target: Any) -> Any:
    method = get(target, "httpMethod", default="POST")
    return method.strip().upper() if isinstance(method, str) else method


def _may_export(job: PolicyResource) -> bool:
    """A job whose target is unknown may be the export, unless its known method rules it
    out (both ways to export are POSTs)."""
    target = get(job.props, "httpTarget", default={})
    method = _method(target)
    if isinstance(target, Unknown) or isinstance(method, Unknown):
        return True
    return isinstance(get(target, "uri"), Unknown) and method == "POST"


def _named_in(uri: str) -> Iterator[str]:
    """Every `name` for which `/workflows/<name>/` occurs in `uri`."""
    marker = "/workflows/"
    at = uri.find(marker)
    while at >= 0:
        start = at + len(marker)
        end = uri.find("/", start)
        while end >= 0:
            yield uri[start:end]
            end = uri.find("/", end + 1)
        at = uri.find(marker, at + 1)


def _job_target(
    job: PolicyResource, index: StackIndex, by_name: Mapping[str, list[PolicyResource]]
) -> tuple[str, list[Any]] | str | None:
    """(what the job runs, texts that show where it writes); a message when the job is tied
    to the export workflow (by dependency or URL) but does not start it; None otherwise."""
    target = get(job.props, "httpTarget", default={})
    uri = get(target, "uri")
    method = _method(target)
    raw_body = get(target, "body")
    body = raw_body if isinstance(raw_body, Unknown) else _decode(raw_body)
    if isinstance(uri, str) and ":exportDocuments" in uri and method == "POST":
        return "the Firestore export API", [body]
    started = _EXECUTIONS.match(uri.strip()) if isinstance(uri, str) else None
    # The workflows the job may name or depend on, looked up rather than compared one by one.
    candidates = index.pointed_at_by(job, WORKFLOW)
    names = [started.group(1)] if started is not None else []
    names += _named_in(uri) if isinstance(uri, str) else []
    candidates += (w for n in names for w in by_name.get(n, ()))
    for workflow in index.in_order(candidates):
        name = get(workflow.props, "name")
        named = isinstance(name, str) and started is not None and started.group(1) == name
        tied = refers_to(job, workflow, None) or (
            isinstance(uri, str) and isinstance(name, str) and f"/workflows/{name}/" in uri
        )
        if not (named or tied):
            continue
        label = name if isinstance(name, str) else workflow.name
        wrong = []
        if isinstance(method, str) and method != "POST":
            wrong.append(f"httpMethod is {method}, not POST")
        if isinstance(uri, str) and not named:
            wrong.append(f'uri "{uri}" is not POST .../workflows/{label}/executions')
        if wrong:
            return (
                f"job {job.name} depends on workflow {label} but does not start it "
                f"({'; '.join(wrong)}), so the daily export never runs: POST to "
                f"https://workflowexecutions.googleapis.com/v1/projects/<project>/locations/"
                f"<region>/workflows/{label}/executions"
            )
        source = get(workflow.props, "sourceContents")
        env = list(_texts(get(workflow.props, "userEnvVars", default={})))
        return f"workflow {label}", [source, body, *env]
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


_GS_CONCAT = re.compile(r"""["']gs://["']\s*\+""")
_GS_LITERAL = re.compile(r"""gs://[^"'\s$}]*""")


def _writes_to(texts: Sequence[Any], destination: str) -> bool | None:
    """Does the export write under `destination` (gs://<bucket>/<prefix>)? None: unknown.

    The export's outputUriPrefix must start with the destination: a literal
    (`outputUriPrefix: ${"gs://<bucket>/<prefix>" + stamp}`, a JSON body), or a workflow that
    builds it from its environment (`"gs://" + bucket + "/" + prefix`) whose userEnvVars
    hold exactly the bucket and the prefix.
    """
    known = [t for t in texts if isinstance(t, str)]
    literals = [m.group(0) for text in known for m in _GS_LITERAL.finditer(text)]
    if any(literal.startswith(destination) for literal in literals):
        return True
    bucket, _, prefix = destination[len("gs://") :].partition("/")
    # `"gs://" + bucket + "/" + prefix`: the parts are the workflow's env values.
    if (
        any("outputUriPrefix" in t for t in known)
        and {bucket, prefix} <= set(known)
        and any(_GS_CONCAT.search(t) for t in known)
    ):
        return True
    if any(isinstance(t, Unknown) for t in texts):
        return None
    return False


_DAILY_CRON = re.compile(r"^(\d{1,2}) (\d{1,2}) \* \* \*$")


def at_time(schedule: str, zone: str) -> str:
    """When a schedule runs, in words: "daily at HH:MM <zone>" for a daily cron, else the cron."""
    match = _DAILY_CRON.match(" ".join(str(schedule).split()))
    if match and int(match.group(1)) < 60 and int(match.group(2)) < 24:
        return f"daily at {int(match.group(2)):02d}:{int(match.group(1)):02d} {zone}"
    return f'on the schedule "{schedule}" ({zone})'


def _same_zone(a: Any, b: str) -> bool:
    return a == b or (a in _UTC and b in _UTC)


def check_export_schedule(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    databases = list(of_type(resources, DATABASE))
    if not databases:
        return
    index = StackIndex(resources)
    by_name: dict[str, list[PolicyResource]] = {}
    for workflow in index.of_type(WORKFLOW):
        name = get(workflow.props, "name")
        if isinstance(name, str):
            by_name.setdefault(name, []).append(workflow)
    schedule, zone, prefix = str(config["schedule"]), str(config["timeZone"]), str(config["prefix"])
    destination = f"gs://{config['bucketName']}/{prefix}"
    when = at_time(schedule, zone)
    targets = [(job, _job_target(job, index, by_name)) for job in index.of_type(JOB)]
    jobs = [(job, t) for job, t in targets if isinstance(t, tuple)]
    misfires = [(job, t) for job, t in targets if isinstance(t, str)]
    undecided = [job.name for job, t in targets if t is None and _may_export(job)]
    if not jobs and undecided:  # an unknown target may be the export: not a miss
        raise PendingUnknowns(f"what job {name} runs is" for name in undecided)
    if not jobs and misfires:
        yield from ((job.urn, message) for job, message in misfires)
        return
    if not jobs:
        yield (
            databases[0].urn,
            (
                f"no Cloud Scheduler job exports Firestore; the runbook backs up {when}: "
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
                    f'the export job {job.name} runs at "{actual}" ({actual_zone}); the runbook '
                    "exports "
                    f'{when}: set spendsense:backup.schedule to "{schedule}" and '
                    f"timeZone to {zone}"
                ),
            )
        paused = get(job.props, "paused")
        if paused is True or (isinstance(paused, str) and paused.strip().lower() == "true"):
            yield job.urn, f"the export job {job.name} is paused; set paused=False"
        writes = _writes_to(texts, destination)
        if writes is None:
            pending.append(f"where {runs} writes is")
        elif not writes:
            yield (
                job.urn,
                (
                    f"the export job {job.name} runs {runs}, which does not write under "
                    f"{destination} (no outputUriPrefix starting with it); the runbook and the "
                    f"restore tools read daily exports from {destination}YYYYMMDD_HHMMSS/"
                ),
            )
    if pending:
        raise PendingUnknowns(pending)


def policies() -> list[Policy]:
    backup = limits()["backup"]
    production = {
        "production": (True, "Is this stack production? (set by policies/config/<stack>.json)")
    }
    return [
        stack_policy(
            "gcp-firestore-export-schedule",
            f"Firestore must be exported {at_time(backup['schedule'], backup['timeZone'])} into "
            f"the backup bucket's {backup['prefix']} folder by a Cloud Scheduler job.",
            check_export_schedule,
            config=schema(
                {
                    "schedule": (limit("backup", "schedule"), "Cron of the daily export."),
                    "timeZone": (limit("backup", "timeZone"), "Time zone of the schedule."),
                    "prefix": (limit("backup", "prefix"), "Where the daily exports go."),
                    "bucketName": (
                        limit("backup", "bucketName"),
                        "The backup bucket (per stack, in policies/config/<stack>.json).",
                    ),
                }
            ),
        ),
        resource_policy(
            "gcp-firestore-rules-no-open-access",
            "Firestore security rules must use rules_version '2' and never allow access with a "
            "condition that is `true`, missing, or only a time limit.",
            {RULESET: check_rules},
            config=schema(
                {
                    "maxRulesBytes": (
                        MAX_RULES_BYTES,
                        "Largest ruleset source (UTF-8 bytes) Firebase accepts (256 KB).",
                    )
                }
            ),
            remediation="Require request.auth in every allow; deploy test-mode rules nowhere.",
        ),
        resource_policy_with_args(
            "gcp-firestore-delete-protection",
            "A production Firestore database must have delete protection enabled.",
            check_delete_protection,
            config=schema(production),
        ),
        resource_policy_with_args(
            "gcp-firestore-point-in-time-recovery",
            "A production Firestore database must have point-in-time recovery enabled.",
            check_point_in_time_recovery,
            config=schema(production),
        ),
    ]
