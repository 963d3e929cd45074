"""Every AWS call a CI step makes is allowed to the identity that runs it (the standing rule of
issues 12 and 13: a new cloud call is granted in infra/ci_trust/ in the same change).

Which identity runs what (docs/ci.md): in deploy.yml each environment's deploy role runs
`spendsense preflight`, `spendsense bootstrap` and `pulumi up`; in preview.yml the preview
role runs `pulumi preview`; in checks.yml the checks role runs `spendsense outputs` and
`status` (AWS; `backup verify`, `drill` and the JWT rotation check are covered elsewhere or
call Google only). Three ways a call is found, each held to the roles the CI trust
stack actually generates (run under the mock runtime) by a small IAM evaluator (iam_eval.py):

- recorded: the commands' own tests (which answer with moto's server and botocore's Stubber)
  run under tests/ci/call_recorder.py, which logs every call the `spendsense` code makes
  with the resource it names; each must be allowed on that resource;
- read from the source: every boto3 operation named in the commands' modules and in the
  program's dynamic resources (which call boto3 inside `pulumi up`), so a call no test
  reaches is caught too; each must be allowed on some resource;
- the program's data sources (read on every preview and up through the AWS provider): each
  `aws.*get_*` invoke in infra/ must be listed in PROGRAM_INVOKES with its IAM actions, and
  those must be allowed to the preview role and to each deploy role.

Google: preflight's REST calls are recorded the same way and each must be a permission of a
role the deploy service account holds in that project.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from policy_sentry.querying.actions import get_action_data
from spendsense.plan.recorder import Recording

from infra.ci_trust.aws_program_calls import APPRUNNER_SERVICE_READ_HANDLER
from tests.ci.iam_eval import Call, decision
from tests.ci.test_ci_trust import (
    PREFIXES,
    deploy_policy,
    policy_of,
    roles,
    run_trust,
    stack_config,
)

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"  # the mock runtime's account, and the commands' tests' (moto's)
REGION = "us-east-1"
STATE_BUCKET = "spendsense-pulumi-state"
# What the commands' tests name on purpose to see the refusal (a backend URL naming a bucket
# that does not exist): no role is meant to reach it.
BAD_INPUT_RESOURCES = frozenset({"arn:aws:s3:::no-such-state-bucket"})

# The workflow steps that call AWS with a CI role, besides `pulumi`: the tests of each step's
# command -> the role that runs it (deploy.yml: preflight and bootstrap with the deploy role;
# checks.yml: outputs, status and the weekly security report with the checks role, on
# production).
STEP_TESTS = {
    "tests/scripts/preflight/": "deploy",
    "tests/scripts/commands/test_bootstrap.py": "deploy",
    "tests/scripts/commands/test_status.py": "checks",
    "tests/scripts/commands/test_status_usage.py": "checks",
    "tests/scripts/commands/test_security.py": "checks",
    "tests/scripts/test_outputs.py": "checks",
}
# ... and the modules whose boto3 calls are the deploy role's.
DEPLOY_STEP_SOURCES = (
    "scripts/spendsense/commands/preflight.py",
    "scripts/spendsense/commands/bootstrap.py",
    "scripts/spendsense/ops/preflight.py",
    "scripts/spendsense/ops/preflight_aws.py",
    "scripts/spendsense/ops/preflight_backend.py",
    "scripts/spendsense/ops/bootstrap.py",
    # Dynamic resources: boto3 inside `pulumi up`, with the deploy role's credentials.
    "infra/components/first_key.py",
    "infra/components/log_retention.py",
)
# Operations that need no permission: GetCallerIdentity
# (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html).
NO_PERMISSION = frozenset({"sts:GetCallerIdentity"})
# API operations whose IAM action has another name
# (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html).
ACTION_OF = {
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListObjects": "s3:ListBucket",
    "s3:HeadObject": "s3:GetObject",
    "s3:HeadBucket": "s3:ListBucket",
}
# The program's data sources (pulumi-aws invokes, made in preview and up alike) -> the IAM
# actions they need. pulumi-aws bridges terraform-provider-aws: `resourcegroupstaggingapi.
# get_resources` is GetResources, `cloudcontrol.get_resource` is Cloud Control's GetResource
# plus the read handler's permissions of the type it reads (AWS::AppRunner::Service,
# aws_program_calls.py), `get_caller_identity` is GetCallerIdentity (no permission),
# `ssm.get_parameter` (an alert route's paging URL) is SSM's GetParameter.
PROGRAM_INVOKES: dict[str, tuple[str, ...]] = {
    "get_caller_identity": (),
    "ssm.get_parameter": ("ssm:GetParameter",),
    "resourcegroupstaggingapi.get_resources": ("tag:GetResources",),
    "cloudcontrol.get_resource": ("cloudformation:GetResource", *APPRUNNER_SERVICE_READ_HANDLER),
}
INVOKE = re.compile(r"\baws\.((?:[a-z0-9]+\.)?get_[a-z0-9_]+?)(?:_output)?\(")


@pytest.fixture(scope="module")
def recording() -> Recording:
    return run_trust(stack_config())


# botocore signing names that are not the IAM service prefix (CloudWatch signs as "monitoring").
IAM_PREFIX = {"monitoring": "cloudwatch"}


def iam_action(signing_name: str, operation: str) -> str:
    action = f"{IAM_PREFIX.get(signing_name, signing_name)}:{operation}"
    return ACTION_OF.get(action, action)


@cache
def in_reference(action: str) -> bool:
    service, _, name = action.partition(":")
    return bool((get_action_data(service, name) or {}).get(service))


def resource_of(call: dict[str, Any]) -> str:
    """The ARN of what a recorded call acts on (IAM's Resource), "*" when it names none."""
    params, region = call["params"], call["region"]
    if call["signing_name"] == "ecr" and (
        "repositoryName" in params or "repositoryNames" in params
    ):
        (name,) = params.get("repositoryNames") or [params["repositoryName"]]
        return f"arn:aws:ecr:{region}:{ACCOUNT}:repository/{name}"
    if call["signing_name"] == "apprunner" and "ServiceArn" in params:
        return str(params["ServiceArn"])
    if call["signing_name"] == "s3" and "Bucket" in params:
        key = params.get("Key")
        return f"arn:aws:s3:::{params['Bucket']}" + (f"/{key}" if key else "")
    if call["signing_name"] == "logs" and "logGroupName" in params:
        return f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{params['logGroupName']}"
    return "*"


def with_query_groups(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """GetQueryResults names only a query id; the reference scopes it to the log group, so
    each is held to the group of the StartQuery (same test) that returned that id."""
    started: dict[tuple[str, str], str] = {}
    for call in calls:
        params = call["params"]
        if call["operation"] == "StartQuery" and "queryId" in params:
            started[(call["test"], params["queryId"])] = params["logGroupName"]
        elif call["operation"] == "GetQueryResults":
            group = started.get((call["test"], params.get("queryId", "")))
            assert group, f"GetQueryResults of no recorded StartQuery: {call}"
            params["logGroupName"] = group
    return calls


# --------------------------------------------------------------------------------------------
# Recorded: the deploy steps' own tests
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def all_recorded(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    log = tmp_path_factory.mktemp("calls") / "calls.jsonl"
    env = {**os.environ, "SPENDSENSE_CALL_LOG": str(log)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-x",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.ci.call_recorder",
            *STEP_TESTS,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    calls = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    return with_query_groups([c for c in calls if c["kind"] == "aws"]) + [
        c for c in calls if c["kind"] != "aws"
    ]


def identity_of(call: dict[str, Any]) -> str:
    return next(role for tests, role in STEP_TESTS.items() if call["test"].startswith(tests))


@pytest.fixture(scope="module")
def recorded(all_recorded: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in all_recorded if c["kind"] == "aws" and identity_of(c) == "deploy"]


@pytest.fixture(scope="module")
def recorded_checks(all_recorded: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in all_recorded if c["kind"] == "aws" and identity_of(c) == "checks"]


def test_the_recorder_sees_the_deploy_steps_calls(recorded: list[dict[str, Any]]) -> None:
    """The recording is not empty by accident: preflight's and bootstrap's reads are in it,
    and none of the tests' own set-up calls (CreateRepository, PutImage, CreateBucket)."""
    seen = {(c["signing_name"], c["operation"]) for c in recorded}
    assert {
        ("apprunner", "ListServices"),
        ("apprunner", "DescribeService"),
        ("ecr", "DescribeRepositories"),
        ("ecr", "DescribeImages"),
        ("s3", "ListObjectsV2"),
        ("s3", "GetObject"),
        ("sts", "GetCallerIdentity"),
    } <= seen
    assert not seen & {("ecr", "CreateRepository"), ("ecr", "PutImage"), ("s3", "CreateBucket")}
    callers = {c["caller"] for c in recorded}
    assert "scripts/spendsense/ops/bootstrap.py" in callers
    assert "scripts/spendsense/ops/preflight_aws.py" in callers


def test_every_recorded_call_of_the_deploy_steps_is_allowed_to_the_deploy_role(
    recording: Recording, recorded: list[dict[str, Any]]
) -> None:
    """Each call, on the resource it names, is allowed to staging's deploy role (the tests'
    stack is staging: its names, the shared state bucket)."""
    statements = deploy_policy(recording, "staging")["Statement"]
    problems = refused(statements, recorded)
    assert not problems, "\n".join(problems)


def test_every_recorded_call_of_the_checks_is_allowed_to_the_checks_role(
    recording: Recording, recorded_checks: list[dict[str, Any]]
) -> None:
    """checks.yml runs `outputs`, `status` and `security report` on production; their tests
    use staging's names, so each call is evaluated on production's (the checks role reads
    production)."""
    assert {iam_action(c["signing_name"], c["operation"]) for c in recorded_checks} >= {
        "apprunner:DescribeService",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:GetMetricData",
        "logs:StartQuery",
        "logs:GetQueryResults",
    }
    statements = policy_of(recording, roles(recording)["spendsense-github-checks"])["Statement"]
    problems = refused(
        statements, recorded_checks, rename=(PREFIXES["staging"], PREFIXES["production"])
    )
    assert not problems, "\n".join(problems)


def refused(
    statements: list[dict[str, Any]],
    calls: list[dict[str, Any]],
    rename: tuple[str, str] | None = None,
) -> list[str]:
    """One line per distinct recorded call the statements do not allow."""
    problems = set()
    for call in calls:
        action = iam_action(call["signing_name"], call["operation"])
        if action in NO_PERMISSION:
            continue
        if not in_reference(action):
            problems.add(f"{action} (from {call['caller']}) is no IAM action: map it in ACTION_OF")
            continue
        resource = resource_of(call)
        if resource in BAD_INPUT_RESOURCES:
            continue
        if rename:
            resource = resource.replace(*rename)
        verdict = decision(
            statements, Call(action, resource, {"aws:RequestedRegion": call["region"]})
        )
        if verdict != "allowed":
            problems.add(
                f"{action} on {resource} ({call['caller']}, {call['test']}) is {verdict}: "
                "grant it in infra/ci_trust"
            )
    return sorted(problems)


# --------------------------------------------------------------------------------------------
# Recorded: preflight's Google calls, against the deploy service account's roles
# --------------------------------------------------------------------------------------------
# (api, method, path) -> the permission Google's reference names for that method: Resource
# Manager projects.get/getIamPolicy, Service Usage services.batchGet, Cloud Billing
# projects.getBillingInfo ("must have the resourcemanager.projects.get permission",
# https://cloud.google.com/billing/docs/reference/rest/v1/projects/getBillingInfo), Firebase
# Management projects.get, Firestore Admin databases.get, Firebase Rules releases.get.
GCP_METHODS: tuple[tuple[str, str, str, str], ...] = (
    ("cloudresourcemanager", "GET", r"v1/projects/(?P<p>[^/:]+)", "resourcemanager.projects.get"),
    (
        "cloudresourcemanager",
        "POST",
        r"v1/projects/(?P<p>[^/:]+):getIamPolicy",
        "resourcemanager.projects.getIamPolicy",
    ),
    (
        "serviceusage",
        "GET",
        r"v1/projects/(?P<p>[^/]+)/services:batchGet",
        "serviceusage.services.get",
    ),
    (
        "cloudbilling",
        "GET",
        r"v1/projects/(?P<p>[^/]+)/billingInfo",
        "resourcemanager.projects.get",
    ),
    ("firebase", "GET", r"v1beta1/projects/(?P<p>[^/]+)", "firebase.projects.get"),
    (
        "firestore",
        "GET",
        r"v1/projects/(?P<p>[^/]+)/databases/[^/]+",
        "datastore.databases.getMetadata",
    ),
    (
        "firebaserules",
        "GET",
        r"v1/projects/(?P<p>[^/]+)/releases/.+",
        "firebaserules.releases.get",
    ),
    # Cloud Monitoring projects.timeSeries.list
    # (https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.timeSeries/list).
    ("monitoring", "GET", r"v3/projects/(?P<p>[^/]+)/timeSeries", "monitoring.timeSeries.list"),
)
# What the deploy accounts' predefined roles carry of those permissions (Google's role
# reference, https://cloud.google.com/iam/docs/roles-permissions/: browser, serviceusage,
# firebase, datastore, firebaserules).
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "roles/browser": frozenset(
        {"resourcemanager.projects.get", "resourcemanager.projects.getIamPolicy"}
    ),
    "roles/serviceusage.serviceUsageConsumer": frozenset(
        {"serviceusage.services.get", "serviceusage.services.list", "serviceusage.services.use"}
    ),
    "roles/serviceusage.serviceUsageViewer": frozenset(
        {"serviceusage.services.get", "serviceusage.services.list"}
    ),
    "roles/firebase.viewer": frozenset({"firebase.projects.get"}),
    "roles/datastore.owner": frozenset({"datastore.databases.getMetadata"}),
    "roles/firebaserules.admin": frozenset({"firebaserules.releases.get"}),
}
STACK_PROJECT, TEST_PROJECT = "spendsense-staging", "spendsense-test"  # the tests' projects


def gcp_permission(call: dict[str, Any]) -> tuple[str, str]:
    """(permission, project id or number) of a recorded Google call."""
    for api, method, pattern, permission in GCP_METHODS:
        found = re.fullmatch(pattern, call["path"])
        if call["api"] == api and call["method"] == method and found:
            return permission, found["p"]
    raise AssertionError(f"map {call} to its IAM permission in GCP_METHODS")


def test_every_google_call_of_preflight_is_granted_to_the_deploy_account(
    recording: Recording, all_recorded: list[dict[str, Any]]
) -> None:
    """In the stack's project and in the test project, by the roles the trust stack grants
    staging's deploy service account there (tests/ci/test_ci_trust_gcp.py reads the same)."""
    from tests.ci.test_ci_trust_gcp import grants

    calls = [c for c in all_recorded if c["kind"] == "gcp" and identity_of(c) == "deploy"]
    numbers = {c["number"]: c["path"].rsplit("/", 1)[-1] for c in calls if c.get("number")}
    held = grants(recording, "deploy-staging")
    seen, problems = set(), []
    for call in calls:
        permission, project = gcp_permission(call)
        project = numbers.get(project, project)
        if project not in (STACK_PROJECT, TEST_PROJECT):
            continue  # a test's deliberately unknown project
        seen.add((permission, project))
        roles_there = held.get(project, set())
        if not any(permission in ROLE_PERMISSIONS.get(role, ()) for role in roles_there):
            problems.append(f"{permission} on {project}: not in {sorted(roles_there)}")
    assert not problems, "\n".join(sorted(set(problems)))
    assert {
        ("firebase.projects.get", STACK_PROJECT),
        ("firebaserules.releases.get", STACK_PROJECT),
        ("datastore.databases.getMetadata", STACK_PROJECT),
        ("serviceusage.services.get", TEST_PROJECT),
        ("resourcemanager.projects.getIamPolicy", TEST_PROJECT),
    } <= seen, "the recording lacks preflight's Google calls"


def test_every_google_call_of_the_checks_is_granted_to_the_checks_account(
    recording: Recording, all_recorded: list[dict[str, Any]]
) -> None:
    """`status` (today's Firestore usage) and `security report` (rules denials) read Cloud
    Monitoring; their tests name staging's project, the checks read production's."""
    from tests.ci.test_ci_trust_gcp import grants

    calls = [c for c in all_recorded if c["kind"] == "gcp" and identity_of(c) == "checks"]
    held = grants(recording, "checks")
    # The trust stack's custom roles, by the name IAM grants them under.
    custom = {
        f"projects/{r.inputs['project']}/roles/{r.inputs['roleId']}": frozenset(
            r.inputs["permissions"]
        )
        for r in recording.by_type("gcp:projects/iAMCustomRole:IAMCustomRole")
    }
    config = stack_config()
    checks_env = config["spendsense-ci-trust:checks"]["environment"]
    (checks_project,) = [
        e["gcpProject"]
        for e in config["spendsense-ci-trust:environments"]
        if e["name"] == checks_env
    ]
    seen, problems = set(), []
    for call in calls:
        permission, project = gcp_permission(call)
        assert project == STACK_PROJECT, call
        seen.add((permission, call["test"]))
        roles_there = held.get(checks_project, set())
        known = {**ROLE_PERMISSIONS, **custom}
        if not any(permission in known.get(role, ()) for role in roles_there):
            problems.append(f"{permission} on {checks_project}: not in {sorted(roles_there)}")
    assert not problems, "\n".join(sorted(set(problems)))
    assert {
        ("monitoring.timeSeries.list", "tests/scripts/commands/test_status_usage.py"),
        ("monitoring.timeSeries.list", "tests/scripts/commands/test_security.py"),
    } <= seen, "the recording lacks the checks' Cloud Monitoring reads"


# --------------------------------------------------------------------------------------------
# Read from the source: every boto3 operation the deploy steps' modules name
# --------------------------------------------------------------------------------------------
@cache
def _operations(service: str) -> dict[str, tuple[str, str]]:
    """boto3 method name -> (signing name, API operation), from botocore's service model."""
    import botocore.session

    model = botocore.session.get_session().get_service_model(service)
    from botocore import xform_name

    return {xform_name(name): (model.signing_name, name) for name in model.operation_names}


def clients_of(source: str) -> set[str]:
    """The services a module makes clients for (`make_client("ecr"...)`, `aws_client(...)`)."""
    found = set(re.findall(r"(?:make_client|aws_client)\(\s*\"([a-z0-9-]+)\"", source))
    if "make_apprunner_client" in source:
        found.add("apprunner")
    return found


def named_operations(path: Path) -> Iterator[str]:
    """The IAM action of every boto3 operation a module names (called or passed by name)."""
    source = path.read_text(encoding="utf-8")
    services = clients_of(source) or set().union(
        *(clients_of(p.read_text(encoding="utf-8")) for p in path.parent.glob("*.py"))
    )
    # `client.describe_images(`, and names passed as strings: `call(client, "update_service"`,
    # `get_paginator("describe_images")`.
    methods = set(re.findall(r"\.([a-z][a-z0-9_]*)\(", source))
    methods |= set(re.findall(r"\"([a-z][a-z0-9]*(?:_[a-z0-9]+)+)\"", source))
    for service in sorted(services):
        for method, (signing, operation) in _operations(service).items():
            if method in methods:
                yield iam_action(signing, operation)


def test_the_source_scan_finds_the_deploy_steps_operations() -> None:
    found = {a for rel in DEPLOY_STEP_SOURCES for a in named_operations(ROOT / rel)}
    assert {"ecr:DescribeImages", "apprunner:ListServices", "s3:ListBucket"} <= found


def test_every_boto3_operation_the_deploy_steps_name_is_granted_to_each_deploy_role(
    recording: Recording,
) -> None:
    problems = []
    for env in PREFIXES:
        statements = deploy_policy(recording, env)["Statement"]
        for rel in DEPLOY_STEP_SOURCES:
            for action in sorted(set(named_operations(ROOT / rel))):
                if action in NO_PERMISSION:
                    continue
                allowed = any(
                    decision(statements, Call(action, resource, {"aws:RequestedRegion": REGION}))
                    == "allowed"
                    for resource in _resources_of(action, env)
                )
                if not allowed:
                    problems.append(f"{env}: {rel} calls {action}, not granted in infra/ci_trust")
    assert not problems, "\n".join(problems)


def _resources_of(action: str, env: str) -> list[str]:
    """Where the stack's own call would act: its names, its state, or "*"."""
    name = PREFIXES[env]
    service = action.split(":", 1)[0]
    return {
        "ecr": [f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{name}"],
        "apprunner": [f"arn:aws:apprunner:{REGION}:{ACCOUNT}:service/{name}/0123abcd", "*"],
        "s3": [
            f"arn:aws:s3:::{STATE_BUCKET}",
            f"arn:aws:s3:::{STATE_BUCKET}/.pulumi/stacks/spendsense/{env}.json",
        ],
        "secretsmanager": [
            f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}/jwt-signing-key-AbCdEf"
        ],
        "logs": [f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/apprunner/{name}/x/service"],
    }.get(service, ["*"])


# --------------------------------------------------------------------------------------------
# The program's data sources: preview and up
# --------------------------------------------------------------------------------------------
def program_invokes() -> dict[str, set[str]]:
    """Every pulumi-aws invoke in the main program -> the modules that make it."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "infra").rglob("*.py")):
        if "ci_trust" in path.parts:
            continue
        for name in INVOKE.findall(path.read_text(encoding="utf-8")):
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_data_source_of_the_program_is_listed_with_its_actions() -> None:
    invokes = program_invokes()
    assert "cloudcontrol.get_resource" in invokes  # the scan sees running_image.py
    unknown = {name: where for name, where in invokes.items() if name not in PROGRAM_INVOKES}
    assert not unknown, (
        f"add these pulumi-aws invokes to PROGRAM_INVOKES with their IAM actions, and grant "
        f"them to the preview and deploy roles: {unknown}"
    )


@pytest.mark.parametrize("role", ["preview", "deploy-staging", "deploy-production"])
def test_the_program_reads_are_allowed_in_preview_and_up(recording: Recording, role: str) -> None:
    statements = policy_of(recording, roles(recording)[f"spendsense-github-{role}"])["Statement"]
    stacks = [role.removeprefix("deploy-")] if role.startswith("deploy-") else list(PREFIXES)
    problems = []
    for name in program_invokes():
        for action in PROGRAM_INVOKES[name]:
            for env in stacks:
                for resource in _program_resources(action, env):
                    call = Call(action, resource, {"aws:RequestedRegion": REGION})
                    if decision(statements, call) != "allowed":
                        problems.append(f"{role}: {action} on {resource} ({name})")
    assert not problems, problems


def alert_parameters(env: str) -> list[str]:
    """The ARNs of the SSM parameters a stack file's alert routes name (`httpsUrlParameter`),
    or, for a stack that names none, the one it would name (`/spendsense/<stack>/pager-url`)."""
    config = yaml.safe_load((ROOT / f"Pulumi.{env}.yaml").read_text(encoding="utf-8"))["config"]
    routes = config["spendsense:monitoring"]["alertRoutes"]
    named = {
        e["httpsUrlParameter"] for each in routes.values() for e in each if "httpsUrlParameter" in e
    }
    names = sorted(named) or [f"/spendsense/{env}/pager-url"]
    return [f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{name}" for name in names]


def _program_resources(action: str, env: str) -> list[str]:
    if action.startswith("apprunner:"):
        return [f"arn:aws:apprunner:{REGION}:{ACCOUNT}:service/{PREFIXES[env]}/0123abcd"]
    if action.startswith("ssm:"):
        return alert_parameters(env)
    return ["*"]


def test_production_names_a_paging_parameter_the_roles_are_checked_on() -> None:
    assert alert_parameters("production") == [
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/spendsense/production/pager-url-gcp",
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/spendsense/production/pager-url-sns",
    ]


def test_a_deploy_role_reads_no_other_stacks_paging_url(recording: Recording) -> None:
    """Staging's deploy role cannot read production's pager URL (nor the other way)."""
    for env, other in (("staging", "production"), ("production", "staging")):
        statements = deploy_policy(recording, env)["Statement"]
        for resource in alert_parameters(other):
            call = Call("ssm:GetParameter", resource, {"aws:RequestedRegion": REGION})
            assert decision(statements, call) != "allowed", (env, resource)


def test_the_preview_role_reads_no_other_service_and_writes_only_its_lock(
    recording: Recording,
) -> None:
    statements = policy_of(recording, roles(recording)["spendsense-github-preview"])["Statement"]
    other = f"arn:aws:apprunner:{REGION}:{ACCOUNT}:service/someone-else/0123abcd"
    context = {"aws:RequestedRegion": REGION}
    assert decision(statements, Call("apprunner:DescribeService", other, context)) != "allowed"
    for action in ("apprunner:UpdateService", "ecr:PutImage", "secretsmanager:DeleteSecret"):
        assert decision(statements, Call(action, "*", context)) == "not granted", action


@pytest.mark.parametrize("env", list(PREFIXES))
def test_each_deploy_role_manages_the_failed_auth_metric_filter_on_its_own_log_group(
    recording: Recording, env: str
) -> None:
    """infra/components/auth_failures.py's LogMetricFilter: terraform-provider-aws creates and
    updates it with PutMetricFilter, reads it with DescribeMetricFilters (by log group and
    name prefix) and deletes it with DeleteMetricFilter (internal/service/logs/metric_filter.go);
    the reference scopes all three to the log group."""
    statements = deploy_policy(recording, env)["Statement"]
    group = f"/aws/apprunner/{PREFIXES[env]}/0123abcd/application"
    context = {"aws:RequestedRegion": REGION}
    for action in ("logs:PutMetricFilter", "logs:DescribeMetricFilters", "logs:DeleteMetricFilter"):
        own = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"
        other = (
            f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/apprunner/someone-else/1/application"
        )
        assert decision(statements, Call(action, own, context)) == "allowed", (env, action)
        assert decision(statements, Call(action, other, context)) != "allowed", (env, action)


# --------------------------------------------------------------------------------------------
# Destroying a stack: the secret's recovery window
# --------------------------------------------------------------------------------------------
def _secret(env: str) -> str:
    return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{PREFIXES[env]}/jwt-AbCdEf"


@pytest.mark.parametrize(
    ("env", "force", "expected"),
    [
        ("staging", "true", "allowed"),
        ("staging", "false", "allowed"),
        ("production", "false", "allowed"),
        ("production", "true", "denied"),
    ],
)
def test_only_staging_may_delete_its_secret_without_recovery(
    recording: Recording, env: str, force: str, expected: str
) -> None:
    statements = deploy_policy(recording, env)["Statement"]
    context = {"aws:RequestedRegion": REGION, "secretsmanager:ForceDeleteWithoutRecovery": force}
    call = Call("secretsmanager:DeleteSecret", _secret(env), context)
    assert decision(statements, call) == expected


def test_force_delete_matches_each_stacks_recovery_window() -> None:
    """`forceDeleteSecrets` is true exactly for the stacks whose jwt.recoveryWindowDays is 0."""
    environments = stack_config()["spendsense-ci-trust:environments"]
    for env in environments:
        stack = yaml.safe_load((ROOT / f"Pulumi.{env['name']}.yaml").read_text(encoding="utf-8"))
        window = stack["config"]["spendsense:jwt"]["recoveryWindowDays"]
        assert env.get("forceDeleteSecrets", False) == (window == 0), env["name"]


# --------------------------------------------------------------------------------------------
# The evaluator itself
# --------------------------------------------------------------------------------------------
def test_the_evaluator_follows_iams_order_of_deny_allow_and_default() -> None:
    allow = {
        "Effect": "Allow",
        "Action": ["ecr:Describe*"],
        "Resource": ["arn:aws:ecr:*:*:repository/app*"],
    }
    guard = {
        "Effect": "Deny",
        "NotAction": ["iam:*"],
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}},
    }
    here = {"aws:RequestedRegion": "us-east-1"}
    repo = "arn:aws:ecr:us-east-1:1:repository/app-staging"
    assert decision([allow, guard], Call("ecr:describeimages", repo, here)) == "allowed"
    assert (
        decision([allow, guard], Call("ecr:DescribeImages", repo.replace("app", "other"), here))
        == "not granted"
    )
    assert decision([allow, guard], Call("ecr:PutImage", repo, here)) == "not granted"
    elsewhere = {"aws:RequestedRegion": "eu-west-1"}
    assert decision([allow, guard], Call("ecr:DescribeImages", repo, elsewhere)) == "denied"
    tagged = {**allow, "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}}
    assert decision([tagged], Call("ecr:DescribeImages", repo, here)) == "not granted"
    if_exists = {**allow, "Condition": {"StringEqualsIfExists": {"aws:RequestTag/x": "y"}}}
    assert decision([if_exists], Call("ecr:DescribeImages", repo, here)) == "allowed"
