"""Run the real Pulumi program under Pulumi's mock runtime and record what the engine would see.

This is the heart of `spendsense plan` and of the program's tests. For every resource it keeps
the type, name, parent, `protect`, provider, dependencies and the inputs exactly as the engine
receives them (camelCase wire names, unknowns and secrets marked), and it resolves the stack
outputs. No Pulumi CLI, provider plugin or cloud credential is involved.

`RealisticMocks` answers like a cloud that has the resources already (ARNs with account
123456789012, an App Runner URL and id, ...); anything it does not know stays unknown in a
preview, as it would in `pulumi preview` of a new stack.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as runtime_settings

ACCOUNT_ID = "123456789012"
UNKNOWN_MARK = "[unknown]"
SECRET_MARK = "[secret]"
_SIG = rpc._special_sig_key
_SECRET_SIG = rpc._special_secret_sig
_RESOURCE_SIG = rpc._special_resource_sig


@dataclass
class RecordedResource:
    urn: str
    type: str
    name: str
    parent: str
    protect: bool
    custom: bool
    provider: str
    dependencies: list[str]
    inputs: dict[str, Any]  # JSON view: "[unknown]" and "[secret]" marks
    wire: struct_pb2.Struct = field(repr=False)  # the engine's view, for the policy pack
    ignore_changes: list[str] = field(default_factory=list)
    retain_on_delete: bool = False
    delete_before_replace: bool = False


@dataclass
class Recording:
    stack: str
    project: str
    resources: list[RecordedResource]
    outputs: dict[str, Any]  # JSON view with marks
    secret_outputs: set[str]

    def by_type(self, type_: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name_contains: str = "") -> RecordedResource:
        found = [r for r in self.by_type(type_) if name_contains in r.name]
        if len(found) != 1:
            names = [r.name for r in self.by_type(type_)]
            raise AssertionError(
                f"expected exactly one {type_} named like {name_contains!r}, found {names}"
            )
        return found[0]


def to_json_view(value: Any) -> Any:
    """Turn wire values into plain JSON, marking unknowns and secrets."""
    if isinstance(value, str):
        return UNKNOWN_MARK if value == rpc.UNKNOWN else value
    if isinstance(value, list):
        return [to_json_view(v) for v in value]
    if isinstance(value, dict):
        sig = value.get(_SIG)
        if sig == _SECRET_SIG:
            return SECRET_MARK
        if sig == _RESOURCE_SIG:
            return value.get("urn", UNKNOWN_MARK)
        if sig == rpc._special_archive_sig:
            if "assets" in value:
                return {"archive": {k: to_json_view(v) for k, v in value["assets"].items()}}
            return {"archive": value.get("path") or value.get("uri")}
        if sig == rpc._special_asset_sig:
            return {"asset": value.get("path") or value.get("uri") or "(text)"}
        return {k: to_json_view(v) for k, v in value.items()}
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that also records what only the monitor sees (parent, protect, ...)."""

    def __init__(
        self,
        mocks: pulumi_mocks.Mocks,
        on_record: Callable[[RecordedResource], None] | None = None,
    ) -> None:
        super().__init__(mocks)
        self.recorded: list[RecordedResource] = []
        self.on_record = on_record

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        wire = struct_pb2.Struct()
        wire.CopyFrom(request.object)
        plain = json_format.MessageToDict(wire)
        dependencies = sorted(
            {
                *request.dependencies,
                *(u for d in request.propertyDependencies.values() for u in d.urns),
            }
        )
        recorded = RecordedResource(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=request.parent,
            protect=bool(request.protect),
            custom=bool(request.custom),
            provider=request.provider,
            dependencies=dependencies,
            inputs=to_json_view(plain),
            wire=wire,
            ignore_changes=list(request.ignoreChanges),
            retain_on_delete=bool(request.retainOnDelete),
            delete_before_replace=bool(request.deleteBeforeReplace),
        )
        self.recorded.append(recorded)
        if self.on_record is not None:
            self.on_record(recorded)
        return response


def _short_hash(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _kebab(name: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", name.lower())[:60]


class RealisticMocks(pulumi_mocks.Mocks):
    """Outputs shaped like the real cloud's, derived deterministically from names."""

    def __init__(
        self, region: str = "us-east-1", gcp_project: str = "spendsense-production"
    ) -> None:
        self.region = region
        self.gcp_project = gcp_project

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = dict(args.inputs)
        typ, name = args.typ, args.name
        physical = str(inputs.get("name") or _kebab(name))
        state: dict[str, Any] = dict(inputs)
        arn_service = typ.split(":")[1] if typ.startswith("aws:") else ""
        if typ.startswith("aws:"):
            state.setdefault("arn", f"arn:aws:{arn_service}:{self.region}:{ACCOUNT_ID}:{physical}")
            state.setdefault("tagsAll", inputs.get("tags", {}))
        extra = _TYPE_OUTPUTS.get(typ)
        if extra is not None:
            state.update(extra(self, physical, inputs))
        resource_id = state.pop("__id", None) or f"{physical}-{_short_hash(typ + name)}"
        return resource_id, state

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        token = args.token
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/mock",
                "userId": "AIDMOCK",
                "id": ACCOUNT_ID,
            }, []
        if token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}, []
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}, []
        if token == "aws:ssm/getParameter:getParameter":
            # An alert route's httpsUrlParameter (alerts.py): a placeholder URL, as a preview
            # would read a SecureString; never a real endpoint.
            name = str(args.args.get("name", ""))
            return {
                "name": name,
                "type": "SecureString",
                "value": "https://pager.invalid/integration/placeholder",
                "arn": f"arn:aws:ssm:{self.region}:{ACCOUNT_ID}:parameter/{name.lstrip('/')}",
                "id": name,
            }, []
        if token == "aws:iam/getPolicyDocument:getPolicyDocument":
            return {"json": "{}", "id": "policy"}, []
        if token == "gcp:organizations/getProject:getProject":
            project = args.args.get("projectId") or self.gcp_project
            return {"projectId": project, "number": _project_number(project), "id": project}, []
        if token == "gcp:projects/getProject:getProject":
            return {"projects": [], "id": "projects"}, []
        if token == "gcp:storage/getProjectServiceAccount:getProjectServiceAccount":
            project = args.args.get("project") or self.gcp_project
            number = _project_number(project)
            return {
                "emailAddress": f"service-{number}@gs-project-accounts.iam.gserviceaccount.com",
                "member": (
                    f"serviceAccount:service-{number}@gs-project-accounts.iam.gserviceaccount.com"
                ),
                "id": project,
            }, []
        return {}, []


def _project_number(project: str) -> str:
    return str(int(_short_hash(project, 10), 16) % 10**12).rjust(12, "1")


def _apprunner_service(mocks: RealisticMocks, physical: str, inputs: Mapping[str, Any]) -> dict:
    service_name = inputs.get("serviceName", physical)
    service_id = _short_hash(service_name, 32)
    return {
        "serviceId": service_id,
        "serviceUrl": f"{_short_hash(service_name, 10)}.{mocks.region}.awsapprunner.com",
        "arn": f"arn:aws:apprunner:{mocks.region}:{ACCOUNT_ID}:service/{service_name}/{service_id}",
        "status": "RUNNING",
    }


def _ecr_repository(mocks: RealisticMocks, physical: str, inputs: Mapping[str, Any]) -> dict:
    return {
        "repositoryUrl": f"{ACCOUNT_ID}.dkr.ecr.{mocks.region}.amazonaws.com/{physical}",
        "registryId": ACCOUNT_ID,
        "arn": f"arn:aws:ecr:{mocks.region}:{ACCOUNT_ID}:repository/{physical}",
        "__id": physical,
    }


def _iam_role(mocks: RealisticMocks, physical: str, inputs: Mapping[str, Any]) -> dict:
    return {
        "arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{physical}",
        "uniqueId": "AROAMOCK",
        "__id": physical,
    }


def _sns_topic(mocks: RealisticMocks, physical: str, inputs: Mapping[str, Any]) -> dict:
    return {"arn": f"arn:aws:sns:{mocks.region}:{ACCOUNT_ID}:{physical}"}


def _secret(mocks: RealisticMocks, physical: str, inputs: Mapping[str, Any]) -> dict:
    arn = f"arn:aws:secretsmanager:{mocks.region}:{ACCOUNT_ID}:secret:{physical}-AbCdEf"
    return {"arn": arn, "__id": arn}


def _kms_key(mocks: RealisticMocks, physical: str, inputs: Mapping[str, Any]) -> dict:
    key_id = f"mrk-{_short_hash(physical, 32)}"
    return {"keyId": key_id, "arn": f"arn:aws:kms:{mocks.region}:{ACCOUNT_ID}:key/{key_id}"}


def _lambda(mocks: RealisticMocks, physical: str, inputs: Mapping[str, Any]) -> dict:
    arn = f"arn:aws:lambda:{mocks.region}:{ACCOUNT_ID}:function:{physical}"
    return {"arn": arn, "invokeArn": arn, "qualifiedArn": f"{arn}:1", "version": "1"}


def _generic_arn(kind: str) -> Callable[[RealisticMocks, str, Mapping[str, Any]], dict]:
    def outputs(mocks: RealisticMocks, physical: str, inputs: Mapping[str, Any]) -> dict:
        return {"arn": f"arn:aws:{kind}:{mocks.region}:{ACCOUNT_ID}:{physical}"}

    return outputs


def _gcp_service_account(mocks: RealisticMocks, physical: str, inputs: Mapping[str, Any]) -> dict:
    project = inputs.get("project") or mocks.gcp_project
    account = inputs.get("accountId", physical)
    email = f"{account}@{project}.iam.gserviceaccount.com"
    return {
        "email": email,
        "member": f"serviceAccount:{email}",
        "name": f"projects/{project}/serviceAccounts/{email}",
        "uniqueId": str(int(_short_hash(email, 12), 16)),
    }


def _gcp_bucket(mocks: RealisticMocks, physical: str, inputs: Mapping[str, Any]) -> dict:
    return {
        "url": f"gs://{physical}",
        "selfLink": f"https://www.googleapis.com/storage/v1/b/{physical}",
        "__id": physical,
    }


_TYPE_OUTPUTS: dict[str, Callable[[RealisticMocks, str, Mapping[str, Any]], dict]] = {
    "aws:apprunner/service:Service": _apprunner_service,
    "aws:ecr/repository:Repository": _ecr_repository,
    "aws:iam/role:Role": _iam_role,
    "aws:sns/topic:Topic": _sns_topic,
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:kms/key:Key": _kms_key,
    "aws:lambda/function:Function": _lambda,
    "aws:apprunner/autoScalingConfigurationVersion:AutoScalingConfigurationVersion": _generic_arn(
        "apprunner"
    ),
    "aws:apprunner/observabilityConfiguration:ObservabilityConfiguration": _generic_arn(
        "apprunner"
    ),
    "gcp:serviceaccount/account:Account": _gcp_service_account,
    "gcp:storage/bucket:Bucket": _gcp_bucket,
}


def _resolve(value: Any) -> tuple[Any, bool, bool]:
    """(JSON view, known, secret) of a stack output."""
    from pulumi.runtime.sync_await import _sync_await

    output = pulumi.Output.from_input(value)
    known = _sync_await(output.is_known())
    secret = _sync_await(output.is_secret())
    resolved = _sync_await(output.future()) if known else None
    if secret:
        return SECRET_MARK, known, True
    if not known:
        return UNKNOWN_MARK, False, False
    return to_json_view(_plain(resolved)), True, False


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def run_program(
    program: Callable[[], None],
    config: Mapping[str, str],
    *,
    stack: str,
    project: str = "spendsense",
    secret_keys: list[str] | None = None,
    preview: bool = True,
    mocks: pulumi_mocks.Mocks | None = None,
    on_record: Callable[[RecordedResource], None] | None = None,
) -> Recording:
    """Run `program` under the mock runtime with `config` and return what it registered.

    `on_record`, if given, is called with each resource as soon as it is registered (from the
    runtime's worker threads), e.g. to have the policy pack judge it while the program runs.

    Exceptions raised by the program (for example a `SettingsError`) propagate unchanged.
    """
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    region = str(config.get("aws:region") or "us-east-1")
    gcp_project = str(config.get("gcp:project") or "spendsense-production")
    mocks = mocks or RealisticMocks(region=region, gcp_project=gcp_project)
    monitor = RecordingMonitor(mocks, on_record)
    runtime_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor)
    pulumi.runtime.set_all_config(dict(config), secret_keys=list(secret_keys or []))
    root = runtime_settings.get_root_resource()
    _sync_await(run_pulumi_func(program))
    outputs: dict[str, Any] = {}
    secret_outputs: set[str] = set()
    for name, value in getattr(root, "outputs", {}).items():
        view, _known, secret = _resolve(value)
        outputs[name] = view
        if secret:
            secret_outputs.add(name)
    return Recording(
        stack=stack,
        project=project,
        resources=list(monitor.recorded),
        outputs=outputs,
        secret_outputs=secret_outputs,
    )
