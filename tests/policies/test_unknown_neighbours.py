"""A known violation is reported even when a neighbouring value is unknown during preview,
and an unknown value never produces a mandatory verdict only a known value could justify
(issue 14 point 2)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policies import compliant as c
from tests.policies.conftest import Pack

ENV = "sourceConfiguration.imageRepository.imageConfiguration.runtimeEnvironmentVariables"


def _levels(found: list[Any], policy: str) -> list[tuple[str, str]]:
    return [(d.level, d.message) for d in found if d.policy == policy]


def _instance(cpu: Any, memory: Any) -> dict[str, Any]:
    return c.changed(
        c.changed(c.service(), "instanceConfiguration.cpu", cpu),
        "instanceConfiguration.memory",
        memory,
    )


@pytest.mark.parametrize(
    ("cpu", "memory", "expected"),
    [
        (
            "4 vCPU",
            c.UNKNOWN,
            "instanceConfiguration.cpu is 4 vCPU; the runbook allows at most 2 vCPU",
        ),
        (
            "4096",
            c.UNKNOWN,
            "instanceConfiguration.cpu is 4 vCPU; the runbook allows at most 2 vCPU",
        ),
        (
            "2.0 vCPU",
            c.UNKNOWN,
            'instanceConfiguration.cpu is "2.0 vCPU", which App Runner does not accept',
        ),
        (
            c.UNKNOWN,
            "8 GB",
            "instanceConfiguration.memory is 8 GB; the runbook allows at most 4 GB",
        ),
        (
            c.UNKNOWN,
            "12288",
            "instanceConfiguration.memory is 12 GB; the runbook allows at most 4 GB",
        ),
        (
            c.UNKNOWN,
            "4gb",
            'instanceConfiguration.memory is "4gb", which App Runner does not accept',
        ),
    ],
)
def test_known_size_judged_beside_an_unknown_one(
    pack: Pack, cpu: str, memory: str, expected: str
) -> None:
    found = _levels(pack.analyze(c.SERVICE, _instance(cpu, memory)), "aws-apprunner-instance-size")
    mandatory = [m for level, m in found if level == "mandatory"]
    assert len(mandatory) == 1 and expected in mandatory[0], found
    assert any(
        level == "advisory" and "cannot be checked until deployment" in m for level, m in found
    )


@pytest.mark.parametrize(
    ("cpu", "memory"), [("2 vCPU", c.UNKNOWN), (c.UNKNOWN, "4 GB"), (c.UNKNOWN, c.UNKNOWN)]
)
def test_unknown_size_with_a_good_neighbour_is_only_pending(
    pack: Pack, cpu: str, memory: str
) -> None:
    found = _levels(pack.analyze(c.SERVICE, _instance(cpu, memory)), "aws-apprunner-instance-size")
    assert [level for level, _ in found] == ["advisory"], found


@pytest.mark.parametrize(
    ("field", "value", "other", "expected"),
    [
        ("minSize", c.UNKNOWN, ("maxSize", 1000), "maxSize is 1000; the limit is 25"),
        ("maxSize", c.UNKNOWN, ("minSize", 0), "minSize is 0; at least 1"),
        ("maxSize", c.UNKNOWN, ("maxConcurrency", 1000), "maxConcurrency is 1000"),
        ("maxConcurrency", c.UNKNOWN, ("maxSize", 50), "maxSize is 50"),
    ],
)
def test_autoscaling_bound_judged_beside_an_unknown_one(
    pack: Pack, field: str, value: str, other: tuple[str, int], expected: str
) -> None:
    props = c.changed(c.changed(c.autoscaling(), field, value), *other)
    found = _levels(pack.analyze(c.AUTOSCALING, props), "aws-apprunner-autoscaling")
    mandatory = [m for level, m in found if level == "mandatory"]
    assert len(mandatory) == 1 and expected in mandatory[0], found
    assert any(level == "advisory" for level, _ in found)


@pytest.mark.parametrize("name", ["STRIPE_SECRET", "DB_PASSWORD", "JWT_KEY", "GITHUB_TOKEN"])
def test_secret_name_with_unknown_value_is_a_violation(pack: Pack, name: str) -> None:
    props = c.changed(c.service(), ENV, {"LOG_LEVEL": "info", name: c.UNKNOWN})
    found = _levels(pack.analyze(c.SERVICE, props), "aws-apprunner-no-plaintext-secrets")
    assert [level for level, _ in found] == [
        "mandatory"
    ] and f"{name} looks like a secret" in found[0][1]


def test_known_secret_value_beside_an_unknown_variable(pack: Pack) -> None:
    url = "postgres://app:" + "pw" + "@db.example.com/app"
    props = c.changed(c.service(), ENV, {"API_URL": c.UNKNOWN, "DATABASE": url})
    found = _levels(pack.analyze(c.SERVICE, props), "aws-apprunner-no-plaintext-secrets")
    assert sorted(level for level, _ in found) == ["advisory", "mandatory"], found


def test_unknown_value_under_an_innocent_name_is_only_pending(pack: Pack) -> None:
    props = c.changed(c.service(), ENV, {"API_URL": c.UNKNOWN, "LOG_LEVEL": "info"})
    found = _levels(pack.analyze(c.SERVICE, props), "aws-apprunner-no-plaintext-secrets")
    assert [level for level, _ in found] == ["advisory"], found


@pytest.mark.parametrize("threshold", [1, 0.5, 0.01])
def test_unknown_error_rate_expression_is_pending_not_above_100_percent(
    pack: Pack, threshold: float
) -> None:
    """1 is 1 % if the expression multiplies by 100 and 100 % if it does not: unknown."""
    alarm = c.changed(
        c.changed(c.error_rate_alarm(), "metricQueries.2.expression", c.UNKNOWN),
        "threshold",
        threshold,
    )
    found = _levels(pack.analyze_stack(c.stack(errors=alarm)), "aws-cloudwatch-error-rate-alarm")
    assert [level for level, _ in found] == ["advisory"], found
    assert "cannot be checked until deployment" in found[0][1]


@pytest.mark.parametrize("threshold", [5, 50])
def test_unknown_error_rate_expression_above_the_target_either_way(
    pack: Pack, threshold: float
) -> None:
    """5 is 5 % or 500 %: too loose whichever the expression is."""
    alarm = c.changed(
        c.changed(c.error_rate_alarm(), "metricQueries.2.expression", c.UNKNOWN),
        "threshold",
        threshold,
    )
    found = _levels(pack.analyze_stack(c.stack(errors=alarm)), "aws-cloudwatch-error-rate-alarm")
    assert [level for level, _ in found] == ["mandatory"], found
    assert f"fires only above {threshold} % 5xx error rate" in found[0][1]


def test_vercel_api_url_with_unknown_neighbour_in_plural_resource(pack: Pack) -> None:
    props = {
        "projectId": "prj",
        "variables": [
            c.UNKNOWN,
            {"key": "NEXT_PUBLIC_API_URL", "value": "http://x.example", "targets": ["production"]},
        ],
    }
    found = _levels(
        pack.analyze("vercel:index/projectEnvironmentVariables:ProjectEnvironmentVariables", props),
        "vercel-env-api-url-https",
    )
    assert sorted(level for level, _ in found) == ["advisory", "mandatory"], found


@pytest.mark.parametrize("key", ["STRIPE_SECRET_KEY", "NEXT_PUBLIC_API_TOKEN", "DB_PASSWORD"])
def test_vercel_secret_name_with_unknown_value_is_judged(pack: Pack, key: str) -> None:
    found = _levels(
        pack.analyze(c.VARIABLE, c.variable(key=key, value=c.UNKNOWN)),
        "vercel-env-secrets-sensitive",
    )
    assert [level for level, _ in found] == ["mandatory"] and f"{key} looks like a secret" in found[
        0
    ][1]
