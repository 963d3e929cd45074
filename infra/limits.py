"""The runbook's limits, typed: the one loader of the repository's limit files outside the pack.

Owns reading `policies/limits.json` (the limits the policy pack enforces; the pack reads the same
file through its own loader, `spendsense_policies.config`, so it stays deployable alone) and
`runbook.json` at the repository root (runbook numbers the pack does not use, such as the
maintenance window). Each number is written once, in those files: alarm descriptions, setting
descriptions and the reference docs are built from `limits()` (docs/design.md#valid-and-allowed).

`limits()` reads both files once; a missing or malformed file raises `LimitsError`, one line
naming the file and the key. `spendsense` reads its copies through `read_pack_limits` and
`read_runbook`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from infra.paths import REPO_ROOT

PACK_LIMITS_FILE = REPO_ROOT / "policies" / "limits.json"
RUNBOOK_FILE = REPO_ROOT / "runbook.json"


class LimitsError(Exception):
    """A limits file that is missing or does not hold what the loader expects."""


class _Limits(BaseModel):
    # Unknown keys are allowed: the pack's file may carry keys only the pack reads.
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, strict=True, extra="ignore"
    )


class AppRunnerLimits(_Limits):
    max_cpu: str
    max_memory: str
    # App Runner's CPU sizes and the memory sizes each allows (the API's pairs).
    cpu_memory_pairs: dict[str, tuple[str, ...]]
    min_instances: int
    max_instances: int
    max_concurrency: int
    health_check_path: str


class CloudWatchLimits(_Limits):
    latency_p95_ms: int
    error_rate_percent: float
    availability_percent: float
    cpu_percent: float
    memory_percent: float
    # The retention values CloudWatch Logs accepts (PutRetentionPolicy).
    log_retention_days: tuple[int, ...]
    min_log_retention_days: int
    dashboard_name_prefix: str
    outage_alarm_max_minutes: int
    p2_alarm_max_minutes: int


class EcrLimits(_Limits):
    max_images: int


class BackupLimits(_Limits):
    retention_days: int
    prefix: str
    schedule: str
    time_zone: str
    bucket_name: str


class SecretsLimits(_Limits):
    max_rotation_days: int
    secret_name_pattern: str


class MaintenanceWindowLimits(_Limits):
    weekday: str
    start: str
    end: str
    time_zone: str

    def describe(self) -> str:
        """`Tuesdays 02:00-04:00 America/New_York`."""
        return f"{self.weekday}s {self.start}-{self.end} {self.time_zone}"


class PackLimits(_Limits):
    """`policies/limits.json`: what the policy pack enforces."""

    apprunner: AppRunnerLimits
    cloudwatch: CloudWatchLimits
    ecr: EcrLimits
    backup: BackupLimits
    secrets: SecretsLimits


class RunbookData(_Limits):
    """`runbook.json`: runbook numbers the policy pack does not read."""

    maintenance_window: MaintenanceWindowLimits


class Limits(BaseModel):
    """Both files, as one object."""

    model_config = ConfigDict(frozen=True)

    pack: PackLimits
    runbook: RunbookData

    # Shorthands: LIMITS.cloudwatch.latency_p95_ms reads like the JSON key path.
    @property
    def apprunner(self) -> AppRunnerLimits:
        return self.pack.apprunner

    @property
    def cloudwatch(self) -> CloudWatchLimits:
        return self.pack.cloudwatch

    @property
    def ecr(self) -> EcrLimits:
        return self.pack.ecr

    @property
    def backup(self) -> BackupLimits:
        return self.pack.backup

    @property
    def secrets(self) -> SecretsLimits:
        return self.pack.secrets

    @property
    def maintenance_window(self) -> MaintenanceWindowLimits:
        return self.runbook.maintenance_window


def _read(path: Path, model: type[_Limits]) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
        return model.model_validate_json(text)
    except OSError as exc:
        raise LimitsError(f"{path}: cannot be read ({exc.strerror})") from None
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(to_camel(str(part)) for part in error["loc"])
        raise LimitsError(f"{path}: {where or 'the file'}: {error['msg']}") from None


def read_pack_limits(path: Path = PACK_LIMITS_FILE) -> PackLimits:
    """`policies/limits.json` (or a file of the same shape), checked."""
    limits: PackLimits = _read(path, PackLimits)
    return limits


def read_runbook(path: Path = RUNBOOK_FILE) -> RunbookData:
    """`runbook.json` (or a file of the same shape), checked."""
    data: RunbookData = _read(path, RunbookData)
    return data


@cache
def limits() -> Limits:
    """Both files of this checkout, read once (on first use, not on import, so a command that
    reads another copy never trips over this one)."""
    return Limits(pack=read_pack_limits(), runbook=read_runbook())


def number(value: float) -> str:
    """A limit as the docs and descriptions write it: 500, 99.9, 1 (not 1.0)."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
