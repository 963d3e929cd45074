"""speed.py changes how the pack serves Analyze, never what it answers: the same resources
give the same diagnostics from the plain SDK."""

from __future__ import annotations

from pathlib import Path

from spendsense.plan.analyzer import PolicyPackProcess, merge_config
from spendsense.repo import pack_dir

from tests.policies import compliant as c
from tests.policies.conftest import Pack, resource

PACK_DIR = pack_dir()
PLAIN_MAIN = """
from pulumi_policy import EnforcementLevel, PolicyPack
from spendsense_policies import PACK_NAME, all_policies

PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel.MANDATORY, policies=all_policies())
"""


def test_fast_pack_answers_like_the_plain_sdk(pack: Pack, tmp_path: Path) -> None:
    for name in ("spendsense_policies", "limits.json"):
        (tmp_path / name).symlink_to(PACK_DIR / name)
    (tmp_path / "__main__.py").write_text(PLAIN_MAIN)
    resources = [
        *c.stack(),
        resource(c.SERVICE, "big", c.changed(c.service(), "instanceConfiguration.cpu", "4 vCPU")),
        resource(
            c.SERVICE, "unknown", c.changed(c.service(), "instanceConfiguration.memory", c.UNKNOWN)
        ),
        resource(c.BUCKET, "open", c.changed(c.bucket(), "publicAccessPrevention", "inherited")),
        resource(c.DATABASE, "db", c.changed(c.database(), "deleteProtectionState", "-")),
        resource(c.VARIABLE, "url", c.variable(value="http://x")),
    ]

    def answers(process: PolicyPackProcess) -> list[tuple[str, str, str, str]]:
        found = [d for r in resources for d in process.analyze(r)]
        found += process.analyze_stack(resources, stack_urn="stack")
        return sorted((d.policy, d.level, d.urn, d.message) for d in found)

    with PolicyPackProcess.start(tmp_path) as plain:
        plain.connect(timeout=60)
        _, policies = plain.info()
        plain.configure(merge_config(policies))
        expected = answers(plain)
    assert len(expected) >= 6, expected
    assert answers(pack.process) == expected


def test_speed_patches_only_a_tested_sdk_version() -> None:
    """Another pulumi-policy minor may change the internals speed.py patches: install()
    then leaves the SDK alone (the plain SDK answers the same, only slower)."""
    from pulumi_policy import policy as sdk
    from spendsense_policies import speed

    before = sdk.json_format
    assert speed.install(version="1.22.0") is False
    assert speed.install(version="2.0.0") is False
    assert speed.install(version="garbage") is False
    assert sdk.json_format is before
    assert speed.supported("1.21.0") and speed.supported("1.21.7")
    assert speed.supported(speed.sdk_version()), "the installed SDK is not a tested version"


def test_requirements_pin_the_tested_minor() -> None:
    text = (PACK_DIR / "requirements.txt").read_text()
    assert "pulumi-policy>=1.21,<1.22" in text
