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
_TOKEN = re.compile(
    r"""(?P<comment>//[^\n]*|/\*.*?\*/)
      |(?P<string>'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*")
      |(?P<word>[A-Za-z_][A-Za-z0-9_]*)
      |(?P<number>\d+(?:\.\d+)?)
      |(?P<op>&&|\|\||==|!=|<=|>=|[-+*/%<>!=(){}\[\],.;:?])
      |(?P<space>\s+)
      |(?P<other>.)""",
    re.DOTALL | re.VERBOSE,
)


class Token:
    __slots__ = ("line", "text")

    def __init__(self, text: str, line: int) -> None:
        self.text = text
        self.line = line

    def __repr__(self) -> str:
        return f"{self.text}@{self.line}"


def tokenize(text: str) -> list[Token]:
    """The rules language's tokens: string literals whole (a `//` or `;` inside quotes is part
    of the string), comments and whitespace dropped, each token with its line number."""
    tokens: list[Token] = []
    line = 1
    for match in _TOKEN.finditer(text):
        kind, value = match.lastgroup, match.group(0)
        if kind not in ("comment", "space"):
            tokens.append(Token(value, line))
        line += value.count("\n")
    return tokens


def _words(tokens: Sequence[Token]) -> list[str]:
    return [t.text for t in tokens]


def _split_top(tokens: Sequence[Token], operator: str) -> list[list[Token]]:
    parts: list[list[Token]] = [[]]
    depth = 0
    for token in tokens:
        if token.text in "([{" and token.text:
            depth += 1
        elif token.text in ")]}" and token.text:
            depth -= 1
        elif depth == 0 and token.text == operator:
            parts.append([])
            continue
        parts[-1].append(token)
    return [_unwrap(part) for part in parts]


def _unwrap(tokens: list[Token]) -> list[Token]:
    while len(tokens) >= 2 and tokens[0].text == "(" and tokens[-1].text == ")":
        depth = 0
        for i, token in enumerate(tokens):
            depth += {"(": 1, ")": -1}.get(token.text, 0)
            if depth == 0 and i < len(tokens) - 1:
                return tokens  # "(a) && (b)": the first ")" closes before the end
        tokens = tokens[1:-1]
    return tokens


def _mentions_auth_directly(tokens: Sequence[Token]) -> bool:
    texts = _words(tokens)
    return any(texts[i : i + 3] == ["request", ".", "auth"] for i in range(len(texts) - 2))


def _calls(tokens: Sequence[Token]) -> set[str]:
    """Names called as plain functions (`isOpen()`, not `request.auth.token.get(...)`)."""
    texts = _words(tokens)
    return {
        texts[i]
        for i in range(len(texts) - 1)
        if texts[i + 1] == "(" and texts[i][:1].isalpha() and (i == 0 or texts[i - 1] != ".")
    }


def _functions(tokens: Sequence[Token]) -> dict[str, list[list[Token]]]:
    """Each `function name(...) { body }`: its body's tokens (every definition of a name)."""
    found: dict[str, list[list[Token]]] = {}
    i = 0
    while i < len(tokens) - 1:
        if tokens[i].text == "function" and tokens[i + 1].text[:1].isalpha():
            name, j = tokens[i + 1].text, i + 2
            while j < len(tokens) and tokens[j].text != "{":
                j += 1
            depth, body_start = 0, j + 1
            while j < len(tokens):
                depth += {"{": 1, "}": -1}.get(tokens[j].text, 0)
                if depth == 0:
                    break
                j += 1
            found.setdefault(name, []).append(list(tokens[body_start:j]))
            i = j
        i += 1
    return found


def _auth_functions(functions: Mapping[str, list[list[Token]]]) -> set[str]:
    """Functions whose every definition mentions request.auth, directly or through a call."""
    auth: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, bodies in functions.items():
            if name in auth:
                continue
            if all(_mentions_auth_directly(b) or _calls(b) & auth for b in bodies):
                auth.add(name)
                changed = True
    return auth


def _alternative_problem(alternative: list[Token], auth_functions: set[str]) -> str | None:
    texts = _words(alternative)
    if texts == ["false"]:
        return None
    if _mentions_auth_directly(alternative) or _calls(alternative) & auth_functions:
        return None
    if texts == ["true"]:
        return "is `if true`"
    if "request" in texts and "time" in texts:
        return "is only a time limit (the test-mode leftover)"
    return f"has an alternative that does not require request.auth (`{' '.join(texts)}`)"


def open_reason(condition: Sequence[Token] | None, auth_functions: set[str]) -> str | None:
    """Why an `allow` condition may grant access to anyone, or None if it does not.

    An allow-list: each top-level `||` alternative must be `false` or mention request.auth
    (directly or through a function whose body does); anything else (`true`, `!false`,
    `true == true`, a time limit, a function returning true) is open.
    """
    if condition is None:
        return "has no condition"
    alternatives = _split_top(_unwrap(list(condition)), "||")
    reasons = [_alternative_problem(a, auth_functions) for a in alternatives]
    found = [r for r in reasons if r]
    if not found:
        return None
    for preferred in ("is `if true`", "is only a time limit (the test-mode leftover)"):
        if preferred in found:
            return preferred
    return found[0]


def rules_problems(content: str, filename: str) -> Iterator[str]:
    tokens = tokenize(content)
    texts = _words(tokens)
    if not any(
        texts[i : i + 2] == ["rules_version", "="] and texts[i + 2] in ("'2'", '"2"')
        for i in range(len(texts) - 2)
    ):
        yield (
            f"{filename} does not declare rules_version = '2'; version 1 rules treat recursive "
            "wildcards differently: start the file with rules_version = '2';"
        )
    auth_functions = _auth_functions(_functions(tokens))
    i = 0
    while i < len(tokens):
        if tokens[i].text != "allow":
            i += 1
            continue
        start = tokens[i]
        j = i + 1
        methods: list[str] = []
        while j < len(tokens) and tokens[j].text not in (":", ";", "}"):
            if tokens[j].text != ",":
                methods.append(tokens[j].text)
            j += 1
        condition: list[Token] | None = None
        if j < len(tokens) and tokens[j].text == ":":
            j += 1
            if j < len(tokens) and tokens[j].text == "if":
                j += 1
            condition, depth = [], 0
            while j < len(tokens):
                text = tokens[j].text
                if text in ("(", "[", "{"):
                    depth += 1
                elif text in (")", "]", "}"):
                    if depth == 0:
                        break  # a missing ";" before the block's end
                    depth -= 1
                elif text == ";" and depth == 0:
                    break
                condition.append(tokens[j])
                j += 1
        reason = open_reason(condition, auth_functions)
        if reason:
            yield (
                f"{filename} line {start.line}: `allow {', '.join(methods)}` {reason}, so anyone "
                "on the internet can use it; require request.auth (and the user's own documents "
                "or a role)"
            )
        i = j + 1


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
    raw_body = get(target, "body")
    body = raw_body if isinstance(raw_body, Unknown) else _decode(raw_body)
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


_GS_CONCAT = re.compile(r"""["']gs://["']\s*\+""")
_GS_LITERAL = re.compile(r"""gs://[^"'\s$}]*""")


def _writes_to(texts: Sequence[Any], destination: str) -> bool | None:
    """Does the export write under `destination` (gs://<bucket>/daily/)? None: unknown.

    The export's outputUriPrefix must start with the destination: a literal
    (`outputUriPrefix: ${"gs://bucket/daily/" + stamp}`, a JSON body), or a workflow that
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
    destination = f"gs://{config['bucketName']}/{prefix}"
    jobs = [(job, t) for job in of_type(resources, JOB) if (t := _job_target(job, workflows))]
    undecided = [
        job.name
        for job in of_type(resources, JOB)
        if isinstance(get(job.props, "httpTarget", "uri"), Unknown)
    ]
    if not jobs and undecided:  # an unknown target may be the export: not a miss
        raise PendingUnknowns(f"what job {name} runs is" for name in undecided)
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
