"""`make bench`, plan against a base: `plan --stack production --base HEAD~1` next to a plain plan.

A temporary git repository holds this project's files (tracked and new, not ignored) in two
commits, the second changing one threshold (production `monitoring.latencyP95Ms`). In it, the
cold wall time of `spendsense plan --stack production` and of the same with `--base HEAD~1`
(which also plans the first commit, from a temporary worktree, in a second process that runs
beside the head's plan), runs of the two alternating so other load hits both alike. The goal:
the plan with a base takes at most 2x the plain plan.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
GOAL = 2.0
BASED = ("--base", "HEAD~1")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        env={**os.environ, **GIT_ENV},
    )


def make_repository(target: Path) -> Path:
    """Two commits: the project as it is, then one threshold changed."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-co", "--exclude-standard", "-z"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    _git(target, "init", "--quiet")
    _git(target, "add", "-A")
    _git(target, "commit", "--quiet", "-m", "base")
    stack = target / "Pulumi.production.yaml"
    text = stack.read_text()
    if "latencyP95Ms: 500" not in text:
        raise SystemExit("bench: Pulumi.production.yaml has no `latencyP95Ms: 500` to change")
    stack.write_text(text.replace("latencyP95Ms: 500", "latencyP95Ms: 450"))
    _git(target, "commit", "--quiet", "-am", "a threshold")
    return target


def _one(repo: Path, *extra: str) -> tuple[float, int]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(repo / "scripts"), str(repo)])
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "spendsense", "plan", "--stack", "production", *extra],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return time.perf_counter() - start, done.returncode


def check_base_diff(repo: Path, codes: set[int]) -> None:
    """The timed runs gave a verdict (exit 0/1), and --base found the one change: a broken
    --base (an error, or no diff) must not pass the goal by being fast."""
    if not codes <= {0, 1}:
        raise SystemExit(f"bench: plan exited {sorted(codes)}; expected 0 or 1 (a verdict)")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(repo / "scripts"), str(repo)])
    done = subprocess.run(
        [sys.executable, "-m", "spendsense", "plan", "--stack", "production", *BASED, "--json"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode not in (0, 1):
        raise SystemExit(f"bench: plan --base exited {done.returncode}: {done.stderr.strip()}")
    changes = [c for c in json.loads(done.stdout)["changes"] if c["op"] != "same"]
    updates = [
        c for c in changes if c["op"] == "update" and not c["type"].startswith("spendsense:")
    ]
    expected = {"path": "threshold", "old": 500, "new": 450}
    if len(changes) != len(updates) or len(updates) != 1 or expected not in updates[0]["diffs"]:
        found = [(c["op"], c["name"], c["diffs"]) for c in changes]
        raise SystemExit(f"bench: --base should find exactly one update (threshold); got {found}")


def base_diff(runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="spendsense-bench-") as tmp:
        repo = make_repository(Path(tmp) / "repo")
        plain, based, codes = [], [], set()
        for _ in range(runs):
            wall, code = _one(repo)
            plain.append(wall)
            codes.add(code)
            wall, code = _one(repo, "--base", "HEAD~1")
            based.append(wall)
            codes.add(code)
        check_base_diff(repo, codes)
    ratio = statistics.median(based) / statistics.median(plain)
    return {
        "runs": runs,
        "plain_median_s": round(statistics.median(plain), 3),
        "base_median_s": round(statistics.median(based), 3),
        "base_min_s": round(min(based), 3),
        "ratio": round(ratio, 2),
        "goal_ratio": GOAL,
        "exit_codes": sorted(codes),
    }


def print_base_diff(result: dict[str, Any]) -> None:
    met = "met" if result["ratio"] <= result["goal_ratio"] else "NOT met"
    print(
        f"\nplan --stack production --base HEAD~1 (one threshold changed), cold: median "
        f"{result['base_median_s']:.2f} s (min {result['base_min_s']:.2f}) vs "
        f"{result['plain_median_s']:.2f} s without a base, {result['runs']} alternating runs, "
        f"exit {result['exit_codes']}: {result['ratio']:.2f}x (goal <= {GOAL:g}x: {met})"
    )


if __name__ == "__main__":
    print_base_diff(base_diff(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
