"""Values known only after deployment flow from the program to the pack as the engine sends
them, and come back as advisories "cannot be checked until deployment", never as a pass."""

from __future__ import annotations

from typing import Any

from spendsense.plan.analyzer import PolicyPackProcess
from spendsense.plan.preview import judge
from spendsense.plan.recorder import RealisticMocks, run_program
from spendsense.repo import pack_dir

from tests.scripts.plan.conftest import REPO

PACK_DIR = pack_dir()


class NewServiceMocks(RealisticMocks):
    """A cloud where the App Runner service does not exist yet: its URL and id are unknown."""

    def new_resource(self, args: Any) -> tuple[str | None, dict]:
        resource_id, state = super().new_resource(args)
        if args.typ == "aws:apprunner/service:Service":
            for key in ("serviceUrl", "serviceId", "arn"):
                state.pop(key, None)
        return resource_id, state


def test_unknown_api_url_is_not_checkable_until_deployment(session_pack: PolicyPackProcess) -> None:
    from infra.program import main
    from infra.stack_config import load_stack_config

    config = load_stack_config(REPO / "Pulumi.production.yaml")
    recording = run_program(
        main,
        config.as_pulumi_config(),
        stack="production",
        preview=True,
        mocks=NewServiceMocks(gcp_project="spendsense-production"),
    )
    assert recording.outputs["api_url"] == "[unknown]"
    variable = recording.one("vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable")
    assert variable.inputs["value"] == "[secret]", (
        "the provider marks the value secret; inside it is unknown"
    )

    _, found = judge(
        session_pack, "production", recording.resources, PACK_DIR / "config" / "production.json"
    )
    https = [d for d in found if d.policy == "vercel-env-api-url-https"]
    assert [(d.level, d.urn) for d in https] == [("advisory", variable.urn)], found
    assert https[0].message.startswith("cannot be checked until deployment")
    assert [d for d in found if d.level == "mandatory"] == [], "an unknown value is never a failure"
    # The retention of App Runner's log groups is known even though their names are not.
    assert not [d for d in found if d.policy == "aws-cloudwatch-log-retention"], found
