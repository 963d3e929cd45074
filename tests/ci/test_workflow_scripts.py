"""The shell in the workflows, run for real with bash: the credential checks and the sticky
comment. `gh` is replaced by a small fake on PATH that answers like GitHub's API and records
every call, so the tests see exactly which requests the comment step would make."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.ci.workflow_model import load_workflows

FLOWS = {workflow.name: workflow for workflow in load_workflows()}
BASH = shutil.which("bash") or "/bin/bash"


def run_script(
    script: str, env: dict[str, str], tmp_path: Path
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Run a `run:` block the way the runner does (bash -e -o pipefail), return its outputs."""
    output = tmp_path / "github_output"
    output.write_text("", encoding="utf-8")
    result = subprocess.run(
        [BASH, "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        env={"PATH": os.environ["PATH"], "GITHUB_OUTPUT": str(output), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    outputs = dict(
        line.split("=", 1)
        for line in output.read_text(encoding="utf-8").splitlines()
        if "=" in line
    )
    return result, outputs


def credentials_script(workflow: str) -> str:
    return str(FLOWS[workflow].jobs["credentials"]["steps"][0]["run"])


FULL = {
    "preview.yml": {
        "FORK": "false",
        "AWS_PREVIEW_ROLE_ARN": "arn:aws:iam::1:role/p",
        "GCP_WORKLOAD_IDENTITY_PROVIDER": (
            "projects/1/locations/global/workloadIdentityPools/github/providers/github-actions"
        ),
        "GCP_PREVIEW_SERVICE_ACCOUNT": "p@x.iam.gserviceaccount.com",
        "PULUMI_BACKEND_URL": "s3://spendsense-pulumi-state?region=us-east-1",
        "HAS_PULUMI_ACCESS_TOKEN": "false",
        "HAS_VERCEL_API_TOKEN": "true",
    },
    "deploy.yml": {
        "GCP_WORKLOAD_IDENTITY_PROVIDER": "projects/1/x",
        "PULUMI_BACKEND_URL": "",
        "HAS_PULUMI_ACCESS_TOKEN": "true",
    },
    "checks.yml": {
        "AWS_CHECKS_ROLE_ARN": "arn:aws:iam::1:role/c",
        "GCP_WORKLOAD_IDENTITY_PROVIDER": "projects/1/x",
        "GCP_CHECKS_SERVICE_ACCOUNT": "c@x.iam.gserviceaccount.com",
        "PULUMI_BACKEND_URL": "s3://b",
        "HAS_PULUMI_ACCESS_TOKEN": "false",
    },
}


@pytest.mark.parametrize("workflow", sorted(FULL))
def test_missing_credentials_skip_with_a_notice_and_never_fail(
    workflow: str, tmp_path: Path
) -> None:
    result, outputs = run_script(
        credentials_script(workflow), {"HAS_PULUMI_ACCESS_TOKEN": "false"}, tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert outputs == {"configured": "false"}
    assert "::notice title=" in result.stdout and "not configured:" in result.stdout
    assert "PULUMI_BACKEND_URL (or secret PULUMI_ACCESS_TOKEN)" in result.stdout


@pytest.mark.parametrize("workflow", sorted(FULL))
def test_all_credentials_present_run_the_real_job(workflow: str, tmp_path: Path) -> None:
    result, outputs = run_script(credentials_script(workflow), FULL[workflow], tmp_path)
    assert result.returncode == 0, result.stderr
    assert outputs == {"configured": "true"}, result.stdout


@pytest.mark.parametrize("workflow", sorted(FULL))
def test_one_missing_variable_is_named(workflow: str, tmp_path: Path) -> None:
    env = dict(FULL[workflow])
    name = next(key for key in env if key.startswith(("AWS_", "GCP_WORKLOAD")))
    env[name] = ""
    result, outputs = run_script(credentials_script(workflow), env, tmp_path)
    assert outputs == {"configured": "false"}
    assert f"not configured: variable {name} (docs/ci.md)" in result.stdout


@pytest.mark.parametrize("name", ["AWS_DEPLOY_ROLE_ARN", "GCP_DEPLOY_SERVICE_ACCOUNT"])
def test_a_repository_level_deploy_identity_fails_the_deploy(name: str, tmp_path: Path) -> None:
    """The deploy identities are per environment: a repository-level one would be what an
    environment without its own silently falls back to (the other environment's role)."""
    env = {
        **FULL["deploy.yml"],
        f"REPOSITORY_{name}": "arn:aws:iam::1:role/spendsense-github-deploy-production",
    }
    result, outputs = run_script(credentials_script("deploy.yml"), env, tmp_path)
    assert result.returncode == 1 and outputs == {}
    assert f"::error title=deploy misconfigured::repository variable {name}:" in result.stdout


STAGING_IDENTITY = {
    "STACK": "staging",
    "AWS_DEPLOY_ROLE_ARN": "arn:aws:iam::111122223333:role/spendsense-github-deploy-staging",
    "GCP_DEPLOY_SERVICE_ACCOUNT": (
        "spendsense-deploy-staging@spendsense-staging.iam.gserviceaccount.com"
    ),
}


def identity_script(job: str) -> str:
    step = FLOWS["deploy.yml"].jobs[job]["steps"][0]
    assert step["name"] == "Check this environment's deploy identity"
    return str(step["run"])


@pytest.mark.parametrize("job", ["staging", "production"])
def test_each_deploy_job_first_checks_its_environments_identity(job: str, tmp_path: Path) -> None:
    env = {k: v.replace("staging", job) for k, v in STAGING_IDENTITY.items()}
    result, _ = run_script(identity_script(job), env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"AWS_DEPLOY_ROLE_ARN": ""},
            "variable AWS_DEPLOY_ROLE_ARN is not set "
            "(trust stack output aws_deploy_role_arns.staging)",
        ),
        (
            {
                "AWS_DEPLOY_ROLE_ARN": (
                    "arn:aws:iam::111122223333:role/spendsense-github-deploy-production"
                )
            },
            "variable AWS_DEPLOY_ROLE_ARN is not the staging deploy role",
        ),
        (
            {"GCP_DEPLOY_SERVICE_ACCOUNT": ""},
            "variable GCP_DEPLOY_SERVICE_ACCOUNT is not set "
            "(trust stack output gcp_service_accounts.staging)",
        ),
        (
            {
                "GCP_DEPLOY_SERVICE_ACCOUNT": (
                    "spendsense-deploy-production@p.iam.gserviceaccount.com"
                )
            },
            "variable GCP_DEPLOY_SERVICE_ACCOUNT is not the staging deploy account",
        ),
    ],
)
def test_a_missing_or_wrong_environment_identity_fails_naming_the_variable(
    changes: dict[str, str], message: str, tmp_path: Path
) -> None:
    result, _ = run_script(identity_script("staging"), {**STAGING_IDENTITY, **changes}, tmp_path)
    assert result.returncode == 1
    assert f"::error title=environment staging::{message}" in result.stdout
    assert "Settings > Environments > staging" in result.stdout


def test_a_fork_pull_request_skips_the_real_preview(tmp_path: Path) -> None:
    env = {**FULL["preview.yml"], "FORK": "true"}
    result, outputs = run_script(credentials_script("preview.yml"), env, tmp_path)
    assert result.returncode == 0 and outputs == {"configured": "false"}
    assert "forks get no cloud credentials" in result.stdout


# --------------------------------------------------------------------------------------------
# The sticky comment
# --------------------------------------------------------------------------------------------
FAKE_GH = r"""#!/usr/bin/env python3
import json, os, sys
args = sys.argv[1:]
with open(os.environ["GH_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
path = next(a for a in args if a.startswith("repos/"))
if path.endswith("/comments") and "--paginate" in args:
    existing = os.environ.get("FAKE_EXISTING")
    if existing:
        print(existing)
elif "/pulls/" in path:
    print(os.environ["FAKE_HEAD"])
elif "-F" in args:
    body = args[args.index("-F") + 1]
    assert body == "body=@comment.md", body
"""


@pytest.fixture
def fake_gh(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(FAKE_GH, encoding="utf-8")
    gh.chmod(gh.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def comment_script() -> str:
    steps = FLOWS["preview-comment.yml"].jobs["comment"]["steps"]
    return str(next(step["run"] for step in steps if step.get("run")))


def lay_out_plans(root: Path, pr: str, sha: str) -> None:
    for stack, code in (("staging", "0"), ("production", "1")):
        folder = root / "plan" / f"plan-{stack}"
        folder.mkdir(parents=True)
        (folder / f"{stack}.md").write_text(
            f"**{stack}**: 40 resources, {code} mandatory\n", encoding="utf-8"
        )
        (folder / f"{stack}.exit").write_text(code + "\n", encoding="utf-8")
        (folder / "pr-number").write_text(pr + "\n", encoding="utf-8")
        (folder / "head-sha").write_text(sha + "\n", encoding="utf-8")


def run_comment(
    tmp_path: Path, fake_gh: Path, **env: str
) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    log = tmp_path / "gh.log"
    base = {
        "PATH": f"{fake_gh}:{os.environ['PATH']}",
        "GH_LOG": str(log),
        "GH_TOKEN": "t",
        "GH_REPO": "spendsense/spendsense-infra",
        "HEAD_SHA": "a" * 40,
        "HEAD_REPO": "contributor/spendsense-infra",
        "HEAD_BRANCH": "raise-p95",
        "RUN_URL": "https://github.com/spendsense/spendsense-infra/actions/runs/1",
        "CONCLUSION": "failure",
        # What `gh api repos/R/pulls/N --jq '[.head.sha, .head.repo.full_name, .head.ref]|@tsv'`
        # prints for the pull request the artifact names.
        "FAKE_HEAD": "\t".join(["a" * 40, "contributor/spendsense-infra", "raise-p95"]),
    }
    result = subprocess.run(
        [BASH, "--noprofile", "--norc", "-eo", "pipefail", "-c", comment_script()],
        env={**base, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


def test_first_run_creates_one_comment_with_both_plans(tmp_path: Path, fake_gh: Path) -> None:
    lay_out_plans(tmp_path, "42", "a" * 40)
    result, calls = run_comment(tmp_path, fake_gh)
    assert result.returncode == 0, result.stderr
    posts = [c for c in calls if "POST" in c]
    assert len(posts) == 1 and "repos/spendsense/spendsense-infra/issues/42/comments" in posts[0]
    body = (tmp_path / "comment.md").read_text(encoding="utf-8")
    assert body.startswith("<!-- spendsense-plan -->\n")
    assert "**staging**: 40 resources" in body and "**production**: 40 resources" in body
    assert "(exit 1)" in body and "run result **failure**" in body


def test_a_later_run_edits_the_existing_comment(tmp_path: Path, fake_gh: Path) -> None:
    """Sticky: with a marked comment already there, the step PATCHes it and posts nothing."""
    lay_out_plans(tmp_path, "42", "a" * 40)
    result, calls = run_comment(tmp_path, fake_gh, FAKE_EXISTING="987654")
    assert result.returncode == 0, result.stderr
    assert not [c for c in calls if "POST" in c]
    (patch,) = [c for c in calls if "PATCH" in c]
    assert "repos/spendsense/spendsense-infra/issues/comments/987654" in patch
    lookup = next(c for c in calls if "--paginate" in c)
    assert any('startswith("<!-- spendsense-plan -->")' in part for part in lookup)


def test_an_artifact_cannot_aim_the_comment_elsewhere(tmp_path: Path, fake_gh: Path) -> None:
    """The PR number is reduced to digits, and nothing is posted when that PR's head is not
    the commit the run was for."""
    lay_out_plans(tmp_path, "7; rm -rf / $(id)", "a" * 40)
    moved = "\t".join(["b" * 40, "contributor/spendsense-infra", "raise-p95"])
    result, calls = run_comment(tmp_path, fake_gh, FAKE_HEAD=moved)
    assert result.returncode == 0, result.stderr
    assert [call[:2] for call in calls] == [["api", "repos/spendsense/spendsense-infra/pulls/7"]]
    assert "has moved on" in result.stdout


def test_a_pull_request_of_another_branch_gets_no_comment(tmp_path: Path, fake_gh: Path) -> None:
    """Same head commit, but the pull request the artifact names comes from another
    repository or branch than the run: nothing is posted."""
    lay_out_plans(tmp_path, "7", "a" * 40)
    for other in (
        ["a" * 40, "someone/else", "raise-p95"],
        ["a" * 40, "contributor/spendsense-infra", "main"],
    ):
        result, calls = run_comment(tmp_path, fake_gh, FAKE_HEAD="\t".join(other))
        assert result.returncode == 0, result.stderr
        assert not [c for c in calls if "POST" in c or "PATCH" in c]
        assert "not posting" in result.stdout


def test_a_long_plan_is_cut_at_a_line_boundary(tmp_path: Path, fake_gh: Path) -> None:
    """A plan over the comment's size is cut at a line, never inside one, and says so."""
    lay_out_plans(tmp_path, "42", "a" * 40)
    rows = "".join(f"| row {i} | {'x' * 80} |\n" for i in range(1000))
    (tmp_path / "plan" / "plan-staging" / "staging.md").write_text(
        f"staging: summary\n{rows}", encoding="utf-8"
    )
    result, _calls = run_comment(tmp_path, fake_gh)
    assert result.returncode == 0, result.stderr
    body = (tmp_path / "comment.md").read_text(encoding="utf-8")
    section = body.split("<summary><b>staging</b>")[1].split("</details>")[0]
    kept = [line for line in section.splitlines() if line.startswith("| row")]
    assert kept and all(line.endswith(" |") for line in kept), kept[-1]
    assert "cut here" in section and len(section.encode()) < 31000


def test_no_artifact_means_nothing_to_post(tmp_path: Path, fake_gh: Path) -> None:
    result, calls = run_comment(tmp_path, fake_gh)
    assert result.returncode == 0, result.stderr
    assert calls == [] and "nothing to post" in result.stdout


# --------------------------------------------------------------------------------------------
# The failure issue of the scheduled checks
# --------------------------------------------------------------------------------------------
FAKE_GH_ISSUES = r"""#!/usr/bin/env python3
import json, os, sys
args = sys.argv[1:]
with open(os.environ["GH_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
if args[:2] == ["issue", "list"]:
    print(os.environ.get("FAKE_OPEN_ISSUE", ""))
"""


def run_with_fake_gh(
    tmp_path: Path, job: str, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    """Run checks.yml's `job` first step under bash as Actions does, with a `gh` on PATH
    that logs its arguments; returns the result and the gh calls, in order."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(FAKE_GH_ISSUES, encoding="utf-8")
    gh.chmod(gh.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "gh.log"
    script = str(FLOWS["checks.yml"].jobs[job]["steps"][0]["run"])
    base = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "GH_LOG": str(log),
        "RUN_URL": "https://github.com/o/r/actions/runs/9",
    }
    result = subprocess.run(
        [BASH, "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=tmp_path,
    )
    return result, [json.loads(line) for line in log.read_text().splitlines()]


def run_report(
    tmp_path: Path, **env: str
) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    results = {"DAILY": "failure", "WEEKLY": "skipped", "MONTHLY": "skipped"}
    return run_with_fake_gh(tmp_path, "report", {**results, **env})


def test_a_failure_opens_an_issue_when_none_is_open(tmp_path: Path) -> None:
    result, calls = run_report(tmp_path)
    assert result.returncode == 0, result.stderr
    assert calls[0][:3] == ["label", "create", "scheduled-checks"]
    (create,) = [c for c in calls if c[:2] == ["issue", "create"]]
    body = create[create.index("--body") + 1]
    assert "daily (status, backup verify): **failure**" in body
    assert "https://github.com/o/r/actions/runs/9" in body
    assert not [c for c in calls if c[:2] == ["issue", "comment"]]


def test_a_failure_comments_on_the_open_issue(tmp_path: Path) -> None:
    result, calls = run_report(tmp_path, FAKE_OPEN_ISSUE="17")
    assert result.returncode == 0, result.stderr
    (comment,) = [c for c in calls if c[:2] == ["issue", "comment"]]
    assert comment[2] == "17"
    assert not [c for c in calls if c[:2] == ["issue", "create"]]


# --------------------------------------------------------------------------------------------
# The weekly security review's post
# --------------------------------------------------------------------------------------------
REPORT = (
    "Security report, stack production: 2026-11-30T00:00:00Z to 2026-12-07T07:00:00Z\n"
    "  Failed authentications (HTTP 401, 403 in field status): 3\n"
    "      /login $(touch pwned) \\x60\\x60\\x60  3"
)


def run_review_post(
    tmp_path: Path, **env: str
) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    return run_with_fake_gh(tmp_path, "security-review", {"REPORT": REPORT, **env})


def test_the_weekly_review_opens_an_issue_with_the_report_in_a_fence(tmp_path: Path) -> None:
    result, calls = run_review_post(tmp_path)
    assert result.returncode == 0, result.stderr
    assert calls[0][:3] == ["label", "create", "security-review"]
    (create,) = [c for c in calls if c[:2] == ["issue", "create"]]
    assert create[create.index("--label") + 1] == "security-review"
    body = (tmp_path / create[create.index("--body-file") + 1]).read_text(encoding="utf-8")
    assert "````text\n" + REPORT + "\n````" in body
    assert "https://github.com/o/r/actions/runs/9" in body
    assert not (tmp_path / "pwned").exists(), "the report's text must never run"


def test_the_weekly_review_comments_on_the_open_issue(tmp_path: Path) -> None:
    result, calls = run_review_post(tmp_path, FAKE_OPEN_ISSUE="23")
    assert result.returncode == 0, result.stderr
    (comment,) = [c for c in calls if c[:2] == ["issue", "comment"]]
    assert comment[2] == "23" and "--body-file" in comment
    assert not [c for c in calls if c[:2] == ["issue", "create"]]
