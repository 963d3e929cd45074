"""Every runbook number the pack prints comes from `policies/limits.json` (issue 15, item 1).

Two proofs:

- the pack, copied to a temporary folder with other numbers in its `limits.json` and driven
  through its real gRPC Analyzer interface (started like the engine starts it), describes its
  policies (GetAnalyzerInfo) and words its violations with the new numbers and none of the
  runbook's own;
- no runbook number is typed in the pack's sources: not in a string (messages, descriptions,
  docstrings) and not in a comment unless the comment cites the runbook.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import tokenize
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from spendsense.plan.analyzer import PackResource, PolicyPackProcess
from spendsense.repo import pack_dir

from tests.policies import compliant as c
from tests.policies.conftest import PROJECT, STACK, Pack

PACK_DIR = pack_dir()
SOURCES = sorted((PACK_DIR / "spendsense_policies").glob("*.py"))

# The runbook's numbers as the pack used to type them (and wordings standing for them).
RUNBOOK_LITERALS: dict[str, str] = {
    "p95 500 ms": r"\b500\s*ms\b",
    "1 % errors": r"(?<![\d.])1\s*%",
    "99.9 % uptime": r"\b99\.9\b",
    "CPU 70 %": r"\b70\s*%",
    "memory 80 %": r"\b80\s*%",
    "2 vCPU": r"\b2\s*vCPU\b",
    "4 GB": r"\b4\s*GB\b",
    "02:00 UTC": r"\b0?2:00\b|\b2\s*AM\b",
    "30 days": r"\b30\s*days\b",
    "dashboard SpendSense-API": r"SpendSense-API",
    "bucket spendsense-backups": r"spendsense-backups",
    "prefix daily/": r"\bdaily/",
    "health path /health": r"/health\b",
}
# A word that stands for a number: a description or message that says "monthly" says 30 days
# whatever maxRotationDays is (the sources may use the word for cron schedules).
WORDINGS = {"monthly rotation": r"\bmonthly\b"}

# The same limits, changed: each new value differs from every runbook number above.
CHANGED: dict[str, dict[str, Any]] = {
    "apprunner": {"maxCpu": "1 vCPU", "maxMemory": "3 GB", "healthCheckPath": "/status"},
    "cloudwatch": {
        "latencyP95Ms": 400,
        "errorRatePercent": 2,
        "availabilityPercent": 99.5,
        "cpuPercent": 65,
        "memoryPercent": 75,
        "dashboardNamePrefix": "Acme-API",
    },
    "backup": {
        "retentionDays": 45,
        "prefix": "nightly/",
        "schedule": "30 3 * * *",
        "bucketName": "acme-backups",
    },
    "secrets": {"maxRotationDays": 14},
}


def old_numbers(text: str, patterns: dict[str, str] = RUNBOOK_LITERALS) -> list[str]:
    """The runbook literals `text` still types."""
    return [name for name, pattern in patterns.items() if re.search(pattern, text)]


def old_wording(text: str) -> list[str]:
    """The runbook literals, or words standing for them, that `text` still holds."""
    return old_numbers(text, {**RUNBOOK_LITERALS, **WORDINGS})


@pytest.fixture(scope="module")
def changed_pack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pack]:
    """The pack from a copy of policies/ whose limits.json holds `CHANGED`."""
    folder = tmp_path_factory.mktemp("pack") / "policies"
    shutil.copytree(PACK_DIR, folder, ignore=shutil.ignore_patterns("__pycache__", ".venv"))
    limits_file = folder / "limits.json"
    data = json.loads(limits_file.read_text(encoding="utf-8"))
    for section, values in CHANGED.items():
        assert set(values) <= set(data[section]), f"limits.json has no {section}.{set(values)}"
        data[section].update(values)
    limits_file.write_text(json.dumps(data, indent=2), encoding="utf-8")
    process = PolicyPackProcess.start(folder)
    try:
        process.connect(timeout=60)
        handle = Pack(process)
        process.configure(handle.defaults)
        process.configure_stack(STACK, PROJECT)
        yield handle
    finally:
        process.close()


# What each policy's description must now say.
DESCRIBED = {
    "aws-apprunner-instance-size": ["1 vCPU / 3 GB"],
    "aws-apprunner-health-check": ["/status"],
    "aws-cloudwatch-latency-alarm": ["400 ms"],
    "aws-cloudwatch-error-rate-alarm": ["2 %"],
    "aws-cloudwatch-availability-alarm": ["/status", "99.5 %"],
    "aws-cloudwatch-utilization-alarms": ["CPU (65 %)", "memory (75 %)"],
    "aws-cloudwatch-dashboard": ["Acme-API"],
    "aws-secretsmanager-rotation": ["every 14 days"],
    "gcp-firestore-export-schedule": ["daily at 03:30 UTC", "nightly/"],
    "gcp-storage-backup-retention": ["nightly/", "45 days"],
}


def test_descriptions_show_the_limits_file(changed_pack: Pack) -> None:
    by_name = changed_pack.by_name
    missing = [
        f"{name}: {text!r} not in {by_name[name].description!r}"
        for name, texts in DESCRIBED.items()
        for text in texts
        if text not in by_name[name].description
    ]
    assert not missing, "\n".join(missing)
    typed = [
        f"{policy.name}{where}: {old_wording(text)} in {text!r}"
        for policy in changed_pack.policies
        for where, text in [
            ("", policy.description),
            *(
                (f" config {key}", str(spec.get("description", "")))
                for key, spec in policy.schema.items()
            ),
        ]
        if old_wording(text)
    ]
    assert not typed, "runbook numbers typed in the pack:\n" + "\n".join(typed)


def test_config_defaults_are_the_limits_file(changed_pack: Pack) -> None:
    defaults = changed_pack.by_name
    assert defaults["aws-cloudwatch-latency-alarm"].defaults["latencyP95Ms"] == 400
    assert defaults["gcp-storage-backup-retention"].defaults["retentionDays"] == 45
    assert defaults["aws-apprunner-instance-size"].defaults["maxCpu"] == "1 vCPU"


def _violating_stack(*, job: bool) -> list[PackResource]:
    """The compliant stack without its alarms, dashboard and rotation, with an oversized
    service probed on "/", and a backup bucket (named as the changed limits say) that never
    deletes; the export job (still at the old schedule) only when `job`."""
    service = c.changed(c.service(), "instanceConfiguration.cpu", "4 vCPU")
    service = c.changed(service, "instanceConfiguration.memory", "8 GB")
    service = c.changed(service, "healthCheckConfiguration.path", "/")
    bucket = {**c.bucket(), "name": "acme-backups", "lifecycleRules": []}
    rotation = c.changed(c.rotation(), "rotationRules.automaticallyAfterDays", 90)
    removed = ("latency", "errors", "cpu", "memory", "availability", "health-check", "dashboard")
    return c.stack(
        service=service,
        bucket=bucket,
        rotation=rotation if job else None,
        job=c.job() if job else None,
        **dict.fromkeys(removed),
    )


# (policy, text its message must now hold) for each stack
EXPECTED = {
    False: [
        ("aws-apprunner-instance-size", "the runbook allows at most 1 vCPU"),
        ("aws-apprunner-instance-size", "the runbook allows at most 3 GB"),
        ("aws-apprunner-health-check", 'the API answers its health on "/status"'),
        ("aws-cloudwatch-latency-alarm", "at 400 ms or lower"),
        ("aws-cloudwatch-error-rate-alarm", "at 2 % or lower"),
        ("aws-cloudwatch-utilization-alarms", "at 65 % or lower"),
        ("aws-cloudwatch-utilization-alarms", "at 75 % or"),
        ("aws-cloudwatch-availability-alarm", "https://<service url>/status"),
        ("aws-cloudwatch-availability-alarm", "below 99.5 %"),
        ("aws-cloudwatch-dashboard", "no CloudWatch dashboard named Acme-API"),
        ("aws-secretsmanager-rotation", "the runbook rotates JWT secrets at least every 14 days"),
        ("gcp-firestore-export-schedule", "the runbook backs up daily at 03:30 UTC"),
        ("gcp-firestore-export-schedule", 'schedule "30 3 * * *"'),
        ("gcp-storage-backup-retention", 'age=45 and matchesPrefixes=["nightly/"]'),
    ],
    True: [
        ("aws-secretsmanager-rotation", "the runbook rotates at least every 14 days"),
        ("gcp-firestore-export-schedule", "the runbook exports daily at 03:30 UTC"),
        ("gcp-firestore-export-schedule", "does not write under gs://acme-backups/nightly/"),
    ],
}


@pytest.mark.parametrize("job", [False, True], ids=["no-job-no-rotation", "old-job-90-days"])
def test_messages_show_the_config_in_effect(changed_pack: Pack, job: bool) -> None:
    resources = _violating_stack(job=job)
    found = changed_pack.process.analyze_many(resources) + changed_pack.analyze_stack(resources)
    by_policy: dict[str, list[str]] = {}
    for diagnostic in found:
        by_policy.setdefault(diagnostic.policy, []).append(diagnostic.message)
    missing = [
        f"{policy}: {text!r} in none of {by_policy.get(policy, [])}"
        for policy, text in EXPECTED[job]
        if not any(text in message for message in by_policy.get(policy, []))
    ]
    assert not missing, "\n".join(missing)
    typed = [
        f"{d.policy}: {old_wording(d.message)} in {d.message!r}"
        for d in found
        if old_wording(d.message)
    ]
    assert not typed, "runbook numbers typed in the pack's messages:\n" + "\n".join(typed)


def _literals(path: Path) -> Iterator[tuple[int, str]]:
    """(line, text) of each string (docstrings, f-strings) and of each comment that does not
    cite the runbook."""
    source = path.read_text(encoding="utf-8")
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.STRING or (
            token.type == tokenize.COMMENT and "runbook" not in token.string.lower()
        ):
            yield token.start[0], token.string


def test_old_numbers_detects_each_literal() -> None:
    """The patterns below catch what they name (so the source scan can fail)."""
    samples = {
        "p95 500 ms": "at the runbook's 500 ms",
        "1 % errors": "at 1 % or tighter",
        "99.9 % uptime": "99.9 % uptime",
        "CPU 70 %": "CPU (70 %)",
        "memory 80 %": "memory (80 %)",
        "2 vCPU": "2 vCPU / 4 GB",
        "4 GB": "2 vCPU / 4 GB",
        "02:00 UTC": "daily at 2 AM UTC",
        "30 days": "the runbook's 30 days",
        "dashboard SpendSense-API": "named like SpendSense-API",
        "bucket spendsense-backups": "gs://spendsense-backups/",
        "prefix daily/": "deletes daily/ exports",
        "health path /health": 'on "/health"',
    }
    assert set(samples) == set(RUNBOOK_LITERALS)
    assert [name for name, text in samples.items() if name not in old_numbers(text)] == []
    assert old_wording("rotate at least monthly") == ["monthly rotation"]
    clean = "route53/healthCheck:HealthCheck at 91 % 0.5 vCPU 14 GB 300 days"
    assert old_numbers(clean) == []


def test_no_runbook_number_typed_in_the_pack_sources() -> None:
    assert SOURCES, f"no sources under {PACK_DIR}"
    typed = [
        f"{path.name}:{line}: {old_numbers(text)} in {text.strip()[:90]!r}"
        for path in SOURCES
        for line, text in _literals(path)
        if old_numbers(text)
    ]
    assert not typed, (
        "runbook numbers typed in the pack (read them from limits.json / the policy config):\n"
        + "\n".join(typed)
    )


# The runbook numbers test_messages_follow_a_stack_config_file overrides.
OVERRIDDEN = {"p95 500 ms", "30 days", "monthly rotation", "02:00 UTC"}


def test_messages_follow_a_stack_config_file(pack: Pack) -> None:
    """A stack's policy config (not limits.json) changes the numbers the messages print; a
    schedule that is not daily is shown as the cron itself."""
    resources = c.stack(latency=None, rotation=None, job=None)
    user = {
        "aws-cloudwatch-latency-alarm": {"latencyP95Ms": 350},
        "aws-secretsmanager-rotation": {"maxRotationDays": 7},
        "gcp-firestore-export-schedule": {"schedule": "0 4 * * 1", "timeZone": "Europe/Paris"},
    }
    with pack.configured(user):
        found = pack.analyze_stack(resources)
    texts = {d.policy: d.message for d in found}
    assert "at 350 ms or lower" in texts["aws-cloudwatch-latency-alarm"]
    assert "at least every 7 days" in texts["aws-secretsmanager-rotation"]
    schedule = texts["gcp-firestore-export-schedule"]
    assert 'backs up on the schedule "0 4 * * 1" (Europe/Paris)' in schedule
    patterns = {**RUNBOOK_LITERALS, **WORDINGS}
    overridden = {name: patterns[name] for name in OVERRIDDEN}
    typed = [f"{d.policy}: {d.message}" for d in found if old_numbers(d.message, overridden)]
    assert not typed, "\n".join(typed)
