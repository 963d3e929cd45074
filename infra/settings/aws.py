"""The AWS side's settings: `spendsense:api` (App Runner), `registry` (ECR), `jwt` (Secrets
Manager) and `monitoring` (CloudWatch, Route 53, Budgets).

Each field's `description` is its row in docs/configuration.md (generated: see
infra/settings/reference.py); runbook numbers in them come from `infra.limits.limits()`.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from infra.limits import number
from infra.settings.alerting import AlertRoutesSettings
from infra.settings.rules import (
    CPU_MEMORY_PAIRS,
    LIMITS,
    LOG_RETENTION_DAYS,
    MEMORY_SIZES,
    RESERVED_VARIABLE_PREFIX,
    RESERVED_VARIABLES,
    FieldError,
    Model,
    _got,
    between,
    matches,
    one_of,
    optional,
    path_in_url,
)

_cw = LIMITS.cloudwatch


def _plain_variables(value: dict[str, str]) -> dict[str, str]:
    """Names App Runner accepts and the program does not set itself. Whether a name looks like
    a secret is the policy pack's judgement (aws-apprunner-no-plaintext-secrets), not a
    setting's: the pack knows the exceptions (PASSWORD_MIN_LENGTH=12)."""
    for name in value:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,99}", name):
            raise ValueError(
                f"must be variable names of letters, digits and _, not starting with a digit "
                f"(got {_got(name)})"
            )
        if name in RESERVED_VARIABLES or name.upper().startswith(RESERVED_VARIABLE_PREFIX):
            raise ValueError(
                f"must not set {name}: the program sets {', '.join(RESERVED_VARIABLES)} itself and "
                f"App Runner reserves {RESERVED_VARIABLE_PREFIX}*; remove it (got {_got(name)})"
            )
    return value


def _secret_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9/_+=.@-]{1,512}", value):
        raise ValueError(
            "must be a Secrets Manager name: 1-512 letters, digits and / _ + = . @ - "
            f"(got {_got(value)})"
        )
    if re.search(r"-[A-Za-z0-9]{6}$", value):
        # Secrets Manager appends "-" and six characters to the ARN; a name that already ends
        # that way makes partial-ARN lookups ambiguous (AWS's own advice).
        raise ValueError(
            "must not end with a hyphen and six characters, which Secrets Manager confuses with "
            f"its ARN suffix; rename it, e.g. spendsense-api/jwt-signing-key (got {_got(value)})"
        )
    return value


def _recovery_window(value: int) -> int:
    if value != 0 and not 7 <= value <= 30:
        raise ValueError(f"must be 0 (delete at once) or between 7 and 30 (got {_got(value)})")
    return value


# App Runner's health-check numbers (interval, timeout, thresholds) are each 1-20 (API).
Threshold = Annotated[int, AfterValidator(between(1, 20))]
Percent = Annotated[float, AfterValidator(between(0.01, 100))]
_MAX_CPU, _MAX_MEMORY = LIMITS.apprunner.max_cpu, LIMITS.apprunner.max_memory


class ApiSettings(Model):
    service_name: Annotated[
        str,
        AfterValidator(
            matches(
                r"[A-Za-z0-9][A-Za-z0-9_-]{3,39}",
                "an App Runner service name: 4-40 letters, digits, - or _",
            )
        ),
        Field(
            description=(
                "The App Runner service name (4-40 letters, digits, `-`, `_`); also the prefix of "
                "every alarm (`<serviceName>-latency-p95`, ...). The CI deploy role and the "
                "workload boundary (`infra/ci_trust/`) allow only names that start with "
                "`spendsense`/`SpendSense`: a name outside that prefix deploys only with other "
                "credentials."
            )
        ),
    ]
    cpu: Annotated[
        str,
        AfterValidator(one_of(*CPU_MEMORY_PAIRS)),
        Field(
            description=(
                "Instance CPU, one of App Runner's sizes: "
                f"{', '.join(f'`{c}`' for c in CPU_MEMORY_PAIRS)}. The policy pack allows at most "
                f"{_MAX_CPU}."
            )
        ),
    ]
    memory: Annotated[
        str,
        AfterValidator(one_of(*MEMORY_SIZES)),
        Field(
            description="Instance memory, a size App Runner pairs with `cpu`: "
            + "; ".join(
                f"{c}: {'/'.join(m.split()[0] for m in ms)} GB"
                for c, ms in CPU_MEMORY_PAIRS.items()
            )
            + f". The policy pack allows at most {_MAX_MEMORY}."
        ),
    ]
    min_instances: Annotated[
        int,
        AfterValidator(between(1, 25)),
        Field(description="Autoscaling minimum: 1-25, at most `maxInstances`."),
    ]
    max_instances: Annotated[
        int,
        AfterValidator(between(1, 25)),
        Field(
            description=(
                "Autoscaling maximum: 1-25. The saturation alarm fires at it (none when "
                "`minInstances` equals it: a fixed fleet always runs at its maximum)."
            )
        ),
    ]
    max_concurrency: Annotated[
        int,
        AfterValidator(between(1, 200)),
        Field(description="Requests per instance before scaling out: 1-200."),
    ]
    health_check_path: Annotated[
        str,
        AfterValidator(path_in_url),
        Field(
            description=(
                "App Runner's HTTP health check and the Route 53 availability check: a path "
                "starting with `/`, at most 255 characters (Route 53's limit). The policy pack "
                f"requires `{LIMITS.apprunner.health_check_path}`."
            )
        ),
    ] = "/health"
    health_check_interval: Annotated[
        Threshold, Field(description="Seconds between App Runner's health checks: 1-20.")
    ] = 10
    health_check_timeout: Annotated[
        Threshold,
        Field(description="Seconds a health check may take: 1-20, at most `healthCheckInterval`."),
    ] = 5
    healthy_threshold: Annotated[
        Threshold,
        Field(description="Successful checks before an instance counts as healthy: 1-20."),
    ] = 1
    unhealthy_threshold: Annotated[
        Threshold, Field(description="Failed checks before an instance counts as unhealthy: 1-20.")
    ] = 5
    port: Annotated[
        int, AfterValidator(between(1, 65535)), Field(description="The container's port: 1-65535.")
    ] = 8000
    # After creation, deployments own the image (`spendsense deploy`): `pulumi up` passes back
    # the one that runs (running_image.py).
    initial_image_tag: Annotated[
        str,
        AfterValidator(matches(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", "a Docker image tag")),
        Field(
            description=(
                "The Docker tag of the image the service is created with; afterwards deployments "
                "own the image (see README)."
            )
        ),
    ] = "bootstrap"
    environment_variables: Annotated[
        dict[str, str],
        AfterValidator(_plain_variables),
        Field(
            description=(
                "Plain, non-secret variables for the API: names of letters, digits and `_`; not "
                f"{', '.join(f'`{v}`' for v in RESERVED_VARIABLES)} (the program's own) or "
                f"`{RESERVED_VARIABLE_PREFIX}*` (App Runner's). A name that looks like a secret "
                "(`secrets.secretNamePattern` in `policies/limits.json`) is refused by the policy "
                "pack (`aws-apprunner-no-plaintext-secrets`)."
            )
        ),
    ] = {}

    @model_validator(mode="after")
    def _pairs(self) -> ApiSettings:
        allowed = CPU_MEMORY_PAIRS[self.cpu]
        if self.memory not in allowed:
            raise FieldError(
                "memory",
                f"must be one of {', '.join(allowed)} with cpu {self.cpu} "
                f"(got {_got(self.memory)})",
            )
        if self.min_instances > self.max_instances:
            raise FieldError(
                "minInstances",
                f"must be at most maxInstances ({self.max_instances}) (got {self.min_instances})",
            )
        if self.health_check_timeout > self.health_check_interval:
            raise FieldError(
                "healthCheckTimeout",
                f"must be at most healthCheckInterval ({self.health_check_interval}) "
                f"(got {self.health_check_timeout})",
            )
        return self

    @property
    def cpu_units(self) -> int:
        """The CPU in App Runner's other spelling (1024 units per vCPU)."""
        return int(float(self.cpu.split()[0]) * 1024)

    @property
    def memory_mb(self) -> int:
        return int(float(self.memory.split()[0]) * 1024)


class RegistrySettings(Model):
    repository_name: Annotated[
        str,
        AfterValidator(
            matches(
                r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*",
                "an ECR repository name (lower case, digits, . _ - /)",
            )
        ),
        Field(description="The API image's ECR repository (lower case, digits, `. _ - /`)."),
    ]
    keep_images: Annotated[
        int,
        AfterValidator(between(1, 1000)),
        Field(
            description=(
                "Tagged images kept, 1-1000: how far back `spendsense rollback api` can go. The "
                f"policy pack allows at most {LIMITS.ecr.max_images}."
            )
        ),
    ]
    untagged_expiry_days: Annotated[
        int,
        AfterValidator(between(1, 365)),
        Field(description="Untagged images expire after this many days: 1-365."),
    ] = 7
    force_delete: Annotated[
        bool,
        Field(
            description=(
                "`true`: `pulumi destroy` deletes the repository with its images (staging, which "
                "is destroyed and recreated); `false`: a repository that holds images cannot be "
                "deleted (production)."
            )
        ),
    ] = False


class JwtSettings(Model):
    # Secrets Manager accepts 1-1000 days (RotationRulesType.AutomaticallyAfterDays,
    # https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_RotationRulesType.html);
    # the runbook's monthly rotation is the policy pack's `maxRotationDays`.
    rotation_days: Annotated[
        int,
        AfterValidator(between(1, 1000)),
        Field(
            description=(
                "Automatic rotation period in days: 1-1000 (Secrets Manager's range). The runbook "
                "rotates monthly: the policy pack allows at most "
                f"{LIMITS.secrets.max_rotation_days}."
            )
        ),
    ] = LIMITS.secrets.max_rotation_days
    secret_name: Annotated[
        str | None,
        AfterValidator(optional(_secret_name)),
        Field(
            description=(
                "The Secrets Manager secret's name (default `<serviceName>/jwt-signing-key`): "
                "1-512 of letters, digits, `/ _ + = . @ -`; not ending in `-` and six characters "
                "(Secrets Manager's ARN suffix)."
            )
        ),
    ] = None
    recovery_window_days: Annotated[
        int,
        AfterValidator(_recovery_window),
        Field(
            description=(
                "Days a deleted secret can be restored: 0, or 7-30 (Secrets Manager's "
                "DeleteSecret). `0` deletes it at once, so a destroyed stack (staging) can be "
                "recreated under the same name."
            )
        ),
    ] = 30


class MonitoringSettings(Model):
    dashboard_name: Annotated[
        str,
        AfterValidator(
            matches(
                r"[A-Za-z0-9_-]{1,255}", "a CloudWatch dashboard name (letters, digits, - and _)"
            )
        ),
        Field(
            description=(
                "The CloudWatch dashboard's name (letters, digits, `-`, `_`). The policy pack "
                f"requires the prefix `{_cw.dashboard_name_prefix}`."
            )
        ),
    ]
    latency_p95_ms: Annotated[
        int,
        AfterValidator(between(1, 60000)),
        Field(
            description=(
                "p95 latency alarm threshold in ms: 1-60000. The runbook's target, and the most "
                f"the policy pack allows: {number(_cw.latency_p95_ms)}."
            )
        ),
    ]
    error_rate_percent: Annotated[
        Percent,
        Field(
            description=(
                "5xx / requests alarm threshold in %: 0.01-100. The runbook's target, and the "
                f"most the policy pack allows: {number(_cw.error_rate_percent)}."
            )
        ),
    ]
    availability_percent: Annotated[
        Percent,
        Field(
            description=(
                "The availability target in %, 0.01-100, judged over 24 hours on the Route 53 "
                'health checks\' verdict (`HealthCheckStatus`); separately, "down" (below 1 for '
                "two minutes) pages at once. The runbook's target, and the least the policy pack "
                f"allows: {number(_cw.availability_percent)}."
            )
        ),
    ]
    cpu_percent: Annotated[
        Percent,
        Field(
            description=(
                "CPU alarm threshold in %: 0.01-100. The runbook scales when CPU is above "
                f"{number(_cw.cpu_percent)}, the most the policy pack allows."
            )
        ),
    ]
    memory_percent: Annotated[
        Percent,
        Field(
            description=(
                "Memory alarm threshold in %: 0.01-100. The runbook scales when memory is above "
                f"{number(_cw.memory_percent)}, the most the policy pack allows."
            )
        ),
    ]
    log_retention_days: Annotated[
        int,
        AfterValidator(one_of(*LOG_RETENTION_DAYS)),
        Field(
            description=(
                "Retention of App Runner's and the rotation function's log groups, a value "
                f"CloudWatch accepts: {', '.join(str(d) for d in LOG_RETENTION_DAYS)}. The policy "
                f"pack requires at least {_cw.min_log_retention_days}."
            )
        ),
    ]
    error_rate_min_requests: Annotated[
        int,
        AfterValidator(between(1, 100_000)),
        Field(
            description=(
                "1-100000: a minute with fewer requests gets no error-rate verdict (one 5xx among "
                "20 requests is 5 %); a real outage still pages through availability."
            )
        ),
    ] = 50
    alert_routes: Annotated[
        AlertRoutesSettings,
        Field(
            description=(
                "Where each severity is delivered: `{P0: [...], P1: [...], P2: [...], P3: [...]}`, "
                "entries `{email: ...}`, `{sms: +1...}`, `{https: url}` or `{httpsUrlParameter: "
                "/ssm/name}` (an SSM SecureString holding a URL with a key), each optionally with "
                "`cloud: aws|gcp`. Which alert has which severity: docs/alerting.md. Replaces "
                "`alertEmails`."
            )
        ),
    ]
    monthly_budget_usd: Annotated[
        float,
        AfterValidator(between(1, 1_000_000)),
        Field(
            description=(
                "The monthly AWS budget in USD, 1-1000000 (alerts at 80% actual and 100% forecast)."
            )
        ),
    ] = 200
    budget_scope: Annotated[
        str,
        AfterValidator(one_of("account", "environment")),
        Field(
            description=(
                "What the budget counts: `environment`, only resources tagged "
                "`Environment=<environment>` (while staging and production share an account; "
                "activate `Environment` as a cost allocation tag in the billing console first, or "
                "the budget sees $0), or `account`, the whole AWS account (one account per "
                "environment). Its alerts go to the `budget` severity's topic (docs/alerting.md)."
            )
        ),
    ] = "environment"
