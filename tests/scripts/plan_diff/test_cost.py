"""The monthly estimate (spendsense/plan/cost.py, data/prices.json) and `stack-budget-estimate`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from spendsense.plan import cost

from .conftest import REPO

Run = Callable[..., tuple[int, str, str]]


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_every_resource_type_is_priced_or_free_or_unpriced_with_a_reason(
    run_cli: Run, stack: str
) -> None:
    code, out, err = run_cli("plan", "--stack", stack, "--json")
    assert code == 0, err
    plan = json.loads(out)
    types = cost.price_table()["types"]
    created = {r["type"] for r in plan["resources"] if not r["type"].startswith("spendsense:")}
    missing = sorted(created - set(types))
    assert not missing, (
        f"add these types to {cost.PRICES_FILE.name} (priced, free or unpriced): {missing}"
    )
    for name in created:
        entry = types[name]
        (kind,) = set(entry) & {"priced", "free", "unpriced"}
        if kind == "priced":
            continue
        assert len(entry[kind]) > 10, f"{name}: say why it is {kind}"
    assert plan["cost"]["unpriced"] == [
        "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable"
    ]
    priced = {r["urn"] for r in plan["resources"] if "priced" in types.get(r["type"], {})}
    assert {i["urn"] for i in plan["cost"]["items"]} == priced
    assert all(i["basis"] for i in plan["cost"]["items"])
    budget = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())["config"]
    assert plan["cost"]["monthly_usd"] <= budget["spendsense:monitoring"]["monthlyBudgetUsd"]
    assert plan["base"] is None and plan["cost"]["base_monthly_usd"] is None
    assert {c["op"] for c in plan["changes"]} == {"create"}


def test_every_price_names_its_page_and_date() -> None:
    table = cost.price_table()
    for key, entry in table["prices"].items():
        assert entry["source"].startswith("https://"), key
        assert entry["as_of"] <= table["as_of"] and entry["usd"] > 0, key


def _with_profile(tmp_path: Path, stack: str, profile: dict[str, object]) -> Path:
    document = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())
    document["config"][cost.PROFILE_KEY] = profile
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_an_estimate_over_budget_is_mandatory_in_production(run_cli: Run, tmp_path: Path) -> None:
    config = _with_profile(tmp_path, "production", {"averageActiveInstances": 10})
    code, out, err = run_cli("plan", "--stack", "production", "--config", str(config), "--json")
    assert code == 1 and "stack-budget-estimate" in err, err
    (violation,) = [
        v for v in json.loads(out)["violations"] if v["policy"] == "stack-budget-estimate"
    ]
    assert violation["level"] == "mandatory" and "monthlyBudgetUsd $500" in violation["message"]


def test_an_estimate_over_budget_is_advisory_in_staging(run_cli: Run, tmp_path: Path) -> None:
    config = _with_profile(tmp_path, "staging", {"averageActiveInstances": 3})
    code, out, err = run_cli("plan", "--stack", "staging", "--config", str(config), "--json")
    assert code == 0, err
    (violation,) = [
        v for v in json.loads(out)["violations"] if v["policy"] == "stack-budget-estimate"
    ]
    assert violation["level"] == "advisory"


def test_a_bad_usage_setting_is_one_line_naming_it(run_cli: Run, tmp_path: Path) -> None:
    config = _with_profile(tmp_path, "staging", {"requestsPerMonht": 5})
    code, out, err = run_cli("plan", "--stack", "staging", "--config", str(config))
    assert code == 2 and out == ""
    assert err.startswith("error: spendsense-plan:cost.requestsPerMonht: is not a usage setting")
    assert len(err.strip().splitlines()) == 1


def test_a_saved_base_plan_is_compared(run_cli: Run, tmp_path: Path) -> None:
    code, out, _ = run_cli("plan", "--stack", "staging", "--json")
    base = json.loads(out)
    for resource in base["resources"]:
        if resource["name"] == "monitoring-latency-p95":
            resource["inputs"]["threshold"] = 750
    saved = tmp_path / "base.json"
    saved.write_text(json.dumps(base))
    code, out, err = run_cli("plan", "--stack", "staging", "--base-plan", str(saved), "--json")
    assert code == 0, err
    plan = json.loads(out)
    assert plan["base"] == {"file": str(saved)}
    updated = [c for c in plan["changes"] if c["op"] != "same"]
    assert [(c["name"], c["op"], c["diffs"]) for c in updated] == [
        ("monitoring-latency-p95", "update", [{"path": "threshold", "old": 750, "new": 500}])
    ]
    assert all(v["change"] == "unchanged" for v in plan["violations"])
    code, _, err = run_cli("plan", "--stack", "production", "--base-plan", str(saved))
    assert code == 2 and "a plan of 'staging'" in err


def test_an_alert_policy_costs_its_conditions_at_the_cloud_monitoring_price() -> None:
    """Cloud Monitoring alerting: $1.50 per condition-month plus $0.35 per million time series
    returned (https://cloud.google.com/stackdriver/pricing#alerting-costs)."""
    prices = cost.price_table()["prices"]
    assert prices["monitoring_alert_condition_month"]["usd"] == 1.50
    assert prices["monitoring_1m_alert_time_series"]["usd"] == 0.35
    policy = {
        "urn": "urn:x::gcp:monitoring/alertPolicy:AlertPolicy::p",
        "type": "gcp:monitoring/alertPolicy:AlertPolicy",
        "name": "p",
        "inputs": {"conditions": [{"displayName": "a"}, {"displayName": "b"}]},
    }
    (item,) = cost.estimate("staging", [policy], None)["items"]
    assert item["monthly_usd"] == round(2 * prices["monitoring_alert_condition_month"]["usd"], 2)
    assert "2 condition(s)" in item["basis"] and "time series" in item["basis"], item


def test_every_price_in_the_table_is_used() -> None:
    source = Path(cost.__file__).read_text()
    by_class = re.compile(r"gcs_[a-z]+_us_multi_gb_month")  # f"gcs_{klass}_us_multi_gb_month"
    unused = [
        key
        for key in cost.price_table()["prices"]
        if f'"{key}"' not in source and not by_class.fullmatch(key)
    ]
    assert not unused, f"remove or use: {unused}"


def _item(type_: str, usd: float) -> dict[str, object]:
    return {"urn": f"urn:pulumi:production::spendsense::{type_}::x", "monthly_usd": usd}


def test_the_budget_check_counts_only_aws_items_against_the_aws_budget() -> None:
    """monitoring.monthlyBudgetUsd is the AWS budget: Google Cloud items are not in it."""
    config = {"spendsense:monitoring": {"monthlyBudgetUsd": 100}}
    gcp_heavy = {
        "monthly_usd": 350.0,
        "items": [_item("gcp:firestore/database:Database", 300), _item("aws:kms/key:Key", 50)],
    }
    assert cost.budget_violation("production", "urn:s", gcp_heavy, config) is None
    aws_heavy = {
        "monthly_usd": 150.0,
        "items": [
            _item("spendsense:api:Api$aws:apprunner/service:Service", 140),
            {"urn": "", "monthly_usd": 10},  # the CloudWatch custom metrics
        ],
    }
    found = cost.budget_violation("production", "urn:s", aws_heavy, config)
    assert found is not None and found.level == "mandatory"
    assert (
        "estimated AWS $150.00/month" in found.message and "$100 (the AWS budget" in found.message
    )


def test_the_budget_check_uses_the_settings_default_when_the_budget_is_absent() -> None:
    over = {"monthly_usd": 201.0, "items": [_item("aws:kms/key:Key", 201)]}
    under = {"monthly_usd": 199.0, "items": [_item("aws:kms/key:Key", 199)]}
    found = cost.budget_violation("production", "urn:s", over, {})
    assert found is not None and "monitoring.monthlyBudgetUsd $200 " in found.message
    assert cost.budget_violation("production", "urn:s", under, {}) is None


def test_a_base_cost_is_unpriced_only_for_the_projects_own_errors() -> None:
    """A base usage profile this version rejects (BadInput) leaves the base unpriced; a bug
    (here a resource without a type) is not hidden as "base not priced"."""
    from spendsense.plan import review
    from spendsense.plan.base import BasePlan

    bad_profile = BasePlan({"resources": []}, {"file": "x"}, {cost.PROFILE_KEY: "busy"})
    assert review._base_cost("staging", bad_profile) is None
    broken = BasePlan({"resources": [{"urn": "u", "name": "n"}]}, {"file": "x"}, {})
    with pytest.raises(KeyError):
        review._base_cost("staging", broken)
