"""`spendsense.plan.providers`: a lean import gives the program the same objects as the
package's own __init__, imports only the modules it reads, and falls back to the full
__init__ (in its order) whenever a name is not where the code generator puts it.

The first tests use a small package laid out like the generated provider SDKs; the last ones
run the real command as its own process (the only way `plan` imports the SDKs lean) and
compare it with the plain import that the in-process tests use.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from spendsense.plan.providers import lean_import, lean_namespaces, module_candidates

from tests.scripts.plan.conftest import REPO, plan_json

Run = Callable[..., tuple[int, str, str]]
SPENDSENSE = Path(sys.executable).parent / "spendsense"


def _module(name: str, exports: list[str], *, body: str = "") -> str:
    classes = "\n".join(f"class {n}:\n    pass\n" for n in exports if not n[0].islower())
    functions = "\n".join(f"def {n}():\n    return {n!r}\n" for n in exports if n[0].islower())
    return (
        "from . import _utilities\n"
        f"__all__ = {exports!r}\n{classes}\n{functions}\n{textwrap.dedent(body)}"
    )


@pytest.fixture
def fake_sdk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A generated-looking package: star imports, `outputs`, a registration statement."""
    name = f"fake_sdk_{uuid.uuid4().hex[:8]}"
    root = tmp_path / name
    root.mkdir()
    (root / "__init__.py").write_text(
        textwrap.dedent(
            """\
            import builtins as _builtins
            from . import _utilities
            import typing
            from .metric_alarm import *
            from .log_group import *
            from .get_caller_identity import *
            from .first import *
            from .second import *
            from .oddly_named import *
            from ._inputs import *
            from . import outputs
            _utilities.REGISTERED.append(__name__)
            """
        )
    )
    (root / "_utilities.py").write_text("REGISTERED = []\n")
    (root / "outputs.py").write_text("from . import _utilities\nclass AlarmOutput:\n    pass\n")
    (root / "_inputs.py").write_text(_module("_inputs", ["AlarmDimensionArgs"]))
    (root / "metric_alarm.py").write_text(
        _module(
            "metric_alarm",
            ["MetricAlarmArgs", "MetricAlarm"],
            body="from . import outputs\nfrom ._inputs import *\n",
        )
    )
    (root / "log_group.py").write_text(_module("log_group", ["LogGroupArgs", "LogGroup"]))
    (root / "get_caller_identity.py").write_text(
        _module(
            "get_caller_identity",
            ["GetCallerIdentityResult", "get_caller_identity", "get_caller_identity_output"],
        )
    )
    # The same name in two modules: the later star import wins, as in the package's __init__.
    (root / "first.py").write_text(_module("first", ["Dup", "First"]))
    (root / "second.py").write_text(_module("second", ["Dup", "Second"]))
    (root / "oddly_named.py").write_text(_module("oddly_named", ["Surprise"]))
    namespace = root / "ns"
    namespace.mkdir()
    (namespace / "__init__.py").write_text(
        "from .. import _utilities\nfrom .topic import *\nfrom .queue import *\n"
        "from . import outputs\n"
    )
    (namespace / "outputs.py").write_text("")
    (namespace / "topic.py").write_text(
        "from .. import _utilities\nfrom . import outputs\n__all__ = ['Topic']\n"
        "class Topic:\n    pass\n"
    )
    (namespace / "queue.py").write_text(
        "from .. import _utilities\n__all__ = ['Queue']\nclass Queue:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        yield name
    finally:
        for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[module]


def _loaded(package: str) -> set[str]:
    return {m[len(package) + 1 :] for m in sys.modules if m.startswith(package + ".")}


def test_lean_import_runs_everything_but_the_star_imports(fake_sdk: str) -> None:
    package = lean_import(fake_sdk)
    assert package.__name__ == fake_sdk
    registered = sys.modules[f"{fake_sdk}._utilities"].REGISTERED
    assert registered == [fake_sdk], "the __init__'s other statements did not run"
    assert _loaded(fake_sdk) == {"_utilities", "outputs"}


def test_a_name_imports_only_the_module_named_after_it(fake_sdk: str) -> None:
    package = lean_import(fake_sdk)
    alarm = package.MetricAlarm
    assert alarm is sys.modules[f"{fake_sdk}.metric_alarm"].MetricAlarm
    assert package.MetricAlarmArgs is sys.modules[f"{fake_sdk}.metric_alarm"].MetricAlarmArgs
    assert package.get_caller_identity_output() == "get_caller_identity_output"
    assert _loaded(fake_sdk) == {
        "_utilities",
        "outputs",
        "_inputs",
        "metric_alarm",
        "get_caller_identity",
    }


def test_a_name_not_where_its_spelling_says_loads_the_whole_package_in_order(
    fake_sdk: str,
) -> None:
    package = lean_import(fake_sdk)
    assert package.Surprise is sys.modules[f"{fake_sdk}.oddly_named"].Surprise
    assert {"metric_alarm", "log_group", "first", "second"} <= _loaded(fake_sdk)
    assert package.Dup is sys.modules[f"{fake_sdk}.second"].Dup


def test_an_unknown_name_is_an_attribute_error(fake_sdk: str) -> None:
    package = lean_import(fake_sdk)
    assert not hasattr(package, "NoSuchResource")
    with pytest.raises(AttributeError, match="NoSuchResource"):
        _ = package.NoSuchResource


def test_the_sdks_lazy_namespaces_load_lean_on_first_use(fake_sdk: str) -> None:
    from pulumi._utils import lazy_import

    package = lean_import(fake_sdk)
    namespace: Any = lazy_import(f"{fake_sdk}.ns")
    assert lean_namespaces(package) == 1
    assert "ns.topic" not in _loaded(fake_sdk)
    topic = namespace.Topic
    assert topic is sys.modules[f"{fake_sdk}.ns.topic"].Topic
    assert "ns.queue" not in _loaded(fake_sdk)
    assert isinstance(namespace, ModuleType)


@pytest.mark.parametrize(
    ("name", "first"),
    [
        ("MetricAlarm", "metric_alarm"),
        ("MetricAlarmArgs", "metric_alarm"),
        ("MetricAlarmArgsDict", "metric_alarm"),
        ("IAMMember", "iam_member"),
        ("BucketIAMMember", "bucket_iam_member"),
        ("get_project_output", "get_project"),
        ("AutoScalingConfigurationVersion", "auto_scaling_configuration_version"),
    ],
)
def test_names_map_to_the_generated_module_names(name: str, first: str) -> None:
    assert next(iter(module_candidates(name))) == first


def _without_order(document: dict[str, Any]) -> dict[str, Any]:
    """Resources and violations as sets: the runtime registers resources concurrently."""
    document = dict(document)
    document["resources"] = sorted(document["resources"], key=lambda r: r["urn"])
    document["violations"] = sorted(
        document["violations"], key=lambda v: json.dumps(v, sort_keys=True)
    )
    return document


def _plan_process(*args: str) -> subprocess.CompletedProcess[str]:
    if not SPENDSENSE.exists():
        pytest.fail(f"{SPENDSENSE} is missing: the package is not installed in this venv")
    env = {k: v for k, v in os.environ.items() if k != "SPENDSENSE_DEBUG"}
    return subprocess.run(
        [str(SPENDSENSE), "plan", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_the_whole_process_plan_equals_the_plain_import(run_cli: Run) -> None:
    """`spendsense plan` as its own process (lean providers, early exit) plans the same stack,
    the same violations and outputs, as the in-process run that imports the SDKs normally."""
    lean = _plan_process("--stack", "production", "--json")
    assert lean.returncode == 0, lean.stderr
    code, out, err = run_cli("plan", "--stack", "production", "--json")
    assert code == 0, err
    assert _without_order(plan_json(lean.stdout)) == _without_order(plan_json(out))


def test_the_whole_process_plan_keeps_exit_code_and_error_line(
    broken_config: Callable[..., Path],
) -> None:
    """The early exit still prints everything and exits 1 with the one-line error."""
    done = _plan_process(
        "--stack",
        "production",
        "--config",
        str(broken_config("spendsense:backup.schedule", "0 3 * * *")),
    )
    assert done.returncode == 1, done.stderr
    assert "error: production: 1 mandatory policy violation(s): gcp-firestore-export-schedule" in (
        done.stderr
    )
    assert done.stdout.rstrip().endswith("production: FAILED: 1 mandatory violation(s), 0 advisory")
