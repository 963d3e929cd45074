"""No module of the program, the policy pack or the CLI grows past 450 non-blank lines.

A module that long mixes concerns: split it along its seams into well-named modules instead
(tests are exempt). Modules over the limit today are listed in KNOWN_OVERSIZE with their
current size, which may only shrink: a listed module that is back under the limit, or that
grew, fails the test, so the list cannot hide new growth.
"""

from __future__ import annotations

from pathlib import Path

from spendsense.repo import repo_root

LIMIT = 450
ROOTS = ("infra", "policies", "scripts")
SKIPPED_PARTS = {".venv", "__pycache__", "node_modules", ".mypy_cache"}

# module (relative path) -> its non-blank lines when it was listed. infra/settings.py is being
# split by its owner (issue 15 item 4); remove it from here when that lands.
KNOWN_OVERSIZE: dict[str, int] = {}


def non_blank_lines(path: Path) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def module_sizes(root: Path) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for top in ROOTS:
        for path in sorted((root / top).rglob("*.py")):
            relative = path.relative_to(root)
            if SKIPPED_PARTS.intersection(relative.parts):
                continue
            sizes[relative.as_posix()] = non_blank_lines(path)
    return sizes


def test_non_blank_lines_counts_what_it_says(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("a = 1\n\n   \n\tb = 2\n# a comment counts\n")
    assert non_blank_lines(module) == 3


def test_the_walk_finds_the_package_modules() -> None:
    sizes = module_sizes(repo_root())
    for expected in ("infra/program.py", "scripts/spendsense/cli.py"):
        assert expected in sizes
    assert not any(".venv" in name for name in sizes)


def test_no_module_is_over_the_limit() -> None:
    sizes = module_sizes(repo_root())
    over = {name: size for name, size in sizes.items() if size > LIMIT}
    new = {name: size for name, size in over.items() if name not in KNOWN_OVERSIZE}
    assert new == {}, f"modules over {LIMIT} non-blank lines: split them along their seams"
    grown = {
        name: (KNOWN_OVERSIZE[name], size)
        for name, size in over.items()
        if name in KNOWN_OVERSIZE and size > KNOWN_OVERSIZE[name]
    }
    assert grown == {}, "a known oversize module grew (listed size, now): it may only shrink"
    fixed = sorted(name for name in KNOWN_OVERSIZE if sizes.get(name, 0) <= LIMIT)
    assert fixed == [], f"back under {LIMIT} (or gone): remove from KNOWN_OVERSIZE"
