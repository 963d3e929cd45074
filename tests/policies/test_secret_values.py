"""Secrets found by their value, whatever the variable's name (App Runner and Vercel), and
runtimeEnvironmentSecrets that hold something other than a Secrets Manager or SSM ARN.

Every key-like string here is built at runtime from pieces: none is in the file literally.
"""

from __future__ import annotations

import base64
import json
import random
import string

import pytest

from tests.policies import compliant as c
from tests.policies.conftest import Pack, messages

ENV = "sourceConfiguration.imageRepository.imageConfiguration.runtimeEnvironmentVariables"
SECRETS = "sourceConfiguration.imageRepository.imageConfiguration.runtimeEnvironmentSecrets"
APPRUNNER = "aws-apprunner-no-plaintext-secrets"
VERCEL = "vercel-env-secrets-sensitive"


def _random(alphabet: str, length: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(length))


def _pem() -> str:
    dashes = "-" * 5
    body = _random(string.ascii_letters + string.digits + "+/", 64, 1)
    return (
        f"{dashes}BEGIN RSA PRIVATE {'KEY'}{dashes}\n{body}\n{dashes}END RSA PRIVATE KEY{dashes}\n"
    )


def _service_account() -> str:
    return json.dumps(
        {
            "type": "service" + "_account",
            "project_id": "spendsense-production",
            "private" + "_key": _pem(),
            "client_email": "ci@spendsense-production.iam.gserviceaccount.com",
        }
    )


UPPER_DIGITS = string.ascii_uppercase + string.digits
ALNUM = string.ascii_letters + string.digits
SECRET_VALUES = {
    "pem": _pem(),
    "pem-escaped-newlines": _pem().replace("\n", "\\n"),
    "aws-akia": "AK" + "IA" + _random(UPPER_DIGITS, 16, 2),
    "aws-asia": "AS" + "IA" + _random(UPPER_DIGITS, 16, 3),
    "stripe-live": "sk" + "_live_" + _random(ALNUM, 24, 4),
    "stripe-restricted": "rk" + "_live_" + _random(ALNUM, 24, 5),
    "github-classic": "gh" + "p_" + _random(ALNUM, 36, 6),
    "github-fine-grained": "github" + "_pat_" + _random(ALNUM + "_", 60, 7),
    "slack-bot": "xo" + "xb-" + "1234567890-" + _random(ALNUM, 24, 8),
    "google-api-key": "AI" + "za" + _random(ALNUM + "_-", 35, 9),
    "service-account-json": _service_account(),
    "service-account-base64": base64.b64encode(_service_account().encode()).decode(),
    "pem-base64": base64.b64encode(_pem().encode()).decode(),
    "url-user-password": "postgres://app:" + "hunter2" + "@db.example.com:5432/app",
    "url-password-only": "redis://:" + "hunter2" + "@cache.example.com:6379/0",
    "high-entropy-base64": _random(ALNUM + "+/", 40, 10),
    "high-entropy-hex": _random("0123456789abcdef", 64, 11),
}
# Secret-looking names whose value is a setting, and ordinary values: no violation.
NOT_SECRETS = {
    "PASSWORD_MIN_LENGTH": "12",
    "TOKEN_TTL_SECONDS": "3600",
    "JWT_ALGORITHM": "HS256",
    "API_KEY_ROTATION_DAYS": "30",
    "LOG_LEVEL": "info",
    "PUBLIC_URL": "https://api.spendsense.example.com/v1",
    "CORS_ORIGIN": "https://spendsense.example.com",
    "REQUEST_ID_HEADER": "X-Request-Id",
    "DEPLOYMENT_NAME": "SpendSenseApiProductionDeploymentConfiguration",
    "JWT_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:jwt-AbCdEf",
}


def _service_with(variables: dict[str, object]) -> dict[str, object]:
    return c.changed(c.service(), ENV, variables)


@pytest.mark.parametrize("kind", sorted(SECRET_VALUES))
def test_apprunner_secret_value_under_an_innocent_name(pack: Pack, kind: str) -> None:
    found = messages(
        pack.analyze(c.SERVICE, _service_with({"APP_CONFIG": SECRET_VALUES[kind]})), APPRUNNER
    )
    assert len(found) == 1 and f"{ENV}.APP_CONFIG holds " in found[0], found


@pytest.mark.parametrize("name", sorted(NOT_SECRETS))
def test_apprunner_settings_and_plain_values_are_not_secrets(pack: Pack, name: str) -> None:
    found = pack.analyze(c.SERVICE, _service_with({name: NOT_SECRETS[name]}))
    assert messages(found, APPRUNNER) == []


@pytest.mark.parametrize("value", ["hunter2hunter2", "12", c.UNKNOWN])
def test_apprunner_a_secret_name_is_still_a_secret(pack: Pack, value: str) -> None:
    """A name like a secret without a setting word is a violation whatever the value, even a
    number, and even an unknown one (issue 14 point 2)."""
    found = pack.analyze(c.SERVICE, _service_with({"DB_PASSWORD": value, "LOG_LEVEL": "info"}))
    violations = [d for d in found if d.policy == APPRUNNER and d.level == "mandatory"]
    assert len(violations) == 1 and "DB_PASSWORD looks like a secret" in violations[0].message


@pytest.mark.parametrize(
    "value",
    [
        "my-jwt-signing-secret",
        SECRET_VALUES["stripe-live"],
        "",
        "arn:aws:s3:::spendsense-secrets/jwt",
        "arn:aws:secretsmanager:us-east-1:123456789012:jwt",
        "/spendsense/jwt",
    ],
)
def test_apprunner_runtime_secrets_must_be_arns(pack: Pack, value: str) -> None:
    found = messages(
        pack.analyze(c.SERVICE, c.changed(c.service(), SECRETS, {"JWT_SECRET": value})), APPRUNNER
    )
    assert (
        len(found) == 1
        and "not the ARN of a Secrets Manager secret or an SSM parameter" in found[0]
    )
    if value.startswith("sk"):
        assert value not in found[0], "the message must not repeat the secret"


@pytest.mark.parametrize(
    "value",
    [
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:jwt-AbCdEf",
        "arn:aws:ssm:us-east-1:123456789012:parameter/spendsense/jwt",
        "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:jwt-AbCdEf",
    ],
)
def test_apprunner_runtime_secret_arns_pass(pack: Pack, value: str) -> None:
    props = c.changed(c.service(), SECRETS, {"JWT_SECRET": value})
    assert messages(pack.analyze(c.SERVICE, props), APPRUNNER) == []


def test_apprunner_unknown_runtime_secret_is_pending(pack: Pack) -> None:
    props = c.changed(c.service(), SECRETS, {"JWT_SECRET": c.UNKNOWN})
    found = [d for d in pack.analyze(c.SERVICE, props) if d.policy == APPRUNNER]
    assert [d.level for d in found] == ["advisory"]
    assert "cannot be checked until deployment" in found[0].message


def test_apprunner_code_repository_variables_are_judged_too(pack: Pack) -> None:
    props = c.changed(
        c.service(),
        "sourceConfiguration.codeRepository.codeConfiguration.codeConfigurationValues."
        "runtimeEnvironmentVariables",
        {"SETTINGS": SECRET_VALUES["github-classic"]},
    )
    assert "holds a GitHub token" in " ".join(messages(pack.analyze(c.SERVICE, props), APPRUNNER))


@pytest.mark.parametrize("kind", sorted(SECRET_VALUES))
def test_vercel_secret_value_must_be_sensitive(pack: Pack, kind: str) -> None:
    found = messages(
        pack.analyze(c.VARIABLE, c.variable(key="APP_CONFIG", value=SECRET_VALUES[kind])), VERCEL
    )
    assert len(found) == 1 and "APP_CONFIG holds " in found[0] and "not sensitive" in found[0]
    sensitive = c.variable(key="APP_CONFIG", value=SECRET_VALUES[kind], sensitive=True)
    assert messages(pack.analyze(c.VARIABLE, sensitive), VERCEL) == []


@pytest.mark.parametrize("kind", ["stripe-live", "high-entropy-base64", "url-password-only"])
def test_vercel_secret_value_never_public(pack: Pack, kind: str) -> None:
    props = c.variable(key="NEXT_PUBLIC_CONFIG", value=SECRET_VALUES[kind], sensitive=True)
    found = messages(pack.analyze(c.VARIABLE, props), VERCEL)
    assert len(found) == 1 and "starts with NEXT_PUBLIC_" in found[0]


@pytest.mark.parametrize("name", sorted(NOT_SECRETS))
def test_vercel_settings_are_not_secrets(pack: Pack, name: str) -> None:
    found = pack.analyze(c.VARIABLE, c.variable(key=name, value=NOT_SECRETS[name]))
    assert messages(found, VERCEL) == []


def test_vercel_plural_resource_values(pack: Pack) -> None:
    props = {
        "projectId": "prj",
        "variables": [
            {"key": "NEXT_PUBLIC_API_URL", "value": "https://x.example", "targets": ["production"]},
            {"key": "BUILD_OPTS", "value": SECRET_VALUES["aws-akia"], "targets": ["production"]},
        ],
    }
    found = messages(
        pack.analyze("vercel:index/projectEnvironmentVariables:ProjectEnvironmentVariables", props),
        VERCEL,
    )
    assert len(found) == 1 and "BUILD_OPTS holds an AWS access key id" in found[0]


def test_apprunner_not_secret_names_are_config(pack: Pack) -> None:
    """A commit SHA looks like a hex token; the stack's config can name such a variable."""
    sha = _random("0123456789abcdef", 40, 12)
    props = _service_with({"RELEASE_SHA": sha})
    assert "RELEASE_SHA holds a high-entropy string" in " ".join(
        messages(pack.analyze(c.SERVICE, props), APPRUNNER)
    )
    with pack.configured({APPRUNNER: {"notSecret": ["RELEASE_SHA"]}}):
        assert messages(pack.analyze(c.SERVICE, props), APPRUNNER) == []
