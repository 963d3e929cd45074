"""Nothing in the repository cites a file that a clone of it does not have.

The project was started from a brief and a list of measured facts kept outside the repository;
their content now lives in docs/design.md. A reference to those files (or to the folder they
came from) is a dead link for everyone else, so every file git tracks, or would track (new,
not ignored), is searched for their names. The names are assembled here so that this file does
not match itself.
"""

from __future__ import annotations

from pathlib import Path

from tests.docs.repository import REPO_ROOT, repository_files

FORBIDDEN = tuple(
    name.encode()
    for name in (
        "DESIGN" + ".md",
        "FACTS" + ".md",
        "HOUSE_" + "STYLE",
        ".." + "/shared",
        "/work" + "/shared",
        # Absolute paths of one person's machine or of this workplace: dead for everyone else.
        "/" + "Users/",
        "/" + "home/",
        "/work" + "/main",
        "/work" + "/wt/",
    )
)


def citations(path: Path, root: Path = REPO_ROOT) -> list[str]:
    """`file:line: text` for each line of `path` that names a file outside the repository."""
    found: list[str] = []
    for number, line in enumerate(path.read_bytes().splitlines(), 1):
        if any(name in line for name in FORBIDDEN):
            text = line.decode("utf-8", "replace").strip()[:120]
            found.append(f"{path.relative_to(root)}:{number}: {text}")
    return found


def test_the_search_sees_the_repository() -> None:
    files = {path.relative_to(REPO_ROOT).as_posix() for path in repository_files()}
    assert {"README.md", "docs/design.md", "infra/settings/__init__.py", "pyproject.toml"} <= files


def test_nothing_cites_files_outside_the_repository() -> None:
    found = [hit for path in repository_files() for hit in citations(path)]
    assert not found, (
        "these lines cite files a clone does not have; point them at docs/design.md#<anchor> "
        "instead:\n" + "\n".join(found)
    )


def test_the_search_finds_a_citation(tmp_path: Path) -> None:
    """The check itself can fail: a line naming the brief is reported with its place."""
    sample = tmp_path / "docs" / "page.md"
    sample.parent.mkdir()
    sample.write_text("intro\nsee " + "DESIGN" + ".md, contract 2\nend\n", encoding="utf-8")
    assert citations(sample, tmp_path) == ["docs/page.md:2: see " + "DESIGN" + ".md, contract 2"]


def test_the_search_finds_a_machine_path(tmp_path: Path) -> None:
    """A path of one machine (a home folder, this workplace's checkout) is reported too."""
    sample = tmp_path / "docs" / "page.md"
    sample.parent.mkdir()
    line = "cd /" + "Users/someone/dev/SpendSense/api"
    sample.write_text(f"intro\n{line}\n", encoding="utf-8")
    assert citations(sample, tmp_path) == [f"docs/page.md:2: {line}"]
