"""The cases of `users/{uid}` and its sub-collections (`users/{uid}/{sub}/{id}`)."""

from __future__ import annotations

from spendsense.firestore_emulator.rest import Result
from spendsense.rules_suite.model import (
    ALICE,
    CAROL,
    RULE_ELSE,
    RULE_USER_SUBCOLLECTIONS,
    RULE_USERS,
    Case,
    Context,
)

ALICE_PROFILE = f"users/{ALICE}"
ALICE_ACCOUNT = f"users/{ALICE}/accounts/checking"
ALICE_TRANSACTIONS = f"users/{ALICE}/transactions"


def _delete_own_fresh_profile(c: Context) -> Result:
    uid = c.new_id("user")
    c.fresh("users", {"name": "Temporary"}, doc_id=uid)
    return c.rest.delete(f"users/{uid}", c.token(uid))


USER_CASES: list[Case] = [
    # users/{uid}
    Case(
        "users_owner_can_read_own_profile",
        "allow",
        RULE_USERS,
        lambda c: c.rest.get(ALICE_PROFILE, c.alice()),
    ),
    Case(
        "users_other_user_cannot_read_profile",
        "deny",
        RULE_USERS,
        lambda c: c.rest.get(ALICE_PROFILE, c.bob()),
    ),
    Case(
        "users_signed_out_cannot_read_profile",
        "deny",
        RULE_USERS,
        lambda c: c.rest.get(ALICE_PROFILE, None),
    ),
    Case(
        "users_operator_cannot_read_profile",
        "deny",
        RULE_USERS,
        lambda c: c.rest.get(ALICE_PROFILE, c.operator()),
    ),
    Case(
        "users_admin_cannot_read_profile",
        "deny",
        RULE_USERS,
        lambda c: c.rest.get(ALICE_PROFILE, c.admin()),
    ),
    Case(
        "users_cannot_list_all_profiles",
        "deny",
        RULE_USERS,
        lambda c: c.rest.query("users", c.alice()),
    ),
    Case(
        "users_cannot_create_own_profile",
        "deny",
        RULE_USERS,
        lambda c: c.rest.create("users", CAROL, {"name": "Carol"}, c.carol()),
    ),
    Case(
        "users_cannot_update_own_profile",
        "deny",
        RULE_USERS,
        lambda c: c.rest.patch(ALICE_PROFILE, {"name": "Mallory"}, c.alice(), ["name"], True),
    ),
    Case(
        "users_cannot_delete_own_profile",
        "deny",
        RULE_USERS,
        lambda c: _delete_own_fresh_profile(c),
    ),
    Case(
        "users_admin_cannot_update_profile",
        "deny",
        RULE_USERS,
        lambda c: c.rest.patch(ALICE_PROFILE, {"name": "X"}, c.admin(), ["name"], True),
    ),
    # users/{uid}/{sub}/{id}
    Case(
        "user_subcollections_owner_can_read_account",
        "allow",
        RULE_USER_SUBCOLLECTIONS,
        lambda c: c.rest.get(ALICE_ACCOUNT, c.alice()),
    ),
    Case(
        "user_subcollections_owner_can_list_transactions",
        "allow",
        RULE_USER_SUBCOLLECTIONS,
        lambda c: c.rest.list_documents(ALICE_TRANSACTIONS, c.alice()),
    ),
    Case(
        "user_subcollections_owner_can_query_transactions",
        "allow",
        RULE_USER_SUBCOLLECTIONS,
        lambda c: c.rest.query("transactions", c.alice(), parent=ALICE_PROFILE),
    ),
    Case(
        "user_subcollections_other_user_cannot_read_account",
        "deny",
        RULE_USER_SUBCOLLECTIONS,
        lambda c: c.rest.get(ALICE_ACCOUNT, c.bob()),
    ),
    Case(
        "user_subcollections_other_user_cannot_list_transactions",
        "deny",
        RULE_USER_SUBCOLLECTIONS,
        lambda c: c.rest.list_documents(ALICE_TRANSACTIONS, c.bob()),
    ),
    Case(
        "user_subcollections_signed_out_cannot_read_account",
        "deny",
        RULE_USER_SUBCOLLECTIONS,
        lambda c: c.rest.get(ALICE_ACCOUNT, None),
    ),
    Case(
        "user_subcollections_operator_cannot_read_transactions",
        "deny",
        RULE_USER_SUBCOLLECTIONS,
        lambda c: c.rest.list_documents(ALICE_TRANSACTIONS, c.operator()),
    ),
    Case(
        "user_subcollections_admin_cannot_read_account",
        "deny",
        RULE_USER_SUBCOLLECTIONS,
        lambda c: c.rest.get(ALICE_ACCOUNT, c.admin()),
    ),
    Case(
        "user_subcollections_no_collection_group_query_of_transactions",
        "deny",
        RULE_USER_SUBCOLLECTIONS,
        lambda c: c.rest.query("transactions", c.alice(), all_descendants=True),
    ),
    Case(
        "user_subcollections_owner_cannot_create_transaction",
        "deny",
        RULE_USER_SUBCOLLECTIONS,
        lambda c: c.rest.create(ALICE_TRANSACTIONS, c.new_id("tx"), {"amount": 1.0}, c.alice()),
    ),
    Case(
        "user_subcollections_owner_cannot_update_account",
        "deny",
        RULE_USER_SUBCOLLECTIONS,
        lambda c: c.rest.patch(ALICE_ACCOUNT, {"balance": 1e9}, c.alice(), ["balance"], True),
    ),
    Case(
        "user_subcollections_owner_cannot_delete_transaction",
        "deny",
        RULE_USER_SUBCOLLECTIONS,
        lambda c: c.rest.delete(c.fresh(ALICE_TRANSACTIONS, {"amount": -1.0}), c.alice()),
    ),
    Case(
        "user_subcollections_deeper_nesting_denied",
        "deny",
        RULE_ELSE,
        lambda c: c.rest.get(f"{ALICE_ACCOUNT}/statements/2026-10", c.alice()),
    ),
]
