"""The plan as text (a terminal), JSON (contract 1) and Markdown (a pull-request comment)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from spendsense.plan import alerts
from spendsense.plan.preview import PlanResult
from spendsense.repo import repo_root

ROOT_GROUP = "(stack)"


def short(urn: str) -> str:
    """`type::name` of a URN, for people."""
    if not urn:
        return ""
    parts = urn.split("::")
    return f"{parts[-1]} ({parts[-2].split('$')[-1]})" if len(parts) >= 4 else urn


def components(result: PlanResult) -> dict[str, list[Any]]:
    """Resources grouped by the component (nearest non-custom ancestor) that owns them."""
    by_urn = {r.urn: r for r in result.resources}
    groups: dict[str, list[Any]] = {}
    for resource in result.resources:
        if not resource.custom:
            continue
        owner = by_urn.get(resource.parent)
        while owner is not None and owner.custom:
            owner = by_urn.get(owner.parent)
        label = f"{owner.name} ({owner.type})" if owner is not None else ROOT_GROUP
        groups.setdefault(label, []).append(resource)
    return groups


def summary(result: PlanResult) -> dict[str, Any]:
    return {
        "resources": len(result.resources),
        "custom_resources": sum(1 for r in result.resources if r.custom),
        "by_type": dict(sorted(result.by_type().items())),
        "violations": len(result.violations),
        "mandatory": result.count("mandatory"),
        "advisory": result.count("advisory"),
        "remediate": result.count("remediate"),
        "ok": result.ok,
        "policy_pack": result.pack_name,
        "notes": list(result.notes),
    }


def as_json(result: PlanResult) -> str:
    document = {
        "stack": result.stack,
        "project": result.project,
        "resources": [
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "parent": r.parent,
                "protect": r.protect,
                "inputs": r.inputs,
            }
            for r in result.resources
        ],
        "outputs": result.outputs,
        # Every alarm, alert rule, budget and alert policy with its severity and route.
        "alerts": alerts.inventory(result.resources),
        "violations": [v.as_dict() for v in result.violations],
        "summary": summary(result),
    }
    return json.dumps(document, indent=2, sort_keys=False)


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def status(result: PlanResult) -> str:
    """The verdict line's text: FAILED with the counts, or ok."""
    mandatory, advisory = result.count("mandatory"), result.count("advisory")
    if mandatory:
        return f"FAILED: {mandatory} mandatory violation(s), {advisory} advisory"
    return f"ok: no mandatory violations, {advisory} advisory"


def as_text(result: PlanResult) -> str:
    lines = [
        f"Plan for {result.project}/{result.stack} from {result.config_file.name} "
        f"(offline: mock runtime + policy pack '{result.pack_name}')",
        "",
        f"Resources to create ({sum(1 for r in result.resources if r.custom)}), by component:",
    ]
    for group, members in components(result).items():
        lines.append(f"  {group}")
        for r in members:
            flag = "  [protected]" if r.protect else ""
            lines.append(f"    + {r.type:<72} {r.name}{flag}")
    lines += ["", "Outputs:"]
    width = max((len(k) for k in result.outputs), default=0)
    lines += [f"  {k:<{width}} = {_value(v)}" for k, v in sorted(result.outputs.items())]
    alert_lines = alerts.as_text(alerts.inventory(result.resources))
    lines += ["", *alert_lines] if alert_lines else []
    lines += ["", f"Policy violations ({len(result.violations)}):"]
    if not result.violations:
        lines.append("  none")
    for v in result.violations:
        lines.append(f"  [{v.level}] {v.policy} on {short(v.urn)}")
        lines.append(f"      {v.message}")
    for note in result.notes:
        lines += ["", f"Note: {note}"]
    lines += ["", f"{result.stack}: {status(result)}"]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    """A markdown table, its cells escaped."""
    header = list(header)
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def as_markdown(result: PlanResult) -> str:
    mandatory, advisory = result.count("mandatory"), result.count("advisory")
    custom = sum(1 for r in result.resources if r.custom)
    icon = ":x:" if mandatory else ":white_check_mark:"
    lines = [
        f"### {icon} `{_command(result)}`: {custom} resources, "
        f"{mandatory} mandatory and {advisory} advisory policy violation(s)",
        "",
    ]
    if result.violations:
        lines += ["#### Policy violations", ""]
        lines += table(
            ["Level", "Policy", "Resource", "Message"],
            (
                [
                    f"**{v.level}**" if v.level == "mandatory" else v.level,
                    f"`{v.policy}`",
                    f"`{short(v.urn)}`",
                    v.message,
                ]
                for v in result.violations
            ),
        )
        lines.append("")
    counts = {t: n for t, n in result.by_type().items() if not t.startswith("spendsense:")}
    lines += ["#### Changes by type", ""]
    lines += table(["Type", "Create"], ([f"`{t}`", str(n)] for t, n in sorted(counts.items())))
    lines += ["", "<details><summary>Planned stack outputs</summary>", ""]
    lines += table(
        ["Output", "Value"],
        ([f"`{k}`", f"`{_value(v)}`"] for k, v in sorted(result.outputs.items())),
    )
    lines += ["", "</details>", ""]
    for note in result.notes:
        lines += [f"> **Note:** {note}", ""]
    lines.append(
        f"<sub>Offline preview under Pulumi's mock runtime with the `{result.pack_name}` policy "
        f"pack and `{_policy_config(result)}`; values shown as `[unknown]` are known "
        "only after deployment.</sub>"
    )
    return "\n".join(lines)


def _command(result: PlanResult) -> str:
    where = "" if result.directory == "." else f" -C {result.directory}"
    return f"spendsense plan{where} --stack {result.stack}"


def _policy_config(result: PlanResult) -> str:
    path = result.policy_config
    if path is None:
        return f"policies/config/{result.stack}.json"
    try:
        return path.resolve().relative_to(repo_root()).as_posix()
    except ValueError:
        return str(path)


def outputs_json(result: PlanResult) -> str:
    return json.dumps(result.outputs, indent=2, sort_keys=True)
