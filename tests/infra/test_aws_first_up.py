"""What the first real `pulumi up` needs from the AWS side (issue 12): alerts that reach the
topic, a budget per environment, a staging that can be destroyed and recreated, and images the
lifecycle policy must never expire."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from spendsense.plan.recorder import Recording

from infra.settings import SettingsError, parse_settings
from tests.infra.conftest import record, with_changes

Recorded = Callable[[str], Recording]
ACCOUNT = "123456789012"


def _statements(policy: str) -> dict[str, dict]:
    return {s["Sid"]: s for s in json.loads(policy)["Statement"]}


# -- point 10: alarms publish to the encrypted topic as AWS documents it -------------------------
def test_the_alarm_key_statement_is_awss_documented_one_without_conditions(
    each_stack: Recording,
) -> None:
    key = _statements(each_stack.one("aws:kms/key:Key").inputs["policy"])["AlarmsEncrypt"]
    assert key["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert set(key["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert key["Resource"] == "*"
    assert "Condition" not in key, "a key CloudWatch's KMS call may not carry refuses every alarm"


# -- point 6: a budget per environment, alerting through the topic -------------------------------
@pytest.mark.parametrize("stack", ["staging", "production"])
def test_the_budget_counts_only_its_environment_while_stacks_share_an_account(
    recorded: Recorded, stack: str
) -> None:
    budget = recorded(stack).one("aws:budgets/budget:Budget").inputs
    assert budget["costFilters"] == [
        {"name": "TagKeyValue", "values": [f"user:Environment${stack}"]}
    ]


def test_environment_is_the_default_budget_scope() -> None:
    values = with_changes("staging", {})
    values["spendsense:monitoring"].pop("budgetScope", None)
    assert parse_settings(values).monitoring.budget_scope == "environment"


def test_budget_alerts_go_through_the_budget_severitys_topic(each_stack: Recording) -> None:
    """A budget notification takes one SNS topic: the `budget` row's severity topic (P3)."""
    budget = each_stack.one("aws:budgets/budget:Budget").inputs
    assert budget["tags"]["Severity"] == "P3"
    topic = each_stack.outputs["alert_topic_arns"]["P3"]
    kinds = set()
    for notification in budget["notifications"]:
        kinds.add(notification["notificationType"])
        assert notification["subscriberSnsTopicArns"] == [topic]
        assert not notification.get("subscriberEmailAddresses"), "the topic mails the people"
    assert kinds == {"ACTUAL", "FORECASTED"}


def test_budgets_may_use_the_key_and_publish_with_awss_documented_conditions(
    each_stack: Recording,
) -> None:
    key = _statements(each_stack.one("aws:kms/key:Key").inputs["policy"])["BudgetsEncrypt"]
    assert key["Principal"] == {"Service": "budgets.amazonaws.com"}
    assert set(key["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    topic = _statements(
        each_stack.one("aws:sns/topicPolicy:TopicPolicy", "alerts-p3-topic-policy").inputs["policy"]
    )
    publish = topic["BudgetsPublish"]
    assert publish["Principal"] == {"Service": "budgets.amazonaws.com"}
    assert (publish["Action"], publish["Resource"]) == (
        "sns:Publish",
        each_stack.outputs["alert_topic_arns"]["P3"],
    )
    assert publish["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:budgets::{ACCOUNT}:*"},
    }


# -- point 9: staging can be destroyed and recreated; production stays protected ----------------
def test_staging_can_be_destroyed_and_recreated(recorded: Recorded) -> None:
    staging = recorded("staging")
    assert staging.one("aws:secretsmanager/secret:Secret").inputs["recoveryWindowInDays"] == 0
    assert staging.one("aws:ecr/repository:Repository").inputs["forceDelete"] is True


def test_production_keeps_its_secret_recoverable_and_its_images(recorded: Recorded) -> None:
    production = recorded("production")
    assert production.one("aws:secretsmanager/secret:Secret").inputs["recoveryWindowInDays"] == 30
    assert production.one("aws:ecr/repository:Repository").inputs["forceDelete"] is False


def test_destroy_behaviour_follows_the_settings_not_the_stack_name() -> None:
    rec = record(
        "production",
        {"spendsense:jwt.recoveryWindowDays": 0, "spendsense:registry.forceDelete": True},
    )
    assert rec.one("aws:secretsmanager/secret:Secret").inputs["recoveryWindowInDays"] == 0
    assert rec.one("aws:ecr/repository:Repository").inputs["forceDelete"] is True


@pytest.mark.parametrize("days", [1, 6, 31])
def test_a_recovery_window_secrets_manager_refuses_is_a_settings_error(days: int) -> None:
    values = with_changes("staging", {"spendsense:jwt.recoveryWindowDays": days})
    with pytest.raises(SettingsError, match=r"spendsense:jwt\.recoveryWindowDays: must be 0"):
        parse_settings(values)


# -- point 8: the lifecycle never expires the initial image, the running one or the rollback ----
def _rules(rec: Recording) -> list[dict]:
    policy = rec.one("aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs["policy"]
    rules: list[dict] = json.loads(policy)["rules"]
    return sorted(rules, key=lambda rule: rule["rulePriority"])


def _expired_by(rules: list[dict], tags: list[str]) -> dict | None:
    """The first rule (by priority) whose tag patterns select an image with these tags, as ECR
    evaluates them: a rule that selects an image decides it; lower priorities never see it."""
    from fnmatch import fnmatchcase

    for rule in rules:
        selection = rule["selection"]
        if selection["tagStatus"] != "tagged":
            continue
        patterns = selection.get("tagPatternList", [])
        if all(any(fnmatchcase(tag, p) for tag in tags) for p in patterns):
            return rule
    return None


@pytest.mark.parametrize(
    "tags", [["bootstrap"], ["20261127_0930", "keep-0123456789abcdef0123456789abcdef"]]
)
def test_protected_images_are_decided_by_a_rule_that_never_expires_them(
    each_stack: Recording, tags: list[str]
) -> None:
    rule = _expired_by(_rules(each_stack), tags)
    assert rule is not None
    assert rule["selection"]["countType"] == "imageCountMoreThan"
    assert rule["selection"]["countNumber"] >= 9999
    keep = next(r for r in _rules(each_stack) if r["selection"].get("tagPatternList") == ["*"])
    assert rule["rulePriority"] < keep["rulePriority"]


def test_an_ordinary_image_is_counted_by_the_keep_n_rule(recorded: Recorded) -> None:
    rule = _expired_by(_rules(recorded("production")), ["20261127_0930"])
    assert rule is not None
    assert rule["selection"]["countNumber"] == 20


def test_the_protected_initial_tag_follows_the_setting() -> None:
    rec = record("staging", {"spendsense:api.initialImageTag": "first"})
    rule = _expired_by(_rules(rec), ["first"])
    assert rule is not None and rule["selection"]["countNumber"] >= 9999
