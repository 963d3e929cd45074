"""The access model of the Firestore rules: who may do what (`RULE_*`, the statements the
cases cite), the users and the data the suite seeds, what a case is (`Case`), and what its
request gets to work with (`Context`). Also the permissive rules the policy pack rejects."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from spendsense.firestore_emulator.rest import FirestoreRest, Result, id_token

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

# The access model, one statement per rule; each case names the one it defends.
RULE_USERS = "users/{uid}: only the signed-in user uid reads it; no client writes it."
RULE_USER_SUBCOLLECTIONS = (
    "users/{uid}/{sub}/{id}: only the user uid reads any sub-collection; no client writes."
)
RULE_RECOMMENDATIONS_READ = (
    "recommendations/{id}: read by the user in user_id and by operators and admins; "
    "a user lists only with the filter user_id == their uid."
)
RULE_RECOMMENDATIONS_REVIEW = (
    "recommendations/{id}: operators and admins update an existing recommendation, changing "
    "only status (pending|approved|rejected|flagged), reviewed_by (their uid) and "
    "reviewed_at (the request time)."
)
RULE_RECOMMENDATIONS_WRITE = "recommendations/{id}: no client creates or deletes a recommendation."
RULE_AUDIT_LOGS = "audit_logs/{id}: admins read; no client writes."
RULE_ELSE = "Anything else: denied to everyone."


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
