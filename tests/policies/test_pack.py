"""The pack as a whole: it starts like the engine starts it, it runs on its own defaults, and
the compliant stack passes every policy."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from spendsense.plan.analyzer import merge_config
from spendsense.repo import pack_dir

from tests.policies import compliant
from tests.policies.conftest import Pack

PACK_DIR = pack_dir()

CONTRACT_4 = {
    "aws-apprunner-instance-size",
    "aws-apprunner-autoscaling",
    "aws-apprunner-health-check",
    "aws-apprunner-no-plaintext-secrets",
    "aws-ecr-scan-on-push",
    "aws-ecr-immutable-tags",
    "aws-ecr-lifecycle-policy",
    "aws-cloudwatch-latency-alarm",
    "aws-cloudwatch-error-rate-alarm",
    "aws-cloudwatch-availability-alarm",
    "aws-cloudwatch-utilization-alarms",
    "aws-cloudwatch-dashboard",
    "aws-cloudwatch-log-retention",
    "aws-secretsmanager-rotation",
    "gcp-storage-backup-retention",
    "gcp-storage-bucket-private",
    "gcp-firestore-export-schedule",
    "gcp-firestore-rules-no-open-access",
    "gcp-firestore-delete-protection",
    "vercel-env-api-url-https",
    "vercel-env-secrets-sensitive",
    "stack-stateful-resources-protected",
    "stack-required-tags",
}
ALLOWED_IMPORTS = {"pulumi_policy", "spendsense_policies", "pulumi", "grpc", "google"}


def test_pack_has_every_contract_4_policy_with_a_sentence_description(pack: Pack) -> None:
    names = set(pack.by_name)
    assert names >= CONTRACT_4, f"missing: {sorted(CONTRACT_4 - names)}"
    for policy in pack.policies:
        assert policy.description.endswith("."), f"{policy.name}: description is not a sentence"
        assert policy.level == "mandatory", f"{policy.name} defaults to {policy.level}"


def test_checkov_ids_are_cross_referenced(pack: Pack) -> None:
    """Where a trusted scanner checks the same thing, the description names its rule."""
    expected = {
        "aws-ecr-scan-on-push": "CKV_AWS_163",
        "aws-ecr-immutable-tags": "CKV_AWS_51",
        "aws-cloudwatch-log-retention": "CKV_AWS_66",
        "gcp-storage-bucket-private": "CKV_GCP_29",
    }
    for name, checkov in expected.items():
        assert checkov in pack.by_name[name].description, name
    assert "CKV_GCP_114" in pack.by_name["gcp-storage-bucket-private"].description


def test_pack_imports_nothing_from_the_program_or_the_cli() -> None:
    """The pack runs in a virtualenv with only policies/requirements.txt: stdlib, pulumi and
    pulumi_policy (and what they bring) only."""
    import sys

    for path in PACK_DIR.rglob("*.py"):
        if ".venv" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top in ALLOWED_IMPORTS or top in sys.stdlib_module_names, (
                    f"{path}: imports {name}"
                )


def test_requirements_name_only_the_policy_sdk() -> None:
    lines = [
        line.split(">")[0].split("=")[0].split("<")[0].strip()
        for line in (PACK_DIR / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert set(lines) == {"pulumi", "pulumi-policy"}


def test_compliant_stack_has_no_diagnostics_on_the_pack_defaults(pack: Pack) -> None:
    """Configure sent exactly the schema defaults (as the CLI does with no config file): the
    compliant stack passes every resource and stack policy."""
    resources = compliant.stack()
    found = [d for r in resources for d in pack.process.analyze(r)]
    found += pack.analyze_stack(resources)
    assert found == [], [(d.policy, d.message) for d in found]


def test_stack_config_files_are_valid_policy_config(pack: Pack) -> None:
    """policies/config/<stack>.json name only real policies and levels; production makes every
    policy mandatory and says it is production; staging says it is not."""
    for stack in ("production", "staging"):
        user = json.loads((PACK_DIR / "config" / f"{stack}.json").read_text())
        merged = merge_config(pack.policies, user)
        if stack == "production":
            assert {level for level, _ in merged.values()} == {"mandatory"}
        for name, (_level, properties) in merged.items():
            if "production" in properties:
                assert properties["production"] is (stack == "production"), name


def test_staging_config_does_not_require_protection(pack: Pack) -> None:
    """The pack learns it judges staging only from the config: then unprotected stateful
    resources and an unprotected database are not violations."""
    user = json.loads((PACK_DIR / "config" / "staging.json").read_text())
    database = compliant.changed(
        compliant.database(), "deleteProtectionState", "DELETE_PROTECTION_DISABLED"
    )
    with pack.configured(user):
        found = pack.analyze(compliant.DATABASE, database, protect=False)
    assert found == [], [(d.policy, d.message) for d in found]
    found = pack.analyze(compliant.DATABASE, database, protect=False)
    assert {d.policy for d in found} == {
        "gcp-firestore-delete-protection",
        "stack-stateful-resources-protected",
    }


def test_unknown_values_are_reported_as_not_checkable_not_as_pass(pack: Pack) -> None:
    """A value unknown during preview gives an advisory 'cannot be checked until deployment'."""
    props = compliant.changed(compliant.service(), "instanceConfiguration.cpu", compliant.UNKNOWN)
    found = pack.analyze(compliant.SERVICE, props)
    assert [(d.policy, d.level) for d in found] == [("aws-apprunner-instance-size", "advisory")]
    assert found[0].message.startswith("cannot be checked until deployment")
    assert "instanceConfiguration.cpu" in found[0].message


def test_pack_python_files_exist_where_the_cli_expects_them() -> None:
    assert (PACK_DIR / "PulumiPolicy.yaml").is_file()
    assert (PACK_DIR / "__main__.py").is_file()
    assert Path(PACK_DIR / "limits.json").is_file()


def test_percentages_are_numbers_in_the_schema(pack: Pack) -> None:
    """A limit whose default is a whole number may be set to 0.5: the schema says "number"."""
    for policy, key in [
        ("aws-cloudwatch-error-rate-alarm", "errorRatePercent"),
        ("aws-cloudwatch-utilization-alarms", "cpuPercent"),
        ("aws-cloudwatch-utilization-alarms", "memoryPercent"),
    ]:
        assert pack.by_name[policy].schema[key]["type"] == "number", (policy, key)


def test_a_fractional_percentage_is_applied(pack: Pack) -> None:
    """errorRatePercent 0.5 is accepted and makes the compliant 1 % alarm too loose."""
    with pack.configured({"aws-cloudwatch-error-rate-alarm": {"errorRatePercent": 0.5}}):
        found = pack.analyze_stack(compliant.stack())
    assert [d.policy for d in found] == ["aws-cloudwatch-error-rate-alarm"]
    assert "the runbook's target is 0.5 %" in found[0].message


def test_config_of_the_wrong_type_names_the_key(pack: Pack) -> None:
    import pytest
    from spendsense.plan.analyzer import PackError

    with pytest.raises(PackError) as caught:
        merge_config(
            pack.policies, {"aws-cloudwatch-error-rate-alarm": {"errorRatePercent": "0.5"}}
        )
    assert str(caught.value) == (
        "policy config: aws-cloudwatch-error-rate-alarm.errorRatePercent: expected a number, got "
        '"0.5"'
    )
