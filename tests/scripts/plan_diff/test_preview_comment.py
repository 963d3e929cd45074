"""The preview-comment workflow's script (.github/workflows/preview-comment.yml), run with bash
and a local `gh` that answers the pull-request call in the shape `--jq` gives (tab-separated)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from .conftest import REPO

GH = """#!/bin/sh
case "$*" in
  *"/pulls/"*) printf '%s\\t%s\\t%s\\n' "$PR_SHA" "$PR_REPO" "$PR_REF" ;;
  *"--method POST"*) echo posted >> "$POSTED"; cat "$(pwd)/comment.md" > "$POSTED.body" ;;
esac
"""


def _script() -> str:
    flow = yaml.safe_load((REPO / ".github/workflows/preview-comment.yml").read_text())
    (step,) = [s for s in flow["jobs"]["comment"]["steps"] if "run" in s]
    return str(step["run"])


def _run(tmp_path: Path, pr_repo: str, pr_ref: str, lines: int = 3) -> tuple[str, str]:
    (tmp_path / "bin").mkdir()
    gh = tmp_path / "bin" / "gh"
    gh.write_text(GH)
    gh.chmod(0o755)
    for stack in ("staging", "production"):
        folder = tmp_path / "plan" / f"plan-{stack}"
        folder.mkdir(parents=True)
        (folder / "pr-number").write_text("7\n")
        rows = "".join(f"| row {i} | {'x' * 80} |\n" for i in range(lines))
        (folder / f"{stack}.md").write_text(f"{stack}: summary\n{rows}")
        (folder / f"{stack}.exit").write_text("0")
    env = {
        **os.environ,
        "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "GH_REPO": "owner/repo",
        "HEAD_SHA": "a" * 40,
        "HEAD_REPO": "fork/repo",
        "HEAD_BRANCH": "feature",
        "RUN_URL": "https://example.invalid/run",
        "CONCLUSION": "success",
        "PR_SHA": "a" * 40,
        "PR_REPO": pr_repo,
        "PR_REF": pr_ref,
        "POSTED": str(tmp_path / "posted"),
    }
    done = subprocess.run(
        ["bash", "-c", _script()], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    body = tmp_path / "posted.body"
    return done.stdout, body.read_text() if body.exists() else ""


def test_the_comment_is_posted_for_the_runs_own_pull_request(tmp_path: Path) -> None:
    out, body = _run(tmp_path, "fork/repo", "feature")
    assert "created the plan comment on #7" in out and "| row 2 |" in body


def test_a_pull_request_of_another_repository_or_branch_gets_no_comment(tmp_path: Path) -> None:
    for case, (repo, ref) in enumerate([("other/repo", "feature"), ("fork/repo", "main")]):
        (tmp_path / str(case)).mkdir()
        out, body = _run(tmp_path / str(case), repo, ref)
        assert body == "" and "not posting" in out, (repo, ref)


def test_a_long_plan_is_cut_at_a_line_boundary(tmp_path: Path) -> None:
    _out, body = _run(tmp_path, "fork/repo", "feature", lines=1000)
    section = body.split("<summary><b>staging</b>")[1].split("</details>")[0]
    rows = [line for line in section.splitlines() if line.startswith("| row")]
    assert rows and all(line.endswith(" |") for line in rows), rows[-1]
    assert "cut here" in section and len(section.encode()) < 31000
