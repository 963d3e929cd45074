"""Rules about every resource: protection of stateful resources, required tags and labels.

docs/design.md#tags: tags go on each resource explicitly (a provider's default tags are invisible
to the policies). AWS tags ``Project``, ``Environment``, ``ManagedBy``; GCP labels
``project``, ``environment``, ``managed-by``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Policy, ResourceValidationArgs, Severity

from spendsense_policies.base import resource_policy_with_args
from spendsense_policies.config import schema

STATEFUL_TYPES = [
    "aws:ecr/repository:Repository",
    "aws:secretsmanager/secret:Secret",
    "aws:kms/key:Key",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:dynamodb/table:Table",
    "gcp:storage/bucket:Bucket",
    "gcp:firestore/database:Database",
]

# Types whose inputs take `tags` (AWS) or `labels` (GCP), from the provider schemas. A resource
# of another type is judged only if it sets tags/labels anyway.
AWS_TAGGABLE = {
    "aws:apprunner/autoScalingConfigurationVersion:AutoScalingConfigurationVersion",
    "aws:apprunner/observabilityConfiguration:ObservabilityConfiguration",
    "aws:apprunner/service:Service",
    "aws:apprunner/vpcConnector:VpcConnector",
    "aws:budgets/budget:Budget",
    "aws:cloudwatch/compositeAlarm:CompositeAlarm",
    "aws:cloudwatch/eventRule:EventRule",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:ecr/repository:Repository",
    "aws:iam/policy:Policy",
    "aws:iam/role:Role",
    "aws:kms/key:Key",
    "aws:lambda/function:Function",
    "aws:route53/healthCheck:HealthCheck",
    "aws:s3/bucketV2:BucketV2",
    "aws:secretsmanager/secret:Secret",
    "aws:sns/topic:Topic",
    "aws:sqs/queue:Queue",
}
GCP_LABELABLE = {
    "gcp:cloudfunctionsv2/function:Function",
    "gcp:kms/cryptoKey:CryptoKey",
    "gcp:monitoring/alertPolicy:AlertPolicy",
    "gcp:monitoring/notificationChannel:NotificationChannel",
    "gcp:pubsub/subscription:Subscription",
    "gcp:pubsub/topic:Topic",
    "gcp:secretmanager/secret:Secret",
    "gcp:storage/bucket:Bucket",
    "gcp:workflows/workflow:Workflow",
}

# Where a type keeps its resource labels when `labels` means something else (a notification
# channel's `labels` is its configuration, e.g. the e-mail address).
LABEL_FIELD = {
    "gcp:monitoring/alertPolicy:AlertPolicy": "userLabels",
    "gcp:monitoring/notificationChannel:NotificationChannel": "userLabels",
}


def check_protected(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterator[str]:
    if args.resource_type not in config["statefulTypes"]:
        return
    if not config["production"]:
        args.not_applicable("not a production stack (policy config production=false)")
    if not args.opts.protect:
        yield (
            f"{args.resource_type.rsplit(':', 1)[-1]} {args.name} holds data or identity but is "
            "not protected, so `pulumi destroy` or a rename would delete it: set protect=True "
            "(spendsense:protectStatefulResources: true)"
        )


def check_tags(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterator[str]:
    type_ = args.resource_type
    present = set(args.props)  # key presence without reading (a value may be unknown)
    if type_.startswith("aws:") and (type_ in AWS_TAGGABLE or "tags" in present):
        field, required, environment_key = "tags", list(config["awsTags"]), "Environment"
    elif type_.startswith("gcp:") and (type_ in GCP_LABELABLE or "labels" in present):
        field = LABEL_FIELD.get(type_, "labels")
        required, environment_key = list(config["gcpLabels"]), "environment"
    else:
        return
    values = args.props.get(field) or {}
    missing = [key for key in required if not values.get(key)]
    if missing:
        yield (
            f"{field} lack {', '.join(missing)} (required: {', '.join(required)}); set them with "
            "the components' tag helper (infra/components/common.py), not only as provider defaults"
        )
    expected = config["environment"]
    actual = values.get(environment_key)
    if expected and actual and actual != expected:
        yield (
            f'{field}.{environment_key} is "{actual}" in the {expected} stack; '
            f'set it to "{expected}"'
        )


def policies() -> list[Policy]:
    return [
        resource_policy_with_args(
            "stack-stateful-resources-protected",
            "In production, resources that hold data or identity (repositories, secrets, "
            "buckets, databases) must be protected from deletion.",
            check_protected,
            config=schema(
                {
                    "production": (
                        True,
                        "Is this stack production? (set by policies/config/<stack>.json)",
                    ),
                    "statefulTypes": (STATEFUL_TYPES, "Resource types that hold data or identity."),
                }
            ),
        ),
        resource_policy_with_args(
            "stack-required-tags",
            "Every taggable resource must carry the Project, Environment and ManagedBy tags (GCP: "
            "project, environment, managed-by labels) for cost and ownership reports.",
            check_tags,
            config=schema(
                {
                    "awsTags": (
                        ["Project", "Environment", "ManagedBy"],
                        "Tags every AWS resource needs.",
                    ),
                    "gcpLabels": (
                        ["project", "environment", "managed-by"],
                        "Labels every GCP resource needs.",
                    ),
                    "environment": ("", "If set, the Environment tag/label must equal it."),
                }
            ),
            severity=Severity.MEDIUM,
        ),
    ]
