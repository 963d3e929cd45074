"""Preflight on AWS: the account and region, App Runner, the API image in ECR.

Calls (all reads), in the stack's region `aws:region` (the program's provider uses it, not the
shell's AWS_REGION): `sts:GetCallerIdentity`; `apprunner:ListServices` and, when the stack's
service exists, `apprunner:DescribeService`; `ecr:DescribeRepositories` and
`ecr:DescribeImages` on the stack's repository.

The first deployment: the program creates the ECR repository and the App Runner service in
the same `pulumi up`, and the service cannot start without an image, so the deploy first
creates the repository and pushes `api.initialImageTag` ("bootstrap"). Bootstrap is complete
when the repository exists and holds that tag. While no App Runner service of the stack
exists (live, or in the state), a missing repository or image is expected before bootstrap,
not a failure; once the service exists, the image it runs (or `initialImageTag`) must be there.

App Runner is closed to new AWS customers since 2026-04-30
(https://docs.aws.amazon.com/apprunner/latest/dg/apprunner-availability-change.html): an
account that never used it is refused. botocore's App Runner model declares no error for that
(ListServices: InvalidRequestException, InternalServiceErrorException only), so a refusal
comes as one of AWS's common errors (AccessDeniedException without an IAM "is not authorized
to perform" message, SubscriptionRequiredException, OptInRequired); an IAM denial names the
missing permission instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spendsense.errors import one_line
from spendsense.ops.preflight import (
    APPRUNNER_SERVICE_TYPE,
    BEFORE_BOOTSTRAP,
    DENIED,
    MISSING,
    OK,
    REFUSED,
    UNKNOWN,
    Check,
    StackState,
    blocked,
)

AVAILABILITY_URL = (
    "https://docs.aws.amazon.com/apprunner/latest/dg/apprunner-availability-change.html"
)
REFUSAL_CODES = frozenset(
    {"SubscriptionRequiredException", "OptInRequired", "NotSignedUp", "AccessDeniedException"}
)
IAM_DENIAL = ("not authorized to perform", "no identity-based policy allows")
BOOTSTRAP_FIX = (
    'run the first-deployment bootstrap (README, "Using it with the real cloud", step 3): '
    "create the registry and push the image tagged {tag}"
)


def make_client(service: str, region: str) -> Any:
    """The one seam tests replace (App Runner with botocore's Stubber)."""
    from spendsense.clients import make_client as build

    return build(service, region=region)


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _message(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return " ".join(str(response.get("Error", {}).get("Message", "")).split())[:200]
    return one_line(exc)


CREDENTIAL_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
    }
)


def _credentials_problem(exc: Exception) -> str | None:
    """A one-line reason when `exc` is about the credentials, else None."""
    from spendsense.clients import describe_aws_error

    if _code(exc) not in CREDENTIAL_CODES:
        return None
    return str(describe_aws_error(exc, "apprunner:ListServices"))


def check_identity(region: str) -> tuple[Check, str | None]:
    """(the check, the account id or None)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        identity = make_client("sts", region).get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        from spendsense.clients import describe_aws_error

        reason = str(describe_aws_error(exc, "sts:GetCallerIdentity"))
        fix = (
            "set AWS_PROFILE (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or run "
            "`aws sso login`; in CI: the configure-aws-credentials step"
        )
        return Check("aws.identity", MISSING, f"no usable AWS identity: {reason}", fix), None
    account = str(identity.get("Account"))
    return (
        Check(
            "aws.identity",
            OK,
            f"account {account} as {identity.get('Arn')}, region {region} (aws:region)",
        ),
        account,
    )


@dataclass(frozen=True)
class AppRunnerResult:
    check: Check
    service: dict[str, Any] | None  # DescribeService's Service, when the stack's exists
    known: bool  # whether App Runner answered


def check_apprunner(region: str, service_name: str) -> AppRunnerResult:
    from botocore.exceptions import BotoCoreError, ClientError

    client = make_client("apprunner", region)
    found: dict[str, Any] | None = None
    try:
        token: str | None = None
        while True:
            page = client.list_services(**({"NextToken": token} if token else {}))
            for summary in page.get("ServiceSummaryList", []):
                if summary.get("ServiceName") == service_name:
                    found = summary
            token = page.get("NextToken")
            if not token or found:
                break
        service = None
        if found is not None:
            service = client.describe_service(ServiceArn=found["ServiceArn"])["Service"]
    except ClientError as exc:
        code, message = _code(exc), _message(exc)
        credentials = _credentials_problem(exc)
        if credentials:
            return AppRunnerResult(Check("aws.apprunner", MISSING, credentials), None, False)
        if code in REFUSAL_CODES and not any(text in message.lower() for text in IAM_DENIAL):
            detail = (
                f"App Runner refused this account ({code}: {message}). App Runner is closed to "
                "new AWS customers since 2026-04-30: an account that has not used it before "
                "cannot create the API service"
            )
            fix = (
                "deploy to an AWS account that already runs App Runner services, or ask AWS "
                f"support to allow this account (see {AVAILABILITY_URL}); AWS points new "
                "customers to Amazon ECS Express Mode"
            )
            return AppRunnerResult(Check("aws.apprunner", REFUSED, detail, fix), None, False)
        if code in {"AccessDenied", "AccessDeniedException"}:
            detail = f"the identity may not call App Runner ({code}: {message})"
            fix = (
                "grant apprunner:ListServices and apprunner:DescribeService to this identity "
                "(CI: infra/ci_trust)"
            )
            return AppRunnerResult(Check("aws.apprunner", DENIED, detail, fix), None, False)
        detail = f"App Runner answered {code}: {message}"
        return AppRunnerResult(Check("aws.apprunner", UNKNOWN, detail, "try again"), None, False)
    except BotoCoreError as exc:
        from spendsense.clients import describe_aws_error

        reason = str(describe_aws_error(exc, "apprunner:ListServices"))
        return AppRunnerResult(Check("aws.apprunner", UNKNOWN, reason, "try again"), None, False)
    if service is None:
        detail = (
            f"the identity can call App Runner in {region}; service {service_name} does not "
            "exist yet (`pulumi up` creates it)"
        )
        return AppRunnerResult(Check("aws.apprunner", OK, detail), None, True)
    detail = f"service {service_name} exists ({service.get('Status')})"
    return AppRunnerResult(Check("aws.apprunner", OK, detail), service, True)


def _repository(client: Any, name: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        repositories = client.describe_repositories(repositoryNames=[name])["repositories"]
    except ClientError as exc:
        if _code(exc) == "RepositoryNotFoundException":
            return None
        raise
    return repositories[0] if repositories else None


def _has_image(client: Any, repository: str, reference: dict[str, str]) -> bool:
    from botocore.exceptions import ClientError

    try:
        details = client.describe_images(repositoryName=repository, imageIds=[reference])
    except ClientError as exc:
        if _code(exc) == "ImageNotFoundException":
            return False
        raise
    return bool(details.get("imageDetails"))


def _reference(image: str, repository_url: str) -> dict[str, str] | None:
    """`<repo url>:<tag>` or `<repo url>@<digest>` -> the imageIds entry; None elsewhere."""
    if image.startswith(repository_url + "@"):
        return {"imageDigest": image[len(repository_url) + 1 :]}
    if image.startswith(repository_url + ":"):
        return {"imageTag": image[len(repository_url) + 1 :]}
    return None


def check_image(
    region: str,
    repository_name: str,
    initial_tag: str,
    apprunner: AppRunnerResult,
    state: StackState | None,
) -> tuple[list[Check], str]:
    """(the registry and image checks, bootstrap: complete | pending | unknown)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from spendsense.clients import describe_aws_error

    service_exists = apprunner.service is not None or bool(
        state is not None and state.of_type(APPRUNNER_SERVICE_TYPE)
    )
    client = make_client("ecr", region)
    try:
        repository = _repository(client, repository_name)
        has_initial = repository is not None and _has_image(
            client, repository_name, {"imageTag": initial_tag}
        )
    except (BotoCoreError, ClientError) as exc:
        code = _code(exc)
        status = DENIED if code in {"AccessDenied", "AccessDeniedException"} else UNKNOWN
        fix = (
            "grant ecr:DescribeRepositories and ecr:DescribeImages on the repository"
            if status == DENIED
            else "try again"
        )
        reason = str(describe_aws_error(exc, "read the ECR repository"))
        return [Check("aws.ecr", status, reason, fix), blocked("aws.image", "aws.ecr")], "unknown"
    bootstrap = "complete" if has_initial else "pending"
    push = BOOTSTRAP_FIX.format(tag=initial_tag)
    if repository is None:
        status = MISSING if service_exists else BEFORE_BOOTSTRAP
        why = "but the App Runner service exists" if service_exists else "(no service yet)"
        return [
            Check("aws.ecr", status, f"repository {repository_name} does not exist {why}", push),
            Check("aws.image", status, f"no image {initial_tag}: no repository", push),
        ], bootstrap
    checks = [Check("aws.ecr", OK, f"repository {repository_name} exists")]
    deployed = None
    if apprunner.service is not None:
        from spendsense.ops.apprunner import current_image

        deployed = current_image(apprunner.service)
    reference = _reference(deployed, repository["repositoryUri"]) if deployed else None
    if deployed and reference is None:
        checks.append(
            Check(
                "aws.image",
                MISSING,
                f"the service runs {deployed}, which is not in repository {repository_name}",
                "spendsense deploy --stack STACK --image-tag TAG with an image of this repository",
            )
        )
    elif deployed and reference is not None:
        try:
            present = _has_image(client, repository_name, reference)
        except (BotoCoreError, ClientError) as exc:
            reason = str(describe_aws_error(exc, "read the deployed image"))
            return [*checks, Check("aws.image", UNKNOWN, reason, "try again")], bootstrap
        if present:
            checks.append(Check("aws.image", OK, f"the deployed image {deployed} is in ECR"))
        else:
            checks.append(
                Check(
                    "aws.image",
                    MISSING,
                    f"the deployed image {deployed} is no longer in ECR (App Runner cannot "
                    "scale out or redeploy it)",
                    "push it again, or `spendsense deploy --stack STACK --image-tag TAG` with "
                    "an image that exists",
                )
            )
    elif has_initial:
        checks.append(
            Check("aws.image", OK, f"image {initial_tag} (api.initialImageTag) is in ECR")
        )
    else:
        status = MISSING if service_exists else BEFORE_BOOTSTRAP
        checks.append(
            Check("aws.image", status, f"no image tagged {initial_tag} in {repository_name}", push)
        )
    return checks, bootstrap


def check_aws(
    region: str,
    service_name: str,
    repository_name: str,
    initial_tag: str,
    state: StackState | None,
) -> tuple[list[Check], str]:
    """Every AWS check, in order; (checks, bootstrap)."""
    identity, account = check_identity(region)
    if account is None:
        return [
            identity,
            blocked("aws.apprunner", "aws.identity"),
            blocked("aws.ecr", "aws.identity"),
            blocked("aws.image", "aws.identity"),
        ], "unknown"
    apprunner = check_apprunner(region, service_name)
    image_checks, bootstrap = check_image(region, repository_name, initial_tag, apprunner, state)
    return [identity, apprunner.check, *image_checks], bootstrap
