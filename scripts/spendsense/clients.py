"""The one place that builds cloud clients.

boto3 honours ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` and the usual region and
credential settings by itself, so the same command runs against AWS or an emulator (moto).
Google clients honour ``STORAGE_EMULATOR_HOST`` and ``FIRESTORE_EMULATOR_HOST``.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from spendsense.errors import BadInput, OperationFailed

DEFAULT_REGION = "us-east-1"


@functools.lru_cache(maxsize=1)
def _data_loader() -> Any:
    """botocore's API-model loader, shared: loading the models again costs ~0.3 s a client."""
    import botocore.session

    return botocore.session.get_session().get_component("data_loader")


def make_client(service: str, region: str | None = None) -> Any:
    """A boto3 client with adaptive retries (throttling is retried with backoff).

    Credentials, region and endpoint are read anew on every call; only the API models are shared.
    """
    import boto3
    import botocore.session
    from botocore.config import Config

    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    config = Config(
        retries={"mode": "adaptive", "max_attempts": 6},
        connect_timeout=10,
        read_timeout=60,
    )
    core = botocore.session.Session()
    core.register_component("data_loader", _data_loader())
    session = boto3.session.Session(botocore_session=core)
    return session.client(  # type: ignore[call-overload]
        service, region_name=region or DEFAULT_REGION, config=config
    )


def describe_aws_error(exc: Exception, doing: str) -> Exception:
    """Translate a botocore exception into a one-line SpendsenseError."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )

    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return BadInput(
            f"{doing}: no AWS credentials; set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, NoRegionError):
        return BadInput(f"{doing}: no AWS region; set AWS_REGION")
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
            f"no Google credentials ({type(exc).__name__}); run `gcloud auth application-default login` "
            "or set GOOGLE_APPLICATION_CREDENTIALS"
        ) from None
