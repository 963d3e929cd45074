"""A small evaluator of IAM identity policies: is one call (action, resource, context) allowed?

Enough of IAM's logic for the CI roles' documents (aws_policies.py, aws_deploy.py): an explicit
Deny wins, else some Allow must match, else the call is denied
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
A statement matches when its Action/NotAction and Resource/NotResource match (IAM's `*` and
`?` wildcards, case-insensitive action names) and its Condition holds. Conditions: the
operators the CI roles use, with IAM's rules for a key the request does not carry (false,
except for the negated operators and `...IfExists`). A key this evaluator cannot judge makes
an Allow not apply and a Deny apply: it errs towards "denied".
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


def _list(value: Any) -> list[str]:
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def _glob(pattern: str, value: str, *, case: bool = True) -> bool:
    """IAM's wildcards: `*` any run of characters, `?` one (fnmatch's, without classes)."""
    regex = fnmatch.translate(pattern.replace("[", "[[]"))
    return re.match(regex, value, 0 if case else re.IGNORECASE) is not None


class Unknown(Exception):
    """A condition operator this evaluator does not implement."""


_NEGATED = {"StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike"}


def _test(operator: str, expected: list[str], actual: list[str] | None) -> bool:
    base = operator.removesuffix("IfExists")
    if base.startswith(("ForAllValues:", "ForAnyValue:")):
        raise Unknown(operator)
    if base == "Null":
        return (actual is None) == (expected[0].lower() == "true")
    if actual is None:
        return operator.endswith("IfExists") or base in _NEGATED
    if base in ("StringEquals", "ArnEquals"):
        return any(a == e for a in actual for e in expected)
    if base in ("StringLike", "ArnLike"):
        return any(_glob(e, a) for a in actual for e in expected)
    if base in ("StringNotEquals", "ArnNotEquals"):
        return not any(a == e for a in actual for e in expected)
    if base in ("StringNotLike", "ArnNotLike"):
        return not any(_glob(e, a) for a in actual for e in expected)
    if base == "Bool":
        return any(a.lower() == e.lower() for a in actual for e in expected)
    raise Unknown(operator)


def condition_holds(condition: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    """Every operator and every key must hold (IAM ANDs them); raises Unknown."""
    for operator, keys in condition.items():
        for key, expected in keys.items():
            actual = context.get(key)
            if not _test(operator, _list(expected), None if actual is None else _list(actual)):
                return False
    return True


@dataclass(frozen=True)
class Call:
    action: str  # service:Action
    resource: str = "*"
    context: Mapping[str, Any] = field(default_factory=dict)


def _matches(statement: Mapping[str, Any], call: Call) -> bool:
    if "Action" in statement:
        if not any(_glob(a, call.action, case=False) for a in _list(statement["Action"])):
            return False
    elif any(_glob(a, call.action, case=False) for a in _list(statement["NotAction"])):
        return False
    if "Resource" in statement:
        if not any(_glob(r, call.resource) for r in _list(statement["Resource"])):
            return False
    elif any(_glob(r, call.resource) for r in _list(statement["NotResource"])):
        return False
    return True


def _applies(statement: Mapping[str, Any], call: Call) -> bool:
    if not _matches(statement, call):
        return False
    try:
        return condition_holds(statement.get("Condition", {}), call.context)
    except Unknown:
        return statement["Effect"] == "Deny"


def decision(statements: Iterable[Mapping[str, Any]], call: Call) -> str:
    """'allowed', 'denied' (an explicit Deny) or 'not granted' (no Allow applies)."""
    applicable = [s for s in statements if _applies(s, call)]
    if any(s["Effect"] == "Deny" for s in applicable):
        return "denied"
    return "allowed" if applicable else "not granted"
