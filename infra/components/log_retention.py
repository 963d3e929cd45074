"""Retention for the log groups App Runner creates itself.

App Runner creates `/aws/apprunner/<service>/<service-id>/application` and `.../service` when
the service is created, with "never expire" retention. Declaring them as `aws.cloudwatch.LogGroup`
would race that creation (whoever is second fails with ResourceAlreadyExists), so this small
dynamic resource runs after the service exists: it creates a group only if it is still missing
and sets its retention. Deleting it leaves the groups alone (App Runner owns them). It reaches
AWS as `dynamic_aws.py` says (boto3's default credentials, the stack's region and profile).
"""

from __future__ import annotations

import contextlib
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

from infra.components.dynamic_aws import aws_client


def log_group_names(service_name: str, service_id: str) -> list[str]:
    prefix = f"/aws/apprunner/{service_name}/{service_id}"
    return [f"{prefix}/application", f"{prefix}/service"]


def _apply(props: dict[str, Any]) -> None:
    logs = aws_client("logs", props)
    for group in props["logGroupNames"]:
        # App Runner normally created the group already; create it only if it is missing.
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=group)
        logs.put_retention_policy(logGroupName=group, retentionInDays=int(props["retentionDays"]))
        if props.get("tags"):
            # The stack's tags, as on every other AWS resource (App Runner sets none).
            logs.tag_resource(resourceArn=_group_arn(logs, group), tags=dict(props["tags"]))


def _group_arn(logs: Any, group: str) -> str:
    """The group's ARN without the ":*" that DescribeLogGroups appends."""
    for found in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
        if found["logGroupName"] == group:
            return str(found["arn"]).removesuffix(":*")
    raise LookupError(f"log group {group} does not exist after it was created")


class LogRetentionProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        _apply(props)
        return CreateResult(id_=props["logGroupNames"][0], outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = ("logGroupNames", "retentionDays", "region", "profile", "tags")
        changed = [k for k in keys if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        _apply(news)
        return UpdateResult(outs=news)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


class LogRetention(pulumi.dynamic.Resource):
    """Sets `retentionDays` on `logGroupNames` once they exist."""

    def __init__(
        self,
        name: str,
        *,
        log_group_names: pulumi.Input[list[str]],
        retention_days: int,
        target: dict[str, str],
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {"logGroupNames": log_group_names, "retentionDays": retention_days, "tags": tags}
        super().__init__(LogRetentionProvider(), name, {**props, **target}, opts)
