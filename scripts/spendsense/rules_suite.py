"""The Firestore access model as executable cases, run against the Firestore emulator.

One definition serves both `spendsense rules test [--rules FILE]` and the pytest suite in
tests/rules (which parametrizes over `CASES`). Each case is named after the rule it defends,
makes one request the way a client SDK makes it (REST, unsigned Firebase ID token carrying
the claims under test), and expects `allow` (a 2xx answer) or `deny` (HTTP 403 from the
rules). Any other answer (404, 400, 409) fails the case: a missing document is not proof
that the rules denied access.

Data is seeded with the rules bypassed (the emulator's `owner` token). Every case that
deletes, or writes something another case reads, works on a document created for it alone
(`Context.fresh`, `Context.fresh_recommendation`), so no case depends on the order of the
others, even against rules that wrongly allow writes (the open rules in tests/rules).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from spendsense.firestore_emulator.process import FirestoreEmulator
from spendsense.firestore_emulator.rest import EmulatorError, FirestoreRest, Result, id_token
from spendsense.firestore_emulator.values import Timestamp, to_fields

Expect = Literal["allow", "deny"]

ALICE = "alice"  # a customer with a profile, accounts, transactions and a recommendation
BOB = "bob"  # another customer
CAROL = "carol"  # a signed-in user with no profile yet
OPERATOR = "olivia-operator"
ADMIN = "adam-admin"

# Permissive rules the policy pack's gcp-firestore-rules-no-open-access rejects. The tests
# load each one and show it is open, so the policy and the tests agree on what "open" means.
OPEN_RULES = """rules_version = '2';
service cloud.firestore {
  match /databases/{database}/documents {
    match /{document=**} {
      allow read, write: if true;
    }
  }
}
"""
TEST_MODE_RULES = """rules_version = '2';
service cloud.firestore {
  match /databases/{database}/documents {
    match /{document=**} {
      allow read, write: if request.time < timestamp.date(2030, 1, 1);
    }
  }
}
"""
PERMISSIVE_EXAMPLES: dict[str, str] = {"open": OPEN_RULES, "test-mode": TEST_MODE_RULES}

SEED: dict[str, dict[str, Any]] = {
    f"users/{ALICE}": {"name": "Alice", "email": "alice@example.com"},
    f"users/{BOB}": {"name": "Bob", "email": "bob@example.com"},
    f"users/{ALICE}/accounts/checking": {"name": "Checking", "balance": 1520.75},
    f"users/{ALICE}/transactions/tx1": {"amount": -42.5, "merchant": "Grocer"},
    f"users/{ALICE}/transactions/tx2": {"amount": -9.99, "merchant": "Streaming"},
    f"users/{ALICE}/accounts/checking/statements/2026-10": {"pages": 3},
    f"users/{BOB}/accounts/savings": {"name": "Savings", "balance": 300.0},
    f"users/{BOB}/transactions/tx9": {"amount": -5.0, "merchant": "Cafe"},
    "recommendations/rec_alice": {
        "user_id": ALICE,
        "title": "Cut streaming spend",
        "status": "pending",
        "reviewed_by": None,
        "reviewed_at": None,
    },
    "recommendations/rec_bob": {
        "user_id": BOB,
        "title": "Start an emergency fund",
        "status": "pending",
        "reviewed_by": None,
        "reviewed_at": None,
    },
    "audit_logs/log1": {"action": "recommendation.approved", "actor": OPERATOR},
    "settings/global": {"maintenance": False},
}


@dataclass
class Context:
    """What a case's request needs: the REST client of the project under test and tokens."""

    rest: FirestoreRest
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def project(self) -> str:
        return self.rest.project

    def token(self, uid: str, **claims: Any) -> str:
        return id_token(uid, project=self.project, **claims)

    def alice(self) -> str:
        return self.token(ALICE)

    def bob(self) -> str:
        return self.token(BOB)

    def carol(self) -> str:
        return self.token(CAROL)

    def operator(self) -> str:
        return self.token(OPERATOR, role="operator")

    def admin(self) -> str:
        return self.token(ADMIN, role="admin")

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids)}"

    def fresh(self, collection: str, data: dict[str, Any], doc_id: str | None = None) -> str:
        """Seed (rules bypassed) a new document for one case; returns its path."""
        path = f"{collection}/{doc_id or self.new_id(collection.rsplit('/', 1)[-1])}"
        self.rest.set(path, data)
        return path

    def fresh_recommendation(self, user_id: str = ALICE) -> str:
        """Seed (rules bypassed) a new pending recommendation; returns its path."""
        path = f"recommendations/{self.new_id('rec')}"
        self.rest.set(
            path,
            {
                "user_id": user_id,
                "title": "Review subscriptions",
                "status": "pending",
                "reviewed_by": None,
                "reviewed_at": None,
            },
        )
        return path

    def review(
        self,
        token: str | None,
        reviewer: str,
        status: str = "approved",
        extra: dict[str, Any] | None = None,
        path: str | None = None,
    ) -> Result:
        """A review as the dashboard sends it: `update({status, reviewed_by,
        reviewed_at: SERVER_TIMESTAMP})`, i.e. a commit with a field mask and a transform."""
        target = path or self.fresh_recommendation()
        data = {"status": status, "reviewed_by": reviewer, **(extra or {})}
        write = self.rest.update_write(target, data, server_timestamps=["reviewed_at"])
        return self.rest.commit([write], token=token)


@dataclass(frozen=True)
class Case:
    """One rule of the access model and the request that proves it."""

    name: str
    expect: Expect
    rule: str
    request: Callable[[Context], Result]


@dataclass(frozen=True)
class Outcome:
    case: Case
    passed: bool
    status: int
    detail: str

    def line(self) -> str:
        mark = "PASS" if self.passed else "FAIL"
        return f"{mark}  {self.case.name}  (expect {self.case.expect}: {self.detail})"


def judge(case: Case, result: Result) -> Outcome:
    """Pass when the answer is what the case expects: 2xx for allow, 403 for deny."""
    passed = result.ok if case.expect == "allow" else result.denied
    if result.ok:
        detail = f"allowed, HTTP {result.status}"
    elif result.denied:
        detail = "denied by the rules, HTTP 403"
    else:
        detail = f"HTTP {result.status}, neither allowed nor denied by the rules: {result.message}"
    return Outcome(case, passed, result.status, detail)


def seed(rest: FirestoreRest) -> None:
    """Write the suite's data with the rules bypassed."""
    writes = [
        {"update": {"name": rest.name(path), "fields": to_fields(data)}}
        for path, data in SEED.items()
    ]
    result = rest.commit(writes)
    if not result.ok:
        raise EmulatorError(
            f"seeding the rules suite's data failed: {result.status} {result.message}"
        )


def run_case(case: Case, context: Context) -> Outcome:
    return judge(case, case.request(context))


def prepare(emulator: FirestoreEmulator, rules: str, project: str | None = None) -> list[str]:
    """Load `rules` for the project, wipe it and seed it; returns the compiler's warnings."""
    warnings = emulator.load_rules(rules, project=project)
    emulator.wipe(project=project)
    seed(emulator.rest(project))
    return warnings


def run_cases(context: Context, cases: Iterable[Case], workers: int = 1) -> list[Outcome]:
    """Run cases against a prepared project, in order. Cases are independent of each other,
    so `workers` > 1 runs them on that many threads; the outcomes keep the cases' order."""
    selected = list(cases)
    if workers <= 1:
        return [run_case(case, context) for case in selected]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda case: run_case(case, context), selected))


def run_suite(
    emulator: FirestoreEmulator,
    rules: str,
    project: str | None = None,
    cases: Iterable[Case] | None = None,
    workers: int = 1,
) -> list[Outcome]:
    """Load `rules` into a running emulator, seed, and run the cases (default: all); raises
    RulesCompileError if the rules do not compile."""
    prepare(emulator, rules, project)
    return run_cases(Context(emulator.rest(project)), CASES if cases is None else cases, workers)


# --- The cases, grouped by collection; every allow and every deny of the model --------------

_USERS = "users/{uid}: only the signed-in user uid reads it; no client writes it."
_SUB = "users/{uid}/{sub}/{id}: only the user uid reads any sub-collection; no client writes."
_REC_READ = (
    "recommendations/{id}: read by the user in user_id and by operators and admins; "
    "a user lists only with the filter user_id == their uid."
)
_REC_REVIEW = (
    "recommendations/{id}: operators and admins update an existing recommendation, changing "
    "only status (pending|approved|rejected|flagged), reviewed_by (their uid) and "
    "reviewed_at (the request time)."
)
_REC_WRITE = "recommendations/{id}: no client creates or deletes a recommendation."
_AUDIT = "audit_logs/{id}: admins read; no client writes."
_ELSE = "Anything else: denied to everyone."

ALICE_PROFILE = f"users/{ALICE}"
ALICE_ACCOUNT = f"users/{ALICE}/accounts/checking"
ALICE_TRANSACTIONS = f"users/{ALICE}/transactions"


def _rec_query(c: Context, token: str | None, user_id: str | None) -> Result:
    where = [("user_id", "EQUAL", user_id)] if user_id is not None else None
    return c.rest.query("recommendations", token=token, where=where)


def _delete_own_fresh_profile(c: Context) -> Result:
    uid = c.new_id("user")
    c.fresh("users", {"name": "Temporary"}, doc_id=uid)
    return c.rest.delete(f"users/{uid}", c.token(uid))


def _review_status_case(status: str) -> Case:
    return Case(
        f"recommendations_review_status_may_become_{status}",
        "allow",
        _REC_REVIEW,
        lambda c: c.review(c.operator(), OPERATOR, status),
    )


CASES: list[Case] = [
    # users/{uid}
    Case(
        "users_owner_can_read_own_profile",
        "allow",
        _USERS,
        lambda c: c.rest.get(ALICE_PROFILE, c.alice()),
    ),
    Case(
        "users_other_user_cannot_read_profile",
        "deny",
        _USERS,
        lambda c: c.rest.get(ALICE_PROFILE, c.bob()),
    ),
    Case(
        "users_signed_out_cannot_read_profile",
        "deny",
        _USERS,
        lambda c: c.rest.get(ALICE_PROFILE, None),
    ),
    Case(
        "users_operator_cannot_read_profile",
        "deny",
        _USERS,
        lambda c: c.rest.get(ALICE_PROFILE, c.operator()),
    ),
    Case(
        "users_admin_cannot_read_profile",
        "deny",
        _USERS,
        lambda c: c.rest.get(ALICE_PROFILE, c.admin()),
    ),
    Case(
        "users_cannot_list_all_profiles",
        "deny",
        _USERS,
        lambda c: c.rest.query("users", c.alice()),
    ),
    Case(
        "users_cannot_create_own_profile",
        "deny",
        _USERS,
        lambda c: c.rest.create("users", CAROL, {"name": "Carol"}, c.carol()),
    ),
    Case(
        "users_cannot_update_own_profile",
        "deny",
        _USERS,
        lambda c: c.rest.patch(ALICE_PROFILE, {"name": "Mallory"}, c.alice(), ["name"], True),
    ),
    Case(
        "users_cannot_delete_own_profile",
        "deny",
        _USERS,
        lambda c: _delete_own_fresh_profile(c),
    ),
    Case(
        "users_admin_cannot_update_profile",
        "deny",
        _USERS,
        lambda c: c.rest.patch(ALICE_PROFILE, {"name": "X"}, c.admin(), ["name"], True),
    ),
    # users/{uid}/{sub}/{id}
    Case(
        "user_subcollections_owner_can_read_account",
        "allow",
        _SUB,
        lambda c: c.rest.get(ALICE_ACCOUNT, c.alice()),
    ),
    Case(
        "user_subcollections_owner_can_list_transactions",
        "allow",
        _SUB,
        lambda c: c.rest.list_documents(ALICE_TRANSACTIONS, c.alice()),
    ),
    Case(
        "user_subcollections_owner_can_query_transactions",
        "allow",
        _SUB,
        lambda c: c.rest.query("transactions", c.alice(), parent=ALICE_PROFILE),
    ),
    Case(
        "user_subcollections_other_user_cannot_read_account",
        "deny",
        _SUB,
        lambda c: c.rest.get(ALICE_ACCOUNT, c.bob()),
    ),
    Case(
        "user_subcollections_other_user_cannot_list_transactions",
        "deny",
        _SUB,
        lambda c: c.rest.list_documents(ALICE_TRANSACTIONS, c.bob()),
    ),
    Case(
        "user_subcollections_signed_out_cannot_read_account",
        "deny",
        _SUB,
        lambda c: c.rest.get(ALICE_ACCOUNT, None),
    ),
    Case(
        "user_subcollections_operator_cannot_read_transactions",
        "deny",
        _SUB,
        lambda c: c.rest.list_documents(ALICE_TRANSACTIONS, c.operator()),
    ),
    Case(
        "user_subcollections_admin_cannot_read_account",
        "deny",
        _SUB,
        lambda c: c.rest.get(ALICE_ACCOUNT, c.admin()),
    ),
    Case(
        "user_subcollections_no_collection_group_query_of_transactions",
        "deny",
        _SUB,
        lambda c: c.rest.query("transactions", c.alice(), all_descendants=True),
    ),
    Case(
        "user_subcollections_owner_cannot_create_transaction",
        "deny",
        _SUB,
        lambda c: c.rest.create(ALICE_TRANSACTIONS, c.new_id("tx"), {"amount": 1.0}, c.alice()),
    ),
    Case(
        "user_subcollections_owner_cannot_update_account",
        "deny",
        _SUB,
        lambda c: c.rest.patch(ALICE_ACCOUNT, {"balance": 1e9}, c.alice(), ["balance"], True),
    ),
    Case(
        "user_subcollections_owner_cannot_delete_transaction",
        "deny",
        _SUB,
        lambda c: c.rest.delete(c.fresh(ALICE_TRANSACTIONS, {"amount": -1.0}), c.alice()),
    ),
    Case(
        "user_subcollections_deeper_nesting_denied",
        "deny",
        _ELSE,
        lambda c: c.rest.get(f"{ALICE_ACCOUNT}/statements/2026-10", c.alice()),
    ),
    # recommendations/{id}: reads
    Case(
        "recommendations_user_can_read_own",
        "allow",
        _REC_READ,
        lambda c: c.rest.get("recommendations/rec_alice", c.alice()),
    ),
    Case(
        "recommendations_user_cannot_read_another_users",
        "deny",
        _REC_READ,
        lambda c: c.rest.get("recommendations/rec_bob", c.alice()),
    ),
    Case(
        "recommendations_signed_out_cannot_read",
        "deny",
        _REC_READ,
        lambda c: c.rest.get("recommendations/rec_alice", None),
    ),
    Case(
        "recommendations_operator_can_read_any",
        "allow",
        _REC_READ,
        lambda c: c.rest.get("recommendations/rec_bob", c.operator()),
    ),
    Case(
        "recommendations_admin_can_read_any",
        "allow",
        _REC_READ,
        lambda c: c.rest.get("recommendations/rec_alice", c.admin()),
    ),
    Case(
        "recommendations_user_can_list_own_with_user_id_filter",
        "allow",
        _REC_READ,
        lambda c: _rec_query(c, c.alice(), ALICE),
    ),
    Case(
        "recommendations_user_cannot_list_without_user_id_filter",
        "deny",
        _REC_READ,
        lambda c: _rec_query(c, c.alice(), None),
    ),
    Case(
        "recommendations_user_cannot_list_another_users",
        "deny",
        _REC_READ,
        lambda c: _rec_query(c, c.alice(), BOB),
    ),
    Case(
        "recommendations_other_role_claim_cannot_list_all",
        "deny",
        _REC_READ,
        lambda c: _rec_query(c, c.token(CAROL, role="viewer"), None),
    ),
    Case(
        "recommendations_signed_out_cannot_list",
        "deny",
        _REC_READ,
        lambda c: _rec_query(c, None, ALICE),
    ),
    Case(
        "recommendations_operator_can_list_all",
        "allow",
        _REC_READ,
        lambda c: _rec_query(c, c.operator(), None),
    ),
    Case(
        "recommendations_admin_can_list_all",
        "allow",
        _REC_READ,
        lambda c: _rec_query(c, c.admin(), None),
    ),
    # recommendations/{id}: reviews
    Case(
        "recommendations_operator_can_review",
        "allow",
        _REC_REVIEW,
        lambda c: c.review(c.operator(), OPERATOR, "approved"),
    ),
    Case(
        "recommendations_admin_can_review",
        "allow",
        _REC_REVIEW,
        lambda c: c.review(c.admin(), ADMIN, "rejected"),
    ),
    *(_review_status_case(status) for status in ("pending", "flagged")),
    Case(
        "recommendations_review_status_must_be_known",
        "deny",
        _REC_REVIEW,
        lambda c: c.review(c.operator(), OPERATOR, "archived"),
    ),
    Case(
        "recommendations_review_reviewed_by_must_be_reviewer",
        "deny",
        _REC_REVIEW,
        lambda c: c.review(c.operator(), ADMIN, "approved"),
    ),
    Case(
        "recommendations_review_must_sign_reviewed_by",
        "deny",
        _REC_REVIEW,
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
        _REC_REVIEW,
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
        _REC_REVIEW,
        lambda c: c.review(c.operator(), OPERATOR, "approved", extra={"title": "Edited"}),
    ),
    Case(
        "recommendations_review_cannot_reassign_user_id",
        "deny",
        _REC_REVIEW,
        lambda c: c.review(c.admin(), ADMIN, "approved", extra={"user_id": BOB}),
    ),
    Case(
        "recommendations_review_cannot_remove_fields",
        "deny",
        _REC_REVIEW,
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
        _REC_REVIEW,
        lambda c: c.review(c.alice(), ALICE, "approved"),
    ),
    Case(
        "recommendations_signed_out_cannot_review",
        "deny",
        _REC_REVIEW,
        lambda c: c.review(None, OPERATOR, "approved"),
    ),
    Case(
        "recommendations_operator_cannot_update_missing",
        "deny",
        _REC_WRITE,
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
        _REC_WRITE,
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
        _REC_WRITE,
        lambda c: c.rest.create(
            "recommendations", c.new_id("new"), {"user_id": ALICE, "status": "pending"}, c.admin()
        ),
    ),
    Case(
        "recommendations_user_cannot_create_own",
        "deny",
        _REC_WRITE,
        lambda c: c.rest.create(
            "recommendations", c.new_id("new"), {"user_id": ALICE, "status": "pending"}, c.alice()
        ),
    ),
    Case(
        "recommendations_operator_cannot_delete",
        "deny",
        _REC_WRITE,
        lambda c: c.rest.delete(c.fresh_recommendation(), c.operator()),
    ),
    Case(
        "recommendations_admin_cannot_delete",
        "deny",
        _REC_WRITE,
        lambda c: c.rest.delete(c.fresh_recommendation(), c.admin()),
    ),
    Case(
        "recommendations_user_cannot_delete_own",
        "deny",
        _REC_WRITE,
        lambda c: c.rest.delete(c.fresh_recommendation(ALICE), c.alice()),
    ),
    # audit_logs/{id}
    Case(
        "audit_logs_admin_can_read",
        "allow",
        _AUDIT,
        lambda c: c.rest.get("audit_logs/log1", c.admin()),
    ),
    Case(
        "audit_logs_admin_can_list",
        "allow",
        _AUDIT,
        lambda c: c.rest.query("audit_logs", c.admin()),
    ),
    Case(
        "audit_logs_operator_cannot_read",
        "deny",
        _AUDIT,
        lambda c: c.rest.get("audit_logs/log1", c.operator()),
    ),
    Case(
        "audit_logs_user_cannot_list",
        "deny",
        _AUDIT,
        lambda c: c.rest.query("audit_logs", c.alice()),
    ),
    Case(
        "audit_logs_signed_out_cannot_read",
        "deny",
        _AUDIT,
        lambda c: c.rest.get("audit_logs/log1", None),
    ),
    Case(
        "audit_logs_admin_cannot_create",
        "deny",
        _AUDIT,
        lambda c: c.rest.create("audit_logs", c.new_id("log"), {"action": "x"}, c.admin()),
    ),
    Case(
        "audit_logs_admin_cannot_update",
        "deny",
        _AUDIT,
        lambda c: c.rest.patch("audit_logs/log1", {"action": "x"}, c.admin(), ["action"], True),
    ),
    Case(
        "audit_logs_admin_cannot_delete",
        "deny",
        _AUDIT,
        lambda c: c.rest.delete(c.fresh("audit_logs", {"action": "x"}), c.admin()),
    ),
    # anything else
    Case(
        "other_paths_admin_cannot_read",
        "deny",
        _ELSE,
        lambda c: c.rest.get("settings/global", c.admin()),
    ),
    Case(
        "other_paths_operator_cannot_list",
        "deny",
        _ELSE,
        lambda c: c.rest.query("settings", c.operator()),
    ),
    Case(
        "other_paths_user_cannot_write",
        "deny",
        _ELSE,
        lambda c: c.rest.create("settings", c.new_id("pref"), {"theme": "dark"}, c.alice()),
    ),
    Case(
        "other_paths_signed_out_cannot_write",
        "deny",
        _ELSE,
        lambda c: c.rest.patch("settings/global", {"maintenance": True}, None),
    ),
]


def _check_unique(cases: list[Case]) -> None:
    names = [case.name for case in cases]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise AssertionError(f"duplicate rules case names: {', '.join(duplicates)}")


_check_unique(CASES)
