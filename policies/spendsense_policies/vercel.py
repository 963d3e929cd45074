"""Vercel: the frontend's environment variables.

Runbook: "Verify NEXT_PUBLIC_API_URL is correct". Anything named NEXT_PUBLIC_ is compiled
into the JavaScript every visitor downloads, so a secret must never carry that prefix, and a
secret variable must be `sensitive` (write-only in Vercel's dashboard and API).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlparse

from pulumi_policy import Policy

from spendsense_policies.base import (
    SECRET_NAME_RE,
    URL_WITH_PASSWORD_RE,
    Props,
    resource_policy,
)
from spendsense_policies.config import schema

VARIABLE = "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable"
VARIABLES = "vercel:index/projectEnvironmentVariables:ProjectEnvironmentVariables"
SHARED = "vercel:index/sharedEnvironmentVariable:SharedEnvironmentVariable"
PROJECT = "vercel:index/project:Project"
# Where each type keeps its variables: None for a resource that is one variable.
LISTS: dict[str, str | None] = {VARIABLE: None, SHARED: None, VARIABLES: "variables", PROJECT: "environments"}  # fmt: skip
PUBLIC_PREFIX = "NEXT_PUBLIC_"


def _variables(type_: str) -> Any:
    """Check each variable, whether it comes alone or in the plural resource's list."""

    def for_each(check: Any) -> Any:
        def run(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
            field = LISTS[type_]
            if field is None:
                yield from check(props, config)
            else:
                for variable in props.get(field) or []:
                    if isinstance(variable, Mapping):
                        yield from check(variable, config)

        return run

    return for_each


def check_api_url(variable: Props, config: Mapping[str, Any]) -> Iterator[str]:
    key = variable.get("key")
    if key not in config["urlVariables"]:
        return
    value = variable.get("value")
    if not isinstance(value, str):
        return
    parsed = urlparse(value)
    if parsed.scheme != "https" or not parsed.hostname:
        yield (
            f'{key} is "{value}"; browsers block calls from the https dashboard to a plain or '
            "malformed URL and the tokens would travel in clear: use the API's https:// URL "
            "(spendsense:frontend.apiUrl or the App Runner URL)"
        )


def check_secrets_sensitive(variable: Props, config: Mapping[str, Any]) -> Iterator[str]:
    key = variable.get("key")
    if not isinstance(key, str) or key in config["notSecret"]:
        return
    value = variable.get("value")
    if isinstance(value, str) and URL_WITH_PASSWORD_RE.search(value):
        pass  # a URL with a password is a secret whatever the name
    elif not re.search(str(config["secretNamePattern"]), key):
        return
    if key.startswith(PUBLIC_PREFIX):
        yield (
            f"{key} looks like a secret but starts with {PUBLIC_PREFIX}, so it is compiled into "
            f"the JavaScript every visitor downloads; drop the prefix and read it server-side only"
        )
    elif variable.get("sensitive") is not True:
        yield (
            f"{key} looks like a secret but is not sensitive, so anyone on the Vercel team can "
            "read it back; set sensitive=True"
        )


def _all_types(check: Any) -> dict[str, Any]:
    return {type_: _variables(type_)(check) for type_ in LISTS}


def policies() -> list[Policy]:
    return [
        resource_policy(
            "vercel-env-api-url-https",
            "The frontend's NEXT_PUBLIC_API_URL must be an https:// URL.",
            _all_types(check_api_url),
            config=schema(
                {"urlVariables": (["NEXT_PUBLIC_API_URL"], "Variables that hold the API's URL.")}
            ),
        ),
        resource_policy(
            "vercel-env-secrets-sensitive",
            "Vercel variables that look like secrets must be sensitive and never NEXT_PUBLIC_.",
            _all_types(check_secrets_sensitive),
            config=schema(
                {
                    "secretNamePattern": (
                        SECRET_NAME_RE,
                        "Regex: variable names that look like secrets.",
                    ),
                    "notSecret": (
                        ["NEXT_PUBLIC_FIREBASE_API_KEY"],
                        "Names that match the pattern but are public by design (Firebase web API key).",
                    ),
                }
            ),
        ),
    ]
