"""Import the provider SDKs lean: only the modules the program actually uses.

Most of `spendsense plan`'s time is importing pulumi_aws, pulumi_gcp and pulumiverse_vercel.
Their packages are generated: a namespace's ``__init__.py`` (``pulumi_aws.cloudwatch``, or the
whole of ``pulumiverse_vercel``) is a list of ``from .<module> import *``, one per resource or
function of the namespace, and every one of those modules builds its classes and evaluates
their type annotations when imported. pulumi_aws and pulumi_gcp already load each namespace
on first use; the program then uses 1 to 7 of the namespace's 20 to 120 modules.

`lean_import(package)` (and `lean_namespaces(package)` for the namespaces the SDK loads lazily)
runs a package's ``__init__.py`` without its ``from .<module> import *`` lines, keeping every
other statement (``from . import outputs``, the resource-module registration, ...), and gives
the package a module ``__getattr__`` (PEP 562) that imports the module defining a name the
first time that name is read: ``aws.cloudwatch.MetricAlarm`` imports
``pulumi_aws.cloudwatch.metric_alarm`` (generated modules are named after their resources),
``MetricAlarmArgs`` the same module, ``get_caller_identity_output`` ``get_caller_identity``.
A name that is not where its spelling says, or any doubt (a module without ``__all__``, a
dunder), runs the remaining star imports in their original order, exactly as the package's
own ``__init__`` would have, so the program sees the same objects either way; only modules
it never touches are left unimported. Nothing is cached between runs.

Only `spendsense plan` uses this, and only when it is the whole process: the program itself
(infra/) imports the SDKs normally, and so does the engine.
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import re
import sys
import threading
import types
from collections.abc import Iterator
from typing import Any

_CAMEL_RUN = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_SUFFIXES = ("ArgsDict", "Args")
_lock = threading.RLock()


def _snake(name: str) -> str:
    return _CAMEL.sub(r"\1_\2", _CAMEL_RUN.sub(r"\1_\2", name)).lower()


def module_candidates(name: str) -> Iterator[str]:
    """The modules that, by the code generator's naming, may define `name` (most likely first)."""
    if name.endswith("_output"):
        yield name[: -len("_output")]
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            yield _snake(name[: -len(suffix)])
            break
    yield _snake(name)
    yield "_inputs"
    yield "_enums"


class _Lean:
    """The state of one lean package: its star-imported modules, in their original order."""

    def __init__(self, module: types.ModuleType, stars: list[str]) -> None:
        self.module = module
        self.stars = stars
        self.done: set[str] = set()  # star modules whose names are bound
        self.complete = False

    def bind(self, submodule: str) -> None:
        """``from .submodule import *``, as the package's __init__ would have done it."""
        loaded = importlib.import_module(f"{self.module.__name__}.{submodule}")
        names = getattr(loaded, "__all__", None)
        if names is None:
            names = [n for n in vars(loaded) if not n.startswith("_")]
        namespace = vars(self.module)
        for name in names:
            namespace[name] = getattr(loaded, name)
        self.done.add(submodule)

    def complete_load(self) -> None:
        """Every remaining star import, in order: the package as its own __init__ builds it."""
        if self.complete:
            return
        self.complete = True
        namespace = vars(self.module)
        for submodule in self.stars:
            # Re-binding in order also restores the original winner of a name two modules export.
            loaded = importlib.import_module(f"{self.module.__name__}.{submodule}")
            names = getattr(loaded, "__all__", None)
            if names is None:
                names = [n for n in vars(loaded) if not n.startswith("_")]
            for name in names:
                namespace[name] = getattr(loaded, name)
            self.done.add(submodule)

    def resolve(self, name: str) -> Any:
        with _lock:
            namespace = vars(self.module)
            if name in namespace:
                return namespace[name]
            if not name.startswith("__"):
                if self._is_submodule(name):
                    # `from . import outputs`, `from . import _utilities`, `ns.some_module`
                    loaded = importlib.import_module(f"{self.module.__name__}.{name}")
                    if name in self.stars and name not in self.done:
                        self.bind(name)
                    return namespace.get(name, loaded)
                if not self.complete:
                    for candidate in module_candidates(name):
                        if candidate in self.stars and candidate not in self.done:
                            loaded = importlib.import_module(f"{self.module.__name__}.{candidate}")
                            exported = getattr(loaded, "__all__", None)
                            if exported is not None and name in exported:
                                # Bind the whole module, as `from .candidate import *` would.
                                self.bind(candidate)
                                return namespace[name]
            self.complete_load()
            if name in namespace:
                return namespace[name]
        raise AttributeError(f"module {self.module.__name__!r} has no attribute {name!r}")

    def _is_submodule(self, name: str) -> bool:
        if name in self.stars:
            return True
        return importlib.util.find_spec(f"{self.module.__name__}.{name}") is not None


def _split_init(source: str, filename: str) -> tuple[types.CodeType, list[str]]:
    """The __init__'s code without its ``from .x import *`` statements, and those x in order."""
    tree = ast.parse(source, filename)
    stars: list[str] = []
    body: list[ast.stmt] = []
    for statement in tree.body:
        if (
            isinstance(statement, ast.ImportFrom)
            and statement.level == 1
            and statement.module
            and [alias.name for alias in statement.names] == ["*"]
        ):
            stars.append(statement.module)
        else:
            body.append(statement)
    tree.body = body
    return compile(tree, filename, "exec", dont_inherit=True), stars


class LeanLoader(importlib.abc.Loader):
    """Runs a package's __init__ without its star imports; names resolve on first use."""

    def __init__(self, loader: importlib.machinery.SourceFileLoader) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        spec = module.__spec__
        assert spec is not None and spec.origin is not None
        # The SDK's own loader stays in place for anything that reloads the module.
        spec.loader = self.loader
        module.__loader__ = self.loader
        source = self.loader.get_data(spec.origin).decode("utf-8")
        code, stars = _split_init(source, spec.origin)
        lean = _Lean(module, stars)
        module.__dict__["__getattr__"] = lean.resolve
        exec(code, module.__dict__)  # the package's own __init__, minus its star imports


def lean_import(package: str) -> types.ModuleType:
    """Import `package` lean (see the module docstring); as is if it is already imported."""
    if package in sys.modules:
        return sys.modules[package]
    spec = importlib.util.find_spec(package)
    if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
        return importlib.import_module(package)
    lean = LeanLoader(spec.loader)
    spec.loader = lean
    module = importlib.util.module_from_spec(spec)
    sys.modules[package] = module
    try:
        lean.exec_module(module)
    except BaseException:
        sys.modules.pop(package, None)
        raise
    return module


def lean_namespaces(package: types.ModuleType) -> int:
    """Make the SDK's lazily imported namespaces of `package` load lean when first used."""
    from pulumi._utils import _LazyModule

    prefix = package.__name__ + "."
    count = 0
    for name, module in list(sys.modules.items()):
        if not name.startswith(prefix) or type(module) is not _LazyModule:
            continue
        spec = types.ModuleType.__getattribute__(module, "__spec__")
        if isinstance(spec.loader, importlib.machinery.SourceFileLoader) and spec.origin:
            spec.loader = LeanLoader(spec.loader)
            count += 1
    return count


def import_lean() -> None:
    """Import the provider SDKs lean, unless something already imported them.

    pulumi_aws and pulumi_gcp import their root package as usual (its ``__init__`` is mostly
    the registration of every resource module: parsing it would cost more than it saves) and
    load each namespace lean on first use; pulumiverse_vercel, which has no namespaces and
    imports all of itself, is imported lean as a whole.
    """
    for package in ("pulumi_aws", "pulumi_gcp"):
        if package not in sys.modules:
            lean_namespaces(importlib.import_module(package))
    lean_import("pulumiverse_vercel")
