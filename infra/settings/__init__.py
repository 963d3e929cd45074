"""Typed, frozen settings parsed once from a stack's configuration (docs/design.md#contract-config).

`parse_settings` is a pure function from the raw configuration (``{"spendsense:api": {...},
"aws:region": "us-east-1", ...}``) to a `Settings` object. Every rule of what is *valid* (what
the providers and their APIs accept) is checked here, before anything is created, and a bad
value becomes one `SettingsError` line that names the key as written in the stack file, what is
accepted and what was given::

    spendsense:api.cpu: must be one of 0.25 vCPU, 0.5 vCPU, 1 vCPU, 2 vCPU, 4 vCPU (got "3 vCPU")

What the runbook *allows* is the policy pack's to judge (docs/design.md#valid-and-allowed).
Differences between stacks live in the stack files only; nothing here looks at a stack's name.

The package: `rules` (the error type, field validators, base model), `aws` and `gcp_vercel`
(the models per cloud), `alerting` (`monitoring.alertRoutes`), `security` (failed
authentications), `loader` (`Settings`, `parse_settings`, the Pulumi config readers) and
`reference` (docs/configuration.md's tables from the fields' descriptions).
"""

from infra.settings.aws import ApiSettings, JwtSettings, MonitoringSettings, RegistrySettings
from infra.settings.gcp_vercel import BackupSettings, FirestoreSettings, FrontendSettings
from infra.settings.loader import (
    Settings,
    describe_problem,
    load_from_pulumi,
    parse_settings,
    read_pulumi_config,
)
from infra.settings.rules import (
    CPU_MEMORY_PAIRS,
    LOG_RETENTION_DAYS,
    MEMORY_SIZES,
    NAMESPACE,
    REPO_ROOT,
    SettingsError,
    _got,
    between,
    matches,
    one_of,
    resolve_repo_path,
)
from infra.settings.security import SecuritySettings

__all__ = [
    "CPU_MEMORY_PAIRS",
    "LOG_RETENTION_DAYS",
    "MEMORY_SIZES",
    "NAMESPACE",
    "REPO_ROOT",
    "ApiSettings",
    "BackupSettings",
    "FirestoreSettings",
    "FrontendSettings",
    "JwtSettings",
    "MonitoringSettings",
    "RegistrySettings",
    "SecuritySettings",
    "Settings",
    "SettingsError",
    "_got",
    "between",
    "describe_problem",
    "load_from_pulumi",
    "matches",
    "one_of",
    "parse_settings",
    "read_pulumi_config",
    "resolve_repo_path",
]
