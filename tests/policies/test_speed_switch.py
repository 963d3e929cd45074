"""`SPENDSENSE_PACK_SPEED=0` runs the pack on the plain pulumi-policy SDK (speed.py left out),
so `make bench` can show what speed.py is worth; a bad value stops the pack with one line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from spendsense.plan.analyzer import PackError, PolicyPackProcess
from spendsense.repo import pack_dir
from spendsense_policies import speed

PACK_DIR = pack_dir()
# What the pack's own __main__.py builds, with PolicyPack replaced so it does not serve.
PROBE = """
import runpy

import pulumi_policy

built = {}


class NotServed:
    def __init__(self, **kwargs):
        built.update(kwargs)


pulumi_policy.PolicyPack = NotServed
runpy.run_path("__main__.py", run_name="__main__")
from pulumi_policy import policy as sdk

print(type(sdk.json_format).__name__, type(built["policies"]).__name__)
"""


def _pack_built_with(value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != speed.ENV}
    if value is not None:
        env[speed.ENV] = value
    env.pop("PYTHONPATH", None)  # as the engine starts it: the pack stands on its own
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=PACK_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_the_pack_runs_the_plain_sdk_with_speed_off() -> None:
    assert _pack_built_with("0") == "module list"
    assert _pack_built_with(None) == "_JsonFormat _Relevant"
    assert _pack_built_with("1") == "_JsonFormat _Relevant"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("", True), ("on", True), ("0", False), ("off", False), (" FALSE ", False)],
)
def test_speed_switch_values(value: str, expected: bool) -> None:
    assert speed.enabled({speed.ENV: value}) is expected
    assert speed.enabled({}) is True


def test_a_bad_switch_stops_the_pack_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(speed.ENV, "fast")
    with PolicyPackProcess.start() as pack, pytest.raises(PackError) as failed:
        pack.connect(timeout=60)
    message = str(failed.value)
    assert "SPENDSENSE_PACK_SPEED is 'fast'; expected 1" in message
    assert "\n" not in message and "Traceback" not in message
