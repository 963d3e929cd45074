"""The one place that builds cloud clients.

boto3 honours ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` and the usual region and
credential settings by itself, so the same command runs against AWS or an emulator (moto).
Google clients honour ``STORAGE_EMULATOR_HOST`` and ``FIRESTORE_EMULATOR_HOST``.
"""

from __future__ import annotations

import functools
import os
import re
from typing import Any

from spendsense.errors import BadInput, OperationFailed

DEFAULT_REGION = "us-east-1"


@functools.lru_cache(maxsize=1)
def _data_loader() -> Any:
    """botocore's API-model loader, shared: loading the models again costs ~0.3 s a client."""
    import botocore.session

    return botocore.session.get_session().get_component("data_loader")


# Services whose every call goes through a wrapper that owns the retry policy, so botocore must
# not retry on its own: App Runner (spendsense.ops.apprunner.call), because botocore would resend
# a mutation (UpdateService, StartDeployment, PauseService, ...) after a 5xx or a timeout whose
# first attempt may have been applied, doubling it or turning it into an InvalidStateException.
CALLER_RETRIED = frozenset({"apprunner"})
RETRY_ATTEMPTS = 6


def make_client(
    service: str, region: str | None = None, *, fallback_region: str | None = None
) -> Any:
    """A boto3 client: adaptive retries (throttling, 5xx, timeouts retried with backoff),
    except for the CALLER_RETRIED services, which get exactly one attempt per call.

    The region is `region` if given, else the AWS settings' (AWS_REGION, AWS_DEFAULT_REGION,
    the profile's `region`), else `fallback_region` (a command passes the stack output
    `region`), else DEFAULT_REGION, where the runbook puts everything. Credentials, region and
    endpoint are read anew on every call; only the API models are shared. A bad AWS setting
    (unknown profile, malformed region or endpoint) is BadInput.
    """
    import boto3
    import botocore.session
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    if service in CALLER_RETRIED:
        retries = {"mode": "standard", "total_max_attempts": 1}
    else:
        retries = {"mode": "adaptive", "max_attempts": RETRY_ATTEMPTS}
    config = Config(retries=retries, connect_timeout=10, read_timeout=60)  # type: ignore[arg-type]
    try:
        core = botocore.session.Session()
        core.register_component("data_loader", _data_loader())
        session = boto3.session.Session(botocore_session=core)
        region = (
            region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or session.region_name  # the profile's `region` in ~/.aws/config
            or fallback_region
            or DEFAULT_REGION
        )
        return session.client(  # type: ignore[call-overload]
            service, region_name=region, config=config
        )
    except BotoCoreError as exc:
        raise describe_aws_error(exc, f"set up the AWS {service} client") from None
    except ValueError as exc:  # botocore: "Invalid endpoint: <url>"
        variable = f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}"
        raise BadInput(
            f"AWS settings: {exc}; set AWS_ENDPOINT_URL (or {variable}) to a URL such as "
            "http://127.0.0.1:5000, or unset it to use AWS"
        ) from None


def _param_problems(exc: Exception) -> tuple[list[str], list[str]]:
    """(parameter names, problem lines) of a botocore ParamValidationError."""
    report = str(getattr(exc, "kwargs", {}).get("report") or exc)
    problems = [
        line.strip()
        for line in report.splitlines()
        if line.strip() and not line.startswith("Parameter validation failed")
    ]
    names: list[str] = []
    for problem in problems:
        match = re.search(r'parameter (?:in input: )?"?([A-Za-z0-9_.\[\]]+)"?', problem)
        if match and match.group(1) not in names:
            names.append(match.group(1))
    return names, problems


def invalid_parameters(exc: Exception) -> list[str]:
    """The request parameters a botocore ParamValidationError names (e.g. ['filterPattern'])."""
    return _param_problems(exc)[0]


def describe_aws_error(exc: Exception, doing: str) -> Exception:
    """Translate a botocore exception into a one-line SpendsenseError."""
    from botocore.exceptions import (
        ClientError,
        CredentialRetrievalError,
        EndpointConnectionError,
        InvalidRegionError,
        NoCredentialsError,
        NoRegionError,
        ParamValidationError,
        PartialCredentialsError,
        ProfileNotFound,
        SSOError,
        TokenRetrievalError,
    )

    if isinstance(exc, ParamValidationError):
        # botocore checked the request against the API model before sending it: the value
        # came from an option or a stack output, so it is bad input, not an AWS failure.
        names, problems = _param_problems(exc)
        named = ", ".join(names) or "a parameter"
        detail = "; ".join(problems)[:300]
        return BadInput(
            f"{doing}: AWS would reject request parameter {named} ({detail}); nothing was "
            "sent; fix the option or stack output it came from"
        )
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return BadInput(
            f"{doing}: no AWS credentials; set AWS_PROFILE or "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, (SSOError, TokenRetrievalError)):
        return BadInput(
            f"{doing}: the AWS SSO session has expired or is missing; run `aws sso login`"
        )
    if isinstance(exc, CredentialRetrievalError):
        return BadInput(f"{doing}: cannot get AWS credentials ({exc}); check AWS_PROFILE")
    if isinstance(exc, ProfileNotFound):
        return BadInput(f"{doing}: {exc}; set AWS_PROFILE to a profile in ~/.aws/config")
    if isinstance(exc, NoRegionError):
        return BadInput(f"{doing}: no AWS region; set AWS_REGION")
    if isinstance(exc, InvalidRegionError):
        return BadInput(f"{doing}: {exc}; set AWS_REGION to a region such as us-east-1")
    if isinstance(exc, EndpointConnectionError):
        return OperationFailed(f"{doing}: cannot reach the AWS endpoint ({exc})")
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "Error")
        message = error.get("Message", "")
        if code in {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}:
            return BadInput(
                f"{doing}: AWS credentials have expired; refresh them (e.g. `aws sso login`)"
            )
        if code in {
            "UnrecognizedClientException",
            "InvalidClientTokenId",
            "AccessDenied",
            "AccessDeniedException",
        }:
            return BadInput(f"{doing}: AWS refused the credentials ({code}: {message})")
        if code in {"ThrottlingException", "TooManyRequestsException", "Throttling"}:
            return OperationFailed(
                f"{doing}: AWS kept throttling the request after retries; try again in a minute"
            )
        return OperationFailed(f"{doing}: {code}: {message}".rstrip(": "))
    return OperationFailed(f"{doing}: {exc}")


def storage_client(project: str | None = None) -> Any:
    """A google-cloud-storage client; anonymous against STORAGE_EMULATOR_HOST."""
    from google.cloud import storage

    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return storage.Client(project=project or "emulator", credentials=AnonymousCredentials())
    try:
        return storage.Client(project=project)
    except Exception as exc:  # google.auth.exceptions.DefaultCredentialsError and friends
        raise BadInput(
            f"no Google credentials ({type(exc).__name__}); run `gcloud auth application-default "
            "login` "
            "or set GOOGLE_APPLICATION_CREDENTIALS"
        ) from None
