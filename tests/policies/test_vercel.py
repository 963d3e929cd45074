"""Vercel: NEXT_PUBLIC_API_URL is https; secret-looking variables are sensitive, never public."""

from __future__ import annotations

import pytest

from tests.policies import compliant as c
from tests.policies.conftest import Pack, only

PLURAL = "vercel:index/projectEnvironmentVariables:ProjectEnvironmentVariables"


def test_compliant_api_url(pack: Pack) -> None:
    assert pack.analyze(c.VARIABLE, c.variable()) == []


@pytest.mark.parametrize(
    "url", ["http://abc.us-east-1.awsapprunner.com", "abc.us-east-1.awsapprunner.com", "https://"]
)
def test_api_url_not_https(pack: Pack, url: str) -> None:
    found = pack.analyze(c.VARIABLE, c.variable(value=url))
    assert f'NEXT_PUBLIC_API_URL is "{url}"' in only(found, "vercel-env-api-url-https").message


def test_api_url_unknown_until_deployment(pack: Pack) -> None:
    found = pack.analyze(c.VARIABLE, c.variable(value=c.UNKNOWN))
    diagnostic = only(found, "vercel-env-api-url-https")
    assert (
        diagnostic.level == "advisory"
        and "cannot be checked until deployment" in diagnostic.message
    )


def test_api_url_in_the_plural_resource(pack: Pack) -> None:
    props = {
        "projectId": "prj",
        "variables": [
            {"key": "NEXT_PUBLIC_API_URL", "value": "http://x.example", "targets": ["production"]}
        ],
    }
    assert (
        'is "http://x.example"'
        in only(pack.analyze(PLURAL, props), "vercel-env-api-url-https").message
    )


def test_sensitive_secret_is_fine(pack: Pack) -> None:
    assert pack.analyze(c.VARIABLE, c.variable("SESSION_SECRET", "x", sensitive=True)) == []


def test_secret_not_sensitive(pack: Pack) -> None:
    found = pack.analyze(c.VARIABLE, c.variable("SESSION_SECRET", "x", sensitive=False))
    assert (
        "SESSION_SECRET looks like a secret but is not sensitive"
        in only(found, "vercel-env-secrets-sensitive").message
    )


def test_secret_with_public_prefix(pack: Pack) -> None:
    found = pack.analyze(
        c.VARIABLE, c.variable("NEXT_PUBLIC_STRIPE_SECRET_KEY", "x", sensitive=True)
    )
    assert (
        "starts with NEXT_PUBLIC_, so it is compiled into the JavaScript"
        in only(found, "vercel-env-secrets-sensitive").message
    )


def test_public_firebase_key_is_allowed(pack: Pack) -> None:
    """The Firebase web API key is public by design (policy config notSecret)."""
    assert pack.analyze(c.VARIABLE, c.variable("NEXT_PUBLIC_FIREBASE_API_KEY", "AIza...")) == []


def test_secret_value_arrives_as_a_secret(pack: Pack) -> None:
    """A Pulumi secret value (wire form) is judged like any value."""
    value = {**c.SECRET_SIG, "value": "http://plain.example"}
    found = pack.analyze(c.VARIABLE, c.variable(value=value))  # type: ignore[arg-type]
    assert "http://plain.example" in only(found, "vercel-env-api-url-https").message


SHARED = "vercel:index/sharedEnvironmentVariable:SharedEnvironmentVariable"
PROJECT = "vercel:index/project:Project"


def test_shared_variable_secret_not_sensitive(pack: Pack) -> None:
    props = {
        "key": "STRIPE_SECRET_KEY",
        "value": "x",
        "target": ["production"],
        "projectIds": ["prj_1"],
    }
    found = pack.analyze(SHARED, props)
    assert (
        "STRIPE_SECRET_KEY looks like a secret but is not sensitive"
        in only(found, "vercel-env-secrets-sensitive").message
    )


def test_shared_variable_api_url_not_https(pack: Pack) -> None:
    props = {
        "key": "NEXT_PUBLIC_API_URL",
        "value": "http://api.example.com",
        "target": ["production"],
        "projectIds": ["prj_1"],
    }
    found = pack.analyze(SHARED, props)
    assert (
        'NEXT_PUBLIC_API_URL is "http://api.example.com"'
        in only(found, "vercel-env-api-url-https").message
    )


def test_project_environments_are_checked(pack: Pack) -> None:
    """A project's inline `environments` are variables like any other."""
    props = {
        "name": "dashboard",
        "environments": [
            {
                "key": "NEXT_PUBLIC_API_URL",
                "value": "https://abc.us-east-1.awsapprunner.com",
                "target": ["production"],
            },
            {"key": "NEXT_PUBLIC_JWT_SECRET", "value": "x", "target": ["production"]},
        ],
    }
    found = pack.analyze(PROJECT, props)
    assert (
        "NEXT_PUBLIC_JWT_SECRET looks like a secret but starts with NEXT_PUBLIC_"
        in only(found, "vercel-env-secrets-sensitive").message
    )
    assert [d.policy for d in found] == ["vercel-env-secrets-sensitive"]


def test_url_with_a_password_must_be_sensitive(pack: Pack) -> None:
    found = pack.analyze(
        c.VARIABLE, c.variable(key="DATABASE_URL", value="postgres://app:pw@db.example.com/app")
    )
    assert (
        "DATABASE_URL holds a URL with a password (user:password@host) but is not sensitive"
        in only(found, "vercel-env-secrets-sensitive").message
    )
