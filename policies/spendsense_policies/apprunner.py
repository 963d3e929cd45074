"""App Runner: instance size, autoscaling, health check and secrets in the API's environment.

The runbook runs the API on App Runner with at most 2 vCPU / 4 GB, autoscaling, and a
``GET /health`` check. Checkov has no App Runner rules, so these are the pack's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import Policy, PolicyResource

from spendsense_policies.base import (
    SECRET_NAME_RE,
    URL_WITH_PASSWORD_RE,
    Props,
    Unknown,
    fmt,
    get,
    number,
    of_type,
    refers_to,
    resource_policy,
    stack_policy,
)
from spendsense_policies.config import limit, schema

SERVICE = "aws:apprunner/service:Service"
AUTOSCALING = "aws:apprunner/autoScalingConfigurationVersion:AutoScalingConfigurationVersion"

# Exactly the spellings App Runner's API accepts (botocore's apprunner model, Cpu and Memory
# patterns): "2 vCPU" or CPU units, "4 GB" or MB. "2.0 vCPU", "2 vcpu" and "4gb" are refused.
_CPU_RE = re.compile(r"^(?:(256|512|1024|2048|4096)|(0\.25|0\.5|1|2|4)( vCPU))$")
_MEMORY_RE = re.compile(
    r"^(?:(512|1024|2048|3072|4096|6144|8192|10240|12288)|(0\.5|1|2|3|4|6|8|10|12)( GB))$"
)
# App Runner's defaults when instanceConfiguration leaves a field out.
DEFAULT_CPU, DEFAULT_MEMORY = "1 vCPU", "2 GB"


def vcpus(value: Any) -> float | None:
    """`"2 vCPU"` or `"2048"` (CPU units) as vCPUs; None when it is neither spelling."""
    match = _CPU_RE.match(str(value))
    if not match:
        return None
    return float(match.group(2)) if match.group(3) else float(match.group(1)) / 1024


def gigabytes(value: Any) -> float | None:
    """`"4 GB"` or `"4096"` (MB) as GB; None when it is neither spelling."""
    match = _MEMORY_RE.match(str(value))
    if not match:
        return None
    return float(match.group(2)) if match.group(3) else float(match.group(1)) / 1024


def _pairs(config: Mapping[str, Any]) -> dict[float, list[float]]:
    pairs: dict[float, list[float]] = {}
    for cpu, memories in dict(config["cpuMemoryPairs"]).items():
        cpu_value = vcpus(cpu)
        if cpu_value is not None:
            pairs[cpu_value] = [m for m in (gigabytes(x) for x in memories) if m is not None]
    return pairs


def check_instance_size(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    instance = props.get("instanceConfiguration") or {}
    cpu_raw = instance.get("cpu") or DEFAULT_CPU
    memory_raw = instance.get("memory") or DEFAULT_MEMORY
    cpu, memory = vcpus(cpu_raw), gigabytes(memory_raw)
    max_cpu, max_memory = vcpus(config["maxCpu"]), gigabytes(config["maxMemory"])
    if cpu is None:
        yield (
            f'instanceConfiguration.cpu is "{cpu_raw}", which App Runner does not accept; '
            f'use "{config["maxCpu"]}" or less, written as "N vCPU" or in CPU units ("1024")'
        )
        return
    if memory is None:
        yield (
            f'instanceConfiguration.memory is "{memory_raw}", which App Runner does not accept; '
            f'use "{config["maxMemory"]}" or less, written as "N GB" or in MB ("2048")'
        )
        return
    if max_cpu is not None and cpu > max_cpu:
        yield (
            f"instanceConfiguration.cpu is {fmt(cpu)} vCPU; the runbook allows at most "
            f"{config['maxCpu']}: lower spendsense:api.cpu to {config['maxCpu']} or less"
        )
    if max_memory is not None and memory > max_memory:
        yield (
            f"instanceConfiguration.memory is {fmt(memory)} GB; the runbook allows at most "
            f"{config['maxMemory']}: lower spendsense:api.memory to {config['maxMemory']} or less"
        )
    allowed = _pairs(config).get(cpu)
    if allowed is None:
        yield (
            f"instanceConfiguration.cpu is {fmt(cpu)} vCPU, not an App Runner size; use one of "
            f"{', '.join(config['cpuMemoryPairs'])}"
        )
    elif memory not in allowed:
        yield (
            f"instanceConfiguration pairs {fmt(cpu)} vCPU with {fmt(memory)} GB, which App Runner "
            f"does not offer; with {fmt(cpu)} vCPU use one of "
            f"{', '.join(f'{fmt(m)} GB' for m in allowed)}"
        )


def check_autoscaling_attached(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    arn = props.get("autoScalingConfigurationArn")
    if not arn:
        yield (
            "the service has no autoScalingConfigurationArn, so App Runner uses its shared default "
            "(up to 25 instances, no minimum of ours); attach an "
            "aws.apprunner.AutoScalingConfigurationVersion built from spendsense:api"
        )


def check_autoscaling_in_stack(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    """The attached configuration must be one of this stack's (whose bounds the pack checks):
    a literal ARN may name any configuration, e.g. one allowing 1,000 instances."""
    versions = list(of_type(resources, AUTOSCALING))
    for service in of_type(resources, SERVICE):
        arn = get(service.props, "autoScalingConfigurationArn")
        if arn is None or arn == "":
            continue  # aws-apprunner-autoscaling reports a missing attachment
        if any(
            refers_to(
                service, v, arn, get(v.props, "arn"), get(v.props, "autoScalingConfigurationArn")
            )
            for v in versions
        ):
            continue
        shown = "an unknown value" if isinstance(arn, Unknown) else f'"{arn}"'
        yield (
            service.urn,
            f"autoScalingConfigurationArn is {shown}, which is no "
            "aws.apprunner.AutoScalingConfigurationVersion of this stack, so its bounds are not "
            "checked; attach the stack's configuration (its .arn) built from spendsense:api",
        )


# App Runner's defaults for fields an autoscaling configuration leaves out.
DEFAULT_MIN_SIZE, DEFAULT_MAX_SIZE, DEFAULT_CONCURRENCY = 1, 25, 100


def check_autoscaling_bounds(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    lo, hi = number(config["minInstances"]), number(config["maxInstances"])
    concurrency_cap = number(config["maxConcurrency"])
    min_size = number(props.get("minSize", DEFAULT_MIN_SIZE))
    max_size = number(props.get("maxSize", DEFAULT_MAX_SIZE))
    concurrency = number(props.get("maxConcurrency", DEFAULT_CONCURRENCY))
    if min_size is None or (lo is not None and min_size < lo):
        yield (
            f"minSize is {fmt(min_size)}; at least {fmt(lo)} instance(s) must stay warm: "
            f"set spendsense:api.minInstances to {fmt(lo)} or more"
        )
    if max_size is None or (hi is not None and max_size > hi):
        yield (
            f"maxSize is {fmt(max_size)}; the limit is {fmt(hi)} instances: "
            f"set spendsense:api.maxInstances to {fmt(hi)} or less"
        )
    if min_size is not None and max_size is not None and min_size > max_size:
        yield f"minSize ({fmt(min_size)}) is above maxSize ({fmt(max_size)}); make minSize <= maxSize"
    if concurrency is None or (concurrency_cap is not None and concurrency > concurrency_cap):
        yield (
            f"maxConcurrency is {fmt(concurrency)}; the limit is {fmt(concurrency_cap)} requests per "
            f"instance: set spendsense:api.maxConcurrency to {fmt(concurrency_cap)} or less"
        )


def check_health_check(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    health = props.get("healthCheckConfiguration")
    path = config["healthCheckPath"]
    if not health:
        yield (
            "the service has no healthCheckConfiguration, so App Runner only checks that the TCP "
            f'port is open; add protocol "HTTP" with path "{path}"'
        )
        return
    protocol = str(health.get("protocol") or "TCP").upper()
    if protocol != "HTTP":
        yield (
            f'healthCheckConfiguration.protocol is "{protocol}"; the runbook checks the API over HTTP: '
            f'set protocol "HTTP" with path "{path}"'
        )
    actual = health.get("path") or "/"
    if protocol == "HTTP" and actual != path:
        yield (
            f'healthCheckConfiguration.path is "{actual}"; the API answers its health on "{path}": '
            f"set spendsense:api.healthCheckPath to {path}"
        )


def _environment_blocks(props: Props) -> Iterator[tuple[str, Mapping[str, Any]]]:
    source = props.get("sourceConfiguration") or {}
    image = (source.get("imageRepository") or {}).get("imageConfiguration") or {}
    yield (
        "sourceConfiguration.imageRepository.imageConfiguration.runtimeEnvironmentVariables",
        image.get("runtimeEnvironmentVariables") or {},
    )
    code = (source.get("codeRepository") or {}).get("codeConfiguration") or {}
    values = code.get("codeConfigurationValues") or {}
    yield (
        "sourceConfiguration.codeRepository.codeConfiguration.codeConfigurationValues."
        "runtimeEnvironmentVariables",
        values.get("runtimeEnvironmentVariables") or {},
    )


_AWS_KEY_RE = re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b")


def check_no_plaintext_secrets(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    pattern = str(config["secretNamePattern"])
    for where, variables in _environment_blocks(props):
        for key in variables:
            value = variables.get(key)
            if re.search(pattern, key):
                yield (
                    f"{where}.{key} looks like a secret but is a plain environment variable "
                    "(visible in the console and API); move it to runtimeEnvironmentSecrets "
                    "with a Secrets Manager ARN"
                )
            elif isinstance(value, str) and URL_WITH_PASSWORD_RE.search(value):
                yield (
                    f"{where}.{key} holds a URL with a password (user:password@host) in a plain "
                    "environment variable (visible in the console and API); move it to "
                    "runtimeEnvironmentSecrets with a Secrets Manager ARN"
                )
            elif isinstance(value, str) and _AWS_KEY_RE.search(value):
                yield (
                    f"{where}.{key} holds an AWS access key id; use the instance role instead "
                    "of keys, or runtimeEnvironmentSecrets"
                )


def policies() -> list[Policy]:
    return [
        resource_policy(
            "aws-apprunner-instance-size",
            "App Runner instances must be a size App Runner offers and no bigger than the "
            "runbook's 2 vCPU / 4 GB.",
            {SERVICE: check_instance_size},
            config=schema(
                {
                    "maxCpu": (limit("apprunner", "maxCpu"), "Largest CPU allowed, e.g. 2 vCPU."),
                    "maxMemory": (limit("apprunner", "maxMemory"), "Largest memory allowed."),
                    "cpuMemoryPairs": (
                        limit("apprunner", "cpuMemoryPairs"),
                        "The CPU sizes App Runner offers and the memory sizes each may pair with.",
                    ),
                }
            ),
        ),
        resource_policy(
            "aws-apprunner-autoscaling",
            "Every App Runner service must have its own autoscaling configuration, with a minimum "
            "of warm instances and bounded size and concurrency.",
            {SERVICE: check_autoscaling_attached, AUTOSCALING: check_autoscaling_bounds},
            config=schema(
                {
                    "minInstances": (
                        limit("apprunner", "minInstances"),
                        "Fewest instances allowed as minSize.",
                    ),
                    "maxInstances": (
                        limit("apprunner", "maxInstances"),
                        "Most instances allowed as maxSize.",
                    ),
                    "maxConcurrency": (
                        limit("apprunner", "maxConcurrency"),
                        "Most concurrent requests per instance.",
                    ),
                }
            ),
        ),
        stack_policy(
            "aws-apprunner-autoscaling-in-stack",
            "An App Runner service's autoscaling configuration must be one of the stack's own "
            "AutoScalingConfigurationVersions, whose bounds aws-apprunner-autoscaling checks.",
            check_autoscaling_in_stack,
        ),
        resource_policy(
            "aws-apprunner-health-check",
            "Every App Runner service must have an HTTP health check on the API's /health "
            "endpoint.",
            {SERVICE: check_health_check},
            config=schema(
                {
                    "healthCheckPath": (
                        limit("apprunner", "healthCheckPath"),
                        "The API's health path.",
                    )
                }
            ),
        ),
        resource_policy(
            "aws-apprunner-no-plaintext-secrets",
            "App Runner environment variables must not hold secrets in plain text; secrets come "
            "from Secrets Manager through runtimeEnvironmentSecrets (like Checkov CKV_AWS_45 for "
            "Lambda).",
            {SERVICE: check_no_plaintext_secrets},
            config=schema(
                {
                    "secretNamePattern": (
                        SECRET_NAME_RE,
                        "Regex: variable names that look like secrets.",
                    )
                }
            ),
        ),
    ]
