"""App Runner: instance size, autoscaling, health check and secrets in the API's environment.

The runbook runs the API on App Runner with a largest instance size, autoscaling, and an HTTP
health check on the API's health path (the numbers and the path: ``limits.json``
``apprunner``). Checkov has no App Runner rules, so these are the pack's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import Policy, PolicyResource

from spendsense_policies.base import (
    SECRET_NAME_RE,
    Pending,
    Props,
    Unknown,
    fmt,
    get,
    number,
    resource_policy,
    stack_policy,
)
from spendsense_policies.config import limit, schema
from spendsense_policies.index import StackIndex, ValueIndex
from spendsense_policies.secret_values import SECRET_VALUE_CONFIG, is_setting, secret_kind

SERVICE = "aws:apprunner/service:Service"
AUTOSCALING = "aws:apprunner/autoScalingConfigurationVersion:AutoScalingConfigurationVersion"

# Exactly the spellings App Runner's API accepts (botocore's apprunner model, Cpu and Memory
# patterns): "1 vCPU" or CPU units, "2 GB" or MB. "1.0 vCPU", "1 vcpu" and "2gb" are refused.
_CPU_RE = re.compile(r"^(?:(256|512|1024|2048|4096)|(0\.25|0\.5|1|2|4)( vCPU))$")
_MEMORY_RE = re.compile(
    r"^(?:(512|1024|2048|3072|4096|6144|8192|10240|12288)|(0\.5|1|2|3|4|6|8|10|12)( GB))$"
)
# App Runner's defaults when instanceConfiguration leaves a field out.
DEFAULT_CPU, DEFAULT_MEMORY = "1 vCPU", "2 GB"


def vcpus(value: Any) -> float | None:
    """`"1 vCPU"` or `"1024"` (CPU units) as vCPUs; None when it is neither spelling."""
    match = _CPU_RE.match(str(value))
    if not match:
        return None
    return float(match.group(2)) if match.group(3) else float(match.group(1)) / 1024


def gigabytes(value: Any) -> float | None:
    """`"2 GB"` or `"2048"` (MB) as GB; None when it is neither spelling."""
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
    """CPU and memory are judged each on its own (a known 4 vCPU breaks the limit whatever
    the memory is); the pair only when both are known."""
    instance = get(props, "instanceConfiguration", default={})
    cpu_raw = get(instance, "cpu") or DEFAULT_CPU
    memory_raw = get(instance, "memory") or DEFAULT_MEMORY
    for raw, field in ((cpu_raw, "cpu"), (memory_raw, "memory")):
        if isinstance(raw, Unknown):
            yield Pending(f"instanceConfiguration.{field} is")
    cpu = None if isinstance(cpu_raw, Unknown) else vcpus(cpu_raw)
    memory = None if isinstance(memory_raw, Unknown) else gigabytes(memory_raw)
    max_cpu, max_memory = vcpus(config["maxCpu"]), gigabytes(config["maxMemory"])
    if cpu is None and not isinstance(cpu_raw, Unknown):
        yield (
            f'instanceConfiguration.cpu is "{cpu_raw}", which App Runner does not accept; '
            f'use "{config["maxCpu"]}" or less, written as "N vCPU" or in CPU units ("1024")'
        )
        return
    if memory is None and not isinstance(memory_raw, Unknown):
        yield (
            f'instanceConfiguration.memory is "{memory_raw}", which App Runner does not accept; '
            f'use "{config["maxMemory"]}" or less, written as "N GB" or in MB ("2048")'
        )
        return
    if cpu is not None and max_cpu is not None and cpu > max_cpu:
        yield (
            f"instanceConfiguration.cpu is {fmt(cpu)} vCPU; the runbook allows at most "
            f"{config['maxCpu']}: lower spendsense:api.cpu to {config['maxCpu']} or less"
        )
    if memory is not None and max_memory is not None and memory > max_memory:
        yield (
            f"instanceConfiguration.memory is {fmt(memory)} GB; the runbook allows at most "
            f"{config['maxMemory']}: lower spendsense:api.memory to {config['maxMemory']} or less"
        )
    if cpu is None or memory is None:
        return
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
            f"(up to {DEFAULT_MAX_SIZE} instances, no minimum of ours); attach an "
            "aws.apprunner.AutoScalingConfigurationVersion built from spendsense:api"
        )


def check_autoscaling_in_stack(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    """The attached configuration must be one of this stack's (whose bounds the pack checks):
    a literal ARN may name any configuration, e.g. one allowing 1,000 instances."""
    index = StackIndex(resources)
    by_arn: ValueIndex[PolicyResource] = ValueIndex()
    for version in index.of_type(AUTOSCALING):
        by_arn.add(get(version.props, "arn"), version)
        by_arn.add(get(version.props, "autoScalingConfigurationArn"), version)
    for service in index.of_type(SERVICE):
        arn = get(service.props, "autoScalingConfigurationArn")
        if arn is None or arn == "":
            continue  # aws-apprunner-autoscaling reports a missing attachment
        # one of the stack's versions, by its ARN or a dependency (`refers_to`)
        if by_arn.get(arn) or index.pointed_at_by(service, AUTOSCALING):
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
    raw = {
        field: get(props, field, default=default)
        for field, default in (
            ("minSize", DEFAULT_MIN_SIZE),
            ("maxSize", DEFAULT_MAX_SIZE),
            ("maxConcurrency", DEFAULT_CONCURRENCY),
        )
    }
    # Each bound is judged on its own: an unknown minSize does not hide maxSize 1000.
    unknown = {field for field, value in raw.items() if isinstance(value, Unknown)}
    yield from (Pending(f"{field} is") for field in sorted(unknown))
    min_size, max_size = number(raw["minSize"]), number(raw["maxSize"])
    concurrency = number(raw["maxConcurrency"])
    if "minSize" in unknown:
        pass
    elif min_size is None or (lo is not None and min_size < lo):
        yield (
            f"minSize is {fmt(min_size)}; at least {fmt(lo)} instance(s) must stay warm: "
            f"set spendsense:api.minInstances to {fmt(lo)} or more"
        )
    if "maxSize" in unknown:
        pass
    elif max_size is None or (hi is not None and max_size > hi):
        yield (
            f"maxSize is {fmt(max_size)}; the limit is {fmt(hi)} instances: "
            f"set spendsense:api.maxInstances to {fmt(hi)} or less"
        )
    if min_size is not None and max_size is not None and min_size > max_size:
        yield (
            f"minSize ({fmt(min_size)}) is above maxSize ({fmt(max_size)}); make minSize <= maxSize"
        )
    if "maxConcurrency" in unknown:
        pass
    elif concurrency is None or (concurrency_cap is not None and concurrency > concurrency_cap):
        yield (
            f"maxConcurrency is {fmt(concurrency)}; the limit is {fmt(concurrency_cap)} requests "
            "per "
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
            f'healthCheckConfiguration.protocol is "{protocol}"; the runbook checks the API over '
            "HTTP: "
            f'set protocol "HTTP" with path "{path}"'
        )
    actual = health.get("path") or "/"
    if protocol == "HTTP" and actual != path:
        yield (
            f'healthCheckConfiguration.path is "{actual}"; the API answers its health on "{path}": '
            f"set spendsense:api.healthCheckPath to {path}"
        )


_BLOCKS = {
    "sourceConfiguration.imageRepository.imageConfiguration": (
        "imageRepository",
        "imageConfiguration",
    ),
    "sourceConfiguration.codeRepository.codeConfiguration.codeConfigurationValues": (
        "codeRepository",
        "codeConfiguration",
        "codeConfigurationValues",
    ),
}


def _environment_blocks(props: Props, field: str) -> Iterator[tuple[str, Any]]:
    """(where, the variables) of `field` in each place a service can set it; a block that is
    unknown during preview comes back as `Unknown`."""
    for where, path in _BLOCKS.items():
        block = get(props, "sourceConfiguration", *path, field, default={})
        yield f"{where}.{field}", block


# App Runner takes the full ARN of a Secrets Manager secret or of an SSM parameter:
# https://docs.aws.amazon.com/apprunner/latest/api/API_ImageConfiguration.html
_SECRET_ARN = re.compile(
    r"^arn:aws(?:-cn|-us-gov)?:(?:secretsmanager:[a-z0-9-]+:\d{12}:secret:\S+"
    r"|ssm:[a-z0-9-]+:\d{12}:parameter/\S+)$"
)


def _variable_problem(where: str, key: str, value: Any, config: Mapping[str, Any]) -> str | None:
    if key in config["notSecret"]:
        return None
    named = bool(re.search(str(config["secretNamePattern"]), key))
    if isinstance(value, Unknown):
        return Pending(f"{where}.{key} is") if not named else _named_secret(where, key)
    if named and not is_setting(key, value, config["settingWords"]):
        return _named_secret(where, key)
    kind = (
        secret_kind(
            value,
            number(config["highEntropyMinLength"]) or 0,
            number(config["highEntropyBitsPerChar"]) or 0,
        )
        if isinstance(value, str)
        else None
    )
    if kind is None:
        return None
    return (
        f"{where}.{key} holds {kind} in a plain environment variable (visible in the console "
        "and API), whatever its name; move it to runtimeEnvironmentSecrets with a Secrets "
        "Manager ARN (an AWS key: use the instance role instead)"
    )


def _named_secret(where: str, key: str) -> str:
    return (
        f"{where}.{key} looks like a secret but is a plain environment variable "
        "(visible in the console and API); move it to runtimeEnvironmentSecrets "
        "with a Secrets Manager ARN"
    )


def check_no_plaintext_secrets(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
    for where, variables in _environment_blocks(props, "runtimeEnvironmentVariables"):
        if isinstance(variables, Unknown):
            yield Pending(f"{where} is")
            continue
        for key in variables if isinstance(variables, Mapping) else ():
            problem = _variable_problem(where, str(key), get(variables, key), config)
            if problem:
                yield problem
    for where, secrets in _environment_blocks(props, "runtimeEnvironmentSecrets"):
        if isinstance(secrets, Unknown):
            yield Pending(f"{where} is")
            continue
        for key in secrets if isinstance(secrets, Mapping) else ():
            value = get(secrets, key)
            if isinstance(value, Unknown):
                yield Pending(f"{where}.{key} is")
            elif not (isinstance(value, str) and _SECRET_ARN.match(value.strip())):
                shown = (
                    "a secret value"
                    if isinstance(value, str) and secret_kind(value)
                    else f'"{value}"'
                )
                yield (
                    f"{where}.{key} is {shown}, not the ARN of a Secrets Manager secret or an "
                    "SSM parameter; App Runner reads runtimeEnvironmentSecrets from those: put "
                    "the value in Secrets Manager and give its ARN"
                )


def policies() -> list[Policy]:
    return [
        resource_policy(
            "aws-apprunner-instance-size",
            "App Runner instances must be a size App Runner offers and no bigger than the "
            f"runbook's {limit('apprunner', 'maxCpu')} / {limit('apprunner', 'maxMemory')}.",
            {SERVICE: check_instance_size},
            config=schema(
                {
                    "maxCpu": (limit("apprunner", "maxCpu"), 'Largest CPU allowed, as "N vCPU".'),
                    "maxMemory": (
                        limit("apprunner", "maxMemory"),
                        'Largest memory allowed, as "N GB".',
                    ),
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
            "Every App Runner service must have an HTTP health check on the API's "
            f"{limit('apprunner', 'healthCheckPath')} endpoint.",
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
                    ),
                    "notSecret": (
                        [],
                        "Variable names never judged as secrets (e.g. one holding a commit "
                        "SHA, which looks like a hex token).",
                    ),
                    **SECRET_VALUE_CONFIG,
                }
            ),
        ),
    ]
