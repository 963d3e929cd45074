"""What preflight knows about the program is checked against the program itself, run under the
mock runtime: the Google APIs it needs and the resources it may have to import."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="module")
def recording() -> Any:
    from spendsense.plan import load_stack_config, record_program
    from spendsense.plan.projects import MAIN

    return record_program(MAIN, "staging", load_stack_config(MAIN, "staging", None))


def test_every_gcp_module_the_program_uses_has_its_api(recording: Any) -> None:
    from spendsense.ops.preflight_google import MODULE_APIS, REQUIRED_APIS

    modules = {
        r.type.split(":")[1].split("/")[0] for r in recording.resources if r.type.startswith("gcp:")
    }
    assert modules, "the program registered no gcp resource"
    assert modules <= set(MODULE_APIS), f"add the API of {sorted(modules - set(MODULE_APIS))}"
    for module in modules:
        assert set(MODULE_APIS[module]) <= set(REQUIRED_APIS)


def test_the_scheduler_target_api_is_required(recording: Any) -> None:
    from spendsense.ops.preflight_google import REQUIRED_APIS

    job = next(r for r in recording.resources if r.type == "gcp:cloudscheduler/job:Job")
    host = job.inputs["httpTarget"]["uri"].split("/")[2]
    assert host in REQUIRED_APIS


def test_import_targets_are_the_programs_resources(recording: Any) -> None:
    from spendsense.ops.preflight import IMPORT_TARGETS

    for target in IMPORT_TARGETS:
        found = [r for r in recording.resources if r.type == target.type and r.name == target.name]
        assert len(found) == 1, f"{target.type} {target.name} is not in the program"
        resource = found[0]
        assert resource.parent.endswith(f"{target.parent_type}::{target.parent_name}")
        assert f"pulumi:providers:{target.provider}::{target.provider}" in resource.provider


def test_release_name_agrees_with_the_program() -> None:
    from spendsense.ops.preflight_google import release_name

    from infra.components.firestore import release_name as program_release_name

    for database in ("(default)", "orders-db"):
        assert release_name(database) == program_release_name(database)
