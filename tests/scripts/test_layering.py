"""The `spendsense` package has no import cycle between its modules.

The imports of every module under scripts/spendsense are read with `ast` (nothing is
imported): `import a.b`, `from a import b` and relative imports, at any depth (an import
inside a function is still a dependency), except those under `if TYPE_CHECKING:`, which never
run. A cycle is a strongly connected group of two or more modules; each must be broken by
moving what both sides share to a lower module both import, not by hiding an import in a
function.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
PACKAGE = "spendsense"

# Cycles that exist and are not broken yet; this set may only shrink (a cycle that is gone
# must be removed from it, so it cannot come back unnoticed).
KNOWN_CYCLES: set[frozenset[str]] = set()


def module_files(root: Path = SCRIPTS) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its `__init__.py`)."""
    modules: dict[str, Path] = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements under `node`, skipping the bodies of `if TYPE_CHECKING:`."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield from _runtime_imports(ast.Module(body=[other], type_ignores=[]))
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        yield from _runtime_imports(child)


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """`name` or its closest enclosing package that is a module of ours, if any."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str, modules: dict[str, Path]) -> set[str]:
    """The package's modules that `module` imports at run time."""
    path = modules[module]
    found: set[str] = set()
    for statement in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(statement, ast.Import):
            targets = [alias.name for alias in statement.names]
        else:
            base = statement.module or ""
            if statement.level:
                package = module if path.name == "__init__.py" else module.rpartition(".")[0]
                for _ in range(statement.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            # `from pkg import mod` imports the module pkg.mod; `from mod import name`, mod.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in statement.names
            ]
        found.update(target for name in targets if (target := _known(name, modules)))
    found.discard(module)
    return found


def import_graph(root: Path = SCRIPTS) -> dict[str, set[str]]:
    modules = module_files(root)
    return {module: imports_of(module, modules) for module in modules}


def cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected groups of two or more modules (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph.get(target, ())))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.add(frozenset(group))
    return found


def _describe(group: frozenset[str], graph: dict[str, set[str]]) -> str:
    edges = sorted(f"{a} -> {b}" for a in group for b in graph[a] if b in group)
    return f"{{{', '.join(sorted(group))}}}: " + "; ".join(edges)


def test_no_new_import_cycle_in_spendsense() -> None:
    graph = import_graph()
    new = {group for group in cycles(graph) if not any(group <= k for k in KNOWN_CYCLES)}
    assert not new, "import cycles in scripts/spendsense:\n" + "\n".join(
        _describe(group, graph) for group in sorted(new, key=sorted)
    )


def test_known_cycles_still_exist() -> None:
    """A known cycle that is gone leaves KNOWN_CYCLES, so the set only shrinks."""
    present = cycles(import_graph())
    gone = {k for k in KNOWN_CYCLES if not any(k <= group for group in present)}
    assert not gone, (
        f"remove from KNOWN_CYCLES, these cycles are broken: {sorted(map(sorted, gone))}"
    )


def write(root: Path, name: str, text: str) -> None:
    path = root / PACKAGE / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    write(tmp_path, "__init__.py", "")
    write(tmp_path, "ops/__init__.py", "")
    return tmp_path


def test_a_function_level_import_still_makes_a_cycle(tree: Path) -> None:
    write(tree, "ops/a.py", "from spendsense.ops.b import B\n")
    write(tree, "ops/b.py", "def f():\n    from spendsense.ops import a\n    return a\nB = 1\n")
    assert cycles(import_graph(tree)) == {frozenset({"spendsense.ops.a", "spendsense.ops.b"})}


def test_type_checking_imports_and_relative_imports(tree: Path) -> None:
    write(tree, "ops/a.py", "from typing import TYPE_CHECKING\nfrom .b import B\n")
    write(
        tree,
        "ops/b.py",
        "import typing\nif typing.TYPE_CHECKING:\n    from spendsense.ops.a import A\n"
        "else:\n    import spendsense.ops.c\nB = 1\n",
    )
    write(tree, "ops/c.py", "from ..ops import a\n")
    graph = import_graph(tree)
    assert graph["spendsense.ops.a"] == {"spendsense.ops.b"}
    assert graph["spendsense.ops.b"] == {"spendsense.ops.c"}  # not a: TYPE_CHECKING only
    assert graph["spendsense.ops.c"] == {"spendsense.ops.a"}
    assert cycles(graph) == {
        frozenset({"spendsense.ops.a", "spendsense.ops.b", "spendsense.ops.c"})
    }
