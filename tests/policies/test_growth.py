"""The pack's cost grows linearly with the stack, and `make bench`'s growth series stays honest.

The growth series (bench/growth.py) repeats the production stack's AWS part, each copy renamed
and linked to its own: every copy must be free of violations, or the series measures a stack
the pack rejects. The stack policies look resources up (spendsense_policies/index.py) instead
of comparing every pair: their work on 4 copies is 4 times their work on 1, counted in Python
calls (a count, unlike a time, does not depend on the machine's load).
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import pytest
from google.protobuf import json_format
from spendsense.plan.analyzer import PackResource, PolicyPackProcess
from spendsense.plan.preview import run_plan

from tests.policies import compliant as c
from tests.policies.conftest import Pack, messages, resource

REPO = Path(__file__).resolve().parents[2]


def _load_growth() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_growth", REPO / "bench" / "growth.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


growth = _load_growth()


@pytest.fixture(scope="module")
def production() -> Iterator[tuple[PolicyPackProcess, list[Any]]]:
    """A pack configured as `spendsense plan --stack production` configures it (its own
    process: the session's pack keeps its defaults), and that plan's resources."""
    with PolicyPackProcess.start() as pack:
        plan = run_plan("production", pack=pack)
        assert plan.violations == []
        yield pack, plan.resources


def _copy_of(resources: Sequence[PackResource], per_copy: int) -> dict[str, int]:
    return {r.urn: i // per_copy + 1 for i, r in enumerate(resources)}


def test_growth_copies_are_clean_and_each_linked_to_its_own(
    production: tuple[PolicyPackProcess, list[Any]],
) -> None:
    pack, resources = production
    one, two = growth.copies(resources, 1), growth.copies(resources, 2)
    kinds = Counter(r.type for r in one)
    for needed in (c.SERVICE, c.ALARM, c.HEALTH_CHECK, c.REPOSITORY, c.SECRET, c.DYNAMIC):
        assert kinds[needed] >= 1, f"the AWS part has no {needed}: {sorted(kinds)}"
    assert kinds[c.ALARM] >= 8 and len(two) == 2 * len(one)
    assert len({r.urn for r in two}) == len(two), "two resources share a urn"
    copy_of = _copy_of(two, len(one))
    for r in two:
        own = copy_of[r.urn]
        for dependency in r.dependencies:
            assert copy_of.get(dependency) == own, f"{r.urn} depends on {dependency}"
        assert copy_of.get(r.parent, own) == own, f"{r.urn} is a child of {r.parent}"
        text = " ".join([r.urn, r.name, json.dumps(json_format.MessageToDict(r.properties))])
        assert growth.tag(3 - own) not in text, f"{r.urn} names the other copy"
        # every physical name is this copy's (spendsense-api -> spendsense-api-c00<own>)
        assert set(re.findall(r"spendsense-api(-c\d{3})?", text)) <= {f"-{growth.tag(own)}"}
    assert pack.analyze_stack(two) == []
    assert pack.analyze_many(growth.custom(two)) == []


def test_growth_series_refuses_a_copy_with_violations(
    production: tuple[PolicyPackProcess, list[Any]],
) -> None:
    pack, resources = production
    rows = growth.series(pack, resources, [1, 2], runs=1)["rows"]
    assert [(r["copies"], r["resources"]) for r in rows] == [
        (1, len(growth.copies(resources, 1))),
        (2, 2 * len(growth.copies(resources, 1))),
    ]
    without_latency_alarm = [r for r in resources if not r.name.endswith("-latency-p95")]
    assert len(without_latency_alarm) == len(resources) - 1
    with pytest.raises(AssertionError, match="aws-cloudwatch-latency-alarm"):
        growth.series(pack, without_latency_alarm, [1], runs=1)


def _policy_resources(resources: Sequence[PackResource]) -> list[Any]:
    """The stack as pulumi-policy's AnalyzeStack hands it to a stack policy."""
    from pulumi_policy.deserialize import deserialize_properties
    from pulumi_policy.policy import PolicyResource
    from pulumi_policy.proxy import unknown_checking_proxy

    built: dict[str, Any] = {}
    for r in resources:
        props = unknown_checking_proxy(
            deserialize_properties(json_format.MessageToDict(r.properties))
        )
        built[r.urn] = PolicyResource(r.type, props, r.urn, r.name, None, None, None, [], {})  # type: ignore[arg-type]
    for r in resources:
        built[r.urn].parent = built.get(r.parent)
        built[r.urn].dependencies.extend(built[d] for d in r.dependencies if d in built)
    return list(built.values())


def _calls(resources: Sequence[PackResource]) -> int:
    """Python function calls made by all the pack's stack policies judging `resources`."""
    from pulumi_policy import StackValidationArgs, StackValidationPolicy
    from spendsense_policies import all_policies

    stack = _policy_resources(resources)
    policies = [p for p in all_policies() if isinstance(p, StackValidationPolicy)]
    reported: list[str] = []
    count = 0

    def counter(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(counter)
    try:
        for policy in policies:
            policy.validate(
                StackValidationArgs(stack, {}, {}),
                lambda message, urn=None: reported.append(message),
            )
    finally:
        sys.setprofile(None)
    assert reported == [], reported[:3]
    return count


def test_stack_policies_work_grows_linearly(
    production: tuple[PolicyPackProcess, list[Any]],
) -> None:
    _, resources = production
    one, four = _calls(growth.copies(resources, 1)), _calls(growth.copies(resources, 4))
    assert one > 1000
    # Linear: 4x the copies, 4x the calls (a pairwise comparison makes it ~16x).
    assert four <= 4.1 * one, f"{four} calls for 4 copies, {one} for 1: {four / one:.1f}x"


def test_an_alarm_two_services_share_is_reported_once(pack: Pack) -> None:
    """Services of the same name share their alarms: a problem of the alarm is one finding,
    not one per service (the diagnostics grew with services x alarms)."""
    found = pack.analyze_stack(
        [
            *c.stack(latency=c.changed(c.latency_alarm(), "threshold", 2000)),
            resource(c.SERVICE, "service-2", c.service()),
            resource(c.SERVICE, "service-3", c.service()),
        ]
    )
    latency = messages(found, "aws-cloudwatch-latency-alarm")
    assert len(latency) == 1 and "fires only above 2000 ms" in latency[0], latency
