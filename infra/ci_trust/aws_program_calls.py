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
- `alert_parameter_statements`: the alert routes' `httpsUrlParameter` entries (a paging
  service's integration URL, which embeds its key, kept in an SSM SecureString): the program
  reads each with the `aws.ssm.get_parameter` data source in preview and up alike
  (infra/components/alerts.py, alert_channels.py). The data source is SSM's GetParameter with
  `WithDecryption` (terraform-provider-aws, internal/service/ssm/parameter_data_source.go), so
  the roles need `ssm:GetParameter` on the parameter (the reference's resource type
  `parameter`, `arn:...:ssm:REGION:ACCOUNT:parameter/NAME-WITHOUT-LEADING-SLASH`), granted on
  the stack's own path `/spendsense/<stack>/` only (the settings refuse a parameter elsewhere,
  infra/settings/alerting.py). Decrypting needs `kms:Decrypt` on the parameter's key: the
  AWS managed key `aws/ssm` grants it to every principal of the account through its key
  policy, so no IAM grant is needed for it; a parameter under a customer managed key needs
  the roles in that key's policy (https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-restrict-decryption.html;
  docs/alerting.md).
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


# Where a stack's alert-route parameters live (infra/settings/alerting.py checks the same path).
ALERT_PARAMETER_PATH = "parameter/spendsense/{stack}/*"


def alert_parameter_statements(scope: Scope) -> list[dict[str, Any]]:
    """Read the paging URLs of the scope's stacks (its environment, or the stacks it previews)."""
    stacks = [scope.environment] if scope.environment else list(scope.stacks)
    if not stacks:
        return []
    return [
        statement(
            "AlertRouteParameters",
            ["ssm:GetParameter"],
            [scope.arn("ssm", ALERT_PARAMETER_PATH.format(stack=stack)) for stack in stacks],
        )
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
