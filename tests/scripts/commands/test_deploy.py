"""`spendsense deploy` / `rollback api`: ECR (moto server), App Runner (model-checked Stubber),
the health gate against a real local API. A failed or unhealthy deploy goes back to the image
that ran before and exits 1; bad input exits 2 and changes nothing."""

from __future__ import annotations

import hashlib
import json

import pytest
from spendsense.cli import main

from tests.scripts.live_api import (
    REPO_NAME,
    REPO_URL,
    SERVICE_ARN,
    op,
    operation,
    service,
    throttled,
)

OLD = "20261126_010000"
NEW = "20261127_010000"
OLD_IMAGE = f"{REPO_URL}:{OLD}"
NEW_IMAGE = f"{REPO_URL}:{NEW}"
UNHEALTHY = (200, json.dumps({"status": "healthy", "database": "unhealthy"}).encode())


def push(ecr, tag: str) -> None:
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1,
            "digest": f"sha256:{tag}",
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 1,
                "digest": "sha256:" + hashlib.sha256(tag.encode()).hexdigest(),
            }
        ],
    }
    ecr.put_image(repositoryName=REPO_NAME, imageManifest=json.dumps(manifest), imageTag=tag)


@pytest.fixture
def ecr(aws_env, aws_admin):
    client = aws_admin("ecr")
    client.create_repository(repositoryName=REPO_NAME)
    for tag in (OLD, NEW):
        push(client, tag)
    return client


@pytest.fixture
def run(write_outputs, ecr, capsys):
    """run(*args) -> (exit code, stdout, stderr) of `spendsense <args> --stack staging
    --outputs F`."""

    def run(*args: str, outputs: str | None = None, poll: str = "0"):
        code = main(
            [
                *args,
                "--stack",
                "staging",
                "--outputs",
                outputs or write_outputs(),
                "--poll-seconds",
                poll,
            ]
        )
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def expect_update(stubber, current: dict, image: str, op_id: str) -> None:
    source = dict(current["SourceConfiguration"])
    source["ImageRepository"] = {**source["ImageRepository"], "ImageIdentifier": image}
    stubber.add_response(
        "update_service",
        {"Service": service(status="OPERATION_IN_PROGRESS", image=image), "OperationId": op_id},
        {"ServiceArn": SERVICE_ARN, "SourceConfiguration": source},
    )


def expect_describe(stubber, **kw) -> dict:
    current = service(**kw)
    stubber.add_response("describe_service", {"Service": current}, {"ServiceArn": SERVICE_ARN})
    return current


PREVIOUS_TAG_KEY = "spendsense:previous-image"


def expect_record(stubber, image: str) -> None:
    """A successful deploy/rollback records the image it replaced on the service."""
    stubber.add_response(
        "tag_resource",
        {},
        {"ResourceArn": SERVICE_ARN, "Tags": [{"Key": PREVIOUS_TAG_KEY, "Value": image}]},
    )


def expect_recorded(stubber, image: str | None) -> None:
    """ListTagsForResource: the image recorded as the one that ran before (None: no record)."""
    tags = [{"Key": "Environment", "Value": "staging"}]
    if image is not None:
        tags.append({"Key": PREVIOUS_TAG_KEY, "Value": image})
    stubber.add_response("list_tags_for_resource", {"Tags": tags}, {"ResourceArn": SERVICE_ARN})


def set_pushed_at(tag: str, epoch: int) -> None:
    """moto stamps pushes in whole seconds; set the push time so push order is not a tie
    (moto's server runs in this process, so its backend is the one the CLI talks to)."""
    from moto.ecr.models import ecr_backends

    from tests.scripts.live_api import ACCOUNT

    for image in ecr_backends[ACCOUNT]["us-east-1"].repositories[REPO_NAME].images:
        if tag in image.image_tags:
            image.image_pushed_at = epoch
            return
    raise AssertionError(f"no image tagged {tag}")


def expect_operation(stubber, op_id: str, *statuses: str) -> None:
    for status in statuses:
        stubber.add_response(
            "list_operations",
            operation(op_id, status),
            {"ServiceArn": SERVICE_ARN, "MaxResults": 20},
        )


def test_deploy_points_the_service_at_the_tag_follows_the_operation_and_checks_health(
    apprunner, api_server, run
):
    current = expect_describe(apprunner, image=OLD_IMAGE)
    expect_update(apprunner, current, NEW_IMAGE, op(1))
    expect_operation(apprunner, op(1), "IN_PROGRESS", "SUCCEEDED")
    expect_record(apprunner, OLD_IMAGE)
    code, out, err = run("deploy", "--image-tag", NEW, "--yes")
    assert (code, err.count("error")) == (0, 0), err
    assert out.startswith(f"deploy of {NEW_IMAGE} succeeded; the API is healthy (")
    assert f"UpdateService to {NEW_IMAGE}: operation {op(1)}" in err  # progress on stderr
    assert f"recorded {OLD_IMAGE} on the service as the image that ran before" in err
    assert "/health" in api_server[1].requests
    apprunner.assert_no_pending_responses()


def test_deploy_of_the_running_tag_starts_a_deployment(apprunner, run):
    expect_describe(apprunner, image=NEW_IMAGE)
    apprunner.add_response("start_deployment", {"OperationId": op(2)}, {"ServiceArn": SERVICE_ARN})
    expect_operation(apprunner, op(2), "SUCCEEDED")
    code, out, _ = run("deploy", "--image-tag", NEW, "--yes")
    assert code == 0
    assert out.startswith(f"deploy of {NEW_IMAGE} succeeded")
    apprunner.assert_no_pending_responses()


def test_failure_reported_only_through_list_operations_exits_1_on_the_previous_image(
    apprunner, run
):
    """App Runner rolled back by itself: the service points at the old image again, so the
    command only verifies it is healthy and reports what happened."""
    current = expect_describe(apprunner, image=OLD_IMAGE)
    expect_update(apprunner, current, NEW_IMAGE, op(3))
    expect_operation(apprunner, op(3), "IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCEEDED")
    expect_describe(apprunner, image=OLD_IMAGE)
    code, out, err = run("deploy", "--image-tag", NEW, "--yes")
    assert code == 1
    assert out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith(
        f"error: deploy of {NEW_IMAGE} failed (App Runner UPDATE_SERVICE {op(3)} on "
        "spendsense-api-staging failed and App Runner rolled the service back "
        "(ROLLBACK_SUCCEEDED); "
        f"see `spendsense logs` for the reason); rolled back to {OLD_IMAGE}, which is healthy ("
    )
    apprunner.assert_no_pending_responses()


def test_unhealthy_after_deploy_rolls_back_to_the_previous_image(apprunner, api_server, run):
    current = expect_describe(apprunner, image=OLD_IMAGE)
    expect_update(apprunner, current, NEW_IMAGE, op(4))
    expect_operation(apprunner, op(4), "SUCCEEDED")
    after = expect_describe(apprunner, image=NEW_IMAGE)
    expect_update(apprunner, after, OLD_IMAGE, op(5))
    expect_operation(apprunner, op(5), "IN_PROGRESS", "SUCCEEDED")
    api_server[1].sequence = [UNHEALTHY] * 3  # the new version, 3 attempts; then healthy again
    code, _, err = run("deploy", "--image-tag", NEW, "--yes")
    assert code == 1
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith(
            f"error: deploy of {NEW_IMAGE} failed (the API is unhealthy after the deploy: database "
            "is "
            f"'unhealthy' (expected 'healthy')); rolled back to {OLD_IMAGE}, which is healthy ("
        )
    )
    assert api_server[1].requests.count("/health") == 4
    apprunner.assert_no_pending_responses()


def test_rollback_that_fails_too_is_reported(apprunner, api_server, run):
    current = expect_describe(apprunner, image=OLD_IMAGE)
    expect_update(apprunner, current, NEW_IMAGE, op(4))
    expect_operation(apprunner, op(4), "SUCCEEDED")
    after = expect_describe(apprunner, image=NEW_IMAGE)
    expect_update(apprunner, after, OLD_IMAGE, op(5))
    expect_operation(apprunner, op(5), "FAILED")
    api_server[1].answer(500, {"status": "unhealthy"})
    code, _, err = run("deploy", "--image-tag", NEW, "--yes")
    assert code == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith(
        f"error: deploy of {NEW_IMAGE} failed (the API is unhealthy after the deploy: HTTP 500)"
    )
    assert f"and the rollback to {OLD_IMAGE} failed too (App Runner UPDATE_SERVICE {op(5)}" in last
    assert last.endswith("the service needs attention: `spendsense status`")
    apprunner.assert_no_pending_responses()


def test_invalid_state_exception_is_one_line_and_exit_1(apprunner, run):
    expect_describe(apprunner, image=OLD_IMAGE)
    apprunner.add_client_error(
        "update_service",
        service_error_code="InvalidStateException",
        service_message="Service is not in RUNNING state",
        http_status_code=400,
    )
    code, _, err = run("deploy", "--image-tag", NEW, "--yes")
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        f"error: point the App Runner service at {NEW_IMAGE}: App Runner refused because service "
        "spendsense-api-staging is busy or in the wrong state (Service is not in RUNNING state); "
        "wait for it (`spendsense status`) and retry"
    )
    apprunner.assert_no_pending_responses()


def test_throttling_is_retried_with_backoff(apprunner, run):
    throttled(apprunner, "describe_service", times=2)
    current = expect_describe(apprunner, image=OLD_IMAGE)
    throttled(apprunner, "update_service", times=1)
    expect_update(apprunner, current, NEW_IMAGE, op(6))
    throttled(apprunner, "list_operations", times=1)
    expect_operation(apprunner, op(6), "SUCCEEDED")
    expect_record(apprunner, OLD_IMAGE)
    code, _, err = run("deploy", "--image-tag", NEW, "--yes")
    assert code == 0, err
    apprunner.assert_no_pending_responses()


def test_throttling_that_never_stops_is_reported(apprunner, run):
    throttled(apprunner, "describe_service", times=5)
    code, _, err = run("deploy", "--image-tag", NEW, "--yes")
    assert (code, err) == (
        1,
        "error: describe the App Runner service: AWS kept throttling the request after retries; "
        "try again in a minute\n",
    )
    apprunner.assert_no_pending_responses()


def test_a_busy_service_is_refused_before_any_change(apprunner, run):
    expect_describe(apprunner, status="OPERATION_IN_PROGRESS")
    code, _, err = run("deploy", "--image-tag", NEW, "--yes")
    assert (code, err) == (
        1,
        "error: service spendsense-api-staging is in OPERATION_IN_PROGRESS; "
        "wait for it (`spendsense status`) and retry\n",
    )
    apprunner.assert_no_pending_responses()


def test_an_operation_that_does_not_end_times_out_without_rollback(apprunner, run):
    current = expect_describe(apprunner, image=OLD_IMAGE)
    expect_update(apprunner, current, NEW_IMAGE, op(7))
    # the first poll may come before the deadline, the second (after sleeping the rest) cannot
    expect_operation(apprunner, op(7), "IN_PROGRESS", "IN_PROGRESS")
    code, _, err = run("deploy", "--image-tag", NEW, "--yes", "--timeout", "0.001", poll="0.01")
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        f"error: App Runner operation {op(7)} on spendsense-api-staging did not end within 0.001 s "
        "(last status IN_PROGRESS); follow it with `spendsense status` and do not start another "
        "change until it ends"
    )


def test_without_yes_it_only_says_what_it_would_do(apprunner, api_server, run):
    expect_describe(apprunner, image=OLD_IMAGE)  # read-only; no UpdateService is queued
    code, out, _ = run("deploy", "--image-tag", NEW)
    assert code == 0
    assert out.splitlines() == [
        f"Would point App Runner service spendsense-api-staging (stack staging) from {OLD_IMAGE} "
        f"to {NEW_IMAGE},",
        "Would follow the App Runner operation for up to 1200 s,",
        f"Would then require {api_server[0]}/health to be healthy.",
        f"Would roll back to {OLD_IMAGE} if the deploy fails or the API is unhealthy.",
        "Nothing changed. Run again with --yes to do it.",
    ]
    assert api_server[1].requests == []
    apprunner.assert_no_pending_responses()


def test_a_tag_that_is_not_in_ecr_is_bad_input_and_changes_nothing(apprunner, ecr, run):
    code, _, err = run("deploy", "--image-tag", "nope", "--yes")
    assert (code, err) == (
        2,
        f"error: --image-tag: tag 'nope' is not in ECR repository {REPO_NAME}; "
        f"the newest tags are {NEW}, {OLD}\n",
    )
    apprunner.assert_no_pending_responses()  # and no App Runner call was made (none queued)


def test_an_invalid_tag_is_bad_input(apprunner, run):
    code, _, err = run("deploy", "--image-tag", "-bad tag", "--yes")
    assert (code, err) == (
        2,
        "error: --image-tag: '-bad tag' is not a valid image tag "
        "(letters, digits, _ . -, up to 128 characters, not starting with . or -)\n",
    )


def test_outputs_without_the_repository_url_is_bad_input(apprunner, write_outputs, run):
    path = write_outputs(ecr_repository_url=None)
    code, _, err = run("deploy", "--image-tag", NEW, "--yes", outputs=path)
    assert (code, err) == (
        2,
        f"error: stack output 'ecr_repository_url' is missing or unknown in {path}; "
        "run `pulumi up` for stack staging or pass --outputs FILE that has it\n",
    )


def test_missing_credentials_is_bad_input(apprunner, monkeypatch, run):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, _, err = run("deploy", "--image-tag", NEW, "--yes")
    assert (code, err) == (
        2,
        f"error: look up tag '{NEW}' in ECR repository {REPO_NAME}: no AWS credentials; "
        "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY\n",
    )


def test_rollback_goes_to_the_image_that_ran_before_not_the_one_pushed_before(apprunner, ecr, run):
    """A tag pushed between OLD and NEW never ran: the service's record says OLD ran before
    NEW, so that is where rollback goes; it then records NEW as the image that ran before."""
    never_ran = "20261126_120000"
    push(ecr, never_ran)
    set_pushed_at(OLD, 1_000)
    set_pushed_at(never_ran, 2_000)
    set_pushed_at(NEW, 3_000)
    expect_describe(apprunner, image=NEW_IMAGE)  # to find the running image
    expect_recorded(apprunner, OLD_IMAGE)
    current = expect_describe(apprunner, image=NEW_IMAGE)  # not busy
    expect_update(apprunner, current, OLD_IMAGE, op(8))
    expect_operation(apprunner, op(8), "SUCCEEDED")
    expect_record(apprunner, NEW_IMAGE)
    code, out, err = run("rollback", "api", "--yes")
    assert code == 0, err
    assert out.startswith(f"rollback of {OLD_IMAGE} succeeded; the API is healthy (")
    assert err.splitlines()[0] == (
        f"Rolling back to {OLD}, the image the service ran before {NEW} (recorded on the "
        "service by the deploy that replaced it)."
    )
    apprunner.assert_no_pending_responses()


def test_without_a_record_rollback_offers_the_image_pushed_before_and_says_it_is_unverified(
    apprunner, ecr, api_server, run
):
    """Push order, not tag order: the running tag sorts first but was pushed last, so the image
    pushed before it is NEW (a lexical order would find nothing before it)."""
    hotfix = "20261125_hotfix"
    hotfix_image = f"{REPO_URL}:{hotfix}"
    push(ecr, hotfix)
    set_pushed_at(OLD, 1_000)
    set_pushed_at(NEW, 2_000)
    set_pushed_at(hotfix, 3_000)
    expect_describe(apprunner, image=hotfix_image)
    expect_recorded(apprunner, None)
    expect_describe(apprunner, image=hotfix_image)
    code, out, err = run("rollback", "api")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"Would roll back to {NEW}, only the image pushed to ECR before {hotfix} (no deploy "
        "has recorded the image that ran before it on the service); it was never verified as "
        "deployed: pass --to TAG to pick a known good one.",
        f"Would point App Runner service spendsense-api-staging (stack staging) from "
        f"{hotfix_image} to {NEW_IMAGE},",
        "Would follow the App Runner operation for up to 1200 s,",
        f"Would then require {api_server[0]}/health to be healthy.",
        "Nothing changed. Run again with --yes to do it.",
    ]
    apprunner.assert_no_pending_responses()


def test_tags_that_cannot_be_read_fall_back_to_push_order_and_say_why(apprunner, run):
    expect_describe(apprunner, image=NEW_IMAGE)
    apprunner.add_client_error(
        "list_tags_for_resource",
        service_error_code="AccessDeniedException",
        service_message="not allowed",
        http_status_code=403,
    )
    expect_describe(apprunner, image=NEW_IMAGE)
    code, out, err = run("rollback", "api")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == (
        f"Would roll back to {OLD}, only the image pushed to ECR before {NEW} (read the App "
        "Runner service's tags: AWS refused the credentials (AccessDeniedException: not "
        "allowed)); it was never verified as deployed: pass --to TAG to pick a known good one."
    )
    apprunner.assert_no_pending_responses()


def test_a_recorded_image_that_is_no_longer_in_ecr_falls_back_to_push_order_and_says_why(
    apprunner, run
):
    gone = f"{REPO_URL}:20261101_000000"  # expired by the lifecycle policy
    expect_describe(apprunner, image=NEW_IMAGE)
    expect_recorded(apprunner, gone)
    current = expect_describe(apprunner, image=NEW_IMAGE)
    expect_update(apprunner, current, OLD_IMAGE, op(8))
    expect_operation(apprunner, op(8), "SUCCEEDED")
    expect_record(apprunner, NEW_IMAGE)
    code, _, err = run("rollback", "api", "--yes")
    assert code == 0, err
    assert err.splitlines()[0] == (
        f"Rolling back to {OLD}, only the image pushed to ECR before {NEW} (the recorded image "
        f"that ran before it, tag '20261101_000000', is no longer in ECR repository {REPO_NAME}); "
        "it was never verified as deployed: pass --to TAG to pick a known good one."
    )
    apprunner.assert_no_pending_responses()


def test_a_deploy_that_cannot_record_the_previous_image_still_succeeds_and_says_so(apprunner, run):
    current = expect_describe(apprunner, image=OLD_IMAGE)
    expect_update(apprunner, current, NEW_IMAGE, op(15))
    expect_operation(apprunner, op(15), "SUCCEEDED")
    apprunner.add_client_error(
        "tag_resource",
        service_error_code="AccessDeniedException",
        service_message="not allowed",
        http_status_code=403,
    )
    code, out, err = run("deploy", "--image-tag", NEW, "--yes")
    assert code == 0, err
    assert out.startswith(f"deploy of {NEW_IMAGE} succeeded; the API is healthy (")
    assert out.rstrip().endswith(
        f"; could not record {OLD_IMAGE} as the image that ran before (record the previous "
        "image on the App Runner service: AWS refused the credentials (AccessDeniedException: "
        "not allowed)), so `spendsense rollback api` will offer the image pushed before this one"
    )
    apprunner.assert_no_pending_responses()


def test_rollback_that_leaves_the_api_unhealthy_does_not_go_forward_again(
    apprunner, api_server, run
):
    expect_describe(apprunner, image=NEW_IMAGE)
    expect_recorded(apprunner, OLD_IMAGE)
    current = expect_describe(apprunner, image=NEW_IMAGE)
    expect_update(apprunner, current, OLD_IMAGE, op(8))
    expect_operation(apprunner, op(8), "SUCCEEDED")
    api_server[1].answer(200, b"not json")
    code, _, err = run("rollback", "api", "--yes")
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        f"error: rollback of {OLD_IMAGE} failed: the API is unhealthy after the rollback: body is "
        "not "
        "a JSON object; not rolled back: this command does not undo itself"
    )
    apprunner.assert_no_pending_responses()


def test_rollback_to_a_missing_tag_is_bad_input(apprunner, run):
    code, _, err = run("rollback", "api", "--to", "20200101_000000", "--yes")
    assert (code, err) == (
        2,
        f"error: --to: tag '20200101_000000' is not in ECR repository {REPO_NAME}; "
        f"the newest tags are {NEW}, {OLD}\n",
    )
    apprunner.assert_no_pending_responses()


def test_rollback_with_nothing_before_the_running_image_is_bad_input(apprunner, run):
    expect_describe(apprunner, image=OLD_IMAGE)
    expect_recorded(apprunner, None)
    code, _, err = run("rollback", "api", "--yes")
    assert (code, err) == (
        2,
        f"error: cannot tell the image before '{OLD}': no deploy has recorded the image that ran "
        f"before it on the service, and ECR repository {REPO_NAME} has no other image pushed "
        "before it; pass --to TAG\n",
    )
    apprunner.assert_no_pending_responses()


def test_rollback_to_the_running_tag_is_bad_input(apprunner, run):
    expect_describe(apprunner, image=NEW_IMAGE)
    code, _, err = run("rollback", "api", "--to", NEW, "--yes")
    assert (code, err) == (
        2,
        f"error: --to: service spendsense-api-staging already runs {NEW_IMAGE}; pick another tag\n",
    )
    apprunner.assert_no_pending_responses()


@pytest.mark.parametrize(
    "argv", [["deploy", "--help"], ["rollback", "api", "--help"], ["rollback", "--help"]]
)
def test_help_has_an_example(argv, capsys):
    assert main(argv) == 0
    assert "Example:" in capsys.readouterr().out


def test_a_5xx_on_update_service_whose_operation_started_is_followed_to_the_end(
    apprunner, api_server, run
):
    """The UpdateService answer was lost (HTTP 500), but App Runner did start the operation:
    deploy finds it in ListOperations, follows it and succeeds, without a second UpdateService
    (which would fail with InvalidStateException or deploy twice)."""
    from datetime import UTC, datetime

    expect_describe(apprunner, image=OLD_IMAGE)
    apprunner.add_client_error(
        "update_service",
        service_error_code="InternalServiceErrorException",
        service_message="We encountered an internal error",
        http_status_code=500,
    )
    started = {
        "Id": op(9),
        "Type": "UPDATE_SERVICE",
        "Status": "IN_PROGRESS",
        "TargetArn": SERVICE_ARN,
        "StartedAt": datetime.now(UTC),
    }
    apprunner.add_response(
        "list_operations",
        {"OperationSummaryList": [started]},
        {"ServiceArn": SERVICE_ARN, "MaxResults": 20},
    )
    expect_operation(apprunner, op(9), "IN_PROGRESS", "SUCCEEDED")
    expect_record(apprunner, OLD_IMAGE)
    code, out, err = run("deploy", "--image-tag", NEW, "--yes")
    assert code == 0, err
    assert out.startswith(f"deploy of {NEW_IMAGE} succeeded; the API is healthy (")
    assert f"UPDATE_SERVICE operation {op(9)} did start; following it" in err
    apprunner.assert_no_pending_responses()


def test_ctrl_c_while_following_says_the_operation_goes_on_and_exits_130(
    apprunner, run, monkeypatch
):
    from spendsense.ops import apprunner as ops

    current = expect_describe(apprunner, image=OLD_IMAGE)
    expect_update(apprunner, current, NEW_IMAGE, op(10))

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ops, "wait_for_operation", interrupted)
    code, out, err = run("deploy", "--image-tag", NEW, "--yes")
    assert (code, out) == (130, "")
    assert err.strip().splitlines()[-1] == (
        f"error: interrupted while following App Runner operation {op(10)} (pointing the "
        f"service at {NEW_IMAGE}) on spendsense-api-staging; App Runner goes on with it and "
        "nothing was rolled back: follow it with `spendsense status` and check "
        "`spendsense health` when it ends"
    )
    apprunner.assert_no_pending_responses()


def test_ctrl_c_during_the_health_check_says_which_image_runs(apprunner, run, monkeypatch):
    from spendsense.ops import rollout as ops

    current = expect_describe(apprunner, image=OLD_IMAGE)
    expect_update(apprunner, current, NEW_IMAGE, op(11))
    expect_operation(apprunner, op(11), "SUCCEEDED")
    expect_describe(apprunner, image=NEW_IMAGE)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ops, "gate_health", interrupted)
    code, _, err = run("deploy", "--image-tag", NEW, "--yes")
    assert code == 130
    assert err.strip().splitlines()[-1] == (
        f"error: interrupted during the health check after the deploy of {NEW_IMAGE}; the "
        f"service points at {NEW_IMAGE} and nothing was rolled back: check `spendsense health`, "
        "and `spendsense rollback api` if it is unhealthy"
    )
    apprunner.assert_no_pending_responses()


def test_losing_track_of_the_operation_says_it_may_still_run(apprunner, run):
    """ListOperations throttled past the retries while following: no rollback is attempted
    (the operation may still be running) and the message says which operation to watch."""
    current = expect_describe(apprunner, image=OLD_IMAGE)
    expect_update(apprunner, current, NEW_IMAGE, op(12))
    throttled(apprunner, "list_operations", times=5)
    code, _, err = run("deploy", "--image-tag", NEW, "--yes")
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        f"error: lost track of App Runner operation {op(12)} (pointing the service at "
        f"{NEW_IMAGE}) on spendsense-api-staging: list App Runner operations: AWS kept "
        "throttling the request after retries; try again in a minute; it may still be running "
        "and nothing was rolled back: follow it with `spendsense status`"
    )
    apprunner.assert_no_pending_responses()


def expired(stubber, method: str) -> None:
    stubber.add_client_error(
        method,
        service_error_code="ExpiredTokenException",
        service_message="The security token included in the request is expired",
        http_status_code=403,
    )


def test_credentials_that_expire_while_following_are_exit_1_saying_it_may_still_run(apprunner, run):
    """UpdateService was accepted, then ListOperations is refused (expired token): that is not
    bad input (exit 2) but a change in an unknown state (exit 1), and nothing was rolled back."""
    current = expect_describe(apprunner, image=OLD_IMAGE)
    expect_update(apprunner, current, NEW_IMAGE, op(13))
    expired(apprunner, "list_operations")
    code, out, err = run("deploy", "--image-tag", NEW, "--yes")
    assert (code, out) == (1, "")
    assert err.strip().splitlines()[-1] == (
        f"error: lost track of App Runner operation {op(13)} (pointing the service at "
        f"{NEW_IMAGE}) on spendsense-api-staging: list App Runner operations: AWS credentials "
        "have expired; refresh them (e.g. `aws sso login`); it may still be running and nothing "
        "was rolled back: follow it with `spendsense status`"
    )
    apprunner.assert_no_pending_responses()


def test_credentials_refused_during_the_rollback_say_the_service_needs_attention(
    apprunner, api_server, run
):
    current = expect_describe(apprunner, image=OLD_IMAGE)
    expect_update(apprunner, current, NEW_IMAGE, op(14))
    expect_operation(apprunner, op(14), "SUCCEEDED")
    apprunner.add_client_error(
        "describe_service",
        service_error_code="AccessDeniedException",
        service_message="not allowed",
        http_status_code=403,
    )
    api_server[1].sequence = [UNHEALTHY] * 3
    code, _, err = run("deploy", "--image-tag", NEW, "--yes")
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        f"error: deploy of {NEW_IMAGE} failed (the API is unhealthy after the deploy: database "
        f"is 'unhealthy' (expected 'healthy')) and the rollback to {OLD_IMAGE} failed too "
        "(describe the App Runner service: AWS refused the credentials (AccessDeniedException: "
        "not allowed)); the service needs attention: `spendsense status`"
    )
    apprunner.assert_no_pending_responses()


def test_ctrl_c_while_following_the_rollback_says_the_rollback_is_not_confirmed(
    apprunner, api_server, run, monkeypatch
):
    """Ctrl-C in the rollback phase must not say "nothing was rolled back"."""
    from spendsense.ops import apprunner as ops

    current = expect_describe(apprunner, image=OLD_IMAGE)
    expect_update(apprunner, current, NEW_IMAGE, op(16))
    expect_operation(apprunner, op(16), "SUCCEEDED")
    after = expect_describe(apprunner, image=NEW_IMAGE)
    expect_update(apprunner, after, OLD_IMAGE, op(17))
    api_server[1].sequence = [UNHEALTHY] * 3
    real = ops.wait_for_operation

    def interrupt_the_rollback(client, arn, operation_id, **kwargs):
        if operation_id == op(17):
            raise KeyboardInterrupt
        return real(client, arn, operation_id, **kwargs)

    monkeypatch.setattr(ops, "wait_for_operation", interrupt_the_rollback)
    code, out, err = run("deploy", "--image-tag", NEW, "--yes")
    assert (code, out) == (130, "")
    assert err.strip().splitlines()[-1] == (
        f"error: interrupted while following App Runner operation {op(17)} (rolling the service "
        f"back to {OLD_IMAGE} after the failed deploy of {NEW_IMAGE}) on spendsense-api-staging; "
        f"App Runner goes on with it and the rollback to {OLD_IMAGE} is not confirmed: follow "
        "it with `spendsense status` and check `spendsense health` when it ends"
    )
    apprunner.assert_no_pending_responses()


def test_ctrl_c_during_the_health_check_after_the_rollback_says_so(
    apprunner, api_server, run, monkeypatch
):
    from spendsense.ops import rollout as ops

    current = expect_describe(apprunner, image=OLD_IMAGE)
    expect_update(apprunner, current, NEW_IMAGE, op(18))
    expect_operation(apprunner, op(18), "SUCCEEDED")
    after = expect_describe(apprunner, image=NEW_IMAGE)
    expect_update(apprunner, after, OLD_IMAGE, op(19))
    expect_operation(apprunner, op(19), "SUCCEEDED")
    expect_describe(apprunner, image=OLD_IMAGE)  # which image runs, for the message
    api_server[1].sequence = [UNHEALTHY] * 3
    real = ops.gate_health
    calls: list[int] = []

    def interrupt_the_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(ops, "gate_health", interrupt_the_second)
    code, _, err = run("deploy", "--image-tag", NEW, "--yes")
    assert code == 130
    assert err.strip().splitlines()[-1] == (
        f"error: interrupted during the health check after rolling back to {OLD_IMAGE} (the "
        f"deploy of {NEW_IMAGE} had failed); the service points at {OLD_IMAGE} and its health "
        "was not checked: check `spendsense health`, and `spendsense rollback api --to TAG` (an "
        "image known to work) if it is unhealthy"
    )
    apprunner.assert_no_pending_responses()
