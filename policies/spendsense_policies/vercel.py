"""Vercel: the frontend's environment variables.

Runbook: "Verify NEXT_PUBLIC_API_URL is correct". Anything named NEXT_PUBLIC_ is compiled
into the JavaScript every visitor downloads, so a secret must never carry that prefix, and a
secret variable must be `sensitive` (write-only in Vercel's dashboard and API).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

from pulumi_policy import Policy, PolicyResource

from spendsense_policies.base import (
    SECRET_NAME_RE,
    Pending,
    PendingUnknowns,
    Props,
    Unknown,
    get,
    number,
    resource_policy,
    stack_policy,
)
from spendsense_policies.config import schema
from spendsense_policies.secret_values import SECRET_VALUE_CONFIG, is_setting, secret_kind

VARIABLE = "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable"
VARIABLES = "vercel:index/projectEnvironmentVariables:ProjectEnvironmentVariables"
SHARED = "vercel:index/sharedEnvironmentVariable:SharedEnvironmentVariable"
PROJECT = "vercel:index/project:Project"
# Where each type keeps its variables: None for a resource that is one variable.
LISTS: dict[str, str | None] = {
    VARIABLE: None,
    SHARED: None,
    VARIABLES: "variables",
    PROJECT: "environments",
}
PUBLIC_PREFIX = "NEXT_PUBLIC_"


def _variables(type_: str) -> Any:
    """Check each variable, whether it comes alone or in the plural resource's list."""

    def for_each(check: Any) -> Any:
        def run(props: Props, config: Mapping[str, Any]) -> Iterator[str]:
            field = LISTS[type_]
            if field is None:
                yield from check(props, config)
                return
            listed = get(props, field, default=[])
            if isinstance(listed, Unknown):
                yield Pending(f"{field} is")
                return
            for i in range(len(listed) if isinstance(listed, Sequence) else 0):
                variable = get(listed, i)
                if isinstance(variable, Unknown):
                    yield Pending(f"{field}[{i}] is")
                elif isinstance(variable, Mapping):
                    yield from check(variable, config)

        return run

    return for_each


def check_api_url(variable: Props, config: Mapping[str, Any]) -> Iterator[str]:
    key = get(variable, "key")
    if key not in config["urlVariables"]:
        return
    value = get(variable, "value")
    if isinstance(value, Unknown):
        yield Pending(f"the value of {key} is")
        return
    if not isinstance(value, str):
        return
    if value != value.strip():
        # Next.js inlines the value as it is: fetch(" https://...") is a relative path.
        yield (
            f'{key} is "{value}", with whitespace around the URL, which the frontend would '
            "use as it is (a relative or invalid URL); remove the surrounding whitespace"
        )
        return
    parsed = urlparse(value)
    if parsed.scheme != "https" or not parsed.hostname:
        yield (
            f'{key} is "{value}"; browsers block calls from the https dashboard to a plain or '
            "malformed URL and the tokens would travel in clear: use the API's https:// URL "
            "(spendsense:frontend.apiUrl or the App Runner URL)"
        )


def check_secrets_sensitive(variable: Props, config: Mapping[str, Any]) -> Iterator[str]:
    key = get(variable, "key")
    if not isinstance(key, str) or key in config["notSecret"]:
        return
    value = get(variable, "value")
    named = bool(re.search(str(config["secretNamePattern"]), key))
    kind = None
    if isinstance(value, Unknown):
        if not named:
            yield Pending(f"the value of {key} is")
            return
    elif named and is_setting(key, value, config["settingWords"]):
        named = False
    if isinstance(value, str):
        length = number(config["highEntropyMinLength"]) or 0
        kind = secret_kind(value, length, number(config["highEntropyBitsPerChar"]) or 0)
    if not named and kind is None:
        return
    what = f"holds {kind}" if kind else "looks like a secret"
    if key.startswith(PUBLIC_PREFIX):
        yield (
            f"{key} {what} but starts with {PUBLIC_PREFIX}, so it is compiled into "
            f"the JavaScript every visitor downloads; drop the prefix and read it server-side only"
        )
    elif get(variable, "sensitive") is not True:
        yield (
            f"{key} {what} but is not sensitive, so anyone on the Vercel team can "
            "read it back; set sensitive=True"
        )


def check_api_url_target(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    """The API URL variable must reach the deployments this stack serves: a production stack
    whose variable targets only `preview` leaves production without NEXT_PUBLIC_API_URL."""
    wanted = str(config["requiredTarget"])
    found: list[tuple[PolicyResource, Any]] = []
    for resource in resources:
        field = LISTS.get(resource.resource_type, "")
        if field == "":
            continue
        listed = [resource.props] if field is None else get(resource.props, field, default=[])
        if isinstance(listed, Unknown):
            found.append((resource, listed))
            continue
        for i in range(len(listed) if isinstance(listed, Sequence) else 0):
            variable = get(listed, i)
            if isinstance(variable, Unknown) or get(variable, "key") in config["urlVariables"]:
                found.append((resource, get(variable, "targets", default=[])))
    if not found:
        return
    pending = [r.name for r, targets in found if isinstance(targets, Unknown)]
    for _, targets in found:
        if isinstance(targets, Sequence) and any(
            get(targets, i) == wanted for i in range(len(targets))
        ):
            return
    if pending:
        raise PendingUnknowns(f"the targets of {name} are" for name in pending)
    first, targets = found[0]
    shown = list(targets) if isinstance(targets, Sequence) else targets
    yield (
        first.urn,
        f"{', '.join(config['urlVariables'])} targets {shown}, never {wanted!r}, so the "
        f"{wanted} deployments get no API URL: set spendsense:frontend.target to {wanted} "
        "(policies/config/<stack>.json says which target a stack serves)",
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
        stack_policy(
            "vercel-env-api-url-target",
            "The frontend's NEXT_PUBLIC_API_URL must target the Vercel environment the stack "
            "serves (production for the production stack).",
            check_api_url_target,
            config=schema(
                {
                    "urlVariables": (["NEXT_PUBLIC_API_URL"], "Variables that hold the API's URL."),
                    "requiredTarget": (
                        "production",
                        "The Vercel target this stack's frontend serves (per stack, in "
                        "policies/config/<stack>.json).",
                    ),
                }
            ),
        ),
        resource_policy(
            "vercel-env-secrets-sensitive",
            "Vercel variables that look like secrets (by name, or by a value that is a key, a "
            "password URL or a high-entropy token) must be sensitive and never NEXT_PUBLIC_.",
            _all_types(check_secrets_sensitive),
            config=schema(
                {
                    "secretNamePattern": (
                        SECRET_NAME_RE,
                        "Regex: variable names that look like secrets.",
                    ),
                    "notSecret": (
                        ["NEXT_PUBLIC_FIREBASE_API_KEY"],
                        "Names that match the pattern but are public by design (Firebase web API "
                        "key).",
                    ),
                    **SECRET_VALUE_CONFIG,
                }
            ),
        ),
    ]
