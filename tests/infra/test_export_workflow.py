"""The daily export's Cloud Workflows source names each run's folder `daily/YYYYMMDD_HHMMSS/`.

The workflow YAML (infra/workflows/firestore_export.yaml) is parsed and its `init` step is
evaluated by a tiny interpreter of the Workflows expression subset it uses (string literals,
variables, `+`, and the calls `sys.get_env`, `sys.now`, `time.format`, `text.substring`).
Anything else in an expression makes the interpreter fail, so the YAML cannot drift to an
expression this test does not check.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from spendsense.plan.recorder import Recording

from infra.components.backups import DAILY_PREFIX, WORKFLOW_SOURCE, workflow_source

Recorded = Callable[[str], Recording]
EXPORT_CONNECTOR = "googleapis.firestore.v1.projects.databases.exportDocuments"
ENV = {
    "GOOGLE_CLOUD_PROJECT_ID": "spendsense-production",
    "FIRESTORE_DATABASE": "(default)",
    "BACKUP_BUCKET": "spendsense-backups",
    "BACKUP_PREFIX": "daily/",
}


# -- a tiny evaluator for the Workflows expressions the source uses ---------------------------
class ExpressionError(Exception):
    pass


_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>\d+)|(?P<name>[A-Za-z_][\w.]*)|(?P<op>[+(),]))'
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise ExpressionError(f"cannot read {text[pos:]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _time_format(seconds: float, zone: str = "UTC") -> str:
    """Workflows' time.format: RFC 3339, fractional seconds only when there are any."""
    if zone != "UTC":
        raise ExpressionError(f"this test models only UTC, not {zone!r}")
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    if seconds != int(seconds):
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Evaluator:
    def __init__(self, env: Mapping[str, str], now: datetime) -> None:
        self.variables: dict[str, Any] = {}
        self.functions: dict[str, Callable[..., Any]] = {
            "sys.get_env": lambda name: env[name],
            "sys.now": lambda: now.timestamp(),
            "time.format": _time_format,
            "text.substring": lambda s, start, end: s[start:end],
        }

    def value(self, raw: Any) -> Any:
        if isinstance(raw, str) and raw.startswith("${") and raw.endswith("}"):
            return self.expression(raw[2:-1])
        return raw

    def expression(self, text: str) -> Any:
        self._tokens = _tokens(text)
        self._pos = 0
        result = self._sum()
        if self._pos != len(self._tokens):
            raise ExpressionError(f"unexpected {self._tokens[self._pos][1]!r} in {text!r}")
        return result

    def _peek(self) -> tuple[str, str] | None:
        return self._tokens[self._pos] if self._pos < len(self._tokens) else None

    def _take(self, value: str | None = None) -> tuple[str, str]:
        token = self._peek()
        if token is None or (value is not None and token[1] != value):
            raise ExpressionError(f"expected {value or 'a value'}, got {token}")
        self._pos += 1
        return token

    def _sum(self) -> Any:
        result = self._term()
        while (token := self._peek()) is not None and token[1] == "+":
            self._take("+")
            right = self._term()
            if not isinstance(result, str) or not isinstance(right, str):
                raise ExpressionError("+ joins strings only in this workflow")
            result = result + right
        return result

    def _term(self) -> Any:
        kind, text = self._take()
        if kind == "str":
            return yaml.safe_load(text)
        if kind == "num":
            return int(text)
        if kind != "name":
            raise ExpressionError(f"unexpected {text!r}")
        token = self._peek()
        if token is not None and token[1] == "(":
            if text not in self.functions:
                raise ExpressionError(f"function {text} is not modelled by this test")
            self._take("(")
            args = []
            while (token := self._peek()) is not None and token[1] != ")":
                args.append(self._sum())
                if (token := self._peek()) is not None and token[1] == ",":
                    self._take(",")
            self._take(")")
            return self.functions[text](*args)
        if text not in self.variables:
            raise ExpressionError(f"variable {text} is not assigned before use")
        return self.variables[text]


def steps(source: str) -> dict[str, dict[str, Any]]:
    document = yaml.safe_load(source)
    return {name: body for step in document["main"]["steps"] for name, body in step.items()}


def run_init(source: str, env: Mapping[str, str], now: datetime) -> dict[str, Any]:
    evaluator = Evaluator(env, now)
    for assignment in steps(source)["init"]["assign"]:
        ((name, raw),) = assignment.items()
        evaluator.variables[name] = evaluator.value(raw)
    return evaluator.variables


# -- the rules ---------------------------------------------------------------------------------
def test_the_02_00_utc_run_writes_into_its_dated_daily_folder() -> None:
    """A run started at 2026-11-27T02:00:00Z exports into daily/20261127_020000/."""
    values = run_init(workflow_source(), ENV, datetime(2026, 11, 27, 2, 0, 0, tzinfo=UTC))
    assert values["folder"] == "daily/20261127_020000/"
    assert values["output_uri_prefix"] == "gs://spendsense-backups/daily/20261127_020000"


@pytest.mark.parametrize(
    ("now", "folder"),
    [
        (datetime(2027, 1, 5, 23, 59, 59, 987000, tzinfo=UTC), "daily/20270105_235959/"),
        (datetime(2026, 3, 1, 0, 0, 7, tzinfo=UTC), "daily/20260301_000007/"),
    ],
)
def test_the_folder_is_the_utc_start_time_zero_padded_with_whole_seconds(
    now: datetime, folder: str
) -> None:
    assert run_init(workflow_source(), ENV, now)["folder"] == folder


def test_the_folder_name_is_the_layout_manual_exports_use() -> None:
    """daily/YYYYMMDD_HHMMSS, as manual-YYYYMMDD_HHMMSS (docs/design.md#backup-layout)."""
    now = datetime(2026, 11, 27, 14, 5, 9, tzinfo=UTC)
    folder = run_init(workflow_source(), ENV, now)["folder"]
    assert folder.startswith(DAILY_PREFIX)
    assert folder.removeprefix(DAILY_PREFIX).rstrip("/") == now.strftime("%Y%m%d_%H%M%S")


def test_the_export_calls_the_firestore_connector_and_waits_for_it() -> None:
    """The connector polls the long-running export, so a failed export fails the execution."""
    source = workflow_source()
    export = steps(source)["export"]
    assert export["call"] == EXPORT_CONNECTOR
    assert export["args"]["connector_params"]["skip_polling"] is False
    assert export["args"]["connector_params"]["timeout"] >= 3600
    evaluator = Evaluator(ENV, datetime(2026, 11, 27, 2, 0, 0, tzinfo=UTC))
    evaluator.variables.update(run_init(source, ENV, datetime(2026, 11, 27, 2, 0, 0, tzinfo=UTC)))
    assert (
        evaluator.value(export["args"]["name"])
        == "projects/spendsense-production/databases/(default)"
    )
    assert (
        evaluator.value(export["args"]["body"]["outputUriPrefix"])
        == "gs://spendsense-backups/daily/20261127_020000"
    )


def test_the_deployed_workflow_is_this_source_with_the_stacks_bucket(recorded: Recorded) -> None:
    """What Pulumi deploys is the file the tests evaluate, fed by the stack's own values."""
    workflow = recorded("staging").one("gcp:workflows/workflow:Workflow").inputs
    assert workflow["sourceContents"] == WORKFLOW_SOURCE.read_text(encoding="utf-8")
    env = {"GOOGLE_CLOUD_PROJECT_ID": "spendsense-staging", **workflow["userEnvVars"]}
    values = run_init(workflow["sourceContents"], env, datetime(2026, 11, 27, 2, 0, tzinfo=UTC))
    assert values["output_uri_prefix"] == "gs://spendsense-staging-backups/daily/20261127_020000"


def test_the_evaluator_refuses_what_it_does_not_model() -> None:
    """So a changed expression fails this test instead of being waved through."""
    evaluator = Evaluator(ENV, datetime(2026, 11, 27, 2, 0, tzinfo=UTC))
    with pytest.raises(ExpressionError, match="not modelled"):
        evaluator.expression('text.replace_all("a-b", "-", "")')
    with pytest.raises(ExpressionError, match="not assigned"):
        evaluator.expression('prefix + "x"')


# -- issue 13: a second start, and the newest good export ---------------------------------------
def test_a_second_start_never_runs_a_second_export() -> None:
    """A Cloud Scheduler retry after a start whose answer was lost starts a second execution;
    it lists the database's operations first and ends while an export is still running."""
    source = workflow_source()
    names = list(steps(source))
    assert names.index("running") < names.index("skip_if_running") < names.index("export")
    running = steps(source)["running"]
    assert running["call"] == "googleapis.firestore.v1.projects.databases.operations.list"
    evaluator = Evaluator(ENV, datetime(2026, 11, 27, 2, 0, 0, tzinfo=UTC))
    evaluator.variables.update(run_init(source, ENV, datetime(2026, 11, 27, 2, 0, 0, tzinfo=UTC)))
    assert (
        evaluator.value(running["args"]["name"])
        == "projects/spendsense-production/databases/(default)"
    )
    loop = steps(source)["skip_if_running"]["for"]
    assert loop["in"] == '${default(map.get(operations, "operations"), [])}'
    ((check,),) = [step.values() for step in loop["steps"]]
    (branch,) = check["switch"]
    assert 'not(default(map.get(op, "done"), false))' in branch["condition"]
    assert '"ExportDocumentsMetadata$"' in branch["condition"]
    ((stop,),) = [step.values() for step in branch["steps"]]
    assert "skipped" in stop["return"], "the second execution ends without exporting"


def test_the_newest_good_export_is_held_and_older_ones_released() -> None:
    """The daily/ lifecycle rule deletes by age alone; a temporary hold keeps the newest good
    export past it if exports stop (holds block deletes, lifecycle's included)."""
    document = yaml.safe_load(workflow_source())
    names = list(steps(workflow_source()))
    assert names.index("export") < names.index("hold") < names.index("done")
    hold = steps(workflow_source())["hold"]
    assert hold["call"] == "hold_newest"
    assert hold["args"] == {"bucket": "${bucket}", "prefix": "${prefix}", "folder": "${folder}"}
    sub = {name: body for step in document["hold_newest"]["steps"] for name, body in step.items()}
    assert document["hold_newest"]["params"] == ["bucket", "prefix", "folder"]
    assert sub["list"]["call"] == "googleapis.storage.v1.objects.list"
    assert sub["list"]["args"]["prefix"] == "${prefix}"
    assert sub["list"]["args"]["pageToken"] == "${page_token}"
    each = {n: b for step in sub["each"]["for"]["steps"] for n, b in step.items()}
    assert each["want"]["assign"] == [
        {"newest": "${text.find_substring(object.name, folder) == 0}"},
        {"held": '${default(map.get(object, "temporaryHold"), false)}'},
    ]
    (branch,) = each["change"]["switch"]
    assert branch["condition"] == "${newest != held}"
    ((patch,),) = [step.values() for step in branch["steps"]]
    assert patch["call"] == "googleapis.storage.v1.objects.patch"
    assert patch["args"]["object"] == "${text.url_encode(object.name)}"
    assert patch["args"]["body"] == {"temporaryHold": "${newest}"}
    # Every page is visited, not just the first thousand objects.
    assert sub["more"]["switch"][0]["next"] == "list"
