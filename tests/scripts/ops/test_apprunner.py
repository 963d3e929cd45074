"""App Runner operations (shared by deploy, scale, restore): followed through ListOperations,
with one-line errors for a busy service and throttling. Requests are model-checked."""

from __future__ import annotations

import pytest
from spendsense.errors import OperationFailed
from spendsense.ops import apprunner as ops

from tests.scripts.live_api import SERVICE_ARN, op, operation, service, throttled

OP1 = op(1)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def wait(client, op_id: str = OP1, timeout: float = 60, messages: list[str] | None = None):
    clock = FakeClock()
    return ops.wait_for_operation(
        client,
        SERVICE_ARN,
        op_id,
        timeout=timeout,
        poll=5,
        progress=messages.append if messages is not None else None,
        sleep=clock.sleep,
        clock=clock,
    )


def test_wait_follows_the_operation_until_it_succeeds(apprunner):
    for status in ("PENDING", "IN_PROGRESS", "SUCCEEDED"):
        apprunner.add_response(
            "list_operations",
            operation(op(1), status),
            {"ServiceArn": SERVICE_ARN, "MaxResults": 20},
        )
    messages: list[str] = []
    assert wait(apprunner.client, messages=messages) == "SUCCEEDED"
    assert messages[-1] == f"UPDATE_SERVICE {OP1} on spendsense-api-staging: SUCCEEDED"
    apprunner.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("status", "what"),
    [
        ("FAILED", "failed"),
        ("ROLLBACK_SUCCEEDED", "failed and App Runner rolled the service back"),
        ("ROLLBACK_FAILED", "failed and App Runner's own rollback failed too"),
    ],
)
def test_a_failure_reported_only_through_list_operations_raises(apprunner, status, what):
    apprunner.add_response("list_operations", operation(op(1), "ROLLBACK_IN_PROGRESS"))
    apprunner.add_response("list_operations", operation(op(1), status))
    with pytest.raises(ops.OperationEnded) as info:
        wait(apprunner.client)
    assert info.value.status == status
    assert str(info.value) == (
        f"App Runner UPDATE_SERVICE {OP1} on spendsense-api-staging {what} ({status}); "
        "see `spendsense logs` for the reason"
    )


def test_wait_gives_up_after_the_timeout_with_a_clear_message(apprunner):
    for _ in range(3):  # t=0, 5, 10
        apprunner.add_response("list_operations", operation(op(1), "IN_PROGRESS"))
    with pytest.raises(ops.OperationTimedOut) as info:
        wait(apprunner.client, timeout=10)
    assert str(info.value) == (
        f"App Runner operation {OP1} on spendsense-api-staging did not end within 10 s "
        "(last status IN_PROGRESS); follow it with `spendsense status` and do not start "
        "another change until it ends"
    )
    apprunner.assert_no_pending_responses()


def test_wait_finds_the_operation_on_a_later_page(apprunner):
    first = operation(op(9), "SUCCEEDED")
    first["NextToken"] = "page-2"
    apprunner.add_response("list_operations", first, {"ServiceArn": SERVICE_ARN, "MaxResults": 20})
    apprunner.add_response(
        "list_operations",
        operation(op(1), "SUCCEEDED"),
        {"ServiceArn": SERVICE_ARN, "MaxResults": 20, "NextToken": "page-2"},
    )
    assert wait(apprunner.client) == "SUCCEEDED"


def test_ensure_not_busy_refuses_a_service_in_operation_in_progress(apprunner):
    apprunner.add_response(
        "describe_service",
        {"Service": service(status="OPERATION_IN_PROGRESS")},
        {"ServiceArn": SERVICE_ARN},
    )
    with pytest.raises(OperationFailed) as info:
        ops.ensure_not_busy(apprunner.client, SERVICE_ARN)
    assert str(info.value) == (
        "service spendsense-api-staging is in OPERATION_IN_PROGRESS; "
        "wait for it (`spendsense status`) and retry"
    )


def test_invalid_state_exception_becomes_one_line(apprunner):
    apprunner.add_client_error(
        "pause_service",
        service_error_code="InvalidStateException",
        service_message="Service is in OPERATION_IN_PROGRESS state",
        http_status_code=400,
        expected_params={"ServiceArn": SERVICE_ARN},
    )
    with pytest.raises(OperationFailed) as info:
        ops.pause_service(apprunner.client, SERVICE_ARN)
    assert str(info.value) == (
        "pause the App Runner service: App Runner refused because service spendsense-api-staging "
        "is busy or in the wrong state (Service is in OPERATION_IN_PROGRESS state); wait for it "
        "(`spendsense status`) and retry"
    )


def test_throttling_is_retried_then_succeeds(apprunner):
    throttled(apprunner, "resume_service", times=2)
    apprunner.add_response("resume_service", {"Service": service(), "OperationId": op(7)})
    assert ops.resume_service(apprunner.client, SERVICE_ARN) == op(7)
    apprunner.assert_no_pending_responses()


def test_throttling_that_outlives_the_retries_is_reported(apprunner):
    throttled(apprunner, "start_deployment", times=len(ops.RETRY_DELAYS) + 1)
    with pytest.raises(OperationFailed) as info:
        ops.start_deployment(apprunner.client, SERVICE_ARN)
    assert str(info.value) == (
        "start an App Runner deployment: AWS kept throttling the request after retries; "
        "try again in a minute"
    )
    apprunner.assert_no_pending_responses()


def test_update_image_keeps_port_env_and_access_role(apprunner):
    current = service()
    new_image = (
        current["SourceConfiguration"]["ImageRepository"]["ImageIdentifier"].rsplit(":", 1)[0]
        + ":v2"
    )
    expected_source = {
        "ImageRepository": {
            **current["SourceConfiguration"]["ImageRepository"],
            "ImageIdentifier": new_image,
        },
        "AutoDeploymentsEnabled": False,
        "AuthenticationConfiguration": current["SourceConfiguration"][
            "AuthenticationConfiguration"
        ],
    }
    apprunner.add_response(
        "update_service",
        {"Service": current, "OperationId": op(2)},
        {"ServiceArn": SERVICE_ARN, "SourceConfiguration": expected_source},
    )
    assert ops.update_image(apprunner.client, current, new_image) == op(2)
    apprunner.assert_no_pending_responses()


def test_service_name_from_arn():
    assert ops.service_name_from_arn(SERVICE_ARN) == "spendsense-api-staging"


# --- the retry policy: reads are resent, mutations are not resent blindly -----------------------


def server_error(stubber, method: str, **kw) -> None:
    stubber.add_client_error(
        method,
        service_error_code="InternalServiceErrorException",
        service_message="We encountered an internal error",
        http_status_code=500,
        **kw,
    )


def listed(op_id: str, kind: str = "UPDATE_SERVICE", started=None, status: str = "IN_PROGRESS"):
    from datetime import UTC, datetime

    summary = {
        "Id": op_id,
        "Type": kind,
        "Status": status,
        "TargetArn": SERVICE_ARN,
        "StartedAt": started or datetime.now(UTC),
    }
    return {"OperationSummaryList": [summary]}


LIST = {"ServiceArn": SERVICE_ARN, "MaxResults": 20}


def test_a_5xx_on_update_service_whose_operation_started_is_followed_not_resent(apprunner):
    current = service()
    server_error(apprunner, "update_service")
    apprunner.add_response("list_operations", listed(op(21)), LIST)
    messages: list[str] = []
    new_image = current["SourceConfiguration"]["ImageRepository"]["ImageIdentifier"] + "-v2"
    assert ops.update_image(apprunner.client, current, new_image, progress=messages.append) == op(
        21
    )
    apprunner.assert_no_pending_responses()  # one UpdateService only: it was not sent again
    assert messages == [
        f"point the App Runner service at {new_image}: App Runner answered HTTP 500 "
        f"InternalServiceErrorException, but UPDATE_SERVICE operation {op(21)} did start; "
        "following it"
    ]


def test_a_resend_refused_with_invalid_state_finds_the_first_attempts_operation(apprunner):
    """5xx, ListOperations does not show it yet, the one resend meets a busy service
    (InvalidStateException): the operation the first attempt started is found and followed."""
    server_error(apprunner, "start_deployment", expected_params={"ServiceArn": SERVICE_ARN})
    apprunner.add_response("list_operations", {"OperationSummaryList": []}, LIST)
    apprunner.add_client_error(
        "start_deployment",
        service_error_code="InvalidStateException",
        service_message="Service is in OPERATION_IN_PROGRESS state",
        http_status_code=400,
        expected_params={"ServiceArn": SERVICE_ARN},
    )
    apprunner.add_response("list_operations", listed(op(22), "START_DEPLOYMENT"), LIST)
    assert ops.start_deployment(apprunner.client, SERVICE_ARN) == op(22)
    apprunner.assert_no_pending_responses()


def test_an_older_operation_of_the_same_type_is_not_taken_for_ours(apprunner):
    """An UPDATE_SERVICE that started an hour before our request is someone else's: the
    mutation is resent once, and its answer is the operation."""
    from datetime import UTC, datetime, timedelta

    server_error(apprunner, "pause_service")
    apprunner.add_response(
        "list_operations",
        listed(op(1), "PAUSE_SERVICE", datetime.now(UTC) - timedelta(hours=1), "SUCCEEDED"),
        LIST,
    )
    apprunner.add_response("pause_service", {"Service": service(), "OperationId": op(23)})
    assert ops.pause_service(apprunner.client, SERVICE_ARN) == op(23)
    apprunner.assert_no_pending_responses()


def test_two_5xx_and_no_operation_is_reported_as_probably_not_made(apprunner):
    server_error(apprunner, "resume_service")
    apprunner.add_response("list_operations", {"OperationSummaryList": []}, LIST)
    server_error(apprunner, "resume_service")
    apprunner.add_response("list_operations", {"OperationSummaryList": []}, LIST)
    with pytest.raises(OperationFailed) as info:
        ops.resume_service(apprunner.client, SERVICE_ARN)
    assert str(info.value) == (
        "resume the App Runner service: App Runner answered HTTP 500 "
        "InternalServiceErrorException, and ListOperations shows no RESUME_SERVICE operation "
        "since; the change was probably not made: check `spendsense status` and retry"
    )
    apprunner.assert_no_pending_responses()


def test_a_5xx_on_a_mutation_without_an_operation_is_not_resent(apprunner):
    """CreateAutoScalingConfiguration leaves nothing in ListOperations to check: one attempt."""
    server_error(apprunner, "create_auto_scaling_configuration")
    with pytest.raises(OperationFailed) as info:
        ops.call(
            apprunner.client,
            "create_auto_scaling_configuration",
            "create a revision",
            AutoScalingConfigurationName="spendsense-api-staging",
            MaxSize=5,
        )
    assert str(info.value) == (
        "create a revision: App Runner answered HTTP 500 InternalServiceErrorException; whether "
        "it took effect is unknown, so it was not sent again; check the service "
        "(`spendsense status`) and retry"
    )
    apprunner.assert_no_pending_responses()


def test_reads_are_resent_after_a_5xx(apprunner):
    server_error(apprunner, "describe_service")
    server_error(apprunner, "describe_service")
    apprunner.add_response("describe_service", {"Service": service()}, {"ServiceArn": SERVICE_ARN})
    assert ops.describe_service(apprunner.client, SERVICE_ARN)["ServiceArn"] == SERVICE_ARN
    apprunner.assert_no_pending_responses()


def test_throttled_mutations_are_resent_then_reported_after_the_limit(apprunner):
    """A throttled request was not applied, so even a mutation is sent again, RETRY_DELAYS
    times; then one line."""
    throttled(apprunner, "update_service", times=len(ops.RETRY_DELAYS) + 1)
    with pytest.raises(OperationFailed) as info:
        ops.update_service(apprunner.client, SERVICE_ARN, "scale the App Runner service")
    assert str(info.value) == (
        "scale the App Runner service: AWS kept throttling the request after retries; "
        "try again in a minute"
    )
    apprunner.assert_no_pending_responses()


def test_the_stub_checks_integer_fields_against_the_model(apprunner):
    """The model check works on integer fields without any patch (MaxResults is 1..100)."""
    from tests.apprunner_stub import ModelViolation

    with pytest.raises(ModelViolation, match=r"MaxResults=0 is below the model's minimum 1"):
        apprunner.add_response(
            "list_operations",
            {"OperationSummaryList": []},
            {"ServiceArn": SERVICE_ARN, "MaxResults": 0},
        )


def test_a_lost_answer_to_a_mutation_is_looked_up_not_resent(apprunner, monkeypatch):
    """A read timeout on StartDeployment (the request may have been applied): the operation
    is found in ListOperations, not resent; a read (DescribeService) after a read timeout is
    simply sent again."""
    from botocore.exceptions import ReadTimeoutError

    client = apprunner.client
    calls: list[str] = []

    def lose_first_answer(method: str) -> None:
        real = getattr(client, method)

        def once(**params):
            calls.append(method)
            if calls.count(method) == 1:
                raise ReadTimeoutError(endpoint_url="https://apprunner.us-east-1.amazonaws.com")
            return real(**params)

        monkeypatch.setattr(client, method, once)

    lose_first_answer("start_deployment")
    lose_first_answer("describe_service")
    apprunner.add_response("list_operations", listed(op(24), "START_DEPLOYMENT"), LIST)
    assert ops.start_deployment(client, SERVICE_ARN) == op(24)
    apprunner.add_response("describe_service", {"Service": service()}, {"ServiceArn": SERVICE_ARN})
    assert ops.describe_service(client, SERVICE_ARN)["Status"] == "RUNNING"
    assert calls == ["start_deployment", "describe_service", "describe_service"]
    apprunner.assert_no_pending_responses()
