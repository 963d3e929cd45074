"""Compare a head plan with a base plan: resource changes, output changes, verdict changes.

Works on the plan JSON's form (`resources` entries with `urn`, `type`, `name`, `protect`,
`inputs`), so a base may come from a temporary worktree's `spendsense plan --json` or from a
saved file. Which input changes force a replacement is data, written down once with its source:
`data/replacements.json`. Owns the plan-level check `stack-protected-not-replaced`.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from spendsense.plan.analyzer import Diagnostic

# Package data, found through the package (not a path computed from this file).
REPLACEMENTS_FILE = Path(str(files("spendsense.plan").joinpath("data", "replacements.json")))
PROTECTED_POLICY = "stack-protected-not-replaced"
SECRET = "[secret]"
_MISSING = object()


@dataclass
class Change:
    urn: str
    type: str
    name: str
    op: str  # create, update, replace, delete, same
    protect: bool
    replace: str | None = None  # "maybe" where unsure whether an update replaces
    diffs: list[dict[str, Any]] = field(default_factory=list)
    forced_by: list[str] = field(default_factory=list)  # the paths that force the replace
    source: str = ""  # where the replace-forcing inputs come from

    def as_dict(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "op": self.op,
            "protect": self.protect,
            "replace": self.replace,
            "diffs": self.diffs,
        }


@functools.cache
def replacement_rules() -> dict[str, dict[str, Any]]:
    rules: dict[str, dict[str, Any]] = json.loads(REPLACEMENTS_FILE.read_text("utf-8"))["types"]
    return rules


def _rule(resource: dict[str, Any]) -> dict[str, Any] | None:
    rules = replacement_rules()
    return rules.get(f"{resource['type']}::{resource['name']}") or rules.get(resource["type"])


def _covers(prefix: str, path: str) -> bool:
    return path == prefix or path.startswith(prefix + ".")


def input_diffs(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """Dotted-path differences between two JSON values (`None` where a side has no value)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[dict[str, Any]] = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            out += input_diffs(old.get(key, _MISSING), new.get(key, _MISSING), sub)
        return out
    if isinstance(old, list) and isinstance(new, list):
        out = []
        for index in range(max(len(old), len(new))):
            sub = f"{path}.{index}" if path else str(index)
            left = old[index] if index < len(old) else _MISSING
            right = new[index] if index < len(new) else _MISSING
            out += input_diffs(left, right, sub)
        return out
    if old is _MISSING and new is _MISSING:
        return []
    if old == new and (type(old) is type(new) or _numbers(old, new)):
        return []
    return [
        {
            "path": path,
            "old": None if old is _MISSING else old,
            "new": None if new is _MISSING else new,
        }
    ]


def _numbers(*values: Any) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def compare_resources(
    head: list[dict[str, Any]], base: list[dict[str, Any]] | None
) -> list[Change]:
    """One change per head resource (in order), then one per base resource that is gone."""
    if base is None:
        return [
            Change(r["urn"], r["type"], r["name"], "create", bool(r.get("protect"))) for r in head
        ]
    olds = {r["urn"]: r for r in base}
    changes = []
    for resource in head:
        old = olds.get(resource["urn"])
        protect = bool(resource.get("protect"))
        if old is None:
            changes.append(
                Change(resource["urn"], resource["type"], resource["name"], "create", protect)
            )
            continue
        diffs = input_diffs(old.get("inputs") or {}, resource.get("inputs") or {})
        changes.append(_classify(resource, old, diffs))
    heads = {r["urn"] for r in head}
    for old in base:
        if old["urn"] not in heads:
            changes.append(
                Change(old["urn"], old["type"], old["name"], "delete", bool(old.get("protect")))
            )
    return changes


def _classify(resource: dict[str, Any], old: dict[str, Any], diffs: list[dict[str, Any]]) -> Change:
    rule = _rule(resource)
    if rule is not None:
        diffs = [d for d in diffs if not _same_but_case(rule, d)]
    change = Change(
        resource["urn"],
        resource["type"],
        resource["name"],
        "same",
        bool(old.get("protect")) or bool(resource.get("protect")),
        diffs=diffs,
    )
    protect_changed = bool(old.get("protect")) != bool(resource.get("protect"))
    if not diffs:
        change.op = "update" if protect_changed else "same"
        return change
    change.op = "update"
    if not resource.get("custom", True) or resource["type"].startswith("spendsense:"):
        return change  # a component has no cloud object to replace
    if rule is None:
        change.replace = "maybe"
        return change
    change.source = str(rule.get("source", ""))
    paths = [d["path"] for d in diffs]
    forced = [p for p in paths if any(_covers(f, p) for f in rule.get("forces", []))]
    forced += [d["path"] for d in diffs if _forced_when(rule, d) and d["path"] not in forced]
    maybe = [p for p in paths if any(_covers(f, p) for f in rule.get("maybe", []))]
    if forced:
        change.op = "replace"
        change.forced_by = forced
    elif maybe:
        change.replace = "maybe"
        change.forced_by = maybe
    return change


def _same_but_case(rule: dict[str, Any], diff: dict[str, Any]) -> bool:
    """A change of letter case only, at a path the provider upper-cases (`case_insensitive`)."""
    old, new = diff["old"], diff["new"]
    if not (isinstance(old, str) and isinstance(new, str)) or old.upper() != new.upper():
        return False
    return any(_covers(f, diff["path"]) for f in rule.get("case_insensitive", []))


def _forced_when(rule: dict[str, Any], diff: dict[str, Any]) -> bool:
    """A conditional ForceNew (`forces_when`: path -> [[old, new], ...]; null = no value)."""
    pairs = rule.get("forces_when", {}).get(diff["path"], [])
    return [diff["old"], diff["new"]] in pairs


def secret_changes(
    head: dict[str, Any] | None, base: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Diffs of the stack files' `secure:` values: a changed ciphertext, never its value."""
    if head is None or base is None:
        return []
    out = []
    for key in sorted(set(_secure_keys(head)) | set(_secure_keys(base))):
        old, new = _secure_keys(base).get(key), _secure_keys(head).get(key)
        if old != new:
            out.append(
                {
                    "path": f"config.{key}",
                    "old": SECRET if old is not None else None,
                    "new": SECRET if new is not None else None,
                }
            )
    return out


def _secure_keys(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in config.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and set(value) == {"secure"}:
            found[path] = str(value["secure"])
        elif isinstance(value, dict):
            found.update(_secure_keys(value, path))
    return found


def output_changes(head: dict[str, Any], base: dict[str, Any] | None) -> list[dict[str, Any]]:
    if base is None:
        return []
    return [
        {"name": name, "old": base.get(name), "new": head.get(name)}
        for name in sorted(set(head) | set(base))
        if head.get(name, _MISSING) != base.get(name, _MISSING)
    ]


def protected_violations(changes: list[Change]) -> list[Diagnostic]:
    """`stack-protected-not-replaced`: a protected resource that the change deletes or replaces."""
    found = []
    for change in changes:
        what = f"{change.name} ({change.type}) is protected"
        if not change.protect:
            continue
        if change.op == "delete":
            message = (
                f"{what} and this change deletes it: it is no longer in the program. Keep it, "
                "or unprotect it in a reviewed change of its own first"
            )
            found.append(Diagnostic(PROTECTED_POLICY, "mandatory", change.urn, message))
        elif change.op == "replace" or change.replace == "maybe":
            forcing = "; ".join(_forcing(change))
            sure = "replaces" if change.op == "replace" else "may replace"
            message = (
                f"{what} and this change {sure} it (delete and create: its data is lost): "
                f"{forcing} (replace-forcing per {change.source})"
            )
            level = "mandatory" if change.op == "replace" else "advisory"
            found.append(Diagnostic(PROTECTED_POLICY, level, change.urn, message))
    return found


def _forcing(change: Change) -> list[str]:
    by_path = {d["path"]: d for d in change.diffs}
    return [
        f"{p} changes from {json.dumps(by_path[p]['old'])} to {json.dumps(by_path[p]['new'])}"
        for p in change.forced_by
    ]


def violation_changes(
    head: list[dict[str, Any]], base: list[dict[str, Any]] | None
) -> tuple[list[str], list[dict[str, Any]]]:
    """Each head violation's `change` ("new"/"unchanged", by policy and resource) and the base's
    violations that are gone (`fixed_violations`)."""
    if base is None:
        return ["new"] * len(head), []
    remaining = Counter((v["policy"], v["urn"]) for v in base)
    marks = []
    for v in head:
        key = (v["policy"], v["urn"])
        if remaining[key] > 0:
            remaining[key] -= 1
            marks.append("unchanged")
        else:
            marks.append("new")
    present = Counter((v["policy"], v["urn"]) for v in head)
    fixed = []
    for v in base:
        key = (v["policy"], v["urn"])
        if present[key] > 0:
            present[key] -= 1
        else:
            fixed.append({k: v.get(k) for k in ("policy", "level", "urn", "message")})
    return marks, fixed
