"""The CI trust stack's settings: the stack file parses, and a bad value is one line that
names its key."""

from __future__ import annotations

from typing import Any

import pytest

from infra.ci_trust.settings import TrustSettingsError, parse_trust_settings
from tests.ci.test_ci_trust import REPO, stack_config


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------
def _env(name: str, **changes: Any) -> dict[str, Any]:
    return {
        "name": name,
        "gcpProject": f"spendsense-{name}",
        "resourcePrefixes": [f"spendsense-{name}"],
        "boundaryName": "shared",
        **changes,
    }


def raw_settings(**changes: Any) -> dict[str, Any]:
    values = stack_config()
    values.update(changes)
    return values


def test_the_stack_file_parses() -> None:
    settings = parse_trust_settings(stack_config())
    assert settings.github.full_name == REPO
    assert [e.name for e in settings.environments] == ["staging", "production"]
    assert [e.boundary_name for e in settings.environments] == [
        "spendsense-workload-boundary-staging",
        "spendsense-workload-boundary-production",
    ]
    assert all(e.aws_account_id is None for e in settings.environments)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"spendsense-ci-trust:github": {"owner": "my org", "repository": "x"}},
            "spendsense-ci-trust:github.owner: must be a GitHub owner",
        ),
        (
            {
                "spendsense-ci-trust:environments": [
                    {
                        "name": "qa",
                        "gcpProject": "spendsense-qa",
                        "resourcePrefixes": ["spendsense-qa"],
                        "boundaryName": "b",
                    }
                ]
            },
            "spendsense-ci-trust:environments[0].name: must be one of staging, production",
        ),
        ({"spendsense-ci-trust:stat": {}}, "spendsense-ci-trust:stat: is not a known setting"),
        (
            {"spendsense-ci-trust:state": {"bucketName": "Bad_Bucket"}},
            "spendsense-ci-trust:state.bucketName: must be an S3/GCS bucket name",
        ),
        (
            {
                "spendsense-ci-trust:environments": [
                    {"name": "staging", "gcpProject": "spendsense-staging"}
                ]
            },
            "spendsense-ci-trust:environments[0].resourcePrefixes: ",
        ),
        (
            {"spendsense-ci-trust:environments": [_env("production", awsAccountId="222233334444")]},
            "spendsense-ci-trust:environments[0]: set awsAccountId and awsAdminRoleArn together",
        ),
        (
            {
                "spendsense-ci-trust:environments": [
                    _env(
                        "production",
                        awsAccountId="222233334444",
                        awsAdminRoleArn="arn:aws:iam::999988887777:role/Admin",
                    )
                ]
            },
            "environments[0].awsAdminRoleArn: must be a role in awsAccountId 222233334444",
        ),
        (
            {"spendsense-ci-trust:environments": [_env("staging", awsAccountId="12345")]},
            "spendsense-ci-trust:environments[0].awsAccountId: must be a 12-digit AWS account id",
        ),
        (
            {
                "spendsense-ci-trust:environments": [
                    _env("staging"),
                    _env("production", boundaryName="shared"),
                ]
            },
            "spendsense-ci-trust:environments: each environment needs its own boundaryName",
        ),
        (
            {"spendsense-ci-trust:ciProject": "spendsense-production"},
            "spendsense-ci-trust:ciProject: must be a project of its own",
        ),
        (
            {"spendsense-ci-trust:ciProject": "CI"},
            "spendsense-ci-trust:ciProject: must be a GCP project id",
        ),
        (
            {"spendsense-ci-trust:state": {"bucketName": "ok-bucket", "noncurrentVersionDays": 7}},
            "noncurrentVersionDays: must be at least 30 (got 7)",
        ),
    ],
)
def test_a_bad_setting_names_its_key(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(TrustSettingsError) as error:
        parse_trust_settings(raw_settings(**changes))
    assert message in str(error.value)
