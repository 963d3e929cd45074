"""The reviewed plan (`plan.review.build`'s document) as text and as a pull-request comment.

Both lead with one summary line per stack (changes, cost delta, new mandatory violations),
then the changes with their diffs, then the violations; the full inventory (plan/render.py's
listing) only with `--verbose` (text) or folded away (Markdown).
"""

from __future__ import annotations

import json
from typing import Any

from spendsense.plan import render
from spendsense.plan.diff import SECRET
from spendsense.plan.preview import PlanResult

MARK = {"create": "+", "update": "~", "replace": "+-", "delete": "-"}
VALUE_WIDTH = 100


def _value(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 3] + "..."


def _diff_text(diff: dict[str, Any], *, markdown: bool) -> str:
    """One input difference; a `secure:` value whose ciphertext differs is "changed or
    re-encrypted" (a re-encryption of the same value also changes the ciphertext)."""
    tick = "`" if markdown else ""
    path, old, new = diff["path"], _value(diff["old"]), _value(diff["new"])
    if diff["old"] == diff["new"] == SECRET:
        return f"{tick}{path}{tick}: {SECRET} changed or re-encrypted"
    arrow = "→" if markdown else "->"
    return f"{tick}{path}{tick}: {tick}{old}{tick} {arrow} {tick}{new}{tick}"


def _money(value: float) -> str:
    return f"{'+' if value >= 0 else '-'}${abs(value):,.2f}"


def summary_line(document: dict[str, Any]) -> str:
    counts = document["summary"]["changes"]
    cost = document["cost"]
    new_mandatory = sum(
        1 for v in document["violations"] if v["level"] == "mandatory" and v["change"] == "new"
    )
    if document["base"] is None:
        changes = f"{counts['create']} to create (no base to compare with)"
        money = f"${cost['monthly_usd']:,.2f}/month"
    else:
        changes = (
            f"{counts['create']} to create, {counts['update']} to update, "
            f"{counts['replace']} to replace, {counts['delete']} to delete"
        )
        before = cost["base_monthly_usd"]
        money = (
            f"{_money(cost['monthly_usd'] - before)}/month (${cost['monthly_usd']:,.2f})"
            if isinstance(before, int | float)
            else f"${cost['monthly_usd']:,.2f}/month (base not priced)"
        )
    verdict = f"{new_mandatory} new mandatory violation{'s' if new_mandatory != 1 else ''}"
    total = document["summary"]["mandatory"]
    if total != new_mandatory:
        verdict += f" ({total} in all)"
    return f"{document['stack']}: {changes}; {money}; {verdict}"


def _base_label(document: dict[str, Any]) -> str:
    base = document["base"]
    if base is None:
        return ""
    if "file" in base:
        return f"the saved plan {base['file']}"
    if base.get("note"):
        return f"{base['ref']} ({base['commit'][:12]}; {base['note']})"
    return f"{base['ref']} ({base['commit'][:12]})"


def _changed(document: dict[str, Any]) -> list[dict[str, Any]]:
    if document["base"] is None:
        return []
    return [c for c in document["changes"] if c["op"] != "same"]


def plain_text(result: PlanResult, document: dict[str, Any]) -> str:
    """Without a base: the inventory (everything is a create), the cost, then the verdict."""
    inventory, _, status = render.as_text(result).rpartition("\n\n")
    return "\n\n".join([inventory, _cost_line(document), status])


def _cost_line(document: dict[str, Any]) -> str:
    cost = document["cost"]
    return (
        f"Monthly cost estimate: ${cost['monthly_usd']:,.2f} (list prices as of "
        f"{cost['prices_as_of']}; unpriced: {', '.join(cost['unpriced']) or 'none'})"
    )


def as_text(result: PlanResult, document: dict[str, Any], *, verbose: bool = False) -> str:
    lines = [summary_line(document), ""]
    changed = _changed(document)
    if document["base"] is None:
        lines.append("Changes: no --base given, so everything is a create (--verbose lists it).")
    else:
        lines.append(f"Changes against {_base_label(document)} ({len(changed)}):")
        if not changed:
            lines.append("  none")
        for change in changed:
            flag = "  [protected]" if change["protect"] else ""
            maybe = "  (may replace)" if change["replace"] == "maybe" else ""
            lines.append(
                f"  {MARK[change['op']]:<2} {change['type']}  {change['name']}{flag}{maybe}"
            )
            for d in change["diffs"]:
                lines.append(f"       {_diff_text(d, markdown=False)}")
        if document["output_changes"]:
            lines += ["", "Outputs that change:"]
            for o in document["output_changes"]:
                lines.append(f"  {o['name']}: {_value(o['old'])} -> {_value(o['new'])}")
    lines += ["", _cost_line(document)]
    lines += ["", f"Policy violations ({len(document['violations'])}):"]
    if not document["violations"]:
        lines.append("  none")
    for v in document["violations"]:
        tag = "" if document["base"] is None else f" ({v['change']})"
        lines.append(f"  [{v['level']}] {v['policy']} on {render.short(v['urn'])}{tag}")
        lines.append(f"      {v['message']}")
    if document["fixed_violations"]:
        lines += ["", f"Fixed by this change ({len(document['fixed_violations'])}):"]
        for v in document["fixed_violations"]:
            lines.append(f"  [{v['level']}] {v['policy']} on {render.short(v['urn'])}")
    for note in result.notes:
        lines += ["", f"Note: {note}"]
    if verbose:
        lines += ["", "Inventory:", render.as_text(result)]
    lines += ["", f"{result.stack}: {render.status(result)}"]
    return "\n".join(lines)


def as_markdown(result: PlanResult, document: dict[str, Any]) -> str:
    icon = ":x:" if document["summary"]["mandatory"] else ":white_check_mark:"
    lines = [f"{icon} **{summary_line(document)}**", ""]
    changed = _changed(document)
    if document["base"] is not None:
        lines += [f"#### Changes against {_base_label(document)}", ""]
        if not changed:
            lines += ["No resource changes.", ""]
        else:
            rows = []
            for c in changed:
                diffs = "<br>".join(_diff_text(d, markdown=True) for d in c["diffs"][:10])
                more = f"<br>… {len(c['diffs']) - 10} more" if len(c["diffs"]) > 10 else ""
                op = f"**{c['op']}**" if c["op"] in ("replace", "delete") else c["op"]
                if c["replace"] == "maybe":
                    op += " (may replace)"
                lock = " :lock:" if c["protect"] else ""
                rows.append([op, f"`{c['name']}`{lock}", f"`{c['type']}`", diffs + more])
            lines += [*render.table(["Op", "Resource", "Type", "Diff"], rows), ""]
    new = [v for v in document["violations"] if document["base"] is None or v["change"] == "new"]
    if new:
        lines += ["#### New policy violations", ""]
        rows = [
            [v["level"], f"`{v['policy']}`", f"`{render.short(v['urn'])}`", v["message"]]
            for v in new
        ]
        lines += [*render.table(["Level", "Policy", "Resource", "Message"], rows), ""]
    if document["fixed_violations"]:
        lines += [
            "Fixed: " + ", ".join(f"`{v['policy']}`" for v in document["fixed_violations"]),
            "",
        ]
    cost = document["cost"]
    lines += ["<details><summary>Monthly cost estimate</summary>", ""]
    lines += render.table(
        ["Resource", "USD/month", "Basis"],
        (
            [f"`{render.short(i['urn']) or 'usage'}`", f"{i['monthly_usd']:.2f}", i["basis"]]
            for i in cost["items"]
        ),
    )
    lines += [
        "",
        f"List prices as of {cost['prices_as_of']}; unpriced: "
        f"{', '.join(cost['unpriced']) or 'none'}.",
        "",
        "</details>",
        "",
    ]
    lines += ["<details><summary>Inventory, outputs and all violations</summary>", ""]
    lines += [render.as_markdown(result), "", "</details>"]
    return "\n".join(lines)
