"""Run the export workflow's steps, so its two new duties are checked by behaviour.

Cloud Workflows has no emulator, and the GCS emulator keeps no object holds, so this test
runs the YAML (infra/workflows/firestore_export.yaml) with a small interpreter of the
Workflows subset it uses (assign, call, for, switch with steps/next/return, subworkflows)
against an in-memory bucket and Firestore operation list that answer in the connectors'
documented shapes (objects.list pages with `items`/`nextPageToken`, objects.patch taking a
URL-encoded object name, operations.list with `operations[].done`/`metadata["@type"]`).
Expressions are translated to Python for the handful of functions the YAML calls; anything
else fails the test, so the YAML cannot drift outside what is checked here.
"""

from __future__ import annotations

import re
import urllib.parse
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from infra.components.backups import workflow_source

ENV = {
    "GOOGLE_CLOUD_PROJECT_ID": "spendsense-production",
    "FIRESTORE_DATABASE": "(default)",
    "BACKUP_BUCKET": "spendsense-backups",
    "BACKUP_PREFIX": "daily/",
}
DATABASE = "projects/spendsense-production/databases/(default)"
EXPORT_TYPE = "type.googleapis.com/google.firestore.admin.v1.ExportDocumentsMetadata"
PAGE_SIZE = 3  # small, so every run needs several pages


class Obj(dict[str, Any]):
    """A JSON object whose keys read as attributes too (`page.nextPageToken`)."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


def wrap(value: Any) -> Any:
    if isinstance(value, dict):
        return Obj({k: wrap(v) for k, v in value.items()})
    if isinstance(value, list):
        return [wrap(v) for v in value]
    return value


class Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


class Cloud:
    """The bucket and the database's operations, as the connectors see them."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.operations: list[dict[str, Any]] = []
        self.exports: list[str] = []
        self.patches: list[str] = []
        self.operation_pages = 0

    def call(self, name: str, args: dict[str, Any]) -> Any:
        if name == "googleapis.firestore.v1.projects.databases.operations.list":
            # Pages of PAGE_SIZE, newest first in the API too: a running export may be on any.
            assert set(args) <= {"name", "pageToken"} and args["name"] == DATABASE
            start = int(args.get("pageToken") or 0)
            self.operation_pages += 1
            found: dict[str, Any] = {}
            if self.operations[start : start + PAGE_SIZE]:
                found["operations"] = self.operations[start : start + PAGE_SIZE]
            if start + PAGE_SIZE < len(self.operations):
                found["nextPageToken"] = str(start + PAGE_SIZE)
            return found
        if name == "googleapis.firestore.v1.projects.databases.exportDocuments":
            assert args["name"] == DATABASE
            assert args["connector_params"]["skip_polling"] is False
            prefix = args["body"]["outputUriPrefix"].removeprefix("gs://spendsense-backups/")
            self.exports.append(prefix)
            for part in ("all_namespaces/all_kinds/output-0", "all_namespaces/all_kinds/output-1"):
                self.objects[f"{prefix}/{part}"] = {}
            self.objects[f"{prefix}/{prefix.rsplit('/', 1)[-1]}.overall_export_metadata"] = {}
            return {"name": f"{DATABASE}/operations/export-{len(self.exports)}", "done": True}
        if name == "googleapis.storage.v1.objects.list":
            assert args["bucket"] == "spendsense-backups"
            names = sorted(n for n in self.objects if n.startswith(args["prefix"]))
            start = int(args.get("pageToken") or 0)
            page: dict[str, Any] = {
                "kind": "storage#objects",
                "items": [{"name": n, **self.objects[n]} for n in names[start : start + PAGE_SIZE]],
            }
            if start + PAGE_SIZE < len(names):
                page["nextPageToken"] = str(start + PAGE_SIZE)
            if not page["items"]:
                del page["items"]  # the JSON API leaves `items` out of an empty page
            return page
        if name == "googleapis.storage.v1.objects.patch":
            assert args["bucket"] == "spendsense-backups"
            assert "/" not in args["object"], "the connector wants a URL-encoded object name"
            object_name = urllib.parse.unquote(args["object"])
            assert set(args["body"]) == {"temporaryHold"}
            self.objects[object_name]["temporaryHold"] = args["body"]["temporaryHold"]
            self.patches.append(object_name)
            return {"name": object_name, **self.objects[object_name]}
        raise AssertionError(f"the workflow calls {name}, which this test does not model")

    def held(self) -> set[str]:
        return {n for n, o in self.objects.items() if o.get("temporaryHold")}


def _time_format(seconds: float, zone: str = "UTC") -> str:
    assert zone == "UTC"
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _map_get(value: Any, keys: Any) -> Any:
    for key in keys if isinstance(keys, list) else [keys]:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


class Runner:
    def __init__(self, cloud: Cloud, now: datetime) -> None:
        self.document = yaml.safe_load(workflow_source())
        self.cloud = cloud
        self.functions = {
            "sys_get_env": lambda name: ENV[name],
            "sys_now": lambda: now.timestamp(),
            "time_format": _time_format,
            "text_substring": lambda s, a, b: s[a:b],
            "text_find_substring": lambda s, sub: s.find(sub),
            "text_match_regex": lambda s, rx: re.search(rx, s) is not None,
            "text_url_encode": lambda s: urllib.parse.quote(s, safe=""),
            "map_get": _map_get,
            "default": lambda v, d: d if v is None else v,
        }

    def value(self, raw: Any, scope: dict[str, Any]) -> Any:
        if isinstance(raw, str) and raw.startswith("${") and raw.endswith("}"):
            return self.expression(raw[2:-1], scope)
        if isinstance(raw, dict):
            return {k: self.value(v, scope) for k, v in raw.items()}
        if isinstance(raw, list):
            return [self.value(v, scope) for v in raw]
        return raw

    def expression(self, text: str, scope: dict[str, Any]) -> Any:
        python = re.sub(r"\b(sys|time|text|map)\.(\w+)\(", r"\1_\2(", text)
        python = re.sub(r"\bnull\b", "None", python)
        python = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", python))
        python = re.sub(r"\bnot\(", "not (", python)
        code = re.sub(r'"(?:[^"\\]|\\.)*"', '""', python)  # names inside strings are text
        for name in re.findall(r"\b([A-Za-z_]\w*)\s*\(", code):
            if name not in self.functions and name != "not":
                raise AssertionError(f"function {name} in {text!r} is not modelled")
        return eval(python, {"__builtins__": {}}, {**self.functions, **scope})

    def run(self, name: str, args: dict[str, Any]) -> Any:
        body = self.document[name]
        scope = {param: args[param] for param in body.get("params", [])}
        try:
            self.steps(body["steps"], scope)
        except Return as done:
            return done.value
        return None

    def steps(self, steps: list[dict[str, Any]], scope: dict[str, Any]) -> str | None:
        """Run a step list; returns a `next` target this list does not hold."""
        names = [next(iter(step)) for step in steps]
        index = 0
        while index < len(steps):
            step = next(iter(steps[index].values()))
            target = self.step(step, scope)
            if target is None:
                index += 1
            elif target in names:
                index = names.index(target)
            else:
                return target
        return None

    def step(self, step: dict[str, Any], scope: dict[str, Any]) -> str | None:
        known = {"assign", "call", "args", "result", "for", "switch", "return", "steps", "next"}
        assert set(step) <= known, f"step keys {set(step) - known} are not modelled"
        for assignment in step.get("assign", []):
            ((key, raw),) = assignment.items()
            scope[key] = wrap(self.value(raw, scope))
        if "call" in step:
            args = self.value(step.get("args", {}), scope)
            if step["call"] in self.document:
                result = self.run(step["call"], args)
            else:
                result = self.cloud.call(step["call"], args)
            if "result" in step:
                scope[step["result"]] = wrap(result)
        if "for" in step:
            loop = step["for"]
            for item in self.value(loop["in"], scope):
                inner = {**scope, loop["value"]: item}
                target = self.steps(loop["steps"], inner)
                assert target is None, "a jump out of a loop is not modelled"
        if "switch" in step:
            for branch in step["switch"]:
                if self.value(branch["condition"], scope):
                    return self.step({k: v for k, v in branch.items() if k != "condition"}, scope)
        if "steps" in step:
            target = self.steps(step["steps"], scope)
            if target is not None:
                return target
        if "return" in step:
            raise Return(self.value(step["return"], scope))
        next_step: str | None = step.get("next")
        return next_step


def run(cloud: Cloud, when: datetime) -> Any:
    return Runner(cloud, when).run("main", {"args": {"trigger": "cloud-scheduler"}})


DAY1 = datetime(2026, 11, 27, 2, 0, 0, tzinfo=UTC)
DAY2 = datetime(2026, 11, 28, 2, 0, 0, tzinfo=UTC)


def test_the_newest_good_export_holds_and_the_older_ones_are_released() -> None:
    cloud = Cloud()
    first = run(cloud, DAY1)
    assert first["folder"] == "daily/20261127_020000/"
    assert cloud.held() == {n for n in cloud.objects if n.startswith("daily/20261127_020000/")}
    assert len(cloud.held()) == 3
    run(cloud, DAY2)
    assert cloud.held() == {n for n in cloud.objects if n.startswith("daily/20261128_020000/")}
    assert cloud.exports == ["daily/20261127_020000", "daily/20261128_020000"]
    # Nothing else in the bucket is touched (manual exports keep their own lifecycle).
    cloud.objects["manual-20261101_120000/x"] = {}
    run(cloud, datetime(2026, 11, 29, 2, 0, 0, tzinfo=UTC))
    assert "manual-20261101_120000/x" not in cloud.patches


def test_every_page_of_objects_is_visited() -> None:
    cloud = Cloud()
    for day in range(1, 6):  # 5 exports x 3 objects = 15 objects, 5 pages of 3
        run(cloud, datetime(2026, 11, day, 2, 0, 0, tzinfo=UTC))
    assert cloud.held() == {n for n in cloud.objects if n.startswith("daily/20261105_020000/")}


@pytest.mark.parametrize("done", [False, None])
def test_a_second_start_while_an_export_runs_ends_without_exporting(done: bool | None) -> None:
    cloud = Cloud()
    run(cloud, DAY1)
    running: dict[str, Any] = {
        "name": f"{DATABASE}/operations/ASA1",
        "metadata": {
            "@type": EXPORT_TYPE,
            "operationState": "PROCESSING",
            "outputUriPrefix": "gs://spendsense-backups/daily/20261128_015500",
        },
    }
    if done is not None:
        running["done"] = done  # the API leaves `done` out while an operation runs
    cloud.operations = [running]
    before = {n: dict(o) for n, o in cloud.objects.items()}
    result = run(cloud, DAY2)
    assert result == {
        "skipped": f"a daily export is already running ({DATABASE}/operations/ASA1); "
        "not starting another"
    }
    assert cloud.exports == ["daily/20261127_020000"]
    assert {n: dict(o) for n, o in cloud.objects.items()} == before


def test_finished_or_other_operations_do_not_stop_the_export() -> None:
    cloud = Cloud()
    cloud.operations = [
        {"name": "op/1", "done": True, "metadata": {"@type": EXPORT_TYPE}},
        {
            "name": "op/2",
            "metadata": {
                "@type": "type.googleapis.com/google.firestore.admin.v1.IndexOperationMetadata"
            },
        },
    ]
    run(cloud, DAY1)
    assert cloud.exports == ["daily/20261127_020000"]


def finished(index: int) -> dict[str, Any]:
    return {"name": f"op/{index}", "done": True, "metadata": {"@type": EXPORT_TYPE}}


def test_a_running_daily_export_on_a_later_page_is_seen() -> None:
    """operations.list pages: the old workflow read only the first page and exported again."""
    cloud = Cloud()
    cloud.operations = [finished(i) for i in range(2 * PAGE_SIZE)] + [
        {
            "name": f"{DATABASE}/operations/LATE",
            "metadata": {
                "@type": EXPORT_TYPE,
                "outputUriPrefix": "gs://spendsense-backups/daily/20261127_015900",
            },
        }
    ]
    result = run(cloud, DAY1)
    assert result == {
        "skipped": f"a daily export is already running ({DATABASE}/operations/LATE); "
        "not starting another"
    }
    assert cloud.exports == []
    assert cloud.operation_pages == 3


def test_a_running_manual_export_does_not_cost_the_day_its_daily_export() -> None:
    """`spendsense backup create` writes manual-*/: the daily export still runs and holds."""
    cloud = Cloud()
    cloud.operations = [
        {
            "name": f"{DATABASE}/operations/MANUAL",
            "metadata": {
                "@type": EXPORT_TYPE,
                "operationState": "PROCESSING",
                "outputUriPrefix": "gs://spendsense-backups/manual-20261127_015000",
            },
        }
    ]
    result = run(cloud, DAY1)
    assert result["folder"] == "daily/20261127_020000/"
    assert cloud.exports == ["daily/20261127_020000"]
