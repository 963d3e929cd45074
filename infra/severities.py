"""Which incident severity each alert of the program has: the one table (docs/alerting.md).

Owns the mapping from an alert's role (the short name the component gives it, such as
`availability` or `backup-export-failed`) to one of the runbook's severity levels, with the
reason taken from the runbook's definitions:

- P0 critical, page immediately: complete outage, data breach, data corruption;
- P1 high, within 30 minutes: partial outage, major feature broken, authentication failures;
- P2 medium, within 2 hours: minor feature broken, performance degradation, elevated errors;
- P3 low, next business day.

docs/alerting.md's table is generated from SEVERITIES (`python -m infra.severities` rewrites
it between its `<!-- severity-table -->` markers; tests/docs/test_alerting_table.py fails while
the page differs).

Every CloudWatch alarm, EventBridge alert rule, budget and Cloud Monitoring alert policy the
program creates looks its severity up here with `severity_of(role)`; a role missing from the
table is a programming error and fails the program at once, naming the role. Where each
severity is delivered is per-stack configuration, not this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"

    @property
    def label(self) -> str:
        """The value of a GCP `severity` user label (labels are lower case): `p0`..`p3`."""
        return self.value.lower()


@dataclass(frozen=True)
class AlertSeverity:
    severity: Severity
    why: str


P0, P1, P2, P3 = Severity.P0, Severity.P1, Severity.P2, Severity.P3

SEVERITIES: dict[str, AlertSeverity] = {
    # -- the API on App Runner (CloudWatch) ----------------------------------------------------
    "availability": AlertSeverity(P0, "the API's health check fails: complete outage"),
    "availability-daily": AlertSeverity(
        P2, "the day's uptime is under the 99.9% target while the API answers: degradation"
    ),
    "error-rate": AlertSeverity(P2, "5xx responses over 1% of requests: elevated errors"),
    "latency-p95": AlertSeverity(P2, "p95 latency over 500 ms: performance degradation"),
    "saturation": AlertSeverity(
        P2, "requests near the instances' concurrency limit: degradation is close"
    ),
    "cpu": AlertSeverity(P3, "CPU over the runbook's scaling threshold: plan a scale-up"),
    "memory": AlertSeverity(P3, "memory over the runbook's scaling threshold: plan a scale-up"),
    "deployment-failures": AlertSeverity(
        P2, "a deployment failed; App Runner keeps serving the previous version"
    ),
    "auth-failures": AlertSeverity(P1, "a spike of failed authentications (HTTP 401/403)"),
    # -- the frontend on Vercel (health checks) ------------------------------------------------
    "frontend-availability": AlertSeverity(P0, "the dashboard does not answer: complete outage"),
    "frontend-availability-daily": AlertSeverity(
        P2, "the dashboard's day's uptime is under target while it answers: degradation"
    ),
    # -- secrets and images ----------------------------------------------------------------------
    "jwt-rotation-errors": AlertSeverity(
        P2, "the JWT secret's rotation failed; the current secret stays valid"
    ),
    "jwt-rotation-failed": AlertSeverity(
        P2, "Secrets Manager reported a failed rotation; the current secret stays valid"
    ),
    "scan-findings": AlertSeverity(P2, "the image scan found vulnerabilities to triage"),
    # -- alerting itself -------------------------------------------------------------------------
    "delivery-failures": AlertSeverity(
        P1, "EventBridge cannot deliver alerts to their topic: alerts are being lost"
    ),
    # -- cost ------------------------------------------------------------------------------------
    "budget": AlertSeverity(P3, "the month's spend is near or over the budget"),
    # -- Firestore (Cloud Monitoring) ------------------------------------------------------------
    "firestore-read-latency": AlertSeverity(P2, "Firestore reads are slow: degradation"),
    "firestore-write-latency": AlertSeverity(P2, "Firestore writes are slow: degradation"),
    "firestore-rules-denials": AlertSeverity(
        P1, "a spike of security-rules denials: failed authorization or a broken client"
    ),
    "firestore-reads-quota": AlertSeverity(
        P2, "the day's document reads near the team's daily cap (runbook: quota exceeded)"
    ),
    "firestore-writes-quota": AlertSeverity(
        P2, "the day's document writes near the team's daily cap (runbook: quota exceeded)"
    ),
    "firestore-deletes-quota": AlertSeverity(
        P2, "the day's document deletes near the team's daily cap (runbook: quota exceeded)"
    ),
    "firestore-storage": AlertSeverity(P3, "stored data near the team's storage cap"),
    # -- backups (Cloud Monitoring) --------------------------------------------------------------
    "backup-export-failed": AlertSeverity(P1, "the daily Firestore export failed: no backup"),
    "backup-export-missing": AlertSeverity(
        P1, "no Firestore export in the allowed age: backups have stopped"
    ),
}


class UnknownAlertRole(KeyError):
    """An alert role with no row in SEVERITIES (a programming error in a component)."""


def severity_of(role: str) -> Severity:
    """The severity of the alert `role`; one-line error naming the role if it has no row."""
    try:
        return SEVERITIES[role].severity
    except KeyError:
        raise UnknownAlertRole(
            f"alert role {role!r} has no severity: add a row to SEVERITIES in infra/severities.py"
        ) from None


# -- docs/alerting.md's table ------------------------------------------------------------------
TABLE_START = "<!-- severity-table -->"
TABLE_END = "<!-- end severity-table -->"


def table() -> str:
    """The Markdown table of SEVERITIES, by severity then role."""
    lines = ["| alert (role) | severity | why |", "|---|---|---|"]
    for role, row in sorted(SEVERITIES.items(), key=lambda item: (item[1].severity, item[0])):
        why = row.why.replace("|", "\\|")
        lines.append(f"| `{role}` | {row.severity.value} | {why} |")
    return "\n".join(lines) + "\n"


def render(page_text: str) -> str:
    """`page_text` with the table between the markers replaced by `table()`."""
    head, start, rest = page_text.partition(TABLE_START + "\n")
    _old, end, tail = rest.partition(TABLE_END)
    if not start or not end:
        raise ValueError(f"the page has no {TABLE_START} ... {TABLE_END} block")
    return head + start + table() + end + tail


def main(argv: list[str]) -> int:
    """Rewrite docs/alerting.md's table (or, with --check, say whether it is current)."""
    from infra.paths import REPO_ROOT

    page = REPO_ROOT / "docs" / "alerting.md"
    text = page.read_text(encoding="utf-8")
    rendered = render(text)
    if "--check" in argv:
        if rendered != text:
            print(f"{page}: the severity table is out of date; run python -m infra.severities")
            return 1
        return 0
    page.write_text(rendered, encoding="utf-8")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
