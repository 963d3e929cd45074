"""Typed, frozen settings parsed once from a stack's configuration (docs/design.md#contract-config).

`parse_settings` is a pure function from the raw configuration (``{"spendsense:api": {...},
"aws:region": "us-east-1", ...}``) to a `Settings` object. Every rule that can be checked
before anything is created is checked here, and a bad value becomes one `SettingsError` line
that names the key as written in the stack file, what is allowed and what was given::

    spendsense:api.cpu: must be one of 0.25 vCPU, 0.5 vCPU, 1 vCPU, 2 vCPU, 4 vCPU (got "3 vCPU")

Differences between stacks live in the stack files only; nothing here looks at a stack's name.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlparse

import pulumi
from croniter import croniter
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, model_validator
from pydantic.alias_generators import to_camel

REPO_ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "spendsense"

# App Runner's instance sizes and CloudWatch's retention values come from the same data file
# the policy pack and `spendsense scale` read (one source of truth for those numbers).
LIMITS_FILE = REPO_ROOT / "policies" / "limits.json"
_LIMITS = json.loads(LIMITS_FILE.read_text(encoding="utf-8"))
# Each CPU and the memory sizes App Runner allows with it.
CPU_MEMORY_PAIRS: dict[str, tuple[str, ...]] = {
    cpu: tuple(memories) for cpu, memories in _LIMITS["apprunner"]["cpuMemoryPairs"].items()
}
MEMORY_SIZES: tuple[str, ...] = tuple(
    sorted({m for ms in CPU_MEMORY_PAIRS.values() for m in ms}, key=lambda m: float(m.split()[0]))
)
# The retention values CloudWatch Logs accepts (PutRetentionPolicy).
LOG_RETENTION_DAYS: tuple[int, ...] = tuple(_LIMITS["cloudwatch"]["logRetentionDays"])
STACK_ENVIRONMENTS = ("staging", "production")
# Variable names that look like secrets (the same pattern the policy pack uses).
SECRET_NAME_RE = re.compile(_LIMITS["secrets"]["secretNamePattern"])
# Variables the program sets itself, and App Runner's own prefix.
RESERVED_VARIABLES = ("ENVIRONMENT", "JWT_SECRETS", "PORT")
RESERVED_VARIABLE_PREFIX = "AWSAPPRUNNER"
# local@domain.tld: no spaces, no empty label in the domain (a@.x.com, a@x..com are refused).
EMAIL_RE = re.compile(r"^[^@\s]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}$")
# AWS Budgets notifies at most 10 e-mail addresses per notification.
MAX_ALERT_EMAILS = 10


class SettingsError(pulumi.RunError):
    """A bad stack setting. Pulumi prints a RunError as its message alone, without a traceback."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"{key}: {problem}")


# ---------------------------------------------------------------------------------------------
# Reusable field rules. Each raises ValueError with the text that follows "<key>: ".
# ---------------------------------------------------------------------------------------------
T = TypeVar("T")


def _got(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


def _num(bound: float) -> str:
    """1000000, not 1e+06; 0.01 stays 0.01."""
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


def between(lo: float, hi: float) -> Callable[[T], T]:
    def check(value: T) -> T:
        if not lo <= value <= hi:  # type: ignore[operator]
            raise ValueError(f"must be between {_num(lo)} and {_num(hi)} (got {_got(value)})")
        return value

    return check


def one_of(*allowed: Any) -> Callable[[T], T]:
    def check(value: T) -> T:
        if value not in allowed:
            raise ValueError(
                f"must be one of {', '.join(str(a) for a in allowed)} (got {_got(value)})"
            )
        return value

    return check


def matches(pattern: str, what: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"must be {what} (got {_got(value)})")
        return value

    return check


def _https_url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme != "https" or not parsed.hostname or " " in value:
        raise ValueError(
            f"must be an https:// URL such as https://app.example.com (got {_got(value)})"
        )
    return value.rstrip("/")


def _path_in_url(value: str) -> str:
    # Route 53 health checks take a resource path of at most 255 characters.
    if not value.startswith("/") or " " in value or len(value) > 255:
        raise ValueError(
            f"must be a URL path starting with /, at most 255 characters, such as /health "
            f"(got {_got(value)})"
        )
    return value


def _site_url(value: str) -> str:
    """An https URL of a site's root: the health check probes its host on 443 at /."""
    value = _https_url(value)
    parsed = urlparse(value)
    if parsed.port not in (None, 443) or parsed.path not in ("", "/") or parsed.query:
        raise ValueError(
            "must be the site's root, https://host with no port, path or query, such as "
            f"https://app.example.com (got {_got(value)})"
        )
    return value


def _cron(value: str) -> str:
    if len(value.split()) != 5 or not croniter.is_valid(value):
        raise ValueError(
            f'must be a 5-field cron expression such as "0 2 * * *" (got {_got(value)})'
        )
    return value


def _time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"must be an IANA time zone such as UTC or America/New_York (got {_got(value)})"
        ) from None
    return value


def _existing_file(value: str) -> str:
    path = resolve_repo_path(value)
    if not path.is_file():
        raise ValueError(
            f"must name an existing file, relative to the repository root or absolute "
            f"(got {_got(value)}, looked at {path})"
        )
    return value


def _emails(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise ValueError("must list at least one e-mail address (got an empty list)")
    if len(value) > MAX_ALERT_EMAILS:
        raise ValueError(
            f"must list at most {MAX_ALERT_EMAILS} addresses, the most an AWS budget notifies; "
            f"use a mailing list (got {len(value)})"
        )
    seen: set[str] = set()
    for address in value:
        if address.lower() in seen:
            raise ValueError(
                f"must list each address once: SNS keeps one subscription per address "
                f"(got {_got(address)} twice)"
            )
        seen.add(address.lower())
    for address in value:
        if not EMAIL_RE.fullmatch(address):
            raise ValueError(
                f"must be e-mail addresses like oncall@example.com (got {_got(address)})"
            )
    return value


def _plain_variables(value: dict[str, str]) -> dict[str, str]:
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
        if SECRET_NAME_RE.search(name):
            raise ValueError(
                f"must not hold secrets: {name} looks like one; store it in Secrets Manager and "
                f"pass it as a runtime secret instead (got {_got(name)})"
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


def resolve_repo_path(value: str) -> Path:
    """Paths in settings are relative to the repository root, whichever file named them."""
    path = Path(value)
    return path if path.is_absolute() else REPO_ROOT / path


Percent = Annotated[float, AfterValidator(between(0.01, 100))]
Threshold = Annotated[int, AfterValidator(between(1, 20))]
Name = Annotated[str, AfterValidator(matches(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", "lower-case letters, digits and dashes, 3-63 characters"))]  # fmt: skip


class _Model(BaseModel):
    """Stack settings: camelCase keys in YAML, snake_case in Python, frozen, no unknown keys."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        # Strict: `deleteProtection: "yes"` or `minInstances: "2"` is an error, not a guess.
        # Values are validated as JSON (see _parse_object), so lists fill tuples.
        strict=True,
    )


# ---------------------------------------------------------------------------------------------
# spendsense:api
# ---------------------------------------------------------------------------------------------
class ApiSettings(_Model):
    service_name: Annotated[str, AfterValidator(matches(r"[A-Za-z0-9][A-Za-z0-9_-]{3,39}", "an App Runner service name: 4-40 letters, digits, - or _"))]  # fmt: skip
    cpu: Annotated[str, AfterValidator(one_of(*CPU_MEMORY_PAIRS))]
    memory: Annotated[str, AfterValidator(one_of(*MEMORY_SIZES))]
    min_instances: Annotated[int, AfterValidator(between(1, 25))]
    max_instances: Annotated[int, AfterValidator(between(1, 25))]
    max_concurrency: Annotated[int, AfterValidator(between(1, 200))]
    health_check_path: Annotated[str, AfterValidator(_path_in_url)] = "/health"
    health_check_interval: Threshold = 10
    health_check_timeout: Threshold = 5
    healthy_threshold: Threshold = 1
    unhealthy_threshold: Threshold = 5
    port: Annotated[int, AfterValidator(between(1, 65535))] = 8000
    # The image the service is created with. After that, deployments own the image
    # (`spendsense deploy`): `pulumi up` passes back the one that runs (running_image.py).
    initial_image_tag: Annotated[str, AfterValidator(matches(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", "a Docker image tag"))] = "bootstrap"  # fmt: skip
    # Plain, non-secret environment variables for the API. Secrets never go here.
    environment_variables: Annotated[dict[str, str], AfterValidator(_plain_variables)] = {}

    @model_validator(mode="after")
    def _pairs(self) -> ApiSettings:
        allowed = CPU_MEMORY_PAIRS[self.cpu]
        if self.memory not in allowed:
            raise _FieldError(
                "memory",
                f"must be one of {', '.join(allowed)} with cpu {self.cpu} (got {_got(self.memory)})",
            )
        if self.min_instances > self.max_instances:
            raise _FieldError(
                "minInstances",
                f"must be at most maxInstances ({self.max_instances}) (got {self.min_instances})",
            )
        if self.health_check_timeout > self.health_check_interval:
            raise _FieldError(
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


class RegistrySettings(_Model):
    repository_name: Annotated[str, AfterValidator(matches(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*", "an ECR repository name (lower case, digits, . _ - /)"))]  # fmt: skip
    keep_images: Annotated[int, AfterValidator(between(1, 1000))]
    untagged_expiry_days: Annotated[int, AfterValidator(between(1, 365))] = 7
    # true: `pulumi destroy` deletes the repository with its images (a stack meant to be
    # destroyed and recreated, e.g. staging); false: a repository with images cannot be deleted.
    force_delete: bool = False


class JwtSettings(_Model):
    # The runbook rotates JWT secrets monthly: 30 days or less.
    rotation_days: Annotated[int, AfterValidator(between(1, 30))] = 30
    secret_name: Annotated[str | None, AfterValidator(lambda v: v if v is None else _secret_name(v))] = None  # fmt: skip
    # Days a deleted secret can be restored (7-30); 0 deletes it at once, so a destroyed stack
    # can be recreated with the same secret name (Secrets Manager's DeleteSecret).
    recovery_window_days: Annotated[int, AfterValidator(_recovery_window)] = 30


class MonitoringSettings(_Model):
    dashboard_name: Annotated[str, AfterValidator(matches(r"[A-Za-z0-9_-]{1,255}", "a CloudWatch dashboard name (letters, digits, - and _)"))]  # fmt: skip
    latency_p95_ms: Annotated[int, AfterValidator(between(1, 60000))]
    error_rate_percent: Percent
    availability_percent: Percent
    cpu_percent: Percent
    memory_percent: Percent
    log_retention_days: Annotated[int, AfterValidator(one_of(*LOG_RETENTION_DAYS))]
    # The error-rate alarm judges a minute only when it served at least this many requests.
    error_rate_min_requests: Annotated[int, AfterValidator(between(1, 100_000))] = 50
    alert_emails: Annotated[tuple[str, ...], AfterValidator(_emails)]
    monthly_budget_usd: Annotated[float, AfterValidator(between(1, 1_000_000))] = 200
    # "environment" (default: stacks share an account): only resources tagged
    # Environment=<environment>; the tag must first be activated as a cost allocation tag in
    # the billing console, or the budget sees nothing. "account": the whole account's cost,
    # for one AWS account per environment.
    budget_scope: Annotated[str, AfterValidator(one_of("account", "environment"))] = "environment"


class FirestoreSettings(_Model):
    location: Annotated[str, AfterValidator(matches(r"[a-z0-9-]+", "a Firestore location such as nam5 or us-east1"))]  # fmt: skip
    rules_file: Annotated[str, AfterValidator(_existing_file)]
    indexes_file: Annotated[str | None, AfterValidator(lambda v: v if v is None else _existing_file(v))] = None  # fmt: skip
    database: Annotated[str, AfterValidator(matches(r"\(default\)|[a-z][a-z0-9-]{2,61}[a-z0-9]", "(default) or a database id: 4-63 lower-case letters, digits and dashes, starting with a letter"))] = "(default)"  # fmt: skip
    delete_protection: bool = True
    point_in_time_recovery: bool = True
    read_latency_ms: Annotated[int, AfterValidator(between(1, 60000))] = 100
    write_latency_ms: Annotated[int, AfterValidator(between(1, 60000))] = 200
    # Security-rules denials per minute that count as a spike (the runbook's "Permission Denied").
    denied_requests_per_minute: Annotated[int, AfterValidator(between(1, 1_000_000))] = 50
    # Native mode's default; OPTIMISTIC changes how every transaction behaves (docs/gcp-vercel.md).
    concurrency_mode: Annotated[str, AfterValidator(one_of("PESSIMISTIC", "OPTIMISTIC"))] = "PESSIMISTIC"  # fmt: skip

    @model_validator(mode="after")
    def _indexes_format(self) -> FirestoreSettings:
        """The indexes file must be the Firebase CLI's firestore.indexes.json format."""
        import json

        if self.indexes_file is None:
            return self
        path = resolve_repo_path(self.indexes_file)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise _FieldError(
                "indexesFile",
                f"must be a JSON file in the firestore.indexes.json format (got {path}: {exc})",
            ) from None
        if (
            not isinstance(document, dict)
            or not isinstance(document.get("indexes", []), list)
            or not isinstance(document.get("fieldOverrides", []), list)
        ):
            raise _FieldError(
                "indexesFile",
                'must hold an object with "indexes" and "fieldOverrides" lists, as '
                f"`firebase firestore:indexes` writes it (got {path})",
            )
        return self


class BackupSettings(_Model):
    bucket_name: Annotated[str, AfterValidator(matches(r"[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]", "a GCS bucket name (lower case, digits, . _ -, 3-63 characters)"))]  # fmt: skip
    location: Annotated[str, AfterValidator(matches(r"[A-Za-z0-9-]+", "a GCS location such as US or us-east1"))]  # fmt: skip
    retention_days: Annotated[int, AfterValidator(between(1, 3650))]
    schedule: Annotated[str, AfterValidator(_cron)]
    time_zone: Annotated[str, AfterValidator(_time_zone)]
    manual_retention_days: Annotated[int, AfterValidator(between(1, 3650))] = 365
    lock_retention_policy: bool = False
    soft_delete_days: Annotated[int, AfterValidator(between(7, 90))] = 7
    test_project: Annotated[str | None, AfterValidator(lambda v: v if v is None else matches(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", "a GCP project id")(v))] = None  # fmt: skip
    # Where the export's Cloud Workflows workflow and Cloud Scheduler job run (a region, not a
    # multi-region; us-central1 is inside nam5).
    region: Annotated[str, AfterValidator(matches(r"[a-z]+-[a-z]+[0-9]+", "a GCP region such as us-central1"))] = "us-central1"  # fmt: skip
    # The workflow's name: alerts and `gcloud workflows run` refer to it.
    workflow_name: Annotated[str, AfterValidator(matches(r"[a-z][a-z0-9-]{2,62}", "a workflow name: 3-63 lower-case letters, digits and dashes, starting with a letter"))] = "firestore-daily-export"  # fmt: skip
    # Alert when no export has completed for this long (a daily schedule plus some slack).
    max_export_age_hours: Annotated[int, AfterValidator(between(25, 168))] = 26
    # The bucket that receives the backup bucket's access logs (default: <bucketName>-logs).
    access_log_bucket_name: Annotated[str | None, AfterValidator(lambda v: v if v is None else matches(r"[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]", "a GCS bucket name (lower case, digits, . _ -, 3-63 characters)")(v))] = None  # fmt: skip
    access_log_retention_days: Annotated[int, AfterValidator(between(1, 3650))] = 365
    # false where Domain Restricted Sharing refuses cloud-storage-analytics@google.com: Cloud
    # Audit Logs (data access, storage.googleapis.com) record the bucket's access instead.
    usage_logs: bool = True

    @model_validator(mode="after")
    def _manual_kept_longer(self) -> BackupSettings:
        if self.manual_retention_days < self.retention_days:
            raise _FieldError(
                "manualRetentionDays",
                f"must be at least retentionDays ({self.retention_days}) (got {self.manual_retention_days})",
            )
        if self.access_log_bucket_name is None and len(self.log_bucket_name) > 63:
            raise _FieldError(
                "accessLogBucketName",
                f"is required when bucketName is longer than 58 characters "
                f"(the default {self.log_bucket_name} is over 63)",
            )
        if self.access_log_bucket_name == self.bucket_name:
            raise _FieldError(
                "accessLogBucketName",
                f"must differ from bucketName (got {_got(self.access_log_bucket_name)})",
            )
        return self

    @property
    def log_bucket_name(self) -> str:
        """The access-log bucket: the setting, or `<bucketName>-logs`."""
        return self.access_log_bucket_name or f"{self.bucket_name}-logs"


class FrontendSettings(_Model):
    url: Annotated[str, AfterValidator(_site_url)]
    vercel_project_id: Annotated[str, AfterValidator(matches(r"\S+", "a Vercel project id such as prj_..."))]  # fmt: skip
    vercel_team_id: Annotated[str | None, AfterValidator(lambda v: v if v is None else matches(r"team_[A-Za-z0-9]+", "a Vercel team id such as team_abc123")(v))] = None  # fmt: skip
    api_url: Annotated[str | None, AfterValidator(lambda v: v if v is None else _https_url(v))] = None  # fmt: skip
    # Which Vercel deployments read this stack's API: production or pull-request previews.
    target: Annotated[str, AfterValidator(one_of("production", "preview"))] = "production"
    # true where the Vercel team enforces sensitive environment variables.
    sensitive_variables: bool = False


class Settings(BaseModel):
    """Everything the program needs, read once per run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    aws_region: str
    gcp_project: str
    environment: Literal["staging", "production"]
    protect_stateful_resources: bool
    # The IAM policy every role of the program carries as its permissions boundary (the CI
    # deploy role may only create roles that carry it: docs/ci.md). None: no boundary.
    iam_permissions_boundary: str | None = None
    api: ApiSettings
    registry: RegistrySettings
    jwt: JwtSettings
    monitoring: MonitoringSettings
    firestore: FirestoreSettings
    backup: BackupSettings
    frontend: FrontendSettings

    @property
    def tags(self) -> dict[str, str]:
        """AWS tags on every taggable resource, set explicitly (docs/design.md#tags)."""
        return {"Project": "spendsense", "Environment": self.environment, "ManagedBy": "pulumi"}

    @property
    def labels(self) -> dict[str, str]:
        """GCP labels (lower-case keys) set on every labelable resource."""
        return {"project": "spendsense", "environment": self.environment, "managed-by": "pulumi"}


class _FieldError(ValueError):
    """Raised by a model validator to blame one field (by its YAML name)."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(problem)


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------
_OBJECTS: dict[str, type[_Model]] = {
    "api": ApiSettings,
    "registry": RegistrySettings,
    "jwt": JwtSettings,
    "monitoring": MonitoringSettings,
    "firestore": FirestoreSettings,
    "backup": BackupSettings,
    "frontend": FrontendSettings,
}
_OPTIONAL_OBJECTS = {"jwt"}  # every field has a default
_SCALARS = {"environment", "protectStatefulResources", "iamPermissionsBoundary"}
_FOREIGN_REQUIRED = {
    "aws:region": "an AWS region such as us-east-1",
    "gcp:project": "a GCP project id",
}


def describe_problem(error: Mapping[str, Any], allowed: str | None = None) -> str:
    """The text after "<key>: " for one pydantic error (`allowed`: the model's known keys)."""
    ctx = error.get("ctx") or {}
    inner = ctx.get("error")
    if isinstance(inner, ValueError):
        return str(inner)
    kind = error["type"]
    value = error.get("input")
    if kind == "missing":
        return "is required; add it to the stack file"
    if kind == "extra_forbidden":
        listed = f" (allowed: {allowed})" if allowed else ""
        return f"is not a known setting{listed}; check the spelling"
    if kind.startswith("int_"):
        return f"must be a whole number (got {_got(value)})"
    if kind.startswith("float_"):
        return f"must be a number (got {_got(value)})"
    if kind.startswith("bool_"):
        return f"must be true or false (got {_got(value)})"
    if kind.startswith("string_"):
        return f"must be a string (got {_got(value)})"
    if kind in {"tuple_type", "list_type"}:
        return f"must be a list (got {_got(value)})"
    if kind in {"dict_type", "model_type"}:
        return f"must be a mapping of keys to values (got {_got(value)})"
    return str(error["msg"]).removeprefix("Value error, ")


def _describe_pydantic_error(error: Mapping[str, Any], model: type[_Model]) -> tuple[str, str]:
    """Turn one pydantic error into (field path as written in YAML, problem)."""
    inner = (error.get("ctx") or {}).get("error")
    if isinstance(inner, _FieldError):
        return inner.field, str(inner)
    allowed = ", ".join(field.alias or name for name, field in model.model_fields.items())
    return ".".join(str(part) for part in error["loc"]), describe_problem(error, allowed)


def _parse_object(name: str, raw: Any) -> _Model:
    model = _OBJECTS[name]
    key = f"{NAMESPACE}:{name}"
    if not isinstance(raw, Mapping):
        raise SettingsError(key, f"must be a mapping of settings (got {_got(raw)})")
    try:
        # As JSON: strict mode then accepts a YAML list for a tuple and an int for a float, and
        # nothing else that is not already the right type.
        return model.model_validate_json(json.dumps(dict(raw), default=str))
    except ValidationError as exc:
        field, problem = _describe_pydantic_error(exc.errors()[0], model)
        raise SettingsError(f"{key}.{field}" if field else key, problem) from None


def parse_settings(raw: Mapping[str, Any]) -> Settings:
    """Parse a stack's configuration (full keys, structured values already decoded)."""
    for key in raw:
        namespace, _, name = key.partition(":")
        if namespace == NAMESPACE and name not in _OBJECTS and name not in _SCALARS:
            known = ", ".join(f"{NAMESPACE}:{k}" for k in sorted([*_OBJECTS, *_SCALARS]))
            raise SettingsError(
                key, f"is not a known setting (allowed: {known}); check the spelling"
            )
    for key, what in _FOREIGN_REQUIRED.items():
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise SettingsError(key, f"is required: {what}")
    if raw["aws:region"] != "us-east-1":
        # Route 53 health-check metrics (the availability alarms) exist only in us-east-1.
        raise SettingsError(
            "aws:region",
            f'must be us-east-1, where Route 53 health-check metrics live (got "{raw["aws:region"]}")',
        )
    environment = raw.get(f"{NAMESPACE}:environment")
    if environment not in STACK_ENVIRONMENTS:
        raise SettingsError(
            f"{NAMESPACE}:environment",
            f"must be one of {', '.join(STACK_ENVIRONMENTS)} (got {_got(environment)})",
        )
    protect = raw.get(f"{NAMESPACE}:protectStatefulResources", True)
    if isinstance(protect, str) and protect.lower() in {"true", "false"}:
        protect = protect.lower() == "true"
    if not isinstance(protect, bool):
        raise SettingsError(
            f"{NAMESPACE}:protectStatefulResources", f"must be true or false (got {_got(protect)})"
        )
    boundary = raw.get(f"{NAMESPACE}:iamPermissionsBoundary")
    if boundary is not None and (
        not isinstance(boundary, str) or not re.fullmatch(r"[\w+=,.@-]{1,128}", boundary)
    ):
        raise SettingsError(
            f"{NAMESPACE}:iamPermissionsBoundary",
            f"must be the name of an IAM managed policy such as spendsense-workload-boundary (got {_got(boundary)})",
        )
    objects: dict[str, _Model] = {}
    for name in _OBJECTS:
        key = f"{NAMESPACE}:{name}"
        if key not in raw:
            if name in _OPTIONAL_OBJECTS:
                objects[name] = _OBJECTS[name]()
                continue
            raise SettingsError(
                key, "is required; add it to the stack file (see docs/configuration.md)"
            )
        objects[name] = _parse_object(name, raw[key])
    return Settings(
        aws_region=raw["aws:region"],
        gcp_project=raw["gcp:project"],
        environment=environment,
        protect_stateful_resources=protect,
        iam_permissions_boundary=boundary,
        **objects,  # type: ignore[arg-type]
    )


def read_pulumi_config() -> dict[str, Any]:
    """The running stack's configuration (engine or mock runtime), structured values decoded."""
    import json
    import os

    from pulumi.runtime import config as runtime_config

    raw: dict[str, Any] = {}
    sources: list[Mapping[str, Any]] = []
    if "PULUMI_CONFIG" in os.environ:
        sources.append(json.loads(os.environ["PULUMI_CONFIG"]))
    sources.append(runtime_config.CONFIG.get())
    for source in sources:
        for key, value in source.items():
            raw[key] = _decode(value)
    return raw


def load_from_pulumi() -> Settings:
    """Read the running stack's configuration and parse it."""
    return parse_settings(read_pulumi_config())


def _decode(value: Any) -> Any:
    """Structured config values reach the program as JSON strings."""
    import json

    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
