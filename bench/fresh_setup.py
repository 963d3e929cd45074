"""`make bench-setup`: how long `make setup` takes on a fresh machine, with uv and with pip.

Each installer gets a new virtualenv in a temporary folder and an empty download cache, so the
numbers include resolving and downloading every package, as on a clean CI runner. The two are
run one after the other (never in parallel: 2 cores), and the installed package sets are
compared, so "faster" cannot mean "installed something else".

Usage: python bench/fresh_setup.py [--skip-pip] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = "python3"
TARGETS = ["-e", ".[dev]", "-r", "policies/requirements.txt"]


def _run(command: list[str], env: dict[str, str] | None = None) -> None:
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"bench-setup: {' '.join(command[:4])} ... failed:\n{done.stderr[-2000:]}")


def _freeze(venv: Path) -> set[str]:
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {line for line in done.stdout.splitlines() if not line.startswith("uv==")}


def fresh_install(installer: str, workdir: Path) -> tuple[float, set[str]]:
    import os

    venv = workdir / f"venv-{installer}"
    env = dict(os.environ)
    env["UV_CACHE_DIR"] = str(workdir / "uv-cache")
    env["PIP_NO_CACHE_DIR"] = "1"
    start = time.perf_counter()
    _run([PYTHON, "-m", "venv", str(venv)])
    python = str(venv / "bin" / "python")
    if installer == "uv":
        _run([python, "-m", "pip", "install", "--quiet", "uv>=0.5,<1"], env)
        _run(
            [str(venv / "bin" / "uv"), "pip", "install", "--quiet", "--python", python, *TARGETS],
            env,
        )
    else:
        _run([python, "-m", "pip", "install", "--quiet", *TARGETS], env)
    return time.perf_counter() - start, _freeze(venv)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--skip-pip", action="store_true", help="measure uv only (pip takes minutes)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, float] = {}
    packages: dict[str, set[str]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-setup-") as tmp:
        for installer in ["uv"] if args.skip_pip else ["uv", "pip"]:
            seconds, installed = fresh_install(installer, Path(tmp))
            results[installer], packages[installer] = seconds, installed
    same = len(packages) < 2 or packages["uv"] == packages["pip"]
    if args.json:
        print(json.dumps({"seconds": results, "same_packages": same}, indent=2))
        return
    for installer, seconds in results.items():
        print(
            f"fresh install with {installer}: {seconds:.1f} s ({len(packages[installer])} packages)"
        )
    if len(packages) == 2:
        print("same package versions: " + ("yes" if same else "NO"))
        if not same:
            print("  only uv:  " + ", ".join(sorted(packages["uv"] - packages["pip"])))
            print("  only pip: " + ", ".join(sorted(packages["pip"] - packages["uv"])))
            sys.exit(1)


if __name__ == "__main__":
    main()
