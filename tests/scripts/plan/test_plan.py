"""`spendsense plan` (docs/design.md#contract-plan): the real stacks pass; each broken setting fails
with the right policy (exit 1) or the settings error naming the key (exit 2)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from spendsense.outputs import load_outputs
from spendsense.plan.preview import run_plan

from tests.scripts.plan.conftest import REPO, plan_json

Run = Callable[..., tuple[int, str, str]]


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_real_stack_plans_with_no_mandatory_violation(run_cli: Run, stack: str) -> None:
    code, out, err = run_cli("plan", "--stack", stack, "--json")
    document = plan_json(out)
    mandatory = [v for v in document["violations"] if v["level"] == "mandatory"]
    assert mandatory == [], f"{stack}: {mandatory}"
    assert code == 0, err


def test_json_has_the_contract_shape(run_cli: Run) -> None:
    _code, out, _ = run_cli("plan", "--stack", "staging", "--json")
    document = plan_json(out)
    assert {"stack", "project", "resources", "outputs", "violations", "summary"} <= set(document)
    assert document["stack"] == "staging" and document["project"] == "spendsense"
    resource = next(
        r for r in document["resources"] if r["type"] == "aws:apprunner/service:Service"
    )
    assert set(resource) == {"urn", "type", "name", "parent", "protect", "inputs"}
    assert resource["inputs"]["instanceConfiguration"]["cpu"] == "1 vCPU", (
        "inputs are camelCase wire names"
    )
    assert resource["parent"].endswith("spendsense:aws:ApiService::api")
    database = next(
        r for r in document["resources"] if r["type"] == "gcp:firestore/database:Database"
    )
    assert database["protect"] is False, "staging does not protect stateful resources"
    assert document["summary"]["resources"] == len(document["resources"])
    assert document["summary"]["mandatory"] == 0


def test_production_protects_stateful_resources_in_the_json(run_cli: Run) -> None:
    _, out, _ = run_cli("plan", "--stack", "production", "--json")
    protected = {r["type"] for r in plan_json(out)["resources"] if r["protect"]}
    assert {"gcp:firestore/database:Database", "aws:ecr/repository:Repository"} <= protected


def test_text_output_groups_by_component_and_names_the_note(run_cli: Run) -> None:
    code, out, _ = run_cli("plan", "--stack", "staging")
    assert code == 0
    assert "  api (spendsense:aws:ApiService)" in out
    assert "+ aws:apprunner/service:Service" in out
    assert "Outputs:" in out and "api_url" in out
    assert "NEXT_PUBLIC_" in out and "new Vercel deployment" in out
    assert out.rstrip().endswith("staging: ok: no mandatory violations, 0 advisory")


def test_outputs_file_feeds_the_ops_cli(run_cli: Run, tmp_path: Path) -> None:
    target = tmp_path / "outputs.json"
    code, _, _ = run_cli("plan", "--stack", "staging", "--outputs-file", str(target))
    assert code == 0
    outputs = load_outputs("staging", str(target))
    assert outputs.require("api_service_name") == "spendsense-api-staging"
    assert json.loads(target.read_text())["environment"] == "staging"


BROKEN: list[tuple[str, Any, str]] = [
    ("spendsense:api.cpu", "4 vCPU", "aws-apprunner-instance-size"),
    ("spendsense:backup.retentionDays", 7, "gcp-storage-backup-retention"),
    ("spendsense:backup.schedule", "0 3 * * *", "gcp-firestore-export-schedule"),
    ("spendsense:monitoring.latencyP95Ms", 2000, "aws-cloudwatch-latency-alarm"),
    ("spendsense:monitoring.errorRatePercent", 5, "aws-cloudwatch-error-rate-alarm"),
    ("spendsense:monitoring.availabilityPercent", 90, "aws-cloudwatch-availability-alarm"),
    ("spendsense:registry.keepImages", 500, "aws-ecr-lifecycle-policy"),
    ("spendsense:monitoring.logRetentionDays", 3, "aws-cloudwatch-log-retention"),
    ("spendsense:protectStatefulResources", False, "stack-stateful-resources-protected"),
    ("spendsense:firestore.deleteProtection", False, "gcp-firestore-delete-protection"),
]


@pytest.mark.parametrize(("key", "value", "policy"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_setting_fails_the_right_policy(
    run_cli: Run, broken_config: Callable[..., Path], key: str, value: Any, policy: str
) -> None:
    config = broken_config(key, value)
    if key == "spendsense:api.cpu":
        config = _also(config, "spendsense:api", "memory", "8 GB")
    code, out, err = run_cli("plan", "--stack", "production", "--config", str(config), "--json")
    mandatory = {v["policy"] for v in plan_json(out)["violations"] if v["level"] == "mandatory"}
    assert code == 1, f"exit {code}: {err}"
    assert policy in mandatory, mandatory
    assert policy in err


def _also(path: Path, section: str, field: str, value: Any) -> Path:
    import yaml

    document = yaml.safe_load(path.read_text())
    document["config"][section][field] = value
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_open_rules_file_fails(
    run_cli: Run, broken_config: Callable[..., Path], tmp_path: Path
) -> None:
    rules = tmp_path / "open.rules"
    rules.write_text(
        "rules_version = '2';\nservice cloud.firestore {\n  match /databases/{database}/documents "
        "{\n"
        "    match /{document=**} {\n      allow read, write: if request.time < "
        "timestamp.date(2030, 1, 1);\n"
        "    }\n  }\n}\n"
    )
    config = broken_config("spendsense:firestore.rulesFile", str(rules))
    code, out, err = run_cli("plan", "--stack", "production", "--config", str(config))
    assert code == 1, err
    assert "[mandatory] gcp-firestore-rules-no-open-access" in out
    assert "is only a time limit (the test-mode leftover)" in out


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        (
            "spendsense:frontend.apiUrl",
            "http://api.spendsense.example.com",
            "spendsense:frontend.apiUrl",
        ),
        ("spendsense:api.minInstances", 0, "spendsense:api.minInstances"),
        ("spendsense:jwt.rotationDays", 1001, "spendsense:jwt.rotationDays"),
        ("spendsense:api.cpu", "3 vCPU", "spendsense:api.cpu"),
    ],
)
def test_settings_errors_exit_2_naming_the_key(
    run_cli: Run, broken_config: Callable[..., Path], key: str, value: Any, named: str
) -> None:
    section, _, field = key.partition(".")
    config = (
        broken_config(key, value)
        if key != "spendsense:jwt.rotationDays"
        else broken_config(section, {field: value})
    )
    code, out, err = run_cli("plan", "--stack", "production", "--config", str(config))
    assert code == 2
    assert err.startswith("error: ") and named in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and out == ""


def test_unknown_stack_exits_2(run_cli: Run) -> None:
    code, _, err = run_cli("plan", "--stack", "qa")
    assert code == 2 and "qa" in err and "staging" in err


def test_missing_config_file_exits_2(run_cli: Run, tmp_path: Path) -> None:
    code, _, err = run_cli("plan", "--stack", "production", "--config", str(tmp_path / "nope.yaml"))
    assert code == 2 and "--config" in err and "nope.yaml does not exist" in err


def test_unparsable_config_file_exits_2(run_cli: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("config:\n  spendsense:api: [unclosed\n")
    code, _, err = run_cli("plan", "--stack", "production", "--config", str(bad))
    assert code == 2 and "not valid YAML" in err


def test_json_and_markdown_together_exit_2(run_cli: Run) -> None:
    code, _, err = run_cli("plan", "--stack", "staging", "--json", "--markdown")
    assert code == 2 and "--json and --markdown" in err


def test_markdown_lists_violations_before_changes(
    run_cli: Run, broken_config: Callable[..., Path]
) -> None:
    config = broken_config("spendsense:backup.schedule", "0 3 * * *")
    code, out, _ = run_cli("plan", "--stack", "production", "--config", str(config), "--markdown")
    assert code == 1
    first = out.splitlines()[0]
    assert (
        first.startswith("### :x: `spendsense plan --stack production`")
        and " mandatory and " in first
    )
    assert out.index("#### Policy violations") < out.index("#### Changes by type")
    assert "`gcp-firestore-export-schedule`" in out
    assert "| `aws:apprunner/service:Service` | 1 |" in out


def test_a_pack_that_does_not_start_is_bad_input(tmp_path: Path) -> None:
    """A broken pack: exit 2 with the pack's own error, briefly; no process is left behind."""
    from spendsense.errors import BadInput

    (tmp_path / "__main__.py").write_text(
        "raise SystemExit('policy pack exploded: missing limits.json')\n"
    )
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "staging.json").write_text("{}")
    with pytest.raises(
        BadInput, match=r"did not start: policy pack exploded: missing limits\.json"
    ):
        run_plan("staging", pack_dir=tmp_path)


def test_real_files_are_untouched() -> None:
    """The tests write temp copies: the real stack files still hold the runbook's values."""
    text = (REPO / "Pulumi.production.yaml").read_text()
    assert 'schedule: "0 2 * * *"' in text and "retentionDays: 30" in text


def test_the_pack_is_killed_even_when_the_settings_are_bad(
    monkeypatch: pytest.MonkeyPatch, broken_config: Callable[..., Path]
) -> None:
    """run_plan starts its own pack and stops it on every path, errors included."""
    from spendsense.errors import BadInput
    from spendsense.plan import preview
    from spendsense.plan.analyzer import PolicyPackProcess

    started: list[PolicyPackProcess] = []
    real_start = PolicyPackProcess.start.__func__  # type: ignore[attr-defined]

    def start(cls: type[PolicyPackProcess], *args: Any, **kwargs: Any) -> PolicyPackProcess:
        started.append(real_start(cls, *args, **kwargs))
        return started[-1]

    monkeypatch.setattr(preview.PolicyPackProcess, "start", classmethod(start))
    with pytest.raises(BadInput, match=r"spendsense:api\.minInstances"):
        run_plan("production", str(broken_config("spendsense:api.minInstances", 0)))
    assert len(started) == 1
    assert started[0].process.poll() is not None, "the pack process is still running"


def test_config_of_another_stack_exits_2(run_cli: Run) -> None:
    """--stack picks the policy config: judging production's file as staging would report
    dozens of false violations, so the mismatch is one line, exit 2."""
    code, out, err = run_cli("plan", "--stack", "staging", "--config", "Pulumi.production.yaml")
    assert code == 2 and out == ""
    assert err.strip() == (
        "error: Pulumi.production.yaml: spendsense:environment is 'production' but --stack is "
        "'staging'; use --stack production with this file, or a config file for staging"
    )
