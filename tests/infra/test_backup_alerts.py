"""The "no export" alert's PromQL, evaluated by Prometheus' own engine (`promtool test rules`).

Cloud Monitoring evaluates PromQL conditions with Prometheus semantics; `promtool` (Debian and
Ubuntu package `prometheus`) runs the program's exact query over made-up series and says
when it would fire. The workflow metric is a delta in Cloud Monitoring: a series has points
only when executions finish, so "no execution" is "no series".
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from infra.components.backup_alerts import missing_export_query
from tests.conftest import skip_or_fail

WORKFLOW = "firestore-daily-export"
JOB = f"{WORKFLOW}-schedule"


def selector(status: str) -> str:
    return (
        "workflows_googleapis_com:finished_execution_count{"
        f'monitored_resource="workflows.googleapis.com/Workflow",workflow_id="{WORKFLOW}",'
        f'status="{status}"' + "}"
    )


def series(status: str, values: str) -> dict[str, str]:
    return {"series": selector(status), "values": values}


def attempts(values: str, code: str = "200") -> dict[str, str]:
    """The Cloud Scheduler job's attempts (cloudscheduler.googleapis.com/job/attempt_count)."""
    return {
        "series": "cloudscheduler_googleapis_com:job_attempt_count{"
        f'monitored_resource="cloud_scheduler_job",job_id="{JOB}",response_code="{code}"' + "}",
        "values": values,
    }


def fires(tmp_path: Path, input_series: list[dict[str, str]], at: str, query: str) -> bool:
    """Whether the alert is firing at `at` (promtool: hourly samples from t=0)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        skip_or_fail("promtool is not installed (apt-get install prometheus)")
    # count() drops the labels, so "firing" is one alert with no labels, whatever branch fired.
    rule = {"alert": "ExportMissing", "expr": f"count({query})"}
    rules = {"groups": [{"name": "backups", "rules": [rule]}]}
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    results = []
    for expected in ([], [{"exp_labels": {}}]):
        test = {
            "rule_files": ["rules.yml"],
            "evaluation_interval": "5m",
            "tests": [
                {
                    "interval": "1h",
                    "input_series": input_series,
                    "alert_rule_test": [
                        {"eval_time": at, "alertname": "ExportMissing", "exp_alerts": expected}
                    ],
                }
            ],
        }
        (tmp_path / "test.yml").write_text(yaml.safe_dump(test))
        run = subprocess.run(
            [str(promtool), "test", "rules", "test.yml"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        results.append(run.returncode == 0)
    silent, firing = results
    assert silent != firing, "promtool must accept exactly one of: silent, firing"
    return firing


QUERY = missing_export_query(WORKFLOW, 26, JOB)
# A daily success at 02:00 for five days: hour 0, 24, 48, ... (a delta: one point per run).
DAILY = " ".join(("1" if h % 24 == 0 else "_") for h in range(5 * 24))


def test_a_fresh_stack_with_no_execution_does_not_page(tmp_path: Path) -> None:
    """Issue 13.4: before the first run there is no series at all."""
    assert not fires(tmp_path, [], "30h", QUERY)
    assert not fires(tmp_path, [], "300h", QUERY)


def test_daily_successes_do_not_page(tmp_path: Path) -> None:
    runs = [attempts(DAILY), series("SUCCEEDED", DAILY)]
    assert not fires(tmp_path, runs, "100h", QUERY)


def test_the_first_scheduled_attempt_gets_26_hours(tmp_path: Path) -> None:
    """A fresh stack whose scheduler has just fired once: no page before the export could run."""
    assert not fires(tmp_path, [attempts("1")], "25h", QUERY)


def test_a_scheduler_that_never_starts_a_good_export_pages(tmp_path: Path) -> None:
    """Broken from day one (wrong method, wrong workflow, a refused invoker): the scheduler
    attempts daily, no execution ever finishes. The old query, armed by a finished execution,
    never paged for this."""
    runs = [attempts(DAILY, code="403")]
    assert not fires(tmp_path, runs, "25h", QUERY)
    assert fires(tmp_path, runs, "27h", QUERY)
    assert fires(tmp_path, runs, "100h", QUERY)


def test_exports_that_stopped_page_after_26_hours(tmp_path: Path) -> None:
    runs = [attempts("1"), series("SUCCEEDED", "1")]  # one success at hour 0, then nothing
    assert not fires(tmp_path, runs, "25h", QUERY)
    assert fires(tmp_path, runs, "27h", QUERY)
    assert fires(tmp_path, runs, "400h", QUERY), "it keeps paging while exports are stopped"


def test_a_first_run_that_failed_pages_once_26_hours_pass(tmp_path: Path) -> None:
    runs = [attempts("1"), series("FAILED", "1")]
    assert fires(tmp_path, runs, "27h", QUERY)


@pytest.mark.parametrize("at", ["30h", "300h"])
def test_the_old_query_paged_on_every_fresh_stack(tmp_path: Path, at: str) -> None:
    """What issue 13.4 describes: `absent_over_time` alone is true with no series at all."""
    succeeded = selector("SUCCEEDED")
    old = f"(sum(increase({succeeded}[26h])) < 1) or on() absent_over_time({succeeded}[26h])"
    assert fires(tmp_path, [], at, old)
