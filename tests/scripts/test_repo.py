"""`spendsense.repo`: one repository locator, independent of where the package is installed."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from spendsense.errors import BadInput
from spendsense.repo import REPO_ENV, find_repo_root, repo_root

ROOT = repo_root()  # pytest runs from the checkout
SPENDSENSE = Path(sys.executable).with_name("spendsense")


def test_the_root_holds_pulumi_yaml_and_pyproject_toml() -> None:
    assert (ROOT / "Pulumi.yaml").is_file()
    assert (ROOT / "pyproject.toml").is_file()


def test_from_the_ci_trust_project_the_root_is_still_the_checkout() -> None:
    """infra/ci_trust has its own Pulumi.yaml: it must not be taken for the root."""
    trust = ROOT / "infra" / "ci_trust"
    assert (trust / "Pulumi.yaml").is_file()
    assert find_repo_root(trust, environ={}) == ROOT
    assert find_repo_root(ROOT / "scripts" / "spendsense" / "ops", environ={}) == ROOT


def test_the_environment_variable_wins(tmp_path: Path) -> None:
    for marker in ("Pulumi.yaml", "pyproject.toml"):
        (tmp_path / marker).write_text("")
    assert find_repo_root(ROOT, environ={REPO_ENV: str(tmp_path)}) == tmp_path.resolve()


def test_a_bad_environment_variable_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as caught:
        find_repo_root(ROOT, environ={REPO_ENV: str(tmp_path)})
    message = str(caught.value)
    assert "\n" not in message
    assert f"{REPO_ENV}={tmp_path}" in message and "not a SpendSense checkout" in message


def test_outside_a_checkout_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("")  # a Pulumi project, but not this repository
    with pytest.raises(BadInput) as caught:
        find_repo_root(tmp_path, environ={})
    assert "not inside a SpendSense checkout" in str(caught.value)
    assert REPO_ENV in str(caught.value)


def _installed(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    assert SPENDSENSE.is_file() or shutil.which("spendsense"), "spendsense is not installed"
    command = str(SPENDSENSE) if SPENDSENSE.is_file() else "spendsense"
    return subprocess.run(
        [command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_installed_command_outside_a_checkout_fails_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != REPO_ENV}
    env["HOME"] = str(tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    done = _installed("plan", "--stack", "staging", cwd=outside, env=env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("error: not inside a SpendSense checkout")
    assert "Traceback" not in done.stderr
    # --help needs no checkout
    assert _installed("--help", cwd=outside, env=env).returncode == 0
    # pointed at the checkout, the same command finds it from anywhere
    env[REPO_ENV] = str(ROOT)
    done = _installed("window", "--help", cwd=outside, env=env)
    assert done.returncode == 0, done.stderr


# The one module of the Pulumi program that locates files (the checkout and the program's own
# files); everything else in infra/ imports its names.
INFRA_LOCATOR = "infra/paths.py"


def _locating(path: Path) -> list[int]:
    """Lines that find files from the module's own location: `__file__`, or importlib.resources."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            imported = [node.module or ""]
        elif isinstance(node, ast.Import):
            imported = [alias.name for alias in node.names]
        else:
            imported = []
        if "importlib.resources" in imported or (
            isinstance(node, ast.Name) and node.id == "__file__"
        ):
            lines.append(node.lineno)
    return lines


def test_no_module_locates_files_from_its_own_path() -> None:
    """One import root: nothing under scripts/spendsense finds the repository from `__file__`."""
    offenders = []
    for path in sorted((ROOT / "scripts" / "spendsense").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id == "__file__":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_infra_locates_files_in_one_module_only() -> None:
    """In the Pulumi program only infra/paths.py locates files (from the package's location);
    a module computing its own `Path(__file__)...` or reaching for importlib.resources fails."""
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted((ROOT / "infra").rglob("*.py"))
        if path.relative_to(ROOT).as_posix() != INFRA_LOCATOR
        for line in _locating(path)
    ]
    assert offenders == []
    assert _locating(ROOT / INFRA_LOCATOR), f"{INFRA_LOCATOR} is no longer the locator"


def test_the_infra_locator_finds_this_checkout_and_the_programs_files() -> None:
    from infra.paths import REPO_ROOT, program_file

    assert REPO_ROOT == ROOT
    assert program_file("workflows", "firestore_export.yaml").is_file()
    assert (program_file("functions", "jwt_rotation") / "handler.py").is_file()
