"""`spendsense preflight`: the checks' vocabulary, the stack's state, the run and the report.

Owns what every preflight check shares: the statuses a check can end in (and which of them
pass), one `Check` per line of the report, the stack's managed resources read from a
`pulumi stack export` file (`StackState`), the `pulumi import` commands for objects that exist
but are not managed, and the text and JSON renderings. The checks themselves live beside it:
`preflight_aws` (account, App Runner, ECR), `preflight_google` (APIs, billing, Firebase, the
test project, objects to import), `preflight_vercel` (token, team, project, the API URL
variable) and `preflight_backend` (the Pulumi state backend).

Every check is a read; nothing here changes a live system.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spendsense.errors import DEBUG_ENV, BadInput, SpendsenseError, debug_enabled, one_line

PROJECT = "spendsense"  # Pulumi.yaml `name`

# --- statuses -----------------------------------------------------------------------------------
OK = "ok"
MISSING = "missing"
BEFORE_BOOTSTRAP = "expected-before-bootstrap"
IMPORT = "import"  # exists, and `pulumi up` would try to create it: import it first
DENIED = "denied"  # the identity at hand may not read it
REFUSED = "refused"  # the account is refused the service (App Runner closed to new customers)
UNKNOWN = "unknown"  # could not be checked (no answer, or a check it depends on failed)
STATUSES = (OK, MISSING, BEFORE_BOOTSTRAP, IMPORT, DENIED, REFUSED, UNKNOWN)
PASSING = frozenset({OK, BEFORE_BOOTSTRAP})


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, what was found, and how to fix it."""

    id: str  # stable, for CI: "aws.identity", "gcp.apis[spendsense-staging]"
    status: str
    detail: str
    fix: str | None = None  # the exact command or console step
    import_command: str | None = None

    @property
    def passed(self) -> bool:
        return self.status in PASSING

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "passed": self.passed,
            "detail": self.detail,
            "fix": self.fix,
            "import": self.import_command,
        }

    def line(self) -> str:
        text = f"{self.status:<26} {self.id:<34} {self.detail}"
        if self.fix:
            text += f" -- fix: {self.fix}"
        return " ".join(text.splitlines())  # one line, whatever a detail holds


def blocked(check_id: str, by: str) -> Check:
    """A check that could not run because `by` failed."""
    return Check(check_id, UNKNOWN, f"not checked: {by} failed", f"fix {by} first")


# --- the stack's state (`pulumi stack export`) -------------------------------------------------


@dataclass(frozen=True)
class StackState:
    """The resources a stack manages, from `pulumi stack export --file FILE`."""

    stack: str
    resources: tuple[Mapping[str, Any], ...]

    def of_type(self, type_: str) -> list[Mapping[str, Any]]:
        return [r for r in self.resources if r.get("type") == type_]

    def manages(self, type_: str, resource_id: str) -> bool:
        """True when a resource of `type_` with this provider id is in the state."""
        return any(str(r.get("id") or "") == resource_id for r in self.of_type(type_))

    def urn_of(self, type_: str, name: str) -> str | None:
        for resource in self.of_type(type_):
            urn = str(resource.get("urn") or "")
            if urn.endswith(f"::{name}"):
                return urn
        return None


class StateError(ValueError):
    """A document that is not the state of this stack (one line)."""


def parse_state(document: Any, stack: str) -> StackState:
    """The resources of a `pulumi stack export` document (`{"version", "deployment"}`) or of a
    self-managed backend's checkpoint file (`{"version", "checkpoint": {"latest": ...}}`)."""
    if not isinstance(document, dict) or "version" not in document:
        raise StateError("not a Pulumi stack export (no 'version' and 'deployment')")
    if "checkpoint" in document:
        checkpoint = document["checkpoint"]
        deployment = checkpoint.get("latest") if isinstance(checkpoint, dict) else None
        deployment = {} if deployment is None else deployment
    elif "deployment" in document:
        deployment = document["deployment"]
    else:
        raise StateError("not a Pulumi stack export (no 'version' and 'deployment')")
    if not isinstance(deployment, dict):
        raise StateError("'deployment' is not an object")
    resources = deployment.get("resources")
    if resources is None:  # a new stack's export has none
        resources = []
    if not isinstance(resources, list) or not all(isinstance(r, dict) for r in resources):
        raise StateError("'deployment.resources' is not a list of objects")
    for resource in resources:
        parts = str(resource.get("urn") or "").split("::")
        if len(parts) >= 2 and parts[0].startswith("urn:pulumi:"):
            found = parts[0].removeprefix("urn:pulumi:")
            if found != stack or parts[1] != PROJECT:
                raise StateError(f"is the state of {parts[1]}/{found}, not of {PROJECT}/{stack}")
    return StackState(stack=stack, resources=tuple(resources))


def load_state(path: Path, stack: str) -> StackState:
    """Read a `pulumi stack export` file of `stack`; BadInput naming --state on anything else."""
    hint = f"pass the file written by `pulumi stack export --stack {stack} --file FILE`"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"--state: {path}: no such file; {hint}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"--state: {path}: cannot be read ({exc}); {hint}") from None
    try:
        document = json.loads(text)
    except ValueError:
        raise BadInput(f"--state: {path}: not JSON; {hint}") from None
    try:
        return parse_state(document, stack)
    except StateError as exc:
        separator = " " if str(exc).startswith("is ") else ": "
        raise BadInput(f"--state: {path}{separator}{exc}; {hint}") from None


# --- `pulumi import` ------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportTarget:
    """A resource of the program that may already exist outside Pulumi.

    `parent_type`/`parent_name` name the component it is created in, `provider` the explicit
    provider (program.py `make_providers`); names as the program registers them (a test
    checks them against the program run under the mock runtime).
    """

    type: str
    name: str
    parent_type: str
    parent_name: str
    provider: str

    def command(self, stack: str, resource_id: str, state: StackState | None) -> str:
        """The `pulumi import` command (https://www.pulumi.com/docs/iac/cli/commands/pulumi_import/:
        `--parent 'name=<urn>' --provider 'name=<urn>'`). URNs from the state when it is at
        hand, else as the engine forms them (children of the stack carry no Stack type)."""
        base = f"urn:pulumi:{stack}::{PROJECT}::"
        parent = (state.urn_of(self.parent_type, self.parent_name) if state else None) or (
            f"{base}{self.parent_type}::{self.parent_name}"
        )
        provider_type = f"pulumi:providers:{self.provider}"
        provider = (state.urn_of(provider_type, self.provider) if state else None) or (
            f"{base}{provider_type}::{self.provider}"
        )
        return (
            f"pulumi import --stack {stack} --yes --generate-code=false "
            f"--parent '{self.parent_name}={parent}' --provider '{self.provider}={provider}' "
            f"'{self.type}' {self.name} '{resource_id}'"
        )


DATABASE = ImportTarget(
    "gcp:firestore/database:Database",
    "firestore-database",
    "spendsense:gcp:Firestore",
    "firestore",
    "gcp",
)
API_URL_VARIABLE = ImportTarget(
    "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable",
    "frontend-api-url",
    "spendsense:vercel:Frontend",
    "frontend",
    "vercel",
)
APPRUNNER_SERVICE_TYPE = "aws:apprunner/service:Service"
IMPORT_TARGETS = (DATABASE, API_URL_VARIABLE)


def existing_object(
    check_id: str,
    what: str,
    target: ImportTarget,
    import_id: str,
    stack: str,
    state: StackState | None,
    state_id: str | None = None,
) -> Check:
    """The verdict for an object that exists live: managed (ok) or to be imported.

    `import_id` is what `pulumi import` takes; `state_id` the id the provider keeps in the
    state, when it differs (a Vercel variable: its own id, imported as team/project/id)."""
    command = target.command(stack, import_id, state)
    if state is not None and state.manages(target.type, state_id or import_id):
        return Check(check_id, OK, f"{what} exists and this stack manages it")
    if state is not None:
        return Check(
            check_id,
            IMPORT,
            f"{what} exists and this stack does not manage it: `pulumi up` would fail "
            "creating it; import it",
            command,
            command,
        )
    return Check(
        check_id,
        IMPORT,
        f"{what} exists: import it unless this stack already manages it (pass --state with "
        f"`pulumi stack export --stack {stack}` to tell)",
        command,
        command,
    )


# --- the run and the report ------------------------------------------------------------------


@dataclass
class Report:
    stack: str
    checks: list[Check] = field(default_factory=list)
    bootstrap: str = "unknown"  # complete | pending | unknown
    state: str = "not given"  # the --state file, or "not given"

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def counts(self) -> dict[str, int]:
        return {status: sum(c.status == status for c in self.checks) for status in STATUSES}

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "passed": self.passed,
            "bootstrap": self.bootstrap,
            "state": self.state,
            "counts": self.counts(),
            "checks": [check.to_json() for check in self.checks],
        }

    def text(self) -> str:
        lines = [check.line() for check in self.checks]
        failed = sum(not c.passed for c in self.checks)
        counts = ", ".join(f"{n} {status}" for status, n in self.counts().items() if n)
        verdict = (
            "every check passed" if self.passed else f"{failed} check(s) failed: fix them first"
        )
        lines.append(
            f"preflight {self.stack}: {counts}; bootstrap {self.bootstrap}; "
            f"state: {self.state}; {verdict}"
        )
        return "\n".join(lines)


def run_checks(groups: Iterable[Callable[[], list[Check]]]) -> list[Check]:
    """Run each group of checks; one that breaks unexpectedly becomes one `unknown` line
    instead of hiding the others (preflight reports everything it can)."""
    checks: list[Check] = []
    for group in groups:
        try:
            checks.extend(group())
        except Exception as exc:
            if debug_enabled():
                raise
            name = getattr(group, "__name__", "checks").removeprefix("check_")
            detail = one_line(exc)
            if not isinstance(exc, SpendsenseError):
                detail = f"{type(exc).__name__}: {detail}"
            checks.append(
                Check(
                    name,
                    UNKNOWN,
                    f"could not check: {detail}",
                    f"rerun with {DEBUG_ENV}=1 for the details",
                )
            )
    return checks
