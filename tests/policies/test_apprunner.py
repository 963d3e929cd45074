"""App Runner: instance size, autoscaling, health check, no plaintext secrets."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policies import compliant as c
from tests.policies.conftest import Pack, only, resource


@pytest.mark.parametrize(
    ("cpu", "memory"),
    [
        ("2 vCPU", "4 GB"),
        ("2048", "4096"),
        ("1 vCPU", "2 GB"),
        ("0.25 vCPU", "0.5 GB"),
        ("1024", "3 GB"),
    ],
)
def test_instance_size_accepts_both_spellings_within_limits(
    pack: Pack, cpu: str, memory: str
) -> None:
    props = c.changed(
        c.changed(c.service(), "instanceConfiguration.cpu", cpu),
        "instanceConfiguration.memory",
        memory,
    )
    assert pack.analyze(c.SERVICE, props) == []


@pytest.mark.parametrize(
    ("cpu", "memory", "expected"),
    [
        (
            "4 vCPU",
            "8 GB",
            "instanceConfiguration.cpu is 4 vCPU; the runbook allows at most 2 vCPU",
        ),
        ("4096", "8192", "instanceConfiguration.cpu is 4 vCPU; the runbook allows at most 2 vCPU"),
        ("2 vCPU", "6 GB", "instanceConfiguration.memory is 6 GB; the runbook allows at most 4 GB"),
        ("0.5 vCPU", "4 GB", "pairs 0.5 vCPU with 4 GB, which App Runner does not offer"),
        (
            "3 vCPU",
            "4 GB",
            'instanceConfiguration.cpu is "3 vCPU", which App Runner does not accept',
        ),
        ("two", "4 GB", 'instanceConfiguration.cpu is "two", which App Runner does not accept'),
        # App Runner's API takes exactly "N vCPU" / "N GB" (or units): near spellings fail.
        (
            "2.0 vCPU",
            "4 GB",
            'instanceConfiguration.cpu is "2.0 vCPU", which App Runner does not accept',
        ),
        (
            "2 vcpu",
            "4 GB",
            'instanceConfiguration.cpu is "2 vcpu", which App Runner does not accept',
        ),
        (
            "2 vCPU",
            "4gb",
            'instanceConfiguration.memory is "4gb", which App Runner does not accept',
        ),
        (
            "2 vCPU",
            "4 gb",
            'instanceConfiguration.memory is "4 gb", which App Runner does not accept',
        ),
    ],
)
def test_instance_size_violations(pack: Pack, cpu: str, memory: str, expected: str) -> None:
    props = c.changed(
        c.changed(c.service(), "instanceConfiguration.cpu", cpu),
        "instanceConfiguration.memory",
        memory,
    )
    found = [d for d in pack.analyze(c.SERVICE, props) if d.policy == "aws-apprunner-instance-size"]
    assert found and any(expected in d.message for d in found), [d.message for d in found]
    assert all(d.level == "mandatory" for d in found)


def test_instance_size_limit_is_policy_config(pack: Pack) -> None:
    """The limit comes from config: with maxCpu 4 vCPU / maxMemory 8 GB, 4 vCPU / 8 GB passes."""
    props = c.changed(
        c.changed(c.service(), "instanceConfiguration.cpu", "4 vCPU"),
        "instanceConfiguration.memory",
        "8 GB",
    )
    with pack.configured(
        {"aws-apprunner-instance-size": {"maxCpu": "4 vCPU", "maxMemory": "8 GB"}}
    ):
        assert pack.analyze(c.SERVICE, props) == []


def test_service_without_autoscaling_configuration(pack: Pack) -> None:
    found = pack.analyze(c.SERVICE, c.changed(c.service(), "autoScalingConfigurationArn", "-"))
    assert "has no autoScalingConfigurationArn" in only(found, "aws-apprunner-autoscaling").message


def test_autoscaling_within_bounds_passes(pack: Pack) -> None:
    assert pack.analyze(c.AUTOSCALING, c.autoscaling()) == []


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("minSize", 0, "minSize is 0; at least 1 instance(s) must stay warm"),
        ("maxSize", 40, "maxSize is 40; the limit is 25 instances"),
        ("maxConcurrency", 500, "maxConcurrency is 500; the limit is 200"),
        ("minSize", 12, "minSize (12) is above maxSize (10)"),
    ],
)
def test_autoscaling_out_of_bounds(pack: Pack, field: str, value: Any, expected: str) -> None:
    found = pack.analyze(c.AUTOSCALING, c.changed(c.autoscaling(), field, value))
    assert expected in only(found, "aws-apprunner-autoscaling").message


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("healthCheckConfiguration", "-", "has no healthCheckConfiguration"),
        ("healthCheckConfiguration.protocol", "TCP", 'healthCheckConfiguration.protocol is "TCP"'),
        ("healthCheckConfiguration.path", "/", 'healthCheckConfiguration.path is "/"'),
        (
            "healthCheckConfiguration.path",
            "/healthz",
            'path is "/healthz"; the API answers its health on "/health"',
        ),
    ],
)
def test_health_check_violations(pack: Pack, path: str, value: Any, expected: str) -> None:
    found = pack.analyze(c.SERVICE, c.changed(c.service(), path, value))
    assert expected in only(found, "aws-apprunner-health-check").message


ENV = "sourceConfiguration.imageRepository.imageConfiguration.runtimeEnvironmentVariables"


@pytest.mark.parametrize(
    "key",
    [
        "JWT_SECRET",
        "DB_PASSWORD",
        "STRIPE_API_KEY",
        "GITHUB_TOKEN",
        "FIREBASE_PRIVATE_KEY",
        "JWT_KEY",
        "DB_PASS",
        "SESSION_PASS",
        "ENCRYPTION_KEY",
        "pwd",
        "jwt",
        "AUTH_TOKEN",
    ],
)
def test_secret_looking_plain_environment_variable(pack: Pack, key: str) -> None:
    found = pack.analyze(c.SERVICE, c.changed(c.service(), f"{ENV}.{key}", "value"))
    message = only(found, "aws-apprunner-no-plaintext-secrets").message
    assert f"{key} looks like a secret" in message and "runtimeEnvironmentSecrets" in message


def test_aws_access_key_in_a_plain_variable(pack: Pack) -> None:
    fake_key_id = "AKIA" + "ABCDEFGHIJKLMNOP"  # split so secret scanners do not flag it
    found = pack.analyze(c.SERVICE, c.changed(c.service(), f"{ENV}.AWS_ID", fake_key_id))
    assert "holds an AWS access key id" in only(found, "aws-apprunner-no-plaintext-secrets").message


def test_secret_from_secrets_manager_is_fine(pack: Pack) -> None:
    """runtimeEnvironmentSecrets (ARNs) is where secrets belong: no violation."""
    props = c.service()
    assert (
        "JWT_SECRET"
        in props["sourceConfiguration"]["imageRepository"]["imageConfiguration"][
            "runtimeEnvironmentSecrets"
        ]
    )
    assert pack.analyze(c.SERVICE, props) == []


def test_autoscaling_configuration_of_the_stack_is_attached(pack: Pack) -> None:
    assert [
        d for d in pack.analyze_stack(c.stack()) if d.policy == "aws-apprunner-autoscaling-in-stack"
    ] == []


def test_literal_autoscaling_arn_outside_the_stack(pack: Pack) -> None:
    """A literal ARN linked to no AutoScalingConfigurationVersion of the stack escapes the
    bounds check (it may allow any number of instances)."""
    service = resource(c.SERVICE, "service", c.service())  # no dependency on "autoscaling"
    resources = [r for r in c.stack() if r.name != "service"] + [service]
    diagnostic = only(pack.analyze_stack(resources), "aws-apprunner-autoscaling-in-stack")
    assert (
        "autoScalingConfigurationArn is "
        '"arn:aws:apprunner:us-east-1:123456789012:autoscalingconfiguration/spendsense-api/1/abc", '
        "which is no aws.apprunner.AutoScalingConfigurationVersion of this stack"
        in diagnostic.message
    )
    assert diagnostic.urn.endswith("::service")


@pytest.mark.parametrize(
    "key",
    ["LOG_LEVEL", "PASSENGER_LIMIT", "KEYBOARD", "AUTHOR", "NEXT_PUBLIC_FIREBASE_AUTH_DOMAIN"],
)
def test_plain_names_are_not_secrets(pack: Pack, key: str) -> None:
    assert pack.analyze(c.SERVICE, c.changed(c.service(), f"{ENV}.{key}", "value")) == []


def test_url_with_a_password_in_a_plain_variable(pack: Pack) -> None:
    """A connection URL with user:password@ is a secret whatever the variable is called."""
    found = pack.analyze(
        c.SERVICE,
        c.changed(
            c.service(), f"{ENV}.DATABASE_URL", "postgres://app:hunter2@db.internal:5432/app"
        ),
    )
    assert (
        "DATABASE_URL holds a URL with a password (user:password@host) in a plain environment "
        "variable" in only(found, "aws-apprunner-no-plaintext-secrets").message
    )
