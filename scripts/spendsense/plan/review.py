"""What a reviewer reads: the head plan with its changes against a base, its cost, plan checks.

`build` turns a head `PlanResult` (and a base plan, if any) into the plan JSON document with
the additions of `--base` (docs/plan.md, "Comparing with a base"): `base`, `changes`,
`output_changes`, each violation's `change`, `fixed_violations` and `cost`, and adds the
plan-level checks (`stack-protected-not-replaced`, `stack-budget-estimate`) to the result's
violations, so that they count for the verdict and the exit code like a policy's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from spendsense.errors import SpendsenseError
from spendsense.plan import cost, diff
from spendsense.plan.base import BasePlan, raw_stack_config
from spendsense.plan.preview import PlanResult, violation_order
from spendsense.repo import repo_root


def build(result: PlanResult, base: BasePlan | None) -> dict[str, Any]:
    from spendsense.plan import render

    head_config = raw_stack_config(Path(result.config_file))
    document: dict[str, Any] = json.loads(render.as_json(result))
    base_doc = base.document if base is not None else None
    olds = None
    if base_doc is not None:
        olds = _relative(base_doc["resources"], base.root if base is not None else None)
    changes = diff.compare_resources(_relative(document["resources"], str(repo_root())), olds)
    secrets = diff.secret_changes(head_config, base.stack_config if base is not None else None)
    if secrets:
        changes.append(
            diff.Change(
                result.stack_urn,
                "pulumi:pulumi:Stack",
                f"{result.project}-{result.stack}",
                "update",
                False,
                replace=None,
                diffs=secrets,
            )
        )
    estimate = cost.estimate(result.stack, document["resources"], head_config)
    base_checks: list[dict[str, Any]] = []
    if base is not None:
        estimate["base_monthly_usd"] = _base_cost(result.stack, base)
        base_checks = _base_budget_check(result, base, estimate["base_monthly_usd"])
    checks = diff.protected_violations(changes)
    over = cost.budget_violation(result.stack, result.stack_urn, estimate, head_config)
    if over is not None:
        checks.append(over)
    if checks:
        result.violations = sorted([*result.violations, *checks], key=violation_order)
        document = json.loads(render.as_json(result))
    base_violations = base_doc.get("violations") if base_doc is not None else None
    if isinstance(base_violations, list):
        base_violations = [*base_violations, *base_checks]
    marks, fixed = diff.violation_changes(
        document["violations"], base_violations if isinstance(base_violations, list) else None
    )
    for violation, mark in zip(document["violations"], marks, strict=True):
        violation["change"] = mark
    document["base"] = base.origin if base is not None else None
    # Sorted: the runtime registers resources concurrently, and a diff should be stable.
    document["changes"] = [c.as_dict() for c in sorted(changes, key=lambda c: c.urn)]
    document["output_changes"] = diff.output_changes(
        document["outputs"], base_doc.get("outputs") if base_doc is not None else None
    )
    document["fixed_violations"] = fixed
    document["cost"] = estimate
    document["summary"]["changes"] = counts(changes)
    return document


def _relative(resources: list[dict[str, Any]], root: str | None) -> list[dict[str, Any]]:
    """Asset paths relative to their tree, so the head's and the base's compare equal."""
    if not root:
        return resources
    prefix = root.rstrip("/") + "/"

    def strip(value: Any) -> Any:
        if isinstance(value, str) and value.startswith(prefix):
            return value[len(prefix) :]
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items()}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return [{**r, "inputs": strip(r.get("inputs") or {})} for r in resources]


def _base_budget_check(
    result: PlanResult, base: BasePlan, base_usd: float | None
) -> list[dict[str, Any]]:
    """The base's `stack-budget-estimate`, when the base's own plan predates the check."""
    violations = base.document.get("violations")
    if base_usd is None or not isinstance(violations, list):
        return []
    if any(isinstance(v, dict) and v.get("policy") == cost.BUDGET_POLICY for v in violations):
        return []
    found = cost.budget_violation(
        result.stack, result.stack_urn, {"monthly_usd": base_usd, "items": []}, base.stack_config
    )
    return [found.as_dict()] if found is not None else []


def _base_cost(stack: str, base: BasePlan) -> float | None:
    saved = base.document.get("cost")
    if base.stack_config is None and isinstance(saved, dict):
        value = saved.get("monthly_usd")
        return float(value) if isinstance(value, int | float) else None
    try:
        return float(
            cost.estimate(stack, base.document["resources"], base.stack_config)["monthly_usd"]
        )
    except SpendsenseError:  # a base whose usage profile this version cannot read: unpriced
        return None


def counts(changes: list[diff.Change]) -> dict[str, int]:
    out = {op: 0 for op in ("create", "update", "replace", "delete", "same")}
    for change in changes:
        if change.type.startswith("spendsense:") and change.op in ("update", "same"):
            continue  # a component's inputs are its children's: not counted twice
        out[change.op] += 1
    return out
