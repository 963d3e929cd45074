"""The monthly cost estimate of a plan, and the plan-level check `stack-budget-estimate`.

Prices are data (`data/prices.json`: AWS us-east-1 and Google Cloud US list prices, each with
its pricing page and date); this module only says how each priced type is counted. Usage-driven
costs come from the stack file's usage profile, `spendsense-plan:cost` (a key the program does
not read: its settings reject unknown `spendsense:` keys), with the defaults below; each item
says in `basis` how it was computed. docs/plan.md ("Monthly cost") documents the keys.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

from spendsense.errors import BadInput
from spendsense.plan.analyzer import Diagnostic

# Package data, found through the package (not a path computed from this file).
PRICES_FILE = Path(str(files("spendsense.plan").joinpath("data", "prices.json")))
PROFILE_KEY = "spendsense-plan:cost"
BUDGET_POLICY = "stack-budget-estimate"
LEVELS = ("mandatory", "advisory", "disabled")

# The usage profile's keys and defaults (per stack where they differ).
DEFAULTS: dict[str, dict[str, float]] = {
    "staging": {
        "averageActiveInstances": 0.2,
        "logIngestGbPerMonth": 2,
        "customMetrics": 0,
        "firestoreReadsPerMonth": 2_000_000,
        "firestoreWritesPerMonth": 500_000,
        "firestoreStoredGib": 1,
        "exportSizeGb": 0.5,
        "imageSizeGb": 0.3,
        "secretApiCallsPerMonth": 50_000,
        "alertEmailsPerMonth": 100,
    },
    "production": {
        "averageActiveInstances": 1.0,
        "logIngestGbPerMonth": 20,
        "customMetrics": 0,
        "firestoreReadsPerMonth": 60_000_000,
        "firestoreWritesPerMonth": 10_000_000,
        "firestoreStoredGib": 10,
        "exportSizeGb": 5,
        "imageSizeGb": 0.3,
        "secretApiCallsPerMonth": 500_000,
        "alertEmailsPerMonth": 300,
    },
}
DEFAULT_ENFORCEMENT = {"staging": "advisory", "production": "mandatory"}


@functools.cache
def price_table() -> dict[str, Any]:
    table: dict[str, Any] = json.loads(PRICES_FILE.read_text("utf-8"))
    return table


def price(key: str) -> float:
    return float(price_table()["prices"][key]["usd"])


def profile(stack: str, config: dict[str, Any] | None) -> tuple[dict[str, float], str]:
    """The usage profile (defaults overlaid with the stack file's) and the budget level."""
    values = dict(DEFAULTS.get(stack, DEFAULTS["staging"]))
    level = DEFAULT_ENFORCEMENT.get(stack, "advisory")
    raw = (config or {}).get(PROFILE_KEY)
    if raw is None:
        return values, level
    if not isinstance(raw, dict):
        raise BadInput(f"{PROFILE_KEY}: must be a mapping of usage settings (docs/plan.md)")
    for key, value in raw.items():
        if key == "budgetEnforcement":
            if value not in LEVELS:
                raise BadInput(
                    f"{PROFILE_KEY}.budgetEnforcement: must be one of {', '.join(LEVELS)} "
                    f"(got {value!r})"
                )
            level = value
        elif key not in values:
            raise BadInput(
                f"{PROFILE_KEY}.{key}: is not a usage setting (allowed: budgetEnforcement, "
                f"{', '.join(sorted(values))}); check the spelling"
            )
        elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise BadInput(f"{PROFILE_KEY}.{key}: must be a number >= 0 (got {value!r})")
        else:
            values[key] = float(value)
    return values, level


Item = tuple[float, str]
Pricer = Callable[[dict[str, Any], dict[str, float]], Item]
HOURS = 730.0


def _num(text: Any) -> float:
    match = re.match(r"\s*([0-9.]+)", str(text))
    return float(match.group(1)) if match else 0.0


def _apprunner(r: dict[str, Any], use: dict[str, float], autoscaling: dict[str, Any]) -> Item:
    config = r["inputs"].get("instanceConfiguration") or {}
    vcpu, memory = _num(config.get("cpu", "1")), _num(config.get("memory", "2"))
    minimum = float(autoscaling.get("minSize", 1))
    active = use["averageActiveInstances"]
    provisioned = minimum * memory * HOURS * price("apprunner_provisioned_gb_hour")
    extra = max(0.0, active - minimum) * memory * HOURS * price("apprunner_active_gb_hour")
    compute = active * vcpu * HOURS * price("apprunner_active_vcpu_hour")
    basis = (
        f"{minimum:g} provisioned instance(s) x {memory:g} GB x {HOURS:g} h x "
        f"${price('apprunner_provisioned_gb_hour')}/GB-h + {active:g} average active "
        f"instance(s) x {vcpu:g} vCPU x {HOURS:g} h x ${price('apprunner_active_vcpu_hour')}/vCPU-h"
        + (" + memory of active instances above the minimum" if extra else "")
    )
    return provisioned + extra + compute, basis


def _alarm(r: dict[str, Any], _use: dict[str, float]) -> Item:
    inputs = r["inputs"]
    queries = inputs.get("metricQueries") or []
    if queries:
        metrics = sum(1 for q in queries if isinstance(q, dict) and q.get("metric"))
        n = max(metrics, 1)
        return n * price("cloudwatch_alarm_standard_metric"), f"metric-math alarm of {n} metric(s)"
    if inputs.get("thresholdMetricId"):
        return price("cloudwatch_alarm_anomaly_detection"), "anomaly-detection alarm"
    if 0 < float(inputs.get("period") or 60) < 60:
        return price("cloudwatch_alarm_high_resolution_metric"), "high-resolution alarm"
    return price("cloudwatch_alarm_standard_metric"), "standard-resolution alarm, 1 metric"


def _logs(gigabytes: float) -> float:
    """Ingested per month, and about three months of it stored."""
    return gigabytes * price("cloudwatch_logs_ingest_gb") + 3 * gigabytes * price(
        "cloudwatch_logs_storage_gb_month"
    )


def _log_group(_r: dict[str, Any], _use: dict[str, float]) -> Item:
    # The program's own log groups hold the rotation function's logs: a few MB a month.
    return _logs(0.01), "0.01 GB/month ingested (a monthly rotation's logs), ~3 months stored"


def _app_logs(use: dict[str, float]) -> Item:
    gigabytes = use["logIngestGbPerMonth"]
    return _logs(gigabytes), (
        f"logs: {gigabytes:g} GB/month into App Runner's own log groups "
        "(logIngestGbPerMonth), ~3 months stored"
    )


def _health_check(r: dict[str, Any], _use: dict[str, float]) -> Item:
    inputs = r["inputs"]
    options = [
        name
        for name, on in (
            ("HTTPS", str(inputs.get("type", "")).startswith("HTTPS")),
            ("string matching", "STR_MATCH" in str(inputs.get("type", ""))),
            ("fast interval", int(inputs.get("requestInterval") or 30) == 10),
            ("latency measurement", bool(inputs.get("measureLatency"))),
        )
        if on
    ]
    cost = price("route53_health_check_non_aws") + len(options) * price(
        "route53_health_check_option_non_aws"
    )
    return cost, "non-AWS endpoint" + (f" with {', '.join(options)}" if options else "")


def _simple(key: str, basis: str) -> Pricer:
    return lambda _r, _use: (price(key), basis)


def _secret(_r: dict[str, Any], use: dict[str, float]) -> Item:
    calls = use["secretApiCallsPerMonth"]
    cost = price("secretsmanager_secret_month") + calls / 10_000 * price(
        "secretsmanager_10k_api_calls"
    )
    return cost, f"1 secret + {calls:,.0f} API calls/month (secretApiCallsPerMonth)"


def _lambda(r: dict[str, Any], _use: dict[str, float]) -> Item:
    memory_gb = float(r["inputs"].get("memorySize") or 128) / 1024
    invocations, seconds = 4.0, 30.0  # one rotation a month: 4 steps of up to ~30 s
    cost = invocations / 1e6 * price("lambda_1m_requests") + (
        invocations * seconds * memory_gb * price("lambda_gb_second")
    )
    return (
        cost,
        f"{invocations:g} invocations x {seconds:g} s x {memory_gb:g} GB (monthly rotation)",
    )


def _sns(_r: dict[str, Any], use: dict[str, float]) -> Item:
    emails = use["alertEmailsPerMonth"]
    cost = emails / 1e6 * price("sns_1m_publishes") + emails / 1e5 * price("sns_100k_email")
    return cost, f"{emails:g} alert emails/month (alertEmailsPerMonth)"


def _ecr(r: dict[str, Any], use: dict[str, float], keep: float) -> Item:
    size = use["imageSizeGb"] * keep
    return size * price("ecr_storage_gb_month"), f"{keep:g} images x {use['imageSizeGb']:g} GB"


def _firestore(r: dict[str, Any], use: dict[str, float]) -> Item:
    reads, writes = use["firestoreReadsPerMonth"], use["firestoreWritesPerMonth"]
    stored = use["firestoreStoredGib"]
    pitr = "ENABLED" in str(r["inputs"].get("pointInTimeRecoveryEnablement", ""))
    cost = (
        reads / 1e5 * price("firestore_reads_100k")
        + writes / 1e5 * price("firestore_writes_100k")
        + stored * price("firestore_storage_gib_month")
        + (stored * price("firestore_pitr_gib_month") if pitr else 0.0)
    )
    basis = f"{reads:,.0f} reads + {writes:,.0f} writes/month, {stored:g} GiB stored" + (
        ", PITR data ~ stored size" if pitr else ""
    )
    return cost, basis


def _bucket(r: dict[str, Any], use: dict[str, float], soft_delete_days: float) -> Item:
    inputs = r["inputs"]
    klass = str(inputs.get("storageClass") or "STANDARD").lower()
    key = f"gcs_{klass}_us_multi_gb_month"
    if key not in price_table()["prices"]:
        key = "gcs_standard_us_multi_gb_month"
    ages = [
        float(rule.get("condition", {}).get("age") or 0)
        for rule in inputs.get("lifecycleRules") or []
        if isinstance(rule, dict) and rule.get("action", {}).get("type") == "Delete"
    ]
    if not any(
        p.get("matchesPrefixes")
        for p in (rule.get("condition", {}) for rule in inputs.get("lifecycleRules") or [])
    ):
        return 0.0, "access logs: size not estimated (a few MB)"
    kept = min(ages) if ages else 30.0
    stored = use["exportSizeGb"] * (kept + soft_delete_days)
    return stored * price(key), (
        f"daily exports of {use['exportSizeGb']:g} GB kept {kept:g} days + {soft_delete_days:g} "
        f"days soft delete = {stored:g} GB of {klass}"
    )


def _workflow(_r: dict[str, Any], _use: dict[str, float]) -> Item:
    runs, internal, external = 30.0, 20.0, 10.0
    cost = runs * (
        internal / 1000 * price("workflows_1k_internal_steps")
        + external / 1000 * price("workflows_1k_external_steps")
    )
    return cost, f"{runs:g} runs x ({internal:g} internal + {external:g} external steps)"


def _alert_policy(r: dict[str, Any], _use: dict[str, float]) -> Item:
    n = max(len(r["inputs"].get("conditions") or []), 1)
    per_condition = price("monitoring_alert_condition_month")
    per_million = price("monitoring_1m_alert_time_series")
    return n * per_condition, (
        f"{n} condition(s) x ${per_condition:.2f}; time series returned "
        f"(${per_million:.2f}/million) not counted"
    )


def estimate(
    stack: str, resources: list[dict[str, Any]], config: dict[str, Any] | None
) -> dict[str, Any]:
    """The `cost` object for the resources of a plan (plan JSON form)."""
    use, _level = profile(stack, config)
    table = price_table()
    types = table["types"]
    autoscaling: dict[str, Any] = next(
        (r["inputs"] for r in resources if r["type"].endswith("AutoScalingConfigurationVersion")),
        {},
    )
    registry = ((config or {}).get("spendsense:registry") or {}) if config else {}
    backup = ((config or {}).get("spendsense:backup") or {}) if config else {}
    keep = float(registry.get("keepImages", 10)) if isinstance(registry, dict) else 10.0
    soft = float(backup.get("softDeleteDays", 7)) if isinstance(backup, dict) else 7.0
    pricers: dict[str, Pricer] = {
        "apprunner_service": lambda r, u: _apprunner(r, u, autoscaling),
        "cloudwatch_alarm": _alarm,
        "cloudwatch_dashboard": _simple("cloudwatch_dashboard", "1 custom dashboard"),
        "cloudwatch_log_group": _log_group,
        # The filter is free; the metric it publishes is one custom metric.
        "cloudwatch_log_metric_filter": _simple(
            "cloudwatch_custom_metric", "1 custom metric published by the filter"
        ),
        "route53_health_check": _health_check,
        "secretsmanager_secret": _secret,
        "kms_key": _simple("kms_key_month", "1 customer managed key (requests not counted)"),
        "lambda_function": _lambda,
        "sns_topic": _sns,
        "ecr_repository": lambda r, u: _ecr(r, u, keep),
        "firestore_database": _firestore,
        "gcs_bucket": lambda r, u: _bucket(r, u, soft),
        "cloud_scheduler_job": _simple("cloud_scheduler_job_month", "1 job"),
        "workflow": _workflow,
        "monitoring_alert_policy": _alert_policy,
    }
    items, unpriced = [], set()
    for resource in resources:
        kind = types.get(resource["type"])
        if resource["type"].startswith("spendsense:"):
            continue  # a component: its children are priced
        if kind is None or "unpriced" in kind:
            unpriced.add(resource["type"])
            continue
        if "priced" not in kind:
            continue
        usd, basis = pricers[kind["priced"]](resource, use)
        items.append({"urn": resource["urn"], "monthly_usd": round(usd, 2), "basis": basis})
        if kind["priced"] == "apprunner_service":  # its logs land in groups App Runner makes
            usd, basis = _app_logs(use)
            items.append({"urn": resource["urn"], "monthly_usd": round(usd, 2), "basis": basis})
    if use["customMetrics"]:
        usd = use["customMetrics"] * price("cloudwatch_custom_metric")
        items.append(
            {
                "urn": "",
                "monthly_usd": round(usd, 2),
                "basis": f"{use['customMetrics']:g} custom metrics (customMetrics)",
            }
        )
    return {
        "monthly_usd": round(sum(i["monthly_usd"] for i in items), 2),
        "base_monthly_usd": None,
        "currency": table["currency"],
        "prices_as_of": table["as_of"],
        "items": sorted(items, key=lambda i: str(i["urn"])),
        "unpriced": sorted(unpriced),
    }


def budget_violation(
    stack: str, stack_urn: str, cost: dict[str, Any], config: dict[str, Any] | None
) -> Diagnostic | None:
    """`stack-budget-estimate`: the estimate of the AWS items over `monitoring.monthlyBudgetUsd`,
    which is the AWS budget (infra/settings/aws.py): Google Cloud items are not in it."""
    _use, level = profile(stack, config)
    if level == "disabled":
        return None
    budget = _aws_budget(config)
    aws_items = [i for i in cost["items"] if _is_aws(i)]
    aws_usd = round(sum(i["monthly_usd"] for i in aws_items), 2)
    if aws_usd <= budget:
        return None
    top = sorted(aws_items, key=lambda i: -i["monthly_usd"])[:3]
    biggest = ", ".join(f"{i['urn'].split('::')[-1]} ${i['monthly_usd']:.2f}" for i in top)
    largest = f" (largest: {biggest})" if biggest else ""
    return Diagnostic(
        BUDGET_POLICY,
        level,
        stack_urn,
        f"estimated AWS ${aws_usd:.2f}/month is over monitoring.monthlyBudgetUsd "
        f"${budget:g} (the AWS budget; Google Cloud items not counted){largest}; lower the "
        "usage (spendsense-plan:cost) or raise the budget",
    )


def _aws_budget(config: dict[str, Any] | None) -> float:
    """`monitoring.monthlyBudgetUsd` as the settings read it: the model's default when absent."""
    from infra.settings.aws import MonitoringSettings

    monitoring = (config or {}).get("spendsense:monitoring")
    value = monitoring.get("monthlyBudgetUsd") if isinstance(monitoring, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return float(MonitoringSettings.model_fields["monthly_budget_usd"].default)


def _is_aws(item: dict[str, Any]) -> bool:
    """An item of an `aws:` resource, or the CloudWatch custom metrics (no URN)."""
    urn = str(item["urn"])
    if not urn:
        return True
    parts = urn.split("::")
    return len(parts) >= 4 and parts[2].split("$")[-1].startswith("aws:")
