"""`spendsense plan --base REF` on fixture repositories (git init, two commits)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from spendsense.plan import cost

from .conftest import BasePlanFile, Plan, commit, edit, git


def _custom_changes(document: dict[str, Any], op: str) -> list[dict[str, Any]]:
    return [
        c
        for c in document["changes"]
        if c["op"] == op and not c["type"].startswith(("spendsense:", "pulumi:"))
    ]


def test_a_threshold_change_is_one_update_with_old_and_new(git_repo: Path, plan_in: Plan) -> None:
    edit(git_repo / "Pulumi.staging.yaml", "latencyP95Ms: 500", "latencyP95Ms: 400")
    commit(git_repo)
    code, plan, err = plan_in(git_repo, "--stack", "staging", "--base", "HEAD~1")
    assert code == 0, err
    assert plan["base"] == {"ref": "HEAD~1", "commit": git(git_repo, "rev-parse", "HEAD~1").strip()}
    updates = _custom_changes(plan, "update")
    assert [(c["type"], c["replace"]) for c in updates] == [
        ("aws:cloudwatch/metricAlarm:MetricAlarm", None)
    ], updates
    diffs = updates[0]["diffs"]
    assert {"path": "threshold", "old": 500, "new": 400} in diffs, diffs
    assert not _custom_changes(plan, "replace") and not _custom_changes(plan, "delete")
    assert not _custom_changes(plan, "create")
    assert len(plan["changes"]) == len(plan["resources"])
    assert plan["cost"]["base_monthly_usd"] == plan["cost"]["monthly_usd"]
    assert "spendsense-base-" not in git(git_repo, "worktree", "list")  # removed at the end


def test_a_bucket_rename_in_production_replaces_a_protected_resource(
    git_repo: Path, plan_in: Plan, base_plan: BasePlanFile
) -> None:
    edit(
        git_repo / "Pulumi.production.yaml",
        "bucketName: spendsense-backups",
        "bucketName: spendsense-backups-v2",
    )
    base = base_plan(git_repo, "production")
    code, plan, err = plan_in(git_repo, "--stack", "production", "--base-plan", base)
    assert code == 1, err
    assert err.startswith("error: ") and "stack-protected-not-replaced" in err, err
    assert len(err.strip().splitlines()) == 1, err
    (bucket,) = [c for c in plan["changes"] if c["name"] == "backups-bucket"]
    assert bucket["op"] == "replace" and bucket["protect"] is True
    assert {"path": "name", "old": "spendsense-backups", "new": "spendsense-backups-v2"} in bucket[
        "diffs"
    ]
    (violation,) = [
        v
        for v in plan["violations"]
        if v["policy"] == "stack-protected-not-replaced" and v["urn"] == bucket["urn"]
    ]
    assert violation["level"] == "mandatory" and violation["change"] == "new"
    assert "backups-bucket" in violation["message"] and "name changes from" in violation["message"]
    assert "resource_storage_bucket.go" in violation["message"]
    assert plan["summary"]["ok"] is False
    # The access-log bucket is named after the backups bucket: it is replaced too.
    replaced = sorted(c["name"] for c in plan["changes"] if c["op"] == "replace")
    assert plan["summary"]["changes"]["replace"] == 2 == len(replaced), replaced
    assert "backups-bucket" in replaced


def test_an_alarm_removed_from_the_program_is_a_delete(
    git_repo: Path, plan_in: Plan, base_plan: BasePlanFile
) -> None:
    """The head's own program drops the saturation alarm: the base's program still has it."""
    edit(
        git_repo / "infra/components/monitoring.py",
        "if settings.api.min_instances == settings.api.max_instances:",
        "if True:  # the saturation alarm is gone",
    )
    base = base_plan(git_repo, "staging")
    code, plan, err = plan_in(git_repo, "--stack", "staging", "--base-plan", base)
    assert code == 0, err
    deletes = _custom_changes(plan, "delete")
    assert [(c["type"], c["name"]) for c in deletes] == [
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "monitoring-saturation")
    ], deletes
    assert deletes[0]["urn"] not in {r["urn"] for r in plan["resources"]}
    assert plan["cost"]["monthly_usd"] < plan["cost"]["base_monthly_usd"]


def test_a_changed_secret_shows_as_changed_with_the_value_hidden(
    git_repo: Path, plan_in: Plan
) -> None:
    stack_file = git_repo / "Pulumi.staging.yaml"
    old, new = "v1:" + "QUJDREVGR0g=", "v1:" + "SUpLTE1OT1A="
    stack_file.write_text(stack_file.read_text() + f"  vercel:apiToken:\n    secure: {old}\n")
    git(git_repo, "commit", "--quiet", "-am", "a secret")
    edit(stack_file, old, new)
    commit(git_repo)
    code, text, err = plan_in(git_repo, "--stack", "staging", "--base", "HEAD~1", as_json=False)
    assert code == 0, err
    assert old not in text and new not in text
    assert "config.vercel:apiToken: [secret] changed or re-encrypted" in text, text
    # the stack's entry is the one update (diff.secret_changes is unit-tested in test_diff.py)
    assert text.splitlines()[0].startswith("staging: 0 to create, 1 to update, 0 to replace, 0 to")


def test_more_minimum_instances_cost_what_the_price_table_says(
    git_repo: Path, plan_in: Plan, base_plan: BasePlanFile
) -> None:
    edit(git_repo / "Pulumi.production.yaml", "minInstances: 2", "minInstances: 10")
    base = base_plan(git_repo, "production")
    code, plan, err = plan_in(git_repo, "--stack", "production", "--base-plan", base)
    assert code == 0, err
    table = json.loads(cost.PRICES_FILE.read_text())
    per_gb_hour = table["prices"]["apprunner_provisioned_gb_hour"]["usd"]
    alarm = table["prices"]["cloudwatch_alarm_standard_metric"]["usd"]
    # 8 more provisioned instances x 4 GB (production's memory) x 730 h, and minInstances ==
    # maxInstances (10) drops the saturation alarm (infra/components/monitoring.py).
    expected = round(8 * 4 * table["hours_per_month"] * per_gb_hour - alarm, 2)
    delta = round(plan["cost"]["monthly_usd"] - plan["cost"]["base_monthly_usd"], 2)
    assert delta == expected
    assert [c["name"] for c in _custom_changes(plan, "delete")] == ["monitoring-saturation"]
    service = [i["basis"] for i in plan["cost"]["items"] if i["urn"].endswith("::api-service")]
    assert service[0].startswith("10 provisioned instance(s) x 4 GB"), service


def test_a_base_that_is_not_a_commit_is_bad_input(git_repo: Path, plan_in: Plan) -> None:
    code, out, err = plan_in(git_repo, "--stack", "staging", "--base", "no-such-branch")
    assert code == 2 and out == ""
    assert err.startswith("error: --base: 'no-such-branch' is not a commit"), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_base_outside_a_git_repository_is_bad_input(git_repo: Path, plan_in: Plan) -> None:
    (git_repo / ".git").unlink()  # a worktree's .git is a file
    code, out, err = plan_in(git_repo, "--stack", "staging", "--base", "HEAD~1")
    assert code == 2 and out == ""
    assert err.startswith("error: --base: ") and "is not a git repository" in err, err
    assert len(err.strip().splitlines()) == 1


def test_a_budget_overrun_the_base_already_had_is_unchanged(git_repo: Path, plan_in: Plan) -> None:
    """The base's own plan predates the budget check: it is computed for the base here."""
    stack_file = git_repo / "Pulumi.staging.yaml"
    edit(stack_file, "averageActiveInstances: 0.2", "averageActiveInstances: 3")
    git(git_repo, "commit", "--quiet", "-am", "busy staging")
    edit(stack_file, "latencyP95Ms: 500", "latencyP95Ms: 400")
    commit(git_repo)
    code, plan, err = plan_in(git_repo, "--stack", "staging", "--base", "HEAD~1")
    assert code == 0, err  # advisory in staging
    (budget,) = [v for v in plan["violations"] if v["policy"] == "stack-budget-estimate"]
    assert budget["level"] == "advisory" and budget["change"] == "unchanged"


def test_unlocking_production_backups_retention_is_a_mandatory_violation(
    git_repo: Path, plan_in: Plan, base_plan: BasePlanFile
) -> None:
    """A locked retention policy set to unlocked replaces the bucket (ForceNewIfChange on
    retention_policy.0.is_locked in terraform-provider-google): certain, not "maybe"."""
    edit(
        git_repo / "Pulumi.production.yaml",
        "lockRetentionPolicy: true",
        "lockRetentionPolicy: false",
    )
    base = base_plan(git_repo, "production")
    code, plan, err = plan_in(git_repo, "--stack", "production", "--base-plan", base)
    assert code == 1, err
    assert "stack-protected-not-replaced" in err, err
    (bucket,) = [c for c in plan["changes"] if c["name"] == "backups-bucket"]
    assert (bucket["op"], bucket["replace"], bucket["protect"]) == ("replace", None, True)
    (violation,) = [
        v
        for v in plan["violations"]
        if v["policy"] == "stack-protected-not-replaced" and v["urn"] == bucket["urn"]
    ]
    assert violation["level"] == "mandatory"
    assert "retentionPolicy.isLocked changes from true to false" in violation["message"]


def test_a_stack_the_base_lacks_is_compared_with_an_empty_base(
    git_repo: Path, plan_in: Plan
) -> None:
    """A change that adds a stack's file: the base's `plan --stack staging` would exit 2."""
    stack_file = git_repo / "Pulumi.staging.yaml"
    text = stack_file.read_text()
    git(git_repo, "rm", "--quiet", stack_file.name)
    commit(git_repo, "a base without staging")
    stack_file.write_text(text)
    git(git_repo, "add", stack_file.name)
    commit(git_repo, "add staging")
    code, out, err = plan_in(git_repo, "--stack", "staging", "--base", "HEAD~1", as_json=False)
    assert code == 0, err
    assert "the base has no stack staging: an empty base, everything a create" in out, out
    counts = next(line for line in out.splitlines() if "to create" in line)
    assert " 0 to update, 0 to replace, 0 to delete" in counts, counts


def test_a_base_that_fails_to_plan_is_not_comparable(git_repo: Path, plan_in: Plan) -> None:
    """Any other failure of the base's own plan: exit 2 (not comparable), one line."""
    edit(git_repo / "Pulumi.staging.yaml", "latencyP95Ms: 500", "latencyP95Ms: fast")
    git(git_repo, "commit", "--quiet", "-am", "a broken base")
    edit(git_repo / "Pulumi.staging.yaml", "latencyP95Ms: fast", "latencyP95Ms: 500")
    commit(git_repo)
    code, out, err = plan_in(git_repo, "--stack", "staging", "--base", "HEAD~1")
    assert code == 2 and out == "", err
    assert err.startswith("error: --base: planning the base HEAD~1") and "not comparable" in err
    assert len(err.strip().splitlines()) == 1, err
