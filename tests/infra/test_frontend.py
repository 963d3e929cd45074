"""The frontend's Vercel environment: NEXT_PUBLIC_API_URL, https, on the stack's target."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pytest
from google.protobuf import json_format
from spendsense.plan.recorder import RecordedResource, Recording

from infra.components.frontend import sensitive_flag
from infra.settings import SettingsError, parse_settings
from tests.infra.conftest import record, with_changes

Recorded = Callable[[str], Recording]
VARIABLE = "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def plaintext(resource: RecordedResource, key: str) -> Any:
    """An input's value even when the SDK marked it secret (the Vercel SDK does for `value`)."""
    value = json_format.MessageToDict(resource.wire)[key]
    if isinstance(value, dict) and SECRET_SIG in value.values():
        return value["value"]
    return value


def api_url_variable(rec: Recording) -> RecordedResource:
    return rec.one(VARIABLE, "frontend-api-url")


def test_production_points_the_production_target_at_the_app_runner_https_url(
    recorded: Recorded,
) -> None:
    rec = recorded("production")
    variable = api_url_variable(rec)
    assert variable.inputs["key"] == "NEXT_PUBLIC_API_URL"
    assert variable.inputs["targets"] == ["production"]
    url = plaintext(variable, "value")
    assert url.startswith("https://") and url.endswith(".us-east-1.awsapprunner.com")
    assert url == rec.outputs["api_url"]


def test_staging_serves_pull_request_previews(recorded: Recorded) -> None:
    """Pull-request previews talk to the staging API, never to production's."""
    rec = recorded("staging")
    variable = api_url_variable(rec)
    assert variable.inputs["targets"] == ["preview"]
    assert plaintext(variable, "value") == rec.outputs["api_url"]
    assert plaintext(variable, "value") != recorded("production").outputs["api_url"]


def test_an_api_url_override_is_used_as_is() -> None:
    rec = record("staging", {"spendsense:frontend.apiUrl": "https://api.staging.example.com/"})
    assert plaintext(api_url_variable(rec), "value") == "https://api.staging.example.com"


def test_the_variable_is_in_the_stacks_vercel_project_and_team(each_stack: Recording) -> None:
    settings = parse_settings(with_changes(each_stack.stack, {}))
    variable = api_url_variable(each_stack)
    assert variable.inputs["projectId"] == settings.frontend.vercel_project_id
    assert variable.inputs["teamId"] == settings.frontend.vercel_team_id
    provider = each_stack.one("pulumi:providers:vercel")
    assert variable.provider.startswith(provider.urn), "use the program's Vercel provider"


def test_the_public_api_url_is_not_marked_sensitive(each_stack: Recording) -> None:
    """NEXT_PUBLIC_ values ship to every browser; only secrets (never NEXT_PUBLIC_)
    are sensitive."""
    variables = each_stack.by_type(VARIABLE)
    for variable in variables:
        key = variable.inputs["key"]
        if key.startswith("NEXT_PUBLIC_"):
            assert variable.inputs["sensitive"] is False, key
        else:
            assert variable.inputs["sensitive"] is True, key
    assert [v.inputs["key"] for v in variables] == ["NEXT_PUBLIC_API_URL"]


def test_secrets_are_sensitive_and_never_next_public() -> None:
    """The component's one way to add a variable enforces the runbook's rule for secrets."""
    assert sensitive_flag("NEXT_PUBLIC_API_URL", secret=False) is False
    assert sensitive_flag("SESSION_SECRET", secret=True) is True
    with pytest.raises(pulumi.RunError) as caught:
        sensitive_flag("NEXT_PUBLIC_STRIPE_SECRET", secret=True)
    assert str(caught.value).startswith(
        "NEXT_PUBLIC_STRIPE_SECRET: a secret must not start with NEXT_PUBLIC_"
    )


def test_outputs_say_a_new_deployment_is_needed(each_stack: Recording) -> None:
    """NEXT_PUBLIC_ values are compiled in at build time: say so where people look."""
    settings = parse_settings(with_changes(each_stack.stack, {}))
    outputs = each_stack.outputs
    assert "new Vercel deployment" in outputs["frontend_redeploy_note"]
    assert "new Vercel deployment" in api_url_variable(each_stack).inputs["comment"]
    assert outputs["frontend_url"] == settings.frontend.url
    assert outputs["vercel_project_id"] == settings.frontend.vercel_project_id
    assert outputs["vercel_team_id"] == settings.frontend.vercel_team_id
    assert outputs["frontend_api_url_target"] == settings.frontend.target


FRONTEND_MESSAGES = [
    (
        {"spendsense:frontend.target": "staging"},
        'spendsense:frontend.target: must be one of production, preview (got "staging")',
    ),
    (
        {"spendsense:frontend.vercelTeamId": "spendsense"},
        "spendsense:frontend.vercelTeamId: must be a Vercel team id such as team_abc123 (got "
        '"spendsense")',
    ),
    (
        {"spendsense:frontend.apiUrl": "http://api.example.com"},
        "spendsense:frontend.apiUrl: must be an https:// URL such as https://app.example.com "
        '(got "http://api.example.com")',
    ),
]


@pytest.mark.parametrize(("changes", "message"), FRONTEND_MESSAGES)
def test_bad_frontend_settings_name_the_key(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings(with_changes("production", changes))
    assert str(caught.value) == message


def test_a_team_that_enforces_sensitive_variables_gets_a_sensitive_api_url(
    recorded: Recorded,
) -> None:
    """Issue 13.8: such a team refuses `sensitive: false` on production and preview."""
    rec = record("production", {"spendsense:frontend.sensitiveVariables": True})
    assert api_url_variable(rec).inputs["sensitive"] is True
    # The default stays readable with `vercel env ls`.
    assert api_url_variable(recorded("production")).inputs["sensitive"] is False
