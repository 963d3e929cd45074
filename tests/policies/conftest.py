"""One policy pack process per test session, driven through its Analyzer gRPC interface.

The pack is started exactly as the engine starts it and configured with exactly its own
defaults (what the Pulumi CLI sends when the user gives no config). Tests that need another
config use `pack.configured(...)`, which restores the defaults afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from spendsense.plan.analyzer import (
    Diagnostic,
    PackResource,
    PolicyInfo,
    PolicyPackProcess,
    merge_config,
    struct_of,
)

STACK = "production"
PROJECT = "spendsense"


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::{PROJECT}::{type_}::{name}"


def resource(
    type_: str,
    name: str,
    props: Mapping[str, Any],
    *,
    protect: bool = False,
    dependencies: Sequence[str] = (),
    parent: str = "",
) -> PackResource:
    return PackResource(
        urn=urn(type_, name),
        type=type_,
        name=name,
        properties=struct_of(props),
        parent=parent,
        protect=protect,
        dependencies=tuple(dependencies),
    )


class Pack:
    def __init__(self, process: PolicyPackProcess) -> None:
        self.process = process
        self.name, self.policies = process.info()
        self.defaults = merge_config(self.policies)

    @property
    def by_name(self) -> dict[str, PolicyInfo]:
        return {p.name: p for p in self.policies}

    def configure(self, user: Mapping[str, Any] | None = None) -> None:
        self.process.configure(merge_config(self.policies, user))

    @contextlib.contextmanager
    def configured(self, user: Mapping[str, Any]) -> Iterator[None]:
        self.configure(user)
        try:
            yield
        finally:
            self.process.configure(self.defaults)

    def analyze(
        self, type_: str, props: Mapping[str, Any], *, protect: bool = False, name: str = "it"
    ) -> list[Diagnostic]:
        return self.process.analyze(resource(type_, name, props, protect=protect))

    def analyze_stack(self, resources: Sequence[PackResource]) -> list[Diagnostic]:
        return self.process.analyze_stack(
            resources, stack_urn=urn("pulumi:pulumi:Stack", f"{PROJECT}-{STACK}")
        )


@pytest.fixture(scope="session")
def pack() -> Iterator[Pack]:
    process = PolicyPackProcess.start()
    try:
        process.connect(timeout=60)
        handle = Pack(process)
        process.configure(handle.defaults)
        process.configure_stack(STACK, PROJECT)
        yield handle
    finally:
        process.close()


def messages(diagnostics: Sequence[Diagnostic], policy: str) -> list[str]:
    """The messages of one policy's diagnostics."""
    return [d.message for d in diagnostics if d.policy == policy]


def only(diagnostics: Sequence[Diagnostic], policy: str) -> Diagnostic:
    """Exactly one diagnostic of `policy` (and say what else came back if not)."""
    found = [d for d in diagnostics if d.policy == policy]
    assert len(found) == 1, (
        f"expected one {policy} diagnostic, got {[(d.policy, d.message) for d in diagnostics]}"
    )
    return found[0]
