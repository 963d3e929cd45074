"""The cases of `recommendations/{id}`: reads and lists, reviews, creates and deletes."""

from __future__ import annotations

from spendsense.firestore_emulator.rest import Result
from spendsense.firestore_emulator.values import Timestamp
from spendsense.rules_suite.model import (
    ADMIN,
    ALICE,
    BOB,
    CAROL,
    OPERATOR,
    RULE_RECOMMENDATIONS_READ,
    RULE_RECOMMENDATIONS_REVIEW,
    RULE_RECOMMENDATIONS_WRITE,
    Case,
    Context,
)


def _rec_query(c: Context, token: str | None, user_id: str | None) -> Result:
    where = [("user_id", "EQUAL", user_id)] if user_id is not None else None
    return c.rest.query("recommendations", token=token, where=where)


def _review_status_case(status: str) -> Case:
    return Case(
        f"recommendations_review_status_may_become_{status}",
        "allow",
        RULE_RECOMMENDATIONS_REVIEW,
        lambda c: c.review(c.operator(), OPERATOR, status),
    )


RECOMMENDATION_CASES: list[Case] = [
    # recommendations/{id}: reads
    Case(
        "recommendations_user_can_read_own",
        "allow",
        RULE_RECOMMENDATIONS_READ,
        lambda c: c.rest.get("recommendations/rec_alice", c.alice()),
    ),
    Case(
        "recommendations_user_cannot_read_another_users",
        "deny",
        RULE_RECOMMENDATIONS_READ,
        lambda c: c.rest.get("recommendations/rec_bob", c.alice()),
    ),
    Case(
        "recommendations_signed_out_cannot_read",
        "deny",
        RULE_RECOMMENDATIONS_READ,
        lambda c: c.rest.get("recommendations/rec_alice", None),
    ),
    Case(
        "recommendations_operator_can_read_any",
        "allow",
        RULE_RECOMMENDATIONS_READ,
        lambda c: c.rest.get("recommendations/rec_bob", c.operator()),
    ),
    Case(
        "recommendations_admin_can_read_any",
        "allow",
        RULE_RECOMMENDATIONS_READ,
        lambda c: c.rest.get("recommendations/rec_alice", c.admin()),
    ),
    Case(
        "recommendations_user_can_list_own_with_user_id_filter",
        "allow",
        RULE_RECOMMENDATIONS_READ,
        lambda c: _rec_query(c, c.alice(), ALICE),
    ),
    Case(
        "recommendations_user_cannot_list_without_user_id_filter",
        "deny",
        RULE_RECOMMENDATIONS_READ,
        lambda c: _rec_query(c, c.alice(), None),
    ),
    Case(
        "recommendations_user_cannot_list_another_users",
        "deny",
        RULE_RECOMMENDATIONS_READ,
        lambda c: _rec_query(c, c.alice(), BOB),
    ),
    Case(
        "recommendations_other_role_claim_cannot_list_all",
        "deny",
        RULE_RECOMMENDATIONS_READ,
        lambda c: _rec_query(c, c.token(CAROL, role="viewer"), None),
    ),
    Case(
        "recommendations_signed_out_cannot_list",
        "deny",
        RULE_RECOMMENDATIONS_READ,
        lambda c: _rec_query(c, None, ALICE),
    ),
    Case(
        "recommendations_operator_can_list_all",
        "allow",
        RULE_RECOMMENDATIONS_READ,
        lambda c: _rec_query(c, c.operator(), None),
    ),
    Case(
        "recommendations_admin_can_list_all",
        "allow",
        RULE_RECOMMENDATIONS_READ,
        lambda c: _rec_query(c, c.admin(), None),
    ),
    # recommendations/{id}: reviews
    Case(
        "recommendations_operator_can_review",
        "allow",
        RULE_RECOMMENDATIONS_REVIEW,
        lambda c: c.review(c.operator(), OPERATOR, "approved"),
    ),
    Case(
        "recommendations_admin_can_review",
        "allow",
        RULE_RECOMMENDATIONS_REVIEW,
        lambda c: c.review(c.admin(), ADMIN, "rejected"),
    ),
    *(_review_status_case(status) for status in ("pending", "flagged")),
    Case(
        "recommendations_review_status_must_be_known",
        "deny",
        RULE_RECOMMENDATIONS_REVIEW,
        lambda c: c.review(c.operator(), OPERATOR, "archived"),
    ),
    Case(
        "recommendations_review_reviewed_by_must_be_reviewer",
        "deny",
        RULE_RECOMMENDATIONS_REVIEW,
        lambda c: c.review(c.operator(), ADMIN, "approved"),
    ),
    Case(
        "recommendations_review_must_sign_reviewed_by",
        "deny",
        RULE_RECOMMENDATIONS_REVIEW,
        lambda c: c.rest.commit(
            [
                c.rest.update_write(
                    c.fresh_recommendation(),
                    {"status": "approved"},
                    server_timestamps=["reviewed_at"],
                )
            ],
            c.operator(),
        ),
    ),
    Case(
        "recommendations_review_reviewed_at_must_be_request_time",
        "deny",
        RULE_RECOMMENDATIONS_REVIEW,
        lambda c: c.rest.patch(
            c.fresh_recommendation(),
            {
                "status": "approved",
                "reviewed_by": OPERATOR,
                "reviewed_at": Timestamp("2026-01-01T00:00:00Z"),
            },
            c.operator(),
            ["status", "reviewed_by", "reviewed_at"],
            True,
        ),
    ),
    Case(
        "recommendations_review_cannot_change_other_fields",
        "deny",
        RULE_RECOMMENDATIONS_REVIEW,
        lambda c: c.review(c.operator(), OPERATOR, "approved", extra={"title": "Edited"}),
    ),
    Case(
        "recommendations_review_cannot_reassign_user_id",
        "deny",
        RULE_RECOMMENDATIONS_REVIEW,
        lambda c: c.review(c.admin(), ADMIN, "approved", extra={"user_id": BOB}),
    ),
    Case(
        "recommendations_review_cannot_remove_fields",
        "deny",
        RULE_RECOMMENDATIONS_REVIEW,
        lambda c: c.rest.commit(
            [
                c.rest.update_write(
                    c.fresh_recommendation(),
                    {"status": "approved", "reviewed_by": OPERATOR},
                    update_mask=["status", "reviewed_by", "title"],  # title masked, not sent
                    server_timestamps=["reviewed_at"],
                )
            ],
            c.operator(),
        ),
    ),
    Case(
        "recommendations_user_cannot_review_own",
        "deny",
        RULE_RECOMMENDATIONS_REVIEW,
        lambda c: c.review(c.alice(), ALICE, "approved"),
    ),
    Case(
        "recommendations_signed_out_cannot_review",
        "deny",
        RULE_RECOMMENDATIONS_REVIEW,
        lambda c: c.review(None, OPERATOR, "approved"),
    ),
    Case(
        "recommendations_operator_cannot_update_missing",
        "deny",
        RULE_RECOMMENDATIONS_WRITE,
        lambda c: c.rest.commit(
            [
                c.rest.update_write(
                    f"recommendations/{c.new_id('missing')}",
                    {"status": "approved", "reviewed_by": OPERATOR},
                    server_timestamps=["reviewed_at"],
                    exists=None,  # an upsert: would create the document
                )
            ],
            c.operator(),
        ),
    ),
    # recommendations/{id}: create and delete
    Case(
        "recommendations_operator_cannot_create",
        "deny",
        RULE_RECOMMENDATIONS_WRITE,
        lambda c: c.rest.create(
            "recommendations",
            c.new_id("new"),
            {"user_id": ALICE, "status": "pending"},
            c.operator(),
        ),
    ),
    Case(
        "recommendations_admin_cannot_create",
        "deny",
        RULE_RECOMMENDATIONS_WRITE,
        lambda c: c.rest.create(
            "recommendations", c.new_id("new"), {"user_id": ALICE, "status": "pending"}, c.admin()
        ),
    ),
    Case(
        "recommendations_user_cannot_create_own",
        "deny",
        RULE_RECOMMENDATIONS_WRITE,
        lambda c: c.rest.create(
            "recommendations", c.new_id("new"), {"user_id": ALICE, "status": "pending"}, c.alice()
        ),
    ),
    Case(
        "recommendations_operator_cannot_delete",
        "deny",
        RULE_RECOMMENDATIONS_WRITE,
        lambda c: c.rest.delete(c.fresh_recommendation(), c.operator()),
    ),
    Case(
        "recommendations_admin_cannot_delete",
        "deny",
        RULE_RECOMMENDATIONS_WRITE,
        lambda c: c.rest.delete(c.fresh_recommendation(), c.admin()),
    ),
    Case(
        "recommendations_user_cannot_delete_own",
        "deny",
        RULE_RECOMMENDATIONS_WRITE,
        lambda c: c.rest.delete(c.fresh_recommendation(ALICE), c.alice()),
    ),
]
