"""botocore's Stubber for App Runner (moto has none), plus the checks the Stubber skips.

The Stubber validates requests against the API model's required fields, types and lengths
only (docs/design.md#fact-emulators); `ModelCheckedStubber` checks every request the code under
test really makes (whatever the test queued for it: a response with or without expected
params, or a client error) against the model's patterns, ranges and enums, and every expected
request given to `add_response`. A request App Runner would reject fails the test: the call
raises ModelViolation, and because the code under test may turn any exception into an error
line or a failing row, the violation is also recorded and raised again by `deactivate()` (the
fixtures' teardown), so it cannot be swallowed.
"""

from __future__ import annotations

import re
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, Shape, StructureShape
from botocore.stub import Stubber


class ModelViolation(AssertionError):
    pass


def check_against_model(shape: Shape, value: Any, path: str = "") -> None:
    """Raise ModelViolation if `value` breaks a pattern, range or enum of `shape`."""
    from botocore.stub import ANY

    if value is ANY:
        return
    meta = shape.metadata
    if isinstance(shape, StructureShape):
        for name, member in shape.members.items():
            if isinstance(value, dict) and name in value:
                check_against_model(member, value[name], f"{path}.{name}" if path else name)
        return
    if isinstance(shape, ListShape):
        for index, item in enumerate(value):
            check_against_model(shape.member, item, f"{path}[{index}]")
        return
    if isinstance(shape, MapShape):
        for key, item in value.items():
            check_against_model(shape.value, item, f"{path}[{key}]")
        return
    if "pattern" in meta and isinstance(value, str) and not re.fullmatch(meta["pattern"], value):
        raise ModelViolation(
            f"{path}={value!r} does not match the model's pattern {meta['pattern']!r}"
        )
    enum = getattr(shape, "enum", None)  # only string shapes have one
    if enum and value not in enum:
        raise ModelViolation(f"{path}={value!r} is not one of {enum}")
    if shape.type_name in {"integer", "long"} and isinstance(value, int):
        if "min" in meta and value < meta["min"]:
            raise ModelViolation(f"{path}={value} is below the model's minimum {meta['min']}")
        if "max" in meta and value > meta["max"]:
            raise ModelViolation(f"{path}={value} is above the model's maximum {meta['max']}")


class ModelCheckedStubber(Stubber):
    """A Stubber that checks every real request, and every expected one, against App Runner's
    patterns, ranges and enums."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self._model = client.meta.service_model
        self._check_event_id = f"model-check-{id(self)}"
        self.violations: list[str] = []

    def _check_real_request(self, model: Any, params: dict, **kwargs: Any) -> None:
        """before-parameter-build: the params the code really passed to the client method."""
        try:
            check_against_model(model.input_shape, params)
        except ModelViolation as exc:
            message = f"{model.name}: {exc}"
            self.violations.append(message)
            raise ModelViolation(message) from None

    def activate(self) -> None:
        self.violations = []
        self.client.meta.events.register(
            f"before-parameter-build.{self._service_event_name()}.*",
            self._check_real_request,
            unique_id=self._check_event_id,
        )
        super().activate()

    def deactivate(self) -> None:
        super().deactivate()
        self.client.meta.events.unregister(
            f"before-parameter-build.{self._service_event_name()}.*",
            self._check_real_request,
            unique_id=self._check_event_id,
        )
        if self.violations:
            found, self.violations = self.violations, []
            raise ModelViolation("requests App Runner would reject: " + "; ".join(found))

    def _service_event_name(self) -> str:
        return str(self.client.meta.service_model.service_id.hyphenize())

    def add_response(  # type: ignore[override]
        self, method: str, service_response: dict, expected_params: dict | None = None
    ) -> None:
        if expected_params is not None:
            operation = self._model.operation_model(self.client.meta.method_to_api_mapping[method])
            check_against_model(operation.input_shape, expected_params)
        super().add_response(method, service_response, expected_params)


def apprunner_client(region: str = "us-east-1") -> Any:
    """A real botocore App Runner client (no network: use it under a Stubber)."""
    session = botocore.session.get_session()
    return session.create_client(
        "apprunner",
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
