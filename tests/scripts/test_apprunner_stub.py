"""The App Runner Stubber checks the values of every request the code really makes against the
API model, not only the expected params a test queues: a request App Runner would reject fails
the test even when it is answered with a client error or a response without expected params,
and even when the code under test turns the exception into an error line."""

from __future__ import annotations

import contextlib

import pytest

from tests.apprunner_stub import ModelCheckedStubber, ModelViolation, apprunner_client
from tests.scripts.live_api import SERVICE_ARN, op, service


@pytest.fixture
def stubber():
    """A stubber of its own (not the shared fixture, whose teardown would fail on purpose)."""
    stub = ModelCheckedStubber(apprunner_client())
    stub.activate()
    yield stub
    stub.violations = []  # what the test provoked on purpose
    stub.deactivate()


def test_a_request_answered_with_a_client_error_is_checked(stubber):
    stubber.add_client_error(
        "update_service", service_error_code="InvalidStateException", http_status_code=400
    )
    with pytest.raises(ModelViolation, match=r"UpdateService: InstanceConfiguration\.Cpu='3 vCPU'"):
        stubber.client.update_service(
            ServiceArn=SERVICE_ARN, InstanceConfiguration={"Cpu": "3 vCPU"}
        )


def test_a_request_answered_without_expected_params_is_checked(stubber):
    stubber.add_response("list_operations", {"OperationSummaryList": []})
    with pytest.raises(ModelViolation, match=r"ListOperations: MaxResults=500 is above"):
        stubber.client.list_operations(ServiceArn=SERVICE_ARN, MaxResults=500)


def test_a_violation_the_code_swallowed_is_raised_again_on_deactivate():
    """The status command turns any exception of a check into a failing row: the stubber's
    teardown still fails the test."""
    stub = ModelCheckedStubber(apprunner_client())
    stub.activate()
    stub.add_response("describe_service", {"Service": service()})
    with contextlib.suppress(ModelViolation):  # what a careless caller would do
        stub.client.describe_service(ServiceArn="not an arn")
    with pytest.raises(ModelViolation, match=r"DescribeService: ServiceArn='not an arn'"):
        stub.deactivate()


def test_valid_requests_pass(stubber):
    stubber.add_response("start_deployment", {"OperationId": op(1)})
    assert stubber.client.start_deployment(ServiceArn=SERVICE_ARN)["OperationId"] == op(1)
    stubber.assert_no_pending_responses()
