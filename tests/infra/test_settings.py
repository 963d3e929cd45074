"""Settings rules (infra/settings/): each bad value stops the program with one exact line.

The messages name the key as written in the stack file, what is allowed and what was given.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from infra.limits import limits
from infra.settings import SettingsError, parse_settings
from tests.infra.conftest import DELETE, record, stack_values, with_changes

LIMITS = limits()


def error_for(changes: dict[str, Any], stack: str = "production") -> str:
    with pytest.raises(SettingsError) as caught:
        parse_settings(with_changes(stack, changes))
    return str(caught.value)


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_both_stack_files_parse(stack: str) -> None:
    settings = parse_settings(stack_values(stack))
    assert settings.environment == stack


def test_production_matches_the_runbook() -> None:
    """Production's explicit values are the runbook's limits (policies/limits.json): 2 vCPU /
    4 GB, 500 ms p95, 1% errors, 99.9%, 70/80%, 30 days at 02:00 UTC."""
    s = parse_settings(stack_values("production"))
    app, cw, backup = LIMITS.apprunner, LIMITS.cloudwatch, LIMITS.backup
    assert (s.api.cpu, s.api.memory) == (app.max_cpu, app.max_memory)
    assert s.api.health_check_path == app.health_check_path
    assert s.monitoring.dashboard_name == cw.dashboard_name_prefix
    assert (s.monitoring.latency_p95_ms, s.monitoring.error_rate_percent) == (
        cw.latency_p95_ms,
        cw.error_rate_percent,
    )
    assert s.monitoring.availability_percent == cw.availability_percent
    assert (s.monitoring.cpu_percent, s.monitoring.memory_percent) == (
        cw.cpu_percent,
        cw.memory_percent,
    )
    assert (s.backup.retention_days, s.backup.schedule, s.backup.time_zone) == (
        backup.retention_days,
        backup.schedule,
        backup.time_zone,
    )
    assert s.backup.bucket_name == backup.bucket_name
    assert s.gcp_project == "spendsense-production"
    assert s.jwt.rotation_days <= LIMITS.secrets.max_rotation_days
    assert s.protect_stateful_resources is True


MESSAGES = [
    (
        {"spendsense:api.cpu": "3 vCPU"},
        'spendsense:api.cpu: must be one of 0.25 vCPU, 0.5 vCPU, 1 vCPU, 2 vCPU, 4 vCPU (got "3 '
        'vCPU")',
    ),
    (
        {"spendsense:api.memory": "5 GB"},
        "spendsense:api.memory: must be one of 0.5 GB, 1 GB, 2 GB, 3 GB, 4 GB, 6 GB, 8 GB, 10 GB, "
        '12 GB (got "5 GB")',
    ),
    (
        {"spendsense:api.memory": "2 GB"},
        'spendsense:api.memory: must be one of 4 GB, 6 GB with cpu 2 vCPU (got "2 GB")',
    ),
    (
        {"spendsense:api.maxConcurrency": 500},
        "spendsense:api.maxConcurrency: must be between 1 and 200 (got 500)",
    ),
    (
        {"spendsense:api.minInstances": 0},
        "spendsense:api.minInstances: must be between 1 and 25 (got 0)",
    ),
    (
        {"spendsense:api.maxInstances": 26},
        "spendsense:api.maxInstances: must be between 1 and 25 (got 26)",
    ),
    (
        {"spendsense:api.minInstances": 12},
        "spendsense:api.minInstances: must be at most maxInstances (10) (got 12)",
    ),
    (
        {"spendsense:api.minInstances": "two"},
        'spendsense:api.minInstances: must be a whole number (got "two")',
    ),
    (
        {"spendsense:api.healthCheckInterval": 30},
        "spendsense:api.healthCheckInterval: must be between 1 and 20 (got 30)",
    ),
    (
        {"spendsense:api.unhealthyThreshold": 0},
        "spendsense:api.unhealthyThreshold: must be between 1 and 20 (got 0)",
    ),
    (
        {"spendsense:api.healthCheckTimeout": 15},
        "spendsense:api.healthCheckTimeout: must be at most healthCheckInterval (10) (got 15)",
    ),
    (
        {"spendsense:api.healthCheckPath": "health"},
        "spendsense:api.healthCheckPath: must be a URL path starting with /, at most 255 "
        "characters, "
        'such as /health (got "health")',
    ),
    (
        {"spendsense:api.cpuu": "1 vCPU"},
        "spendsense:api.cpuu: is not a known setting (allowed: serviceName, cpu, memory, "
        "minInstances, "
        "maxInstances, maxConcurrency, healthCheckPath, healthCheckInterval, healthCheckTimeout, "
        "healthyThreshold, unhealthyThreshold, port, initialImageTag, environmentVariables); check "
        "the spelling",
    ),
    ({"spendsense:api.cpu": DELETE}, "spendsense:api.cpu: is required; add it to the stack file"),
    (
        {"spendsense:apii": {}},
        "spendsense:apii: is not a known setting (allowed: spendsense:api, spendsense:backup, "
        "spendsense:environment, spendsense:firestore, spendsense:frontend, "
        "spendsense:iamPermissionsBoundary, "
        "spendsense:jwt, spendsense:monitoring, spendsense:protectStatefulResources, "
        "spendsense:registry, spendsense:security); "
        "check the spelling",
    ),
    (
        {"spendsense:environment": "prod"},
        'spendsense:environment: must be one of staging, production (got "prod")',
    ),
    (
        {"spendsense:protectStatefulResources": "maybe"},
        'spendsense:protectStatefulResources: must be true or false (got "maybe")',
    ),
    ({"aws:region": DELETE}, "aws:region: is required: an AWS region such as us-east-1"),
    (
        {"aws:region": "eu-west-1"},
        'aws:region: must be us-east-1, where Route 53 health-check metrics live (got "eu-west-1")',
    ),
    (
        {"spendsense:iamPermissionsBoundary": "arn:aws:iam::1:policy/x y"},
        "spendsense:iamPermissionsBoundary: must be the name of an IAM managed policy such as "
        'spendsense-workload-boundary (got "arn:aws:iam::1:policy/x y")',
    ),
    (
        {"spendsense:monitoring": DELETE},
        "spendsense:monitoring: is required; add it to the stack file (see docs/configuration.md)",
    ),
    (
        {"spendsense:monitoring.logRetentionDays": 45},
        "spendsense:monitoring.logRetentionDays: must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, "
        "150, "
        "180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653 (got 45)",
    ),
    (
        {"spendsense:monitoring.alertRoutes.P2": [{"email": "oncall-at-example"}]},
        "spendsense:monitoring.alertRoutes.P2.0: email must be an address like oncall@example.com "
        '(got "oncall-at-example")',
    ),
    (
        {"spendsense:monitoring.alertRoutes.P0": []},
        "spendsense:monitoring.alertRoutes.P0: must list at least one route, e.g. "
        "[{email: oncall@example.com}] (got an empty list)",
    ),
    (
        {"spendsense:monitoring.alertRoutes.P3": DELETE},
        "spendsense:monitoring.alertRoutes.P3: is required; add it to the stack file",
    ),
    (
        {"spendsense:monitoring.errorRatePercent": 150},
        "spendsense:monitoring.errorRatePercent: must be between 0.01 and 100 (got 150.0)",
    ),
    (
        {"spendsense:registry.repositoryName": "SpendSense API"},
        "spendsense:registry.repositoryName: must be an ECR repository name (lower case, digits, . "
        "_ - /) "
        '(got "SpendSense API")',
    ),
    (
        {"spendsense:registry.keepImages": 0},
        "spendsense:registry.keepImages: must be between 1 and 1000 (got 0)",
    ),
    (
        # Secrets Manager's range; the runbook's monthly rotation is the pack's
        # (test_valid_and_allowed).
        {"spendsense:jwt": {"rotationDays": 1001}},
        "spendsense:jwt.rotationDays: must be between 1 and 1000 (got 1001)",
    ),
    (
        {"spendsense:backup.schedule": "every day at 2"},
        'spendsense:backup.schedule: must be a 5-field cron expression such as "0 2 * * *" (got '
        '"every day at 2")',
    ),
    (
        {"spendsense:backup.schedule": "0 25 * * *"},
        'spendsense:backup.schedule: must be a 5-field cron expression such as "0 2 * * *" (got "0 '
        '25 * * *")',
    ),
    (
        {"spendsense:backup.timeZone": "Mars/Olympus"},
        "spendsense:backup.timeZone: must be an IANA time zone such as UTC or America/New_York "
        '(got "Mars/Olympus")',
    ),
    (
        {"spendsense:frontend.apiUrl": "http://api.example.com"},
        "spendsense:frontend.apiUrl: must be an https:// URL such as https://app.example.com "
        '(got "http://api.example.com")',
    ),
    (
        {"spendsense:frontend.url": "not a url"},
        "spendsense:frontend.url: must be an https:// URL such as https://app.example.com (got "
        '"not a url")',
    ),
    (
        {"spendsense:backup.manualRetentionDays": 10},
        "spendsense:backup.manualRetentionDays: must be at least retentionDays (30) (got 10)",
    ),
    (
        {"spendsense:backup.location": "us east"},
        'spendsense:backup.location: must be a GCS location such as US or us-east1 (got "us east")',
    ),
    (
        {"spendsense:backup.testProject": "X"},
        'spendsense:backup.testProject: must be a GCP project id (got "X")',
    ),
    (
        {"spendsense:backup.lockRetentionPolicy": "maybe"},
        'spendsense:backup.lockRetentionPolicy: must be true or false (got "maybe")',
    ),
    (
        {"spendsense:firestore.location": "NAM 5"},
        "spendsense:firestore.location: must be a Firestore location such as nam5 or us-east1 (got "
        '"NAM 5")',
    ),
    (
        {"spendsense:firestore.writeLatencyMs": 0},
        "spendsense:firestore.writeLatencyMs: must be between 1 and 60000 (got 0)",
    ),
    (
        {"spendsense:firestore.deleteProtection": "maybe"},
        'spendsense:firestore.deleteProtection: must be true or false (got "maybe")',
    ),
    (
        {"spendsense:frontend.vercelProjectId": ""},
        'spendsense:frontend.vercelProjectId: must be a Vercel project id such as prj_... (got "")',
    ),
    (
        {"spendsense:registry.untaggedExpiryDays": 400},
        "spendsense:registry.untaggedExpiryDays: must be between 1 and 365 (got 400)",
    ),
    (
        {"spendsense:api.serviceName": "api"},
        "spendsense:api.serviceName: must be an App Runner service name: 4-40 letters, digits, - "
        'or _ (got "api")',
    ),
    (
        {"spendsense:api.port": 70000},
        "spendsense:api.port: must be between 1 and 65535 (got 70000)",
    ),
    (
        {"spendsense:api.initialImageTag": "-bad tag"},
        'spendsense:api.initialImageTag: must be a Docker image tag (got "-bad tag")',
    ),
    (
        {"spendsense:monitoring.dashboardName": "SpendSense API"},
        "spendsense:monitoring.dashboardName: must be a CloudWatch dashboard name (letters, "
        'digits, - and _) (got "SpendSense API")',
    ),
    (
        {"spendsense:monitoring.latencyP95Ms": 0},
        "spendsense:monitoring.latencyP95Ms: must be between 1 and 60000 (got 0)",
    ),
    (
        {"spendsense:monitoring.availabilityPercent": 0},
        "spendsense:monitoring.availabilityPercent: must be between 0.01 and 100 (got 0.0)",
    ),
    (
        {"spendsense:monitoring.monthlyBudgetUsd": 0},
        "spendsense:monitoring.monthlyBudgetUsd: must be between 1 and 1000000 (got 0.0)",
    ),
    (
        {"spendsense:monitoring.budgetScope": "project"},
        'spendsense:monitoring.budgetScope: must be one of account, environment (got "project")',
    ),
    (
        {"spendsense:api.healthCheckPath": "/" + "h" * 255},
        "spendsense:api.healthCheckPath: must be a URL path starting with /, at most 255 "
        "characters, "
        f'such as /health (got "/{"h" * 255}")',
    ),
    (
        {"spendsense:monitoring.alertEmails": ["oncall@example.com"]},
        "spendsense:monitoring.alertEmails: was replaced by alertRoutes: list the addresses per "
        "severity, e.g. alertRoutes: {P0: [{email: a@example.com}], P1: [...], P2: [...], P3: "
        "[...]} (docs/alerting.md)",
    ),
    (
        {
            "spendsense:monitoring.alertRoutes.P1": [
                {"email": "a@example.com"},
                {"email": "A@example.com"},
            ]
        },
        "spendsense:monitoring.alertRoutes.P1: must list each endpoint once (got "
        '"A@example.com" twice)',
    ),
    (
        {"spendsense:monitoring.alertRoutes.P0": [{"sms": "5551234567"}]},
        "spendsense:monitoring.alertRoutes.P0.0: sms must be an E.164 number like +15551234567 "
        '(got "5551234567")',
    ),
    (
        {
            "spendsense:monitoring.alertRoutes.P0": [
                {"https": "https://events.example.com/x?key=abc"}
            ]
        },
        "spendsense:monitoring.alertRoutes.P0.0: https must not carry a key (query or "
        "user:password@): put the URL in an SSM SecureString and name it with httpsUrlParameter",
    ),
    (
        {
            "spendsense:monitoring.alertRoutes.P0": [
                {"email": "a@example.com", "sms": "+15551234567"}
            ]
        },
        "spendsense:monitoring.alertRoutes.P0.0: each route must have exactly one of email, sms, "
        "https, httpsUrlParameter (got email, sms)",
    ),
    (
        {
            "spendsense:monitoring.alertRoutes.P0": [
                {"email": "a@example.com", "cloud": "azure"},
            ]
        },
        "spendsense:monitoring.alertRoutes.P0.0: cloud must be aws or gcp, or left out for both "
        '(got "azure")',
    ),
    (
        # GCP's P2 alerts would notify nobody.
        {"spendsense:monitoring.alertRoutes.P2": [{"email": "a@example.com", "cloud": "aws"}]},
        "spendsense:monitoring.alertRoutes.P2: has no entry for gcp's alerts (every entry has a "
        "cloud other than gcp); add one, or leave `cloud` out of an entry to use it for both",
    ),
    # An unknown key inside a nested object lists that object's keys, not its parent's.
    (
        {"spendsense:monitoring.alertRoutes.P0": [{"pager": "https://events.example.com"}]},
        "spendsense:monitoring.alertRoutes.P0.0.pager: is not a known setting (allowed: email, "
        "sms, https, httpsUrlParameter, cloud); check the spelling",
    ),
    (
        {"spendsense:monitoring.alertRoutes.P4": [{"email": "a@example.com"}]},
        "spendsense:monitoring.alertRoutes.P4: is not a known setting (allowed: P0, P1, P2, P3); "
        "check the spelling",
    ),
    (
        {"spendsense:monitoring.alertRoutes.P0": [{"httpsUrlParameter": "pager url"}]},
        "spendsense:monitoring.alertRoutes.P0.0: httpsUrlParameter must be an SSM parameter name "
        'like /spendsense/production/pager-url (got "pager url")',
    ),
    (
        # A stack pages only through its own path (the only one its CI roles may read).
        {
            "spendsense:monitoring.alertRoutes.P0": [
                {"email": "a@example.com"},
                {"httpsUrlParameter": "/spendsense/staging/pager-url"},
            ]
        },
        "spendsense:monitoring.alertRoutes.P0.1: httpsUrlParameter must name a parameter under "
        "/spendsense/production/, the only path the stack's CI roles may read (got "
        '"/spendsense/staging/pager-url"); create it there (docs/alerting.md)',
    ),
    (
        {"spendsense:monitoring.errorRateMinRequests": 0},
        "spendsense:monitoring.errorRateMinRequests: must be between 1 and 100000 (got 0)",
    ),
    (
        {"spendsense:frontend.url": "https://app.example.com:8443"},
        "spendsense:frontend.url: must be the site's root, https://host with no port, path or "
        "query, "
        'such as https://app.example.com (got "https://app.example.com:8443")',
    ),
    (
        {"spendsense:frontend.url": "https://app.example.com/dashboard"},
        "spendsense:frontend.url: must be the site's root, https://host with no port, path or "
        "query, "
        'such as https://app.example.com (got "https://app.example.com/dashboard")',
    ),
    # Strict types: a string is never guessed into a number or a boolean.
    (
        {"spendsense:firestore.deleteProtection": "yes"},
        'spendsense:firestore.deleteProtection: must be true or false (got "yes")',
    ),
    (
        {"spendsense:firestore.deleteProtection": 1},
        "spendsense:firestore.deleteProtection: must be true or false (got 1)",
    ),
    (
        {"spendsense:api.maxInstances": "10"},
        'spendsense:api.maxInstances: must be a whole number (got "10")',
    ),
    (
        {"spendsense:api.maxInstances": 2.5},
        "spendsense:api.maxInstances: must be a whole number (got 2.5)",
    ),
    (
        {"spendsense:monitoring.cpuPercent": "70"},
        'spendsense:monitoring.cpuPercent: must be a number (got "70")',
    ),
    (
        {"spendsense:api.port": True},
        "spendsense:api.port: must be a whole number (got True)",
    ),
    # The JWT secret's name.
    (
        {"spendsense:jwt": {"secretName": "spendsense api key"}},
        "spendsense:jwt.secretName: must be a Secrets Manager name: 1-512 letters, digits and / _ "
        "+ = . @ - "
        '(got "spendsense api key")',
    ),
    (
        {"spendsense:jwt": {"secretName": "spendsense/jwt-secret"}},
        "spendsense:jwt.secretName: must not end with a hyphen and six characters, which Secrets "
        "Manager "
        "confuses with its ARN suffix; rename it, e.g. spendsense-api/jwt-signing-key "
        '(got "spendsense/jwt-secret")',
    ),
    # Plain environment variables: well-formed, not the program's own (a secret-like name is
    # the pack's to refuse: test_valid_and_allowed.py).
    (
        {"spendsense:api.environmentVariables": {"1BAD": "x"}},
        "spendsense:api.environmentVariables: must be variable names of letters, digits and _, "
        'not starting with a digit (got "1BAD")',
    ),
    (
        {"spendsense:api.environmentVariables": {"JWT_SECRETS": "x"}},
        "spendsense:api.environmentVariables: must not set JWT_SECRETS: the program sets "
        "ENVIRONMENT, "
        "JWT_SECRETS, PORT itself and App Runner reserves AWSAPPRUNNER*; remove it (got "
        '"JWT_SECRETS")',
    ),
    (
        {"spendsense:api.environmentVariables": {"AWSAPPRUNNER_X": "x"}},
        "spendsense:api.environmentVariables: must not set AWSAPPRUNNER_X: the program sets "
        "ENVIRONMENT, "
        "JWT_SECRETS, PORT itself and App Runner reserves AWSAPPRUNNER*; remove it (got "
        '"AWSAPPRUNNER_X")',
    ),
    (
        {"spendsense:api.environmentVariables": {"LOG_LEVEL": 3}},
        "spendsense:api.environmentVariables.LOG_LEVEL: must be a string (got 3)",
    ),
]


@pytest.mark.parametrize(("changes", "message"), MESSAGES, ids=[next(iter(c)) for c, _ in MESSAGES])
def test_bad_value_gives_one_exact_line(changes: dict[str, Any], message: str) -> None:
    assert error_for(changes) == message


def test_rules_file_must_exist() -> None:
    message = error_for({"spendsense:firestore.rulesFile": "firestore/missing.rules"})
    assert message.startswith(
        "spendsense:firestore.rulesFile: must name an existing file, relative to the repository "
        "root "
        'or absolute (got "firestore/missing.rules", looked at '
    )
    assert message.endswith("firestore/missing.rules)")


def test_settings_error_is_a_pulumi_run_error() -> None:
    """Pulumi prints a RunError's message alone, without a traceback."""
    assert issubclass(SettingsError, pulumi.RunError)


def test_the_program_stops_on_a_bad_setting() -> None:
    """The real program, run by the engine (here: the mock runtime), fails with the same line."""
    with pytest.raises(SettingsError, match=r"^spendsense:api\.cpu: must be one of"):
        record("staging", {"spendsense:api.cpu": "3 vCPU"})


def test_settings_are_frozen() -> None:
    settings = parse_settings(stack_values("staging"))
    with pytest.raises(Exception, match="frozen"):
        settings.api.cpu = "4 vCPU"  # type: ignore[misc]
