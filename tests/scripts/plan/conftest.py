"""`spendsense plan` tests: the real program, the real pack (one process per session).

`run_cli` runs the real command in-process; the pack it would start is replaced by the
session's pack (started the same way), so each plan costs only the program's run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from spendsense.cli import main
from spendsense.plan import preview
from spendsense.plan.analyzer import PolicyPackProcess

REPO = Path(__file__).resolve().parents[3]


class _Shared(PolicyPackProcess):
    """The session's pack, which a plan must not kill."""

    def __init__(self, real: PolicyPackProcess) -> None:
        self.__dict__.update(real.__dict__)

    def close(self) -> None:
        pass


@pytest.fixture(scope="session")
def session_pack() -> Iterator[PolicyPackProcess]:
    pack = PolicyPackProcess.start()
    try:
        pack.connect(timeout=60)
        yield pack
    finally:
        pack.close()


_PLANS: dict[tuple[str, str, str], preview.PlanResult] = {}
_real_run_plan = preview.run_plan


def _cached_run_plan(
    stack: str, config_file: str | None = None, **kwargs: Any
) -> preview.PlanResult:
    """The same stack file planned twice gives the same result: run the program once."""
    text = (
        Path(config_file).read_text()
        if config_file and Path(config_file).is_file()
        else str(config_file)
    )
    project = kwargs.get("project")
    key = (stack, text, project.name if project is not None else "")
    if key not in _PLANS:
        _PLANS[key] = _real_run_plan(stack, config_file, **kwargs)
    return _PLANS[key]


@pytest.fixture
def run_cli(
    session_pack: PolicyPackProcess,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Callable[..., tuple[int, str, str]]:
    monkeypatch.setattr(
        preview.PolicyPackProcess, "start", classmethod(lambda cls, *a, **k: _Shared(session_pack))
    )
    monkeypatch.setattr(preview, "run_plan", _cached_run_plan)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def broken_config(tmp_path: Path) -> Callable[..., Path]:
    """A temp copy of a real stack file with one setting changed (the real file is untouched)."""

    def write(key: str, value: Any, *, stack: str = "production") -> Path:
        document = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())
        namespace_key, _, field = key.partition(".")
        if field:
            document["config"][namespace_key][field] = value
        else:
            document["config"][namespace_key] = value
        path = tmp_path / f"Pulumi.{stack}.broken.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return path

    return write


def plan_json(out: str) -> dict[str, Any]:
    document = json.loads(out)
    assert isinstance(document, dict)
    return document
