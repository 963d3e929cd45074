"""Issue 14 point 5: a scheduler job tied to the export workflow that does not start it;
NEXT_PUBLIC_API_URL with whitespace around it; the API URL variable on the wrong Vercel target."""

from __future__ import annotations

import pytest

from tests.policies import compliant as c
from tests.policies.conftest import Pack, messages, only

EXPORT = "gcp-firestore-export-schedule"
EXECUTIONS = "https://workflowexecutions.googleapis.com/v1/projects/spendsense-production/locations/us-east1/workflows/"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "patch"])
def test_job_with_the_wrong_method_does_not_start_the_workflow(pack: Pack, method: str) -> None:
    job = c.changed(c.job(), "httpTarget.httpMethod", method)
    message = only(pack.analyze_stack(c.stack(job=job)), EXPORT).message
    assert "depends on workflow spendsense-firestore-export but does not start it" in message
    assert f"httpMethod is {method.upper()}, not POST" in message


@pytest.mark.parametrize(
    "uri",
    [
        EXECUTIONS + "some-other-workflow/executions",
        EXECUTIONS + "spendsense-firestore-export",
        EXECUTIONS + "spendsense-firestore-export/executions/123:cancel",
        "https://example.com/workflows/spendsense-firestore-export/executions",
        "https://workflowexecutions.googleapis.com/v1/projects/p/locations/us-east1/workflows/spendsense-firestore-export-v2/executions",
    ],
)
def test_job_that_starts_something_else_although_it_depends_on_the_workflow(
    pack: Pack, uri: str
) -> None:
    job = c.changed(c.job(), "httpTarget.uri", uri)
    message = only(pack.analyze_stack(c.stack(job=job)), EXPORT).message
    assert "does not start it" in message and f'uri "{uri}"' in message


def test_job_that_starts_the_workflow_passes(pack: Pack) -> None:
    job = c.changed(c.job(), "httpTarget.httpMethod", "-")  # Cloud Scheduler's default: POST
    assert messages(pack.analyze_stack(c.stack(job=job)), EXPORT) == []


def test_wrong_method_with_an_unknown_uri_is_still_wrong(pack: Pack) -> None:
    """In a real preview the uri holds the workflow's unknown name; the method is known."""
    job = c.changed(c.changed(c.job(), "httpTarget.uri", c.UNKNOWN), "httpTarget.httpMethod", "GET")
    found = [d for d in pack.analyze_stack(c.stack(job=job)) if d.policy == EXPORT]
    assert [d.level for d in found] == ["mandatory"] and "httpMethod is GET" in found[0].message


def test_direct_export_call_with_get_is_no_export(pack: Pack) -> None:
    job = c.changed(
        c.job(),
        "httpTarget.uri",
        "https://firestore.googleapis.com/v1/projects/p/databases/(default):exportDocuments",
    )
    job = c.changed(job, "httpTarget.httpMethod", "GET")
    assert (
        "no Cloud Scheduler job exports Firestore"
        in only(pack.analyze_stack(c.stack(job=job, workflow=None)), EXPORT).message
    )


@pytest.mark.parametrize(
    "url",
    [
        " https://abc.us-east-1.awsapprunner.com",
        "https://abc.us-east-1.awsapprunner.com ",
        "https://abc.us-east-1.awsapprunner.com\n",
        "\thttps://abc.us-east-1.awsapprunner.com",
    ],
)
def test_api_url_with_surrounding_whitespace(pack: Pack, url: str) -> None:
    message = only(
        pack.analyze(c.VARIABLE, c.variable(value=url)), "vercel-env-api-url-https"
    ).message
    assert "with whitespace around the URL" in message


TARGET = "vercel-env-api-url-target"


@pytest.mark.parametrize("targets", [["preview"], ["development"], ["preview", "development"], []])
def test_production_api_url_not_on_production(pack: Pack, targets: list[str]) -> None:
    variable = c.variable(targets=targets)
    message = only(pack.analyze_stack(c.stack(**{"api-url": variable})), TARGET).message
    assert "never 'production', so the production deployments get no API URL" in message


def test_production_target_passes_and_preview_is_the_staging_config(pack: Pack) -> None:
    assert messages(pack.analyze_stack(c.stack()), TARGET) == []
    preview = c.variable(targets=["preview"])
    with pack.configured({TARGET: {"requiredTarget": "preview"}}):
        assert messages(pack.analyze_stack(c.stack(**{"api-url": preview})), TARGET) == []
        assert "never 'preview'" in only(pack.analyze_stack(c.stack()), TARGET).message


def test_unknown_targets_are_pending(pack: Pack) -> None:
    found = [
        d
        for d in pack.analyze_stack(c.stack(**{"api-url": c.variable(targets=c.UNKNOWN)}))
        if d.policy == TARGET
    ]
    assert [d.level for d in found] == ["advisory"]


def test_a_second_variable_on_production_satisfies_the_target(pack: Pack) -> None:
    stack = c.stack(**{"api-url": c.variable(targets=["preview"])})
    stack.append(c.resource(c.VARIABLE, "api-url-prod", c.variable(targets=["production"])))
    assert messages(pack.analyze_stack(stack), TARGET) == []
