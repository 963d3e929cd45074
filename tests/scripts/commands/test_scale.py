"""`spendsense scale`: limits from policies/limits.json and App Runner's CPU/memory pairs.
Without --yes it only prints the change (contract 5: "Would ..."), file and service untouched;
with --yes the change goes into a copy of Pulumi.<stack>.yaml with its comments and layout
kept; --now --yes also applies it through UpdateService (model-checked Stubber). Bad input
exits 2 and changes nothing. The real stack files are never touched."""

from __future__ import annotations

import difflib
import hashlib
import shutil
from pathlib import Path

import pytest
from spendsense.cli import main
from spendsense.repo import repo_root

from tests.scripts.live_api import ACCOUNT, SERVICE_ARN, op, operation, service

REAL_FILES = {stack: repo_root() / f"Pulumi.{stack}.yaml" for stack in ("staging", "production")}


@pytest.fixture(autouse=True)
def real_stack_files_are_untouched():
    before = {
        stack: hashlib.sha256(path.read_bytes()).hexdigest() for stack, path in REAL_FILES.items()
    }
    yield
    after = {
        stack: hashlib.sha256(path.read_bytes()).hexdigest() for stack, path in REAL_FILES.items()
    }
    assert after == before, "a test changed a real Pulumi.<stack>.yaml"


@pytest.fixture
def stack_copy(tmp_path):
    def copy(stack: str = "staging") -> Path:
        target = tmp_path / f"Pulumi.{stack}.yaml"
        shutil.copyfile(REAL_FILES[stack], target)
        return target

    return copy


def scale(capsys, path: Path, stack: str, *args: str):
    code = main(
        ["scale", "--stack", stack, "--stack-file", str(path), "--poll-seconds", "0", *args]
    )
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def changed_lines(original: Path, edited: Path) -> list[str]:
    diff = difflib.unified_diff(
        original.read_text().splitlines(), edited.read_text().splitlines(), lineterm="", n=0
    )
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_without_yes_it_only_prints_the_change_and_writes_nothing(stack_copy, capsys):
    path = stack_copy("staging")
    code, out, err = scale(capsys, path, "staging", "--cpu", "2", "--memory", "4 GB")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "Would change spendsense:api.cpu 1 vCPU -> 2 vCPU in Pulumi.staging.yaml",
        "Would change spendsense:api.memory 2 GB -> 4 GB in Pulumi.staging.yaml",
        "Nothing changed. Run again with --yes to do it.",
    ]
    assert path.read_bytes() == REAL_FILES["staging"].read_bytes()


def test_cpu_and_memory_are_written_with_yes_keeping_comments_and_layout(stack_copy, capsys):
    path = stack_copy("staging")
    code, out, err = scale(capsys, path, "staging", "--cpu", "2", "--memory", "4 GB", "--yes")
    assert (code, err) == (0, "")
    assert changed_lines(REAL_FILES["staging"], path) == [
        "-    cpu: 1 vCPU",
        "-    memory: 2 GB",
        "+    cpu: 2 vCPU",
        "+    memory: 4 GB",
    ]
    assert out.splitlines() == [
        "Changed spendsense:api.cpu 1 vCPU -> 2 vCPU in Pulumi.staging.yaml",
        "Changed spendsense:api.memory 2 GB -> 4 GB in Pulumi.staging.yaml",
        f"Wrote {path}. Apply it with:",
        "  pulumi up --stack staging",
    ]
    assert not list(path.parent.glob(".Pulumi.staging.yaml.*")), "a temporary file was left"


def test_a_file_that_cannot_be_written_is_left_whole(stack_copy, capsys, monkeypatch):
    """The new text goes to a temporary file that replaces the stack file only when complete."""
    import os

    path = stack_copy("staging")

    def refuse(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    code, out, err = scale(capsys, path, "staging", "--max", "5", "--yes")
    assert (code, out) == (1, "")
    assert err == f"error: cannot write {path} (No space left on device); it was left as it was\n"
    assert path.read_bytes() == REAL_FILES["staging"].read_bytes()
    assert not list(path.parent.glob(".Pulumi.staging.yaml.*")), "a temporary file was left"


def test_instance_range_is_written_in_the_production_file_unchanged_elsewhere(stack_copy, capsys):
    path = stack_copy("production")
    code, _, _ = scale(capsys, path, "production", "--min", "3", "--max", "12", "--yes")
    assert code == 0
    assert changed_lines(REAL_FILES["production"], path) == [
        "-    minInstances: 2",
        "-    maxInstances: 10",
        "+    minInstances: 3",
        "+    maxInstances: 12",
    ]


def test_same_values_change_nothing(stack_copy, capsys):
    path = stack_copy("production")
    code, out, _ = scale(capsys, path, "production", "--cpu", "2 vCPU", "--memory", "4")
    assert code == 0
    assert out == "Pulumi.production.yaml already has these values; nothing to change.\n"
    assert path.read_bytes() == REAL_FILES["production"].read_bytes()


LIMITS = "policies/limits.json"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--cpu", "4 vCPU", "--memory", "8 GB"],
            f"--cpu: '4 vCPU' is not allowed; use one of 0.25 vCPU, 0.5 vCPU, 1 vCPU, 2 vCPU "
            f"(App Runner's sizes up to apprunner.maxCpu 2 vCPU in {LIMITS})",
        ),
        (
            ["--cpu", "lots"],
            f"--cpu: 'lots' is not allowed; use one of 0.25 vCPU, 0.5 vCPU, 1 vCPU, 2 vCPU "
            f"(App Runner's sizes up to apprunner.maxCpu 2 vCPU in {LIMITS})",
        ),
        (
            ["--cpu", "2 vCPU", "--memory", "6 GB"],
            f"--memory: '6 GB' does not go with 2 vCPU; use one of 4 GB "
            f"(App Runner's pairs up to apprunner.maxMemory 4 GB in {LIMITS})",
        ),
        (
            ["--memory", "5 GB"],
            f"--memory: '5 GB' does not go with 1 vCPU; use one of 2 GB, 3 GB, 4 GB "
            f"(App Runner's pairs up to apprunner.maxMemory 4 GB in {LIMITS})",
        ),
        (
            ["--cpu", "2"],
            "--cpu: 2 vCPU does not go with the stack's memory 2 GB (Pulumi.staging.yaml); "
            "pass --memory, one of 4 GB",
        ),
        (
            ["--min", "0"],
            "--min: 0 is outside 1..25 (apprunner.minInstances..apprunner.maxInstances in "
            f"{LIMITS})",
        ),
        (
            ["--max", "26"],
            "--max: 26 is outside 1..25 (apprunner.minInstances..apprunner.maxInstances in "
            f"{LIMITS})",
        ),
        (["--min", "5", "--max", "4"], "--min: 5 is above --max 4"),
        (
            ["--min", "4"],
            "--min: 4 is above the stack's maxInstances 3 (Pulumi.staging.yaml); raise --max too",
        ),
        ([], "nothing to change: pass at least one of --cpu, --memory, --min, --max"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_changes_nothing(
    stack_copy, capsys, apprunner, args, message
):
    path = stack_copy("staging")
    code, out, err = scale(capsys, path, "staging", *args, "--now", "--yes")
    assert (code, out, err) == (2, "", f"error: {message}\n")
    assert path.read_bytes() == REAL_FILES["staging"].read_bytes()
    apprunner.assert_no_pending_responses()  # none queued: any App Runner call would have failed


def test_now_without_yes_changes_neither_the_file_nor_the_live_service(
    stack_copy, write_outputs, apprunner, capsys
):
    path = stack_copy("staging")
    code, out, _ = scale(
        capsys,
        path,
        "staging",
        "--cpu",
        "2",
        "--memory",
        "4",
        "--now",
        "--outputs",
        write_outputs(),
    )
    assert code == 0
    assert out.splitlines() == [
        "Would change spendsense:api.cpu 1 vCPU -> 2 vCPU in Pulumi.staging.yaml",
        "Would change spendsense:api.memory 2 GB -> 4 GB in Pulumi.staging.yaml",
        "Would update App Runner service spendsense-api-staging now: instance size "
        "2 vCPU / 4 GB, and follow the operation for up to 1200 s.",
        "Nothing changed. Run again with --yes to do it.",
    ]
    assert path.read_bytes() == REAL_FILES["staging"].read_bytes()
    apprunner.assert_no_pending_responses()  # none queued: any App Runner call would fail


def test_now_without_yes_says_the_new_auto_scaling_revision_is_outside_pulumi(
    stack_copy, write_outputs, apprunner, capsys
):
    path = stack_copy("staging")
    code, out, _ = scale(
        capsys, path, "staging", "--max", "5", "--now", "--outputs", write_outputs()
    )
    assert code == 0
    assert out.splitlines()[-3:] == [
        "Would update App Runner service spendsense-api-staging now: a new auto scaling revision "
        "with 1..5 instances, and follow the operation for up to 1200 s.",
        "Would leave that auto scaling revision outside Pulumi, which does not manage it: delete "
        "it once `pulumi up` has brought the stack in line (the command prints how).",
        "Nothing changed. Run again with --yes to do it.",
    ]
    apprunner.assert_no_pending_responses()


def test_now_with_a_missing_output_changes_nothing(stack_copy, write_outputs, capsys):
    path = stack_copy("staging")
    outputs = write_outputs(api_service_arn=None)
    code, _, err = scale(
        capsys, path, "staging", "--min", "2", "--now", "--yes", "--outputs", outputs
    )
    assert code == 2
    assert err.startswith("error: stack output 'api_service_arn' is missing or unknown in ")
    assert path.read_bytes() == REAL_FILES["staging"].read_bytes()


def test_now_yes_applies_size_and_a_new_auto_scaling_revision(
    stack_copy, write_outputs, apprunner, capsys
):
    path = stack_copy("staging")
    current = service()
    apprunner.add_response("describe_service", {"Service": current}, {"ServiceArn": SERVICE_ARN})
    asc_arn = (
        f"arn:aws:apprunner:us-east-1:{ACCOUNT}:autoscalingconfiguration/spendsense-api-staging/2/"
        "abcdef0123456789"
    )
    apprunner.add_response(
        "create_auto_scaling_configuration",
        {
            "AutoScalingConfiguration": {
                "AutoScalingConfigurationArn": asc_arn,
                "AutoScalingConfigurationName": "spendsense-api-staging",
                "AutoScalingConfigurationRevision": 2,
                "MinSize": 2,
                "MaxSize": 5,
                "MaxConcurrency": 100,
            }
        },
        {
            "AutoScalingConfigurationName": "spendsense-api-staging",
            "MinSize": 2,
            "MaxSize": 5,
            "MaxConcurrency": 100,
        },
    )
    apprunner.add_response(
        "update_service",
        {"Service": current, "OperationId": op(11)},
        {
            "ServiceArn": SERVICE_ARN,
            "InstanceConfiguration": {
                "Cpu": "2 vCPU",
                "Memory": "4 GB",
                "InstanceRoleArn": current["InstanceConfiguration"]["InstanceRoleArn"],
            },
            "AutoScalingConfigurationArn": asc_arn,
        },
    )
    apprunner.add_response("list_operations", operation(op(11), "SUCCEEDED"))
    code, out, err = scale(
        capsys,
        path,
        "staging",
        "--cpu",
        "2",
        "--memory",
        "4",
        "--min",
        "2",
        "--max",
        "5",
        "--now",
        "--yes",
        "--outputs",
        write_outputs(),
    )
    assert code == 0, err
    assert out.splitlines()[-3:] == [
        "Applied instance size 2 vCPU / 4 GB and a new auto scaling revision with 2..5 instances "
        "to the live service.",
        "The live service now differs from what Pulumi last deployed: run `pulumi up --stack "
        "staging` "
        "to bring the stack in line.",
        f"Auto scaling configuration revision {asc_arn} was created outside Pulumi, which does "
        "not manage it: once `pulumi up --stack staging` has pointed the service at the stack's "
        "own configuration again (run `pulumi refresh` first so it sees the live change), delete "
        "it with `aws apprunner delete-auto-scaling-configuration "
        f"--auto-scaling-configuration-arn {asc_arn}` "
        "(App Runner refuses while a service uses it).",
    ]
    apprunner.assert_no_pending_responses()


def test_now_yes_on_a_busy_service_is_refused(stack_copy, write_outputs, apprunner, capsys):
    path = stack_copy("staging")
    apprunner.add_response("describe_service", {"Service": service(status="OPERATION_IN_PROGRESS")})
    code, _, err = scale(
        capsys, path, "staging", "--max", "5", "--now", "--yes", "--outputs", write_outputs()
    )
    assert (code, err) == (
        1,
        "error: service spendsense-api-staging is in OPERATION_IN_PROGRESS; wait for it "
        "(`spendsense status`) and retry\n",
    )
    assert path.read_bytes() == REAL_FILES["staging"].read_bytes(), "refused, yet the file changed"
    apprunner.assert_no_pending_responses()


def expect_new_revision(apprunner, current, min_size: int, max_size: int, op_id: str) -> None:
    asc_arn = (
        f"arn:aws:apprunner:us-east-1:{ACCOUNT}:autoscalingconfiguration/spendsense-api-staging/2/"
        "abcdef0123456789"
    )
    apprunner.add_response(
        "create_auto_scaling_configuration",
        {
            "AutoScalingConfiguration": {
                "AutoScalingConfigurationArn": asc_arn,
                "AutoScalingConfigurationName": "spendsense-api-staging",
                "AutoScalingConfigurationRevision": 2,
                "MinSize": min_size,
                "MaxSize": max_size,
                "MaxConcurrency": 100,
            }
        },
        {
            "AutoScalingConfigurationName": "spendsense-api-staging",
            "MinSize": min_size,
            "MaxSize": max_size,
            "MaxConcurrency": 100,
        },
    )
    apprunner.add_response(
        "update_service",
        {"Service": current, "OperationId": op_id},
        {"ServiceArn": SERVICE_ARN, "AutoScalingConfigurationArn": asc_arn},
    )


def test_a_failed_live_apply_says_the_file_changed_and_a_rerun_applies_it_live(
    stack_copy, write_outputs, apprunner, capsys
):
    """--now --yes writes the file, then the operation fails: the error says what state each is
    in; running the same command again (the file already has the values) still applies them."""
    path = stack_copy("staging")
    outputs = write_outputs()
    current = service()
    apprunner.add_response("describe_service", {"Service": current}, {"ServiceArn": SERVICE_ARN})
    expect_new_revision(apprunner, current, 1, 5, op(12))
    apprunner.add_response("list_operations", operation(op(12), "FAILED"))
    code, out, err = scale(
        capsys, path, "staging", "--max", "5", "--now", "--yes", "--outputs", outputs
    )
    assert code == 1
    assert "maxInstances: 5" in path.read_text()
    assert err.strip().splitlines()[-1] == (
        f"error: App Runner UPDATE_SERVICE {op(12)} on spendsense-api-staging failed (FAILED); "
        "see `spendsense logs` for the reason -- Pulumi.staging.yaml has the new values, but the "
        "live service may not: check `spendsense status`, then run this command again with "
        "--now --yes or `pulumi up --stack staging`"
    )

    apprunner.add_response("describe_service", {"Service": current}, {"ServiceArn": SERVICE_ARN})
    expect_new_revision(apprunner, current, 1, 5, op(13))
    apprunner.add_response("list_operations", operation(op(13), "SUCCEEDED"))
    code, out, err = scale(
        capsys, path, "staging", "--max", "5", "--now", "--yes", "--outputs", outputs
    )
    assert code == 0, err
    assert out.splitlines()[0] == "Pulumi.staging.yaml already has these values."
    assert out.splitlines()[1] == (
        "Applied a new auto scaling revision with 1..5 instances to the live service."
    )
    apprunner.assert_no_pending_responses()


def test_credentials_that_expire_while_following_the_live_change_are_exit_1_with_context(
    stack_copy, write_outputs, apprunner, capsys
):
    """The file is written and UpdateService accepted, then ListOperations answers
    ExpiredTokenException: exit 1 (not 2) saying what state the file and the service are in."""
    path = stack_copy("staging")
    current = service()
    apprunner.add_response("describe_service", {"Service": current}, {"ServiceArn": SERVICE_ARN})
    expect_new_revision(apprunner, current, 1, 5, op(14))
    apprunner.add_client_error(
        "list_operations",
        service_error_code="ExpiredTokenException",
        service_message="The security token included in the request is expired",
        http_status_code=403,
    )
    code, _, err = scale(
        capsys, path, "staging", "--max", "5", "--now", "--yes", "--outputs", write_outputs()
    )
    assert code == 1
    assert "maxInstances: 5" in path.read_text()
    assert err.strip().splitlines()[-1] == (
        f"error: lost track of App Runner operation {op(14)} (scaling the service) on "
        "spendsense-api-staging: list App Runner operations: AWS credentials have expired; "
        "refresh them (e.g. `aws sso login`); it may still be running and nothing was rolled "
        "back: follow it with `spendsense status` -- Pulumi.staging.yaml has the new values, "
        "but the live service may not: check `spendsense status`, then run this command again "
        "with --now --yes or `pulumi up --stack staging`"
    )
    apprunner.assert_no_pending_responses()


def test_help_has_an_example(capsys):
    assert main(["scale", "--help"]) == 0
    assert "spendsense scale --stack production --cpu 2 --memory 4" in capsys.readouterr().out


def test_a_stack_file_with_a_non_integer_instance_count_is_bad_input(stack_copy, capsys):
    path = stack_copy("staging")
    path.write_text(path.read_text().replace("maxInstances: 3", "maxInstances: three"))
    code, out, err = scale(capsys, path, "staging", "--min", "2", "--yes")
    assert (code, out) == (2, "")
    assert err == (
        "error: spendsense:api.maxInstances in Pulumi.staging.yaml is 'three', not a whole "
        "number; fix the stack file (`spendsense plan` checks it)\n"
    )
