"""Firestore: the database, its security rules, its composite indexes and its alerts.

Owns:
- the Firestore database (`firestore.database`, native mode, in `firestore.location`) with
  delete protection and point-in-time recovery as the settings say, `firestore.concurrencyMode`
  (PESSIMISTIC, Native mode's default, unless the stack says otherwise), protected in Pulumi
  when `protectStatefulResources` is on;
- the security rules from `firestore.rulesFile`: a ruleset plus the `cloud.firestore` release
  that points at it, switched in place by `rules_release.RulesRelease` (see `_rules` for how a
  rules change avoids a window without rules);
- composite indexes and field overrides from `firestore.indexesFile` (the Firebase CLI's
  `firestore.indexes.json` format, parsed by `load_indexes`);
- Cloud Monitoring: alert policies for read latency, write latency and a spike of
  security-rules denials, each labelled `severity` and notifying that severity's channels
  (alert_channels.py owns the channels).

Deliberately not here: the backups of this database (`backups.py`), the notification
channels (`alert_channels.py`), the rules' content (`firestore/firestore.rules`, owned and
tested on its own) and anything that enables APIs or creates the GCP project.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_gcp as gcp

from infra.components.common import Channels, child, gcp_labels, stateful
from infra.components.rules_release import RulesRelease
from infra.settings import Settings, resolve_repo_path
from infra.severities import severity_of

RULES_RELEASE = "cloud.firestore"
RULES_FILE_NAME = "firestore.rules"
# Firestore API methods whose latency counts as a read or as a write (api/request_latencies).
READ_METHODS = (
    "BatchGetDocuments",
    "GetDocument",
    "ListDocuments",
    "ListCollectionIds",
    "RunQuery",
    "RunAggregationQuery",
    "PartitionQuery",
)
WRITE_METHODS = (
    "Commit",
    "BatchWrite",
    "CreateDocument",
    "UpdateDocument",
    "DeleteDocument",
)
_ORDERS = {"ASCENDING", "DESCENDING"}
_ARRAY_CONFIGS = {"CONTAINS"}
_QUERY_SCOPES = {"COLLECTION", "COLLECTION_GROUP"}


class IndexFileError(ValueError):
    """A firestore.indexes.json entry the program cannot turn into an index (one line)."""


@dataclass(frozen=True)
class IndexField:
    field_path: str
    order: str | None = None
    array_config: str | None = None
    vector_config: Mapping[str, Any] | None = None

    def as_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"field_path": self.field_path}
        if self.order:
            args["order"] = self.order
        if self.array_config:
            args["array_config"] = self.array_config
        if self.vector_config is not None:
            args["vector_config"] = dict(self.vector_config)
        return args


@dataclass(frozen=True)
class CompositeIndex:
    collection: str
    query_scope: str
    fields: tuple[IndexField, ...]
    api_scope: str | None = None

    @property
    def key(self) -> str:
        """A short, stable name for the index: collection plus a hash of its definition."""
        spec = json.dumps(
            [self.collection, self.query_scope, self.api_scope, [f.__dict__ for f in self.fields]],
            sort_keys=True,
            default=str,
        )
        return f"{_kebab(self.collection)}-{hashlib.sha256(spec.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class FieldOverride:
    collection: str
    field_path: str
    ttl: bool
    indexes: tuple[Mapping[str, str], ...]

    @property
    def key(self) -> str:
        return f"{_kebab(self.collection)}-{_kebab(self.field_path)}"


@dataclass(frozen=True)
class IndexSpec:
    indexes: tuple[CompositeIndex, ...] = ()
    field_overrides: tuple[FieldOverride, ...] = ()


def _kebab(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "x"


def _one_of(value: Any, allowed: set[str], where: str) -> str:
    if value not in allowed:
        raise IndexFileError(
            f"{where}: must be one of {', '.join(sorted(allowed))} (got {value!r})"
        )
    return str(value)


def parse_indexes(document: Mapping[str, Any], source: str = "indexes file") -> IndexSpec:
    """Turn a `firestore.indexes.json` document into index specs (pure; raises IndexFileError).

    The format is the Firebase CLI's: `indexes[]` with `collectionGroup`, `queryScope` and
    `fields[]` (`fieldPath` + one of `order`, `arrayConfig`, `vectorConfig`), and
    `fieldOverrides[]` with `collectionGroup`, `fieldPath`, `ttl` and `indexes[]`.
    """
    indexes: list[CompositeIndex] = []
    for i, raw in enumerate(document.get("indexes", [])):
        where = f"{source}: indexes[{i}]"
        if not isinstance(raw, Mapping) or not raw.get("collectionGroup"):
            raise IndexFileError(f"{where}: needs a collectionGroup")
        scope = _one_of(raw.get("queryScope", "COLLECTION"), _QUERY_SCOPES, f"{where}.queryScope")
        fields: list[IndexField] = []
        for j, field in enumerate(raw.get("fields", [])):
            fwhere = f"{where}.fields[{j}]"
            if not isinstance(field, Mapping) or not field.get("fieldPath"):
                raise IndexFileError(f"{fwhere}: needs a fieldPath")
            kinds = [k for k in ("order", "arrayConfig", "vectorConfig") if k in field]
            if len(kinds) != 1:
                raise IndexFileError(
                    f"{fwhere}: needs exactly one of order, arrayConfig, vectorConfig (got {kinds})"
                )
            fields.append(
                IndexField(
                    field_path=str(field["fieldPath"]),
                    order=_one_of(field["order"], _ORDERS, f"{fwhere}.order")
                    if "order" in field
                    else None,
                    array_config=_one_of(
                        field["arrayConfig"], _ARRAY_CONFIGS, f"{fwhere}.arrayConfig"
                    )
                    if "arrayConfig" in field
                    else None,
                    vector_config=field.get("vectorConfig"),
                )
            )
        if len(fields) < 2 and not any(f.vector_config for f in fields):
            raise IndexFileError(
                f"{where}: a composite index needs at least two fields; single-field indexes "
                "belong in fieldOverrides"
            )
        indexes.append(
            CompositeIndex(
                collection=str(raw["collectionGroup"]),
                query_scope=scope,
                fields=tuple(fields),
                api_scope=raw.get("apiScope"),
            )
        )
    overrides: list[FieldOverride] = []
    for i, raw in enumerate(document.get("fieldOverrides", [])):
        where = f"{source}: fieldOverrides[{i}]"
        if (
            not isinstance(raw, Mapping)
            or not raw.get("collectionGroup")
            or not raw.get("fieldPath")
        ):
            raise IndexFileError(f"{where}: needs a collectionGroup and a fieldPath")
        entries: list[dict[str, str]] = []
        for j, entry in enumerate(raw.get("indexes", [])):
            ewhere = f"{where}.indexes[{j}]"
            item = {
                "query_scope": _one_of(
                    entry.get("queryScope", "COLLECTION"), _QUERY_SCOPES, f"{ewhere}.queryScope"
                )
            }
            if "order" in entry:
                item["order"] = _one_of(entry["order"], _ORDERS, f"{ewhere}.order")
            elif "arrayConfig" in entry:
                item["array_config"] = _one_of(
                    entry["arrayConfig"], _ARRAY_CONFIGS, f"{ewhere}.arrayConfig"
                )
            else:
                raise IndexFileError(f"{ewhere}: needs order or arrayConfig")
            entries.append(item)
        overrides.append(
            FieldOverride(
                collection=str(raw["collectionGroup"]),
                field_path=str(raw["fieldPath"]),
                ttl=bool(raw.get("ttl", False)),
                indexes=tuple(entries),
            )
        )
    keys = [index.key for index in indexes]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise IndexFileError(f"{source}: the same index is listed twice ({', '.join(duplicates)})")
    return IndexSpec(indexes=tuple(indexes), field_overrides=tuple(overrides))


def load_indexes(path: Path) -> IndexSpec:
    return parse_indexes(json.loads(path.read_text(encoding="utf-8")), source=str(path))


def release_name(database: str) -> str:
    """`cloud.firestore` for the default database, `cloud.firestore/<id>` for a named one."""
    return RULES_RELEASE if database == "(default)" else f"{RULES_RELEASE}/{database}"


def monitoring_filter(metric: str, database: str, *extra: str) -> str:
    parts = [
        'resource.type = "firestore.googleapis.com/Database"',
        f'resource.label.database_id = "{database}"',
        f'metric.type = "{metric}"',
        *extra,
    ]
    return " AND ".join(parts)


def _methods(methods: Sequence[str]) -> str:
    return "metric.label.api_method = one_of(" + ", ".join(f'"{m}"' for m in methods) + ")"


@dataclass
class FirestoreArgs:
    settings: Settings
    provider: pulumi.ProviderResource
    # The notification channels of a severity (alert_channels.AlertChannels.channels_for).
    channels: Channels


class Firestore(pulumi.ComponentResource):
    """The database, its rules, its indexes and its alerts (type `spendsense:gcp:Firestore`)."""

    database: gcp.firestore.Database
    ruleset: gcp.firebaserules.Ruleset
    release: RulesRelease
    alert_policies: list[gcp.monitoring.AlertPolicy]

    def __init__(
        self, name: str, args: FirestoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("spendsense:gcp:Firestore", name, None, opts)
        self._name = name
        self._settings = args.settings
        self._provider = args.provider
        settings = args.settings
        fs = settings.firestore

        self.database = gcp.firestore.Database(
            f"{name}-database",
            project=settings.gcp_project,
            name=fs.database,
            location_id=fs.location,
            type="FIRESTORE_NATIVE",
            # Native mode's default (Standard edition): transactions lock what they read.
            # Set explicitly because the provider takes the field from the API when it is
            # left out, which would never move an OPTIMISTIC database back.
            concurrency_mode=fs.concurrency_mode,
            app_engine_integration_mode="DISABLED",
            delete_protection_state="DELETE_PROTECTION_ENABLED"
            if fs.delete_protection
            else "DELETE_PROTECTION_DISABLED",
            point_in_time_recovery_enablement="POINT_IN_TIME_RECOVERY_ENABLED"
            if fs.point_in_time_recovery
            else "POINT_IN_TIME_RECOVERY_DISABLED",
            # ABANDON keeps the data if the resource ever leaves the program.
            deletion_policy="ABANDON" if settings.protect_stateful_resources else "DELETE",
            opts=child(self, self._provider, **stateful(settings)),
        )
        self.ruleset, self.release = self._rules()
        self.indexes, self.field_overrides = self._indexes()
        self._channels = args.channels
        self.alert_policies = self._alerts()

        self.register_outputs(
            {
                "database": self.database.name,
                "ruleset": self.ruleset.name,
                "release": self.release.release,
            }
        )

    # -- rules -----------------------------------------------------------------------------
    def _rules(self) -> tuple[gcp.firebaserules.Ruleset, RulesRelease]:
        """The ruleset from the rules file and the release that serves it.

        A ruleset is immutable: a rules change replaces it. Pulumi creates the new ruleset
        first, then `RulesRelease` switches the live release to it with one UpdateRelease
        (`rules_release.py` says why not `gcp.firebaserules.Release`), then Pulumi deletes
        the old ruleset, which nothing serves any more. There is no moment without rules.
        Nothing here sets delete_before_replace, which would reintroduce that window.
        """
        settings = self._settings
        rules = resolve_repo_path(settings.firestore.rules_file).read_text(encoding="utf-8")
        ruleset = gcp.firebaserules.Ruleset(
            f"{self._name}-rules",
            project=settings.gcp_project,
            # No `language`: the Rules API v1 Source has only `files` (its discovery
            # document), so nothing comes back that would differ and replace the ruleset.
            source={"files": [{"name": RULES_FILE_NAME, "content": rules}]},
            opts=child(self, self._provider, depends_on=[self.database]),
        )
        release = RulesRelease(
            f"{self._name}-rules-release",
            project=settings.gcp_project,
            release=release_name(settings.firestore.database),
            # A ruleset's id is its full name, projects/<project>/rulesets/<uuid>.
            ruleset_name=ruleset.id,
            # A torn-down stack (staging) removes its release so its ruleset can go too;
            # a protected one never deletes the rules that guard its data.
            delete_on_destroy=not settings.protect_stateful_resources,
            quota_project=pulumi.Config("gcp").get("billingProject") or "",
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[ruleset, self.database],
                # The gcp.firebaserules.Release of earlier versions: dropping it from the
                # program only forgets it (its deletion_policy is ABANDON), after this
                # resource has taken the live release over.
            ),
        )
        return ruleset, release

    # -- indexes ---------------------------------------------------------------------------
    def _indexes(self) -> tuple[list[gcp.firestore.Index], list[gcp.firestore.Field]]:
        settings = self._settings
        if settings.firestore.indexes_file is None:
            return [], []
        path = resolve_repo_path(settings.firestore.indexes_file)
        try:
            spec = load_indexes(path)
        except IndexFileError as exc:
            # A RunError prints as one line without a traceback, like a settings error.
            raise pulumi.RunError(f"spendsense:firestore.indexesFile: {exc}") from None
        indexes = [
            gcp.firestore.Index(
                f"{self._name}-index-{index.key}",
                project=settings.gcp_project,
                database=self.database.name,
                collection=index.collection,
                query_scope=index.query_scope,
                api_scope=index.api_scope,
                fields=[f.as_args() for f in index.fields],
                opts=child(self, self._provider),
            )
            for index in spec.indexes
        ]
        fields = [
            gcp.firestore.Field(
                f"{self._name}-field-{override.key}",
                project=settings.gcp_project,
                database=self.database.name,
                collection=override.collection,
                field=override.field_path,
                index_config={"indexes": [dict(entry) for entry in override.indexes]},
                ttl_config={} if override.ttl else None,
                opts=child(self, self._provider),
            )
            for override in spec.field_overrides
        ]
        return indexes, fields

    # -- monitoring ------------------------------------------------------------------------
    def _alerts(self) -> list[gcp.monitoring.AlertPolicy]:
        settings = self._settings
        fs = settings.firestore
        latency = "firestore.googleapis.com/api/request_latencies"
        p95 = [
            {
                "alignment_period": "300s",
                "per_series_aligner": "ALIGN_PERCENTILE_95",
                "cross_series_reducer": "REDUCE_MAX",
                "group_by_fields": ["resource.label.database_id"],
            }
        ]
        policies = [
            self._policy(
                "firestore-read-latency",
                f"Firestore read latency over {fs.read_latency_ms} ms ({settings.environment})",
                {
                    "filter": monitoring_filter(latency, fs.database, _methods(READ_METHODS)),
                    "comparison": "COMPARISON_GT",
                    # request_latencies is in seconds.
                    "threshold_value": fs.read_latency_ms / 1000,
                    "duration": "300s",
                    "aggregations": p95,
                },
                "The p95 latency of Firestore reads has been over the runbook's "
                f"{fs.read_latency_ms} ms for 5 minutes. See docs/runbook.md, "
                '"Slow Response Times": check Firestore usage and slow queries, and indexes.',
            ),
            self._policy(
                "firestore-write-latency",
                f"Firestore write latency over {fs.write_latency_ms} ms ({settings.environment})",
                {
                    "filter": monitoring_filter(latency, fs.database, _methods(WRITE_METHODS)),
                    "comparison": "COMPARISON_GT",
                    "threshold_value": fs.write_latency_ms / 1000,
                    "duration": "300s",
                    "aggregations": p95,
                },
                "The p95 latency of Firestore writes has been over the runbook's "
                f"{fs.write_latency_ms} ms for 5 minutes. See docs/runbook.md, "
                '"Slow Response Times".',
            ),
            self._policy(
                "firestore-rules-denials",
                f"Firestore security-rules denials spike ({settings.environment})",
                {
                    "filter": monitoring_filter(
                        "firestore.googleapis.com/rules/evaluation_count",
                        fs.database,
                        'metric.label.result = "DENY"',
                    ),
                    "comparison": "COMPARISON_GT",
                    "threshold_value": fs.denied_requests_per_minute,
                    "duration": "300s",
                    "aggregations": [
                        {
                            "alignment_period": "60s",
                            "per_series_aligner": "ALIGN_SUM",
                            "cross_series_reducer": "REDUCE_SUM",
                            "group_by_fields": ["resource.label.database_id"],
                        }
                    ],
                },
                f"More than {fs.denied_requests_per_minute} requests a minute are denied by "
                'the security rules. See docs/runbook.md, "Permission Denied Errors": check '
                "recent rule changes and service account permissions. Never deploy permissive "
                "rules to production.",
            ),
        ]
        return policies

    def _policy(
        self, role: str, title: str, threshold: Mapping[str, Any], runbook: str
    ) -> gcp.monitoring.AlertPolicy:
        settings = self._settings
        # Labelled and routed by the role's row in infra/severities.py.
        severity = severity_of(role)
        return gcp.monitoring.AlertPolicy(
            f"{self._name}-alert-{role.removeprefix('firestore-')}",
            project=settings.gcp_project,
            display_name=title,
            combiner="OR",
            conditions=[{"display_name": title, "condition_threshold": dict(threshold)}],
            notification_channels=list(self._channels(severity)),
            documentation={"content": runbook, "mime_type": "text/markdown"},
            alert_strategy={"auto_close": "86400s"},
            user_labels=gcp_labels(settings, severity=severity.label),
            opts=child(self, self._provider),
        )
