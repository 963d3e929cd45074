"""Helpers every component uses: tags and labels set on each resource, child options, and the
routing of EventBridge alert rules and zero-count alarms to their severity's topics."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pulumi

from infra.settings import Settings
from infra.severities import Severity, severity_of

# What an alert of a severity notifies (alerts.AlertRoutes.actions): topic ARNs.
Actions = Callable[[Severity], Sequence[pulumi.Input[str]]]
# The Cloud Monitoring notification channels of a severity (alert_channels.channels_for).
Channels = Callable[[Severity], Sequence[pulumi.Input[str]]]


@dataclass(frozen=True)
class Providers:
    """Providers are created once (in program.py) and passed down to every component."""

    aws: pulumi.ProviderResource
    gcp: pulumi.ProviderResource
    vercel: pulumi.ProviderResource


def aws_tags(settings: Settings, **extra: str) -> dict[str, str]:
    """`Project`, `Environment`, `ManagedBy` (+ extras) for one AWS resource.

    Set on each resource explicitly: a provider's default tags are invisible to the mock
    runtime and to the policy pack (docs/design.md#tags).
    """
    return {**settings.tags, **extra}


def gcp_labels(settings: Settings, **extra: str) -> dict[str, str]:
    """`project`, `environment`, `managed-by` (+ extras) for one GCP resource."""
    return {**settings.labels, **extra}


def child(
    parent: pulumi.Resource, provider: pulumi.ProviderResource | None = None, **kwargs: object
) -> pulumi.ResourceOptions:
    """Options for a component's child: parented, on the given provider."""
    return pulumi.ResourceOptions(parent=parent, provider=provider, **kwargs)  # type: ignore[arg-type]


def stateful(settings: Settings) -> Mapping[str, bool]:
    """`protect` and `retain_on_delete` for a resource that holds data or identity.

    Driven by `spendsense:protectStatefulResources`, never by the stack's name.
    """
    on = settings.protect_stateful_resources
    return {"protect": on, "retain_on_delete": on}


def permissions_boundary(
    settings: Settings, provider: pulumi.ProviderResource
) -> pulumi.Output[str] | None:
    """The ARN of `spendsense:iamPermissionsBoundary` in this account, for every IAM role."""
    name = settings.iam_permissions_boundary
    if name is None:
        return None
    import pulumi_aws as aws

    account = aws.get_caller_identity_output(
        opts=pulumi.InvokeOutputOptions(provider=provider)
    ).account_id
    return pulumi.Output.concat("arn:aws:iam::", account, ":policy/", name)


def alert_target(
    name: str,
    rule: pulumi.Output[str] | str,
    rule_name: str,
    role: str,
    actions: Actions,
    settings: Settings,
    options: pulumi.ResourceOptions,
    input_transformer: Mapping[str, object] | None = None,
) -> None:
    """Send an EventBridge rule's events to its severity's route, and alarm if delivery fails.

    `role` is the rule's row in infra/severities.py; `actions(severity)` gives the topics
    (the severity's topic, then the all-alerts stream: alerts.AlertRoutes.actions), one
    target each. An event that EventBridge cannot deliver (a topic policy or KMS key that
    refuses it) is otherwise lost without a trace; `FailedInvocations` is the only signal, so
    it gets a `delivery-failures` alarm (CloudWatch alarms publish through their own principal).
    """
    import pulumi_aws as aws

    severity = severity_of(role)
    for index, arn in enumerate(actions(severity)):
        # The first target keeps the name it had when the rule had one topic.
        aws.cloudwatch.EventTarget(
            f"{name}-alert" if index == 0 else f"{name}-alert-{index}",
            rule=rule,
            arn=arn,
            input_transformer=input_transformer,
            opts=options,
        )
    any_event_alarm(
        f"{name}-delivery-failures",
        f"{rule_name}-delivery-failures",
        "delivery-failures",
        f"EventBridge could not deliver events of the rule {rule_name} to the alert topics: "
        "alerts are being lost. Check the topics' access policies and the KMS key policy.",
        ("AWS/Events", "FailedInvocations", {"RuleName": rule}),
        actions,
        settings,
        options,
    )


def any_event_alarm(
    name: str,
    alarm_name: str,
    role: str,
    description: str,
    metric: tuple[str, str, Mapping[str, pulumi.Input[str]]],
    actions: Actions,
    settings: Settings,
    options: pulumi.ResourceOptions,
) -> None:
    """An alarm on a count that should stay at zero (errors, failed deliveries), per 5 minutes.

    Tagged and routed by `role`'s severity (infra/severities.py). No data means nothing
    happened (such metrics are published only when something does).
    """
    import pulumi_aws as aws

    namespace, metric_name, dimensions = metric
    severity = severity_of(role)
    aws.cloudwatch.MetricAlarm(
        name,
        name=alarm_name,
        alarm_description=description,
        namespace=namespace,
        metric_name=metric_name,
        dimensions=dimensions,
        statistic="Sum",
        period=300,
        evaluation_periods=1,
        threshold=0,
        comparison_operator="GreaterThanThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=list(actions(severity)),
        ok_actions=list(actions(severity)),
        tags=aws_tags(settings, Severity=severity.value),
        opts=options,
    )


def bounded_name(base: str, suffix: str, limit: int) -> str:
    """`base + suffix` if it fits in `limit` characters, else a cut base plus a hash of it.

    Plain truncation would give two long names with the same start one physical name (staging
    and production may share an account); the hash of the whole base keeps them apart.
    """
    if len(base) + len(suffix) <= limit:
        return base + suffix
    import hashlib

    digest = hashlib.sha256(base.encode()).hexdigest()[:8]
    keep = limit - len(suffix) - len(digest) - 1
    return f"{base[:keep].rstrip('-_')}-{digest}{suffix}"
