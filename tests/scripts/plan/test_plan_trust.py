"""`spendsense plan -C infra/ci_trust --stack ci`: the CI trust project, planned like the app.

The trust program (infra.ci_trust.program) runs under the mock runtime with its own stack file
(infra/ci_trust/Pulumi.ci.yaml), its own project name, and policies/config/ci.json; the JSON
has the same contract as the main project's plan (docs/plan.md).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import yaml

from tests.scripts.plan.conftest import REPO, plan_json

Run = Callable[..., tuple[int, str, str]]

TRUST = "infra/ci_trust"


def test_the_trust_project_plans_with_its_own_stack_file_and_project_name(run_cli: Run) -> None:
    code, out, err = run_cli("plan", "-C", TRUST, "--stack", "ci", "--json")
    assert code == 0, err
    plan = plan_json(out)
    assert plan["stack"] == "ci" and plan["project"] == "spendsense-ci-trust"
    types = {r["type"] for r in plan["resources"]}
    assert (
        "aws:iam/role:Role" in types
        and "gcp:iam/workloadIdentityPool:WorkloadIdentityPool" in types
    )
    assert all(
        r["urn"].startswith("urn:pulumi:ci::spendsense-ci-trust::") for r in plan["resources"]
    )
    assert plan["summary"]["ok"] is True and plan["violations"] == []
    assert "aws_deploy_role_arns" in plan["outputs"]


def test_the_trust_plan_has_the_same_json_contract(run_cli: Run) -> None:
    _, main_out, _ = run_cli("plan", "--stack", "staging", "--json")
    _, trust_out, _ = run_cli("plan", "--cwd", TRUST, "--stack", "ci", "--json")
    main, trust = plan_json(main_out), plan_json(trust_out)
    assert set(trust) == set(main)
    assert set(trust["summary"]) == set(main["summary"])
    assert set(trust["resources"][0]) == set(main["resources"][0])


def test_the_trust_plan_is_judged_with_policies_config_ci_json(
    run_cli: Run, tmp_path: Path
) -> None:
    """ci.json treats the trust stack like production: its state bucket and KMS key must be
    protected (with the main stacks' default, production: false, this would pass)."""
    document = yaml.safe_load((REPO / TRUST / "Pulumi.ci.yaml").read_text())
    document["config"]["spendsense-ci-trust:state"]["protect"] = False
    config = tmp_path / "Pulumi.ci.yaml"
    config.write_text(yaml.safe_dump(document))
    code, out, err = run_cli(
        "plan", "-C", TRUST, "--stack", "ci", "--config", str(config), "--json"
    )
    assert code == 1, err
    violated = {(v["policy"], v["urn"].rsplit("::", 1)[-1]) for v in plan_json(out)["violations"]}
    assert ("stack-stateful-resources-protected", "state-bucket") in violated
    assert ("stack-stateful-resources-protected", "state-key") in violated
    assert "stack-stateful-resources-protected" in err


def test_the_markdown_names_the_project_directory_and_its_policy_config(run_cli: Run) -> None:
    code, out, _ = run_cli("plan", "-C", TRUST, "--stack", "ci", "--markdown")
    assert code == 0
    assert "`spendsense plan -C infra/ci_trust --stack ci`" in out.splitlines()[0]
    assert "`policies/config/ci.json`" in out


def test_a_stack_of_another_project_is_bad_input(run_cli: Run) -> None:
    code, out, err = run_cli("plan", "-C", TRUST, "--stack", "production")
    assert code == 2 and out == ""
    assert err == (
        "error: --stack: unknown stack 'production' of -C infra/ci_trust; expected one of ci\n"
    )
    code, _, err = run_cli("plan", "--stack", "ci")
    assert code == 2 and "--stack" in err and "'ci'" in err and "staging" in err


def test_a_directory_that_is_not_a_project_is_bad_input(run_cli: Run, tmp_path: Path) -> None:
    for directory in ("infra", str(tmp_path), str(tmp_path / "missing"), ""):
        code, out, err = run_cli("plan", "-C", directory, "--stack", "ci")
        assert code == 2 and out == "", err
        assert err.startswith("error: -C/--cwd: ") and len(err.splitlines()) == 1, err
        assert "infra/ci_trust" in err


def test_make_plan_plans_the_trust_stack_too() -> None:
    """`make plan` runs the trust project's plan after both stacks (dry run of the target)."""
    result = subprocess.run(
        ["make", "-n", "plan"], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert "plan -C $(TRUST_DIR)" not in result.stdout  # expanded by make
    assert "spendsense plan -C infra/ci_trust --stack $stack" in result.stdout
    assert "for stack in ci;" in result.stdout
