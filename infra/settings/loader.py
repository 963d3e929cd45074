"""The top-level `Settings` and `parse_settings`, the pure function from a stack's raw
configuration to it, and the readers of the running stack's configuration.
"""

from __future__ import annotations

import json
import os
import re
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from infra.settings.alerting import misplaced_parameter
from infra.settings.aws import ApiSettings, JwtSettings, MonitoringSettings, RegistrySettings
from infra.settings.gcp_vercel import BackupSettings, FirestoreSettings, FrontendSettings
from infra.settings.rules import (
    NAMESPACE,
    STACK_ENVIRONMENTS,
    FieldError,
    Model,
    SettingsError,
    _got,
)
from infra.settings.security import SecuritySettings


class Settings(BaseModel):
    """Everything the program needs, read once per run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    aws_region: Annotated[
        str,
        Field(
            description=(
                "Where the API, ECR, alarms and secret live: `us-east-1`, the runbook's region and "
                "the only one with Route 53 health-check metrics."
            )
        ),
    ]
    gcp_project: Annotated[
        str, Field(description="The Firestore project's id (`spendsense-production`).")
    ]
    environment: Annotated[
        Literal["staging", "production"],
        Field(
            description=(
                "`staging` or `production`: the `Environment` tag / `environment` label, and the "
                "stack the outputs belong to."
            )
        ),
    ]
    protect_stateful_resources: Annotated[
        bool,
        Field(
            description=(
                "`protect` + `retain_on_delete` on the ECR repository, the JWT secret, the alert "
                "topic's KMS key, the Firestore database and the backup bucket."
            )
        ),
    ] = True
    # The CI deploy role may only create roles that carry it (docs/ci.md).
    iam_permissions_boundary: Annotated[
        str | None,
        Field(
            description=(
                "The IAM managed policy every IAM role the program creates carries as its "
                "permissions boundary (`spendsense-workload-boundary-<environment>`, one per "
                "environment, from `infra/ci_trust/`); none: no boundary."
            )
        ),
    ] = None
    api: Annotated[ApiSettings, Field(description="App Runner: the API service.")]
    registry: Annotated[RegistrySettings, Field(description="ECR: the API image's repository.")]
    jwt: Annotated[
        JwtSettings, Field(description="Secrets Manager: the JWT signing secret (optional).")
    ]
    monitoring: Annotated[
        MonitoringSettings,
        Field(description="CloudWatch alarms, dashboard, Route 53 health checks, budget."),
    ]
    firestore: Annotated[
        FirestoreSettings,
        Field(description="The Firestore database, its rules, indexes and alerts."),
    ]
    backup: Annotated[
        BackupSettings, Field(description="The daily Firestore export and its bucket.")
    ]
    frontend: Annotated[FrontendSettings, Field(description="The Vercel frontend's API URL.")]
    security: Annotated[
        SecuritySettings,
        Field(description="Failed authentications: the log fields, the metric filter, its alarm."),
    ] = SecuritySettings()

    @property
    def tags(self) -> dict[str, str]:
        """AWS tags on every taggable resource, set explicitly (docs/design.md#tags)."""
        return {"Project": "spendsense", "Environment": self.environment, "ManagedBy": "pulumi"}

    @property
    def labels(self) -> dict[str, str]:
        """GCP labels (lower-case keys) set on every labelable resource."""
        return {"project": "spendsense", "environment": self.environment, "managed-by": "pulumi"}


OBJECTS: dict[str, type[Model]] = {
    "api": ApiSettings,
    "registry": RegistrySettings,
    "jwt": JwtSettings,
    "monitoring": MonitoringSettings,
    "firestore": FirestoreSettings,
    "backup": BackupSettings,
    "frontend": FrontendSettings,
    "security": SecuritySettings,
}
OPTIONAL_OBJECTS = {"jwt", "security"}  # every field has a default
_SCALARS = {"environment", "protectStatefulResources", "iamPermissionsBoundary"}
_FOREIGN_REQUIRED = {
    "aws:region": "an AWS region such as us-east-1",
    "gcp:project": "a GCP project id",
}


# Keys a stack file may still have from before they were replaced: (object, key) -> the fix.
# (A "before" model validator would do, but it makes pydantic validate the object in Python
# mode, where strict mode refuses a JSON list for a tuple.)
RENAMED: dict[tuple[str, str], str] = {
    ("monitoring", "alertEmails"): (
        "was replaced by alertRoutes: list the addresses per severity, e.g. alertRoutes: "
        "{P0: [{email: a@example.com}], P1: [...], P2: [...], P3: [...]} (docs/alerting.md)"
    ),
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


def _describe_pydantic_error(error: Mapping[str, Any], model: type[Model]) -> tuple[str, str]:
    """Turn one pydantic error into (field path as written in YAML, problem)."""
    inner = (error.get("ctx") or {}).get("error")
    if isinstance(inner, FieldError):
        return inner.field, str(inner)
    owner = _model_at(model, error["loc"][:-1])
    allowed = ", ".join(field.alias or name for name, field in owner.model_fields.items())
    return ".".join(str(part) for part in error["loc"]), describe_problem(error, allowed)


def _model_at(model: type[BaseModel], path: Any) -> type[BaseModel]:
    """The nested model at a pydantic error location (list indexes skipped), so an unknown
    key is listed against its own model's keys (`alertRoutes.P4`: P0, P1, P2, P3)."""
    for part in path:
        if isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        found = _nested_model(field.annotation) if field else None
        if found is None:
            return model
        model = found
    return model


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


def _parse_object(name: str, raw: Any) -> Model:
    model = OBJECTS[name]
    key = f"{NAMESPACE}:{name}"
    if not isinstance(raw, Mapping):
        raise SettingsError(key, f"must be a mapping of settings (got {_got(raw)})")
    for (owner, old), fix in RENAMED.items():
        if owner == name and old in raw:
            raise SettingsError(f"{key}.{old}", fix)
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
        if namespace == NAMESPACE and name not in OBJECTS and name not in _SCALARS:
            known = ", ".join(f"{NAMESPACE}:{k}" for k in sorted([*OBJECTS, *_SCALARS]))
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
            "must be us-east-1, where Route 53 health-check metrics live (got "
            f'"{raw["aws:region"]}")',
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
            "must be the name of an IAM managed policy such as spendsense-workload-boundary (got "
            f"{_got(boundary)})",
        )
    objects: dict[str, Model] = {}
    for name in OBJECTS:
        key = f"{NAMESPACE}:{name}"
        if key not in raw:
            if name in OPTIONAL_OBJECTS:
                objects[name] = OBJECTS[name]()
                continue
            raise SettingsError(
                key, "is required; add it to the stack file (see docs/configuration.md)"
            )
        objects[name] = _parse_object(name, raw[key])
    monitoring = objects["monitoring"]
    misplaced = isinstance(monitoring, MonitoringSettings) and misplaced_parameter(
        monitoring.alert_routes, environment
    )
    if misplaced:
        raise SettingsError(f"{NAMESPACE}:monitoring.{misplaced[0]}", misplaced[1])
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
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
