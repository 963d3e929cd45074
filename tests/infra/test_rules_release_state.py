"""Existing stacks' state keeps working: the dynamic providers unpickle as the engine does it.

`pulumi.dynamic.Resource` stores its provider in the state as `__provider`: base64 of
`dill.dumps(provider, recurse=True)` (pulumi.dynamic.dynamic.serialize_provider). dill pickles
a class from an importable module by reference (module path and class name), so the engine's
provider process (`python -m pulumi.dynamic`, pulumi.dynamic.__main__.get_provider:
`dill.loads(base64.b64decode(...))`) must be able to import that exact module for every later
update, refresh and destroy. The strings below are what stacks deployed today hold; moving or
renaming a module, or a class, breaks this test, as it would break those stacks.

The round trip runs in a fresh interpreter started outside the repository (so only the
installed package can answer the import, not the working directory).
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from infra.components.first_key import FirstKeyProvider
from infra.components.log_retention import LogRetentionProvider
from infra.components.rules_release import RulesReleaseProvider

# `__provider` as `pulumi up` stored it (serialize_provider of each provider, December 2026).
IN_STATE = {
    "infra.components.rules_release.RulesReleaseProvider": (
        "gASVPgAAAAAAAACMHmluZnJhLmNvbXBvbmVudHMucnVsZXNfcmVsZWFzZZSMFFJ1bGVzUmVsZWFzZVByb3ZpZGVy"
        "lJOUKYGULg=="
    ),
    "infra.components.first_key.FirstKeyProvider": (
        "gASVNgAAAAAAAACMGmluZnJhLmNvbXBvbmVudHMuZmlyc3Rfa2V5lIwQRmlyc3RLZXlQcm92aWRlcpSTlCmBlC4="
    ),
    "infra.components.log_retention.LogRetentionProvider": (
        "gASVPgAAAAAAAACMHmluZnJhLmNvbXBvbmVudHMubG9nX3JldGVudGlvbpSMFExvZ1JldGVudGlvblByb3ZpZGVy"
        "lJOUKYGULg=="
    ),
}

# What the engine's provider process does with a state's `__provider` (get_provider).
ENGINE = """
import base64, json, sys
import dill
from pulumi.dynamic import Config, ConfigureRequest, ResourceProvider
out = {}
for key, text in json.loads(sys.stdin.read()).items():
    provider = dill.loads(base64.b64decode(text))
    assert isinstance(provider, ResourceProvider), key
    provider.configure(ConfigureRequest(Config({}, "spendsense")))
    kind = type(provider)
    out[key] = kind.__module__ + "." + kind.__qualname__
print(json.dumps(out))
"""


def unpickle_outside_the_repository(tmp_path: Path, providers: dict[str, str]) -> dict[str, str]:
    run = subprocess.run(
        [sys.executable, "-I", "-c", ENGINE],  # -I: no cwd, no PYTHON* variables on sys.path
        input=json.dumps(providers),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    found: dict[str, str] = json.loads(run.stdout)
    return found


def test_the_providers_existing_stacks_hold_still_load(tmp_path: Path) -> None:
    assert unpickle_outside_the_repository(tmp_path, IN_STATE) == {k: k for k in IN_STATE}


@pytest.mark.parametrize(
    "provider", [RulesReleaseProvider(), FirstKeyProvider(), LogRetentionProvider()]
)
def test_todays_provider_pickles_by_reference_like_the_state(provider: object) -> None:
    """A change that pickled the class by value (or under another name) would make every
    stack's next `up` replace its provider string: keep it the stored reference."""
    key = f"{type(provider).__module__}.{type(provider).__qualname__}"
    assert serialize_provider(provider) == IN_STATE[key]  # type: ignore[arg-type]


def test_a_moved_module_would_break_the_state(tmp_path: Path) -> None:
    """The check can fail: the same pickle under a module name that does not exist."""
    moved = base64.b64decode(IN_STATE["infra.components.first_key.FirstKeyProvider"]).replace(
        b"infra.components.first_key", b"infra.components.first_kez"
    )
    with pytest.raises(
        AssertionError, match=re.escape("No module named 'infra.components.first_kez'")
    ):
        unpickle_outside_the_repository(
            tmp_path, {"moved": base64.b64encode(moved).decode("ascii")}
        )
