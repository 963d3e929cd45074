"""Fixtures of the `spendsense` command's tests (tests/scripts mirrors scripts/spendsense).

The fixtures live in two modules, by the peers they stand up; this conftest makes them
available to every test under tests/scripts:

- `tests.scripts.live_api`: the staging stack against a real local API (`api_server`,
  `write_outputs`), socket-level servers (`raw_server`), App Runner as a model-checked Stubber
  at the commands' seam (`apprunner`), AWS JSON-protocol and moto helpers;
- `tests.scripts.scripted_peers`: stack-output files for either stack (`write_stack_outputs`),
  a scripted HTTP server (`http_server`, `health_server`), the GCS emulator (`gcs`), App Runner
  as a Stubber on its own client (`apprunner_stub`) and the service's alarms in moto
  (`cloudwatch`).
"""

from __future__ import annotations

from tests.scripts.live_api import (
    _api_server,
    _apprunner_client,
    api_server,
    apprunner,
    aws_admin,
    aws_json_peer,
    gcs_bucket,
    raw_server,
    refused_url,
    write_outputs,
)
from tests.scripts.scripted_peers import (
    apprunner_stub,
    cloudwatch,
    gcs,
    health_server,
    http_server,
    write_stack_outputs,
)

__all__ = [
    "_api_server",
    "_apprunner_client",
    "api_server",
    "apprunner",
    "apprunner_stub",
    "aws_admin",
    "aws_json_peer",
    "cloudwatch",
    "gcs",
    "gcs_bucket",
    "health_server",
    "http_server",
    "raw_server",
    "refused_url",
    "write_outputs",
    "write_stack_outputs",
]
