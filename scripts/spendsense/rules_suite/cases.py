"""Every case of the access model, in one list (`CASES`): those of users and recommendations
(their own modules), of `audit_logs/{id}`, and of any other path."""

from __future__ import annotations

from spendsense.rules_suite.model import RULE_AUDIT_LOGS, RULE_ELSE, Case
from spendsense.rules_suite.recommendation_cases import RECOMMENDATION_CASES
from spendsense.rules_suite.user_cases import USER_CASES

AUDIT_LOG_CASES: list[Case] = [
    # audit_logs/{id}
    Case(
        "audit_logs_admin_can_read",
        "allow",
        RULE_AUDIT_LOGS,
        lambda c: c.rest.get("audit_logs/log1", c.admin()),
    ),
    Case(
        "audit_logs_admin_can_list",
        "allow",
        RULE_AUDIT_LOGS,
        lambda c: c.rest.query("audit_logs", c.admin()),
    ),
    Case(
        "audit_logs_operator_cannot_read",
        "deny",
        RULE_AUDIT_LOGS,
        lambda c: c.rest.get("audit_logs/log1", c.operator()),
    ),
    Case(
        "audit_logs_user_cannot_list",
        "deny",
        RULE_AUDIT_LOGS,
        lambda c: c.rest.query("audit_logs", c.alice()),
    ),
    Case(
        "audit_logs_signed_out_cannot_read",
        "deny",
        RULE_AUDIT_LOGS,
        lambda c: c.rest.get("audit_logs/log1", None),
    ),
    Case(
        "audit_logs_admin_cannot_create",
        "deny",
        RULE_AUDIT_LOGS,
        lambda c: c.rest.create("audit_logs", c.new_id("log"), {"action": "x"}, c.admin()),
    ),
    Case(
        "audit_logs_admin_cannot_update",
        "deny",
        RULE_AUDIT_LOGS,
        lambda c: c.rest.patch("audit_logs/log1", {"action": "x"}, c.admin(), ["action"], True),
    ),
    Case(
        "audit_logs_admin_cannot_delete",
        "deny",
        RULE_AUDIT_LOGS,
        lambda c: c.rest.delete(c.fresh("audit_logs", {"action": "x"}), c.admin()),
    ),
]

OTHER_PATH_CASES: list[Case] = [
    # anything else
    Case(
        "other_paths_admin_cannot_read",
        "deny",
        RULE_ELSE,
        lambda c: c.rest.get("settings/global", c.admin()),
    ),
    Case(
        "other_paths_operator_cannot_list",
        "deny",
        RULE_ELSE,
        lambda c: c.rest.query("settings", c.operator()),
    ),
    Case(
        "other_paths_user_cannot_write",
        "deny",
        RULE_ELSE,
        lambda c: c.rest.create("settings", c.new_id("pref"), {"theme": "dark"}, c.alice()),
    ),
    Case(
        "other_paths_signed_out_cannot_write",
        "deny",
        RULE_ELSE,
        lambda c: c.rest.patch("settings/global", {"maintenance": True}, None),
    ),
]

CASES: list[Case] = [*USER_CASES, *RECOMMENDATION_CASES, *AUDIT_LOG_CASES, *OTHER_PATH_CASES]


def _check_unique(cases: list[Case]) -> None:
    names = [case.name for case in cases]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise AssertionError(f"duplicate rules case names: {', '.join(duplicates)}")


_check_unique(CASES)
