"""AWS grants that follow from what the main program does beyond creating its resources.

- `running_image_statements`: the live lookup of the image the API's App Runner service runs
  (infra/components/running_image.py), made on every `pulumi preview` and `pulumi up`, so both
  the deploy roles and the (read-only) preview role need it:
  - the Resource Groups Tagging API's GetResources (`tag:GetResources`, no resource type);
  - Cloud Control's GetResource of `AWS::AppRunner::Service` (`cloudformation:GetResource`, no
    resource type). Cloud Control runs the type's read handler with the caller's credentials,
    so the caller also needs the handler's read permissions, `handlers.read.permissions` of
    the type's registry schema: `apprunner:DescribeService` only
    (https://github.com/aws-cloudformation/aws-cloudformation-resource-providers-apprunner/blob/main/aws-apprunner-service/aws-apprunner-service.json;
    https://docs.aws.amazon.com/cloudcontrolapi/latest/userguide/security.html).
    `cloudformation:GetResource` on "*" therefore reads only what the handler's permissions
    reach: the stacks' own App Runner services. What that read returns includes the
    service's runtime environment variables in plain text, to the preview role too (a pull
    request's preview): docs/ci.md, "What a pull request's preview reads from AWS".
- `secret_deletion_guard`: a stack whose `jwt.recoveryWindowDays` is not 0 (production) must
  never delete its JWT secret at once. Terraform's secret delete sends
  `ForceDeleteWithoutRecovery: true` when the window is 0
  (terraform-provider-aws, internal/service/secretsmanager/secret.go, resourceSecretDelete);
  the reference lists `secretsmanager:ForceDeleteWithoutRecovery` as a condition key of
  `secretsmanager:DeleteSecret`
  (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecretsmanager.html),
  so such a role gets an explicit Deny of exactly that request.
"""

from __future__ import annotations

from typing import Any

from infra.ci_trust.aws_policies import Scope, statement

# What Cloud Control's read of an AWS::AppRunner::Service needs besides GetResource.
APPRUNNER_SERVICE_READ_HANDLER = ("apprunner:DescribeService",)


def running_image_statements(scope: Scope) -> list[dict[str, Any]]:
    """Find the stack's service by its tags and read its source configuration (read-only)."""
    return [
        statement("RunningImageLookup", ["tag:GetResources", "cloudformation:GetResource"], "*"),
        statement(
            "RunningImageRead",
            APPRUNNER_SERVICE_READ_HANDLER,
            scope.named("apprunner", "service/{p}*"),
        ),
    ]


def secret_deletion_guard(scope: Scope) -> list[dict[str, Any]]:
    """Deny deleting the stack's secrets without a recovery window (unless it may)."""
    if scope.force_delete_secrets:
        return []
    return [
        statement(
            "NoSecretDeletionWithoutRecovery",
            ["secretsmanager:DeleteSecret"],
            scope.named("secretsmanager", "secret:{p}*"),
            {"Bool": {"secretsmanager:ForceDeleteWithoutRecovery": "true"}},
            effect="Deny",
        )
    ]
