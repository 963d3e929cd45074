"""Firestore usage against the team's daily caps: four alert policies as the engine would see
them (the program under the mock runtime), their settings, and the `firestore_usage_caps`
output `spendsense status` reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from spendsense.plan.recorder import Recording

from infra.components import firestore_quota
from infra.settings import SettingsError, parse_settings
from infra.severities import SEVERITIES
from tests.infra.conftest import DELETE, record, stack_values, with_changes

Recorded = Callable[[str], Recording]
POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
KINDS = ("reads", "writes", "deletes", "storage")
KEYS = {"reads": "dailyReadCap", "writes": "dailyWriteCap", "deletes": "dailyDeleteCap"}


def policy(rec: Recording, kind: str) -> dict[str, Any]:
    return rec.one(POLICY, f"firestore-quota-alert-{kind}").inputs


def threshold(rec: Recording, kind: str) -> dict[str, Any]:
    (condition,) = policy(rec, kind)["conditions"]
    return condition["conditionThreshold"]


def test_reads_writes_and_deletes_alert_at_the_fraction_of_each_daily_cap(
    each_stack: Recording,
) -> None:
    config = stack_values(each_stack.stack)["spendsense:firestore"]
    fraction = config["quotaWarningFraction"]
    for kind, key in KEYS.items():
        condition = threshold(each_stack, kind)
        assert condition["thresholdValue"] == pytest.approx(config[key] * fraction), kind
        assert condition["comparison"] == "COMPARISON_GT"
        assert f'metric.type = "{firestore_quota.OPERATION_METRICS[kind]}"' in condition["filter"]
        assert 'resource.type = "firestore.googleapis.com/Database"' in condition["filter"]
        assert 'resource.label.database_id = "(default)"' in condition["filter"]


def test_a_day_is_a_rolling_24_hour_sum_within_the_alerting_limit(each_stack: Recording) -> None:
    for kind in ("reads", "writes", "deletes"):
        (aggregation,) = threshold(each_stack, kind)["aggregations"]
        assert aggregation["perSeriesAligner"] == "ALIGN_SUM"
        assert aggregation["crossSeriesReducer"] == "REDUCE_SUM"
        period = int(aggregation["alignmentPeriod"].removesuffix("s"))
        assert period == 86_400
        # Cloud Monitoring refuses an alerting policy with a longer alignment period.
        assert period <= firestore_quota.MAX_ALERT_ALIGNMENT_SECONDS


def test_storage_alerts_on_the_largest_size_of_the_day_against_the_cap(
    each_stack: Recording,
) -> None:
    config = stack_values(each_stack.stack)["spendsense:firestore"]
    condition = threshold(each_stack, "storage")
    expected = int(config["storageCapGib"] * 2**30) * config["quotaWarningFraction"]
    assert condition["thresholdValue"] == pytest.approx(expected)
    assert firestore_quota.STORAGE_METRIC in condition["filter"]
    assert condition["aggregations"][0]["perSeriesAligner"] == "ALIGN_MAX"


def test_each_policy_carries_its_severity_from_the_table(each_stack: Recording) -> None:
    for kind in KINDS:
        role = firestore_quota.ROLES[kind]
        labels = policy(each_stack, kind)["userLabels"]
        assert labels["severity"] == SEVERITIES[role].severity.label, kind
        assert labels["environment"] == each_stack.stack
    assert policy(each_stack, "reads")["userLabels"]["severity"] == "p2"
    assert policy(each_stack, "storage")["userLabels"]["severity"] == "p3"


def test_each_policy_notifies_the_channels_its_severity_is_routed_to(each_stack: Recording) -> None:
    channels = each_stack.by_type(CHANNEL)
    for kind in KINDS:
        inputs = policy(each_stack, kind)
        label = inputs["userLabels"]["severity"]
        routed = sorted(c.name for c in channels if f"severity-{label}" in c.inputs["userLabels"])
        notified = sorted(
            next(c.name for c in channels if c.name.startswith(ident.rsplit("-", 1)[0]))
            for ident in inputs["notificationChannels"]
        )
        assert notified == routed != [], kind
        assert "docs/operations-data.md" in inputs["documentation"]["content"]


def test_the_channels_callable_is_asked_with_each_policys_severity() -> None:
    """The wiring contract: the component asks `channels(severity)` per policy."""
    import pulumi

    from infra.components.firestore_quota import FirestoreQuota, FirestoreQuotaArgs

    asked: list[str] = []
    settings = parse_settings(stack_values("staging"))

    def channels(severity: Any) -> list[str]:
        asked.append(severity.value)
        return [f"channel-{severity.value}"]

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
            return args.name + "-id", dict(args.inputs)

        def call(self, args: Any) -> tuple[dict[str, Any], list[Any]]:
            return {}, []

    pulumi.runtime.set_mocks(Mocks(), preview=False)
    component = FirestoreQuota(
        "q", FirestoreQuotaArgs(settings=settings, provider=None, channels=channels)
    )
    # One call per policy, in the order they are made: reads, writes, deletes, storage.
    assert asked == ["P2", "P2", "P2", "P3"]
    assert list(component.alert_policies) == ["reads", "writes", "deletes", "storage"]


def test_the_caps_follow_the_settings_not_the_stack_name() -> None:
    rec = record(
        "production",
        {
            "spendsense:firestore.dailyReadCap": 1000,
            "spendsense:firestore.quotaWarningFraction": 0.5,
            "spendsense:firestore.usageTimeZone": "UTC",
        },
    )
    assert threshold(rec, "reads")["thresholdValue"] == 500
    caps = rec.outputs["firestore_usage_caps"]
    assert caps["reads"] == 1000
    assert caps["warning_fraction"] == 0.5
    assert caps["time_zone"] == "UTC"


def test_the_usage_caps_output_holds_every_cap(each_stack: Recording) -> None:
    config = stack_values(each_stack.stack)["spendsense:firestore"]
    assert each_stack.outputs["firestore_usage_caps"] == {
        "reads": config["dailyReadCap"],
        "writes": config["dailyWriteCap"],
        "deletes": config["dailyDeleteCap"],
        "storage_bytes": int(config["storageCapGib"] * 2**30),
        "warning_fraction": config["quotaWarningFraction"],
        "time_zone": config["usageTimeZone"],
    }


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_both_stack_files_set_every_cap_explicitly(stack: str) -> None:
    config = stack_values(stack)["spendsense:firestore"]
    for key in (*KEYS.values(), "storageCapGib", "quotaWarningFraction", "usageTimeZone"):
        assert key in config, f"{stack}: spendsense:firestore.{key}"


def settings_error(changes: dict[str, Any]) -> str:
    with pytest.raises(SettingsError) as caught:
        parse_settings(with_changes("production", changes))
    return str(caught.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"spendsense:firestore.dailyReadCap": 0},
            "spendsense:firestore.dailyReadCap: must be between 1 and 1000000000000 (got 0)",
        ),
        (
            {"spendsense:firestore.dailyWriteCap": "lots"},
            "spendsense:firestore.dailyWriteCap: ",
        ),
        (
            {"spendsense:firestore.quotaWarningFraction": 80},
            "spendsense:firestore.quotaWarningFraction: must be between 0.1 and 1 (got 80.0)",
        ),
        (
            {"spendsense:firestore.storageCapGib": 0},
            "spendsense:firestore.storageCapGib: must be between 0.001 and 1000000 (got 0.0)",
        ),
        (
            {"spendsense:firestore.usageTimeZone": "Pacific"},
            "spendsense:firestore.usageTimeZone: must be an IANA time zone such as UTC or "
            'America/New_York (got "Pacific")',
        ),
        (
            {"spendsense:firestore.dailyReadCaps": 5},
            "spendsense:firestore.dailyReadCaps",
        ),
    ],
)
def test_bad_cap_settings_name_the_key(changes: dict[str, Any], message: str) -> None:
    error = settings_error(changes)
    assert error.startswith(message)
    assert "\n" not in error


def test_without_the_keys_the_defaults_apply() -> None:
    changes = {f"spendsense:firestore.{key}": DELETE for key in KEYS.values()}
    settings = parse_settings(with_changes("staging", changes))
    assert settings.firestore.daily_read_cap == 1_000_000
