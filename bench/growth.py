"""The growth series of `make bench`: the production stack's AWS part, repeated N times.

The resources come from a real plan of the production stack (`run_plan`, what
`spendsense plan --stack production --json` prints, plus what that JSON leaves out and the
engine sends the pack: each resource's dependencies and its inputs in wire form, unknowns and
secrets included). The AWS part is every resource under the program's `spendsense:aws:*`
components (the API service, its alarms and dashboard, the health checks, the registry, the
JWT secret and its rotation, the alert topic, the dynamic resources) with the dependencies
among them.

Copy k renames everything the copy owns, everywhere it appears (urns, names, parents,
dependencies and every string of every input): the component names (`api` -> `api-c007`, so
`api-service` -> `api-c007-service`) and the physical name prefix, the service's name
(`spendsense-api` -> `spendsense-api-c007`), so each copy's alarms, health checks, log group
names, lifecycle policy, rotation and ARNs point at its own service, repository and secret and
at nothing of another copy. Every copy is then as clean as the production stack itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

COMPONENT_PREFIX = "spendsense:aws:"
SERVICE = "aws:apprunner/service:Service"


def tag(copy: int) -> str:
    """The suffix of copy `copy` (fixed width, so no copy's name is a prefix of another's)."""
    return f"c{copy:03d}"


def aws_part(resources: Sequence[Any]) -> list[Any]:
    """The `spendsense:aws:*` components and everything below them, in plan order."""
    inside = {r.urn for r in resources if r.type.startswith(COMPONENT_PREFIX)}
    grew = True
    while grew:
        below = {r.urn for r in resources if r.parent in inside} - inside
        inside |= below
        grew = bool(below)
    return [r for r in resources if r.urn in inside]


class Renamer:
    """Rewrites the names one copy owns in any string."""

    def __init__(self, part: Sequence[Any], copy: int) -> None:
        components = sorted(
            {r.name for r in part if r.type.startswith(COMPONENT_PREFIX)}, key=len, reverse=True
        )
        services = {r.inputs.get("serviceName") for r in part if r.type == SERVICE}
        services.discard(None)
        if not components or len(services) != 1:
            raise ValueError(
                f"the AWS part should hold components and one App Runner service; found "
                f"components {components}, service names {sorted(map(str, services))}"
            )
        (service,) = services
        suffix = tag(copy)
        self.physical = (re.compile(re.escape(str(service)) + r"(?![\w])"), f"{service}-{suffix}")
        # A component name as a logical-name prefix ("api-service", "role/api-instance-role",
        # ":api-autoscaling") or alone ("::api" in a urn): not inside another word.
        alternatives = "|".join(re.escape(c) for c in components)
        self.logical = (
            re.compile(rf"(?<![\w-])({alternatives})(?=-|$)"),
            rf"\g<1>-{suffix}",
        )

    def __call__(self, text: str) -> str:
        text = self.physical[0].sub(self.physical[1], text)
        return self.logical[0].sub(self.logical[1], text)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self(value)
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        return value


def copies(resources: Sequence[Any], count: int) -> list[Any]:
    """`count` renamed copies of the AWS part of `resources` (a plan's RecordedResources), as
    the pack receives them (`PackResource`)."""
    from google.protobuf import json_format, struct_pb2
    from spendsense.plan.analyzer import PackResource

    part = aws_part(resources)
    out = []
    for copy in range(1, count + 1):
        rename = Renamer(part, copy)
        for r in part:
            wire = struct_pb2.Struct()
            wire.update(rename.value(json_format.MessageToDict(r.wire)))
            out.append(
                PackResource(
                    urn=rename(r.urn),
                    type=r.type,
                    name=rename(r.name),
                    properties=wire,
                    parent=rename(r.parent),
                    protect=r.protect,
                    dependencies=tuple(rename(d) for d in r.dependencies),
                )
            )
    return out


def custom(resources: Sequence[Any]) -> list[Any]:
    """The resources the engine sends to `Analyze` (not components, not providers)."""
    return [
        r
        for r in resources
        if not r.type.startswith(COMPONENT_PREFIX) and not r.type.startswith("pulumi:providers:")
    ]


def series(
    pack: Any, plan_resources: Sequence[Any], counts: Sequence[int], runs: int
) -> dict[str, Any]:
    """`AnalyzeStack` time of 1, 8, 32... copies through `pack` (configured for production).

    Every copy must be free of violations (`AnalyzeStack` and each resource's `Analyze`):
    AssertionError otherwise, since a growth figure of a stack the pack rejects would measure
    something else. Time: the median of `runs` calls (and the fastest)."""
    import math
    import statistics
    import time

    rows = []
    for count in counts:
        resources = copies(plan_resources, count)
        found = pack.analyze_stack(resources) + pack.analyze_many(custom(resources))
        assert not found, (
            f"{count} copies of the production stack's AWS part are not clean: "
            + "; ".join(f"{d.policy} {d.urn}: {d.message}" for d in found[:3])
        )
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            pack.analyze_stack(resources)
            times.append(time.perf_counter() - start)
        rows.append(
            {
                "copies": count,
                "resources": len(resources),
                "median_s": round(statistics.median(times), 4),
                "min_s": round(min(times), 4),
            }
        )
    by_count = {row["copies"]: row for row in rows}
    exponent = None
    if 8 in by_count and 32 in by_count:
        exponent = round(
            math.log(by_count[32]["median_s"] / by_count[8]["median_s"]) / math.log(4), 2
        )
    return {"rows": rows, "exponent_8_32": exponent, "runs": runs}
