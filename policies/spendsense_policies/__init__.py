"""CrossGuard policies: the runbook's limits on every stack (docs/design.md#contract-policies).

One module per service; `all_policies()` is what `policies/__main__.py` puts in the pack.
Names are ``<cloud>-<service>-<rule>``; limits are policy config with `limits.json` as the
defaults; which stack is judged (production or not) comes only from the policy config file.
"""

from __future__ import annotations

from pulumi_policy import Policy

PACK_NAME = "spendsense"


def all_policies() -> list[Policy]:
    from spendsense_policies import (
        apprunner,
        cloudwatch,
        ecr,
        firestore,
        iam,
        logs,
        secretsmanager,
        severity_routing,
        sns,
        stack,
        storage,
        vercel,
    )

    policies: list[Policy] = []
    modules = (
        apprunner,
        ecr,
        cloudwatch,
        logs,
        sns,
        secretsmanager,
        iam,
        storage,
        firestore,
        vercel,
        severity_routing,
        stack,
    )
    for module in modules:
        policies.extend(module.policies())
    return policies
