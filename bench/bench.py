"""`make bench`: how fast `spendsense plan` and the policy pack are.

1. Cold wall time of `spendsense plan --stack <stack>` (process start to exit, policy pack
   included), several runs per stack, median reported. Nothing is warm between runs except the
   operating system's file cache (as on a developer's laptop or a CI runner after checkout).
   Also the CPU time of plan and its pack (less sensitive to other load on the machine), and
   whether the imported modules have compiled bytecode (without it every number is ~6x).
2. The pack's throughput through gRPC on a synthetic stack of 1,000 resources shaped like the
   real ones: per-resource `Analyze` calls (sequential, and 8 in flight), then one
   `AnalyzeStack` with all of them.
3. The growth series: the production stack's AWS part repeated 1, 8 and 32 times, each copy
   renamed and linked to its own (bench/growth.py), every copy checked free of violations;
   `AnalyzeStack` time per copy count and the exponent between 8 and 32 copies (1.0 is
   linear; the goal is at most 1.15).
4. Plan against a base (bench/base_diff.py): cold `plan --stack production --base HEAD~1` in a
   temporary repository whose last commit changes one threshold, next to a plain plan there
   (goal: at most 2x).

Usage: python bench/bench.py [--runs N] [--resources N] [--copies N ...] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SPENDSENSE = Path(sys.executable).parent / "spendsense"
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "bench"))
from base_diff import base_diff, print_base_diff  # noqa: E402

TAGS = {"Project": "spendsense", "Environment": "production", "ManagedBy": "pulumi"}
LABELS = {"project": "spendsense", "environment": "production", "managed-by": "pulumi"}


def one_plan(stack: str, env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """(wall s, CPU s of plan and its pack, exit code) of one cold `spendsense plan`."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [str(SPENDSENSE), "plan", "--stack", stack],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
        env=env,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU time of plan and its pack process: what the machine's other load does not change
    cpu = after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime
    return wall, cpu, done.returncode


def cold_plan(stack: str, runs: int) -> dict[str, Any]:
    times, cpu, codes = [], [], set()
    for _ in range(runs):
        wall, used, code = one_plan(stack)
        times.append(wall)
        cpu.append(used)
        codes.add(code)
    return {
        "stack": stack,
        "runs": runs,
        "median_s": round(statistics.median(times), 3),
        "min_s": round(min(times), 3),
        "max_s": round(max(times), 3),
        "cpu_median_s": round(statistics.median(cpu), 3),
        "exit_codes": sorted(codes),
    }


def bytecode() -> dict[str, Any]:
    """Whether the modules plan imports have compiled bytecode (.pyc) to load.

    Without it every run compiles them from source: uv does not compile at install time
    unless asked (`--compile-bytecode`), and with PYTHONDONTWRITEBYTECODE=1 (set on this
    machine) Python never writes the .pyc it compiles, so every run pays again (~13 s).
    """
    import importlib.util

    spec = importlib.util.find_spec("pulumi_aws")
    sdk = Path(spec.origin).parent if spec and spec.origin else REPO / "missing"
    samples = {
        "provider SDKs": sorted((sdk / "cloudwatch").glob("*.py")),
        "project sources": sorted((REPO / "infra").rglob("*.py"))
        + sorted((REPO / "scripts" / "spendsense").rglob("*.py")),
    }
    found: dict[str, Any] = {}
    for what, files in samples.items():
        compiled = sum(1 for f in files if Path(importlib.util.cache_from_source(str(f))).exists())
        found[what] = f"{compiled}/{len(files)}"
    found["PYTHONDONTWRITEBYTECODE"] = os.environ.get("PYTHONDONTWRITEBYTECODE", "")
    return found


def synthetic(count: int) -> list[Any]:
    """`count` resources in the proportions of a real stack (alarms, IAM, buckets, ...)."""
    from spendsense.plan.analyzer import PackResource, struct_of

    shapes: list[tuple[str, dict[str, Any]]] = [
        (
            "aws:apprunner/service:Service",
            {
                "serviceName": "svc",
                "instanceConfiguration": {"cpu": "1 vCPU", "memory": "2 GB"},
                "healthCheckConfiguration": {"protocol": "HTTP", "path": "/health"},
                "autoScalingConfigurationArn": (
                    "arn:aws:apprunner:us-east-1:1:autoscalingconfiguration/a"
                ),
                "sourceConfiguration": {
                    "imageRepository": {
                        "imageIdentifier": "x:1",
                        "imageRepositoryType": "ECR",
                        "imageConfiguration": {
                            "port": "8000",
                            "runtimeEnvironmentVariables": {"LOG_LEVEL": "info"},
                        },
                    }
                },
                "tags": TAGS,
            },
        ),
        (
            "aws:cloudwatch/metricAlarm:MetricAlarm",
            {
                "name": "a",
                "namespace": "AWS/AppRunner",
                "metricName": "CPUUtilization",
                "dimensions": {"ServiceName": "svc"},
                "statistic": "Average",
                "threshold": 70,
                "comparisonOperator": "GreaterThanThreshold",
                "alarmActions": ["arn:aws:sns:us-east-1:1:t"],
                "tags": TAGS,
            },
        ),
        (
            "aws:cloudwatch/metricAlarm:MetricAlarm",
            {
                "name": "b",
                "namespace": "AWS/AppRunner",
                "metricName": "RequestLatency",
                "dimensions": {"ServiceName": "svc"},
                "extendedStatistic": "p95",
                "threshold": 500,
                "comparisonOperator": "GreaterThanThreshold",
                "alarmActions": ["arn:aws:sns:us-east-1:1:t"],
                "tags": TAGS,
            },
        ),
        (
            "aws:iam/role:Role",
            {
                "name": "r",
                "assumeRolePolicy": json.dumps({"Version": "2012-10-17", "Statement": []}),
                "tags": TAGS,
            },
        ),
        (
            "aws:iam/rolePolicy:RolePolicy",
            {"role": "r", "policy": json.dumps({"Version": "2012-10-17", "Statement": []})},
        ),
        (
            "aws:cloudwatch/logGroup:LogGroup",
            {"name": "/aws/x", "retentionInDays": 30, "tags": TAGS},
        ),
        (
            "aws:ecr/repository:Repository",
            {
                "name": "r",
                "imageTagMutability": "IMMUTABLE",
                "imageScanningConfiguration": {"scanOnPush": True},
                "tags": TAGS,
            },
        ),
        (
            "gcp:storage/bucket:Bucket",
            {
                "name": "spendsense-backups",
                "location": "US",
                "uniformBucketLevelAccess": True,
                "publicAccessPrevention": "enforced",
                "lifecycleRules": [
                    {
                        "action": {"type": "Delete"},
                        "condition": {"age": 30, "matchesPrefixes": ["daily/"]},
                    }
                ],
                "labels": LABELS,
            },
        ),
        (
            "gcp:storage/bucketIAMMember:BucketIAMMember",
            {
                "bucket": "b",
                "role": "roles/storage.objectViewer",
                "member": "serviceAccount:x@p.iam.gserviceaccount.com",
            },
        ),
        (
            "gcp:monitoring/alertPolicy:AlertPolicy",
            {
                "displayName": "x",
                "combiner": "OR",
                "conditions": [
                    {"displayName": "c", "conditionThreshold": {"filter": "f", "duration": "300s"}}
                ],
                "userLabels": LABELS,
            },
        ),
        (
            "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable",
            {
                "projectId": "p",
                "key": "NEXT_PUBLIC_API_URL",
                "value": "https://x.example",
                "targets": ["production"],
            },
        ),
    ]
    resources = []
    for i in range(count):
        type_, props = shapes[i % len(shapes)]
        name = f"r{i}"
        resources.append(
            PackResource(
                urn=f"urn:pulumi:bench::spendsense::{type_}::{name}",
                type=type_,
                name=name,
                properties=struct_of(props),
                protect=True,
            )
        )
    return resources


def throughput(count: int) -> dict[str, Any]:
    from spendsense.plan.analyzer import PolicyPackProcess, load_policy_config, merge_config
    from spendsense.repo import pack_dir

    resources = synthetic(count)
    start = time.perf_counter()
    with PolicyPackProcess.start() as pack:
        pack.connect(timeout=60)
        started = time.perf_counter() - start
        _, policies = pack.info()
        pack.configure(
            merge_config(policies, load_policy_config(pack_dir() / "config" / "production.json"))
        )
        pack.configure_stack("bench", "spendsense")
        pack.analyze(resources[0])  # warm the channel

        t = time.perf_counter()
        sequential = sum(len(pack.analyze(r)) for r in resources)
        seq_s = time.perf_counter() - t

        t = time.perf_counter()
        concurrent = len(pack.analyze_many(resources, window=8))
        conc_s = time.perf_counter() - t

        t = time.perf_counter()
        stack_diagnostics = len(pack.analyze_stack(resources))
        stack_s = time.perf_counter() - t
    return {
        "resources": count,
        "policies": len(policies),
        "pack_start_s": round(started, 3),
        "analyze_sequential_per_s": round(count / seq_s),
        "analyze_concurrent_per_s": round(count / conc_s),
        "analyze_stack_s": round(stack_s, 3),
        "diagnostics": {
            "sequential": sequential,
            "concurrent": concurrent,
            "stack": stack_diagnostics,
        },
    }


def growth_series(counts: list[int], runs: int) -> dict[str, Any]:
    """bench/growth.py's series, from a real plan of the production stack (the resources
    `spendsense plan --stack production` judges, with their dependencies and wire-form
    inputs), through a pack configured as that plan configures it."""
    import growth
    from spendsense.plan.analyzer import PolicyPackProcess
    from spendsense.plan.preview import run_plan

    with PolicyPackProcess.start() as pack:
        plan = run_plan("production", pack=pack)
        assert not plan.violations, f"the production plan has violations: {plan.violations[:3]}"
        return growth.series(pack, plan.resources, counts, runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="cold runs per stack (default 5)")
    parser.add_argument(
        "--resources", type=int, default=1000, help="synthetic stack size (default 1000)"
    )
    parser.add_argument("--stacks", nargs="+", default=["production", "staging"])
    parser.add_argument(
        "--copies",
        nargs="+",
        type=int,
        default=[1, 8, 32],
        help="copy counts of the growth series (default 1 8 32)",
    )
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args()
    if not SPENDSENSE.exists():
        print(f"error: {SPENDSENSE} not found; run `make setup` first", file=sys.stderr)
        return 2
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2)},
        "bytecode": bytecode(),
        "plan": [cold_plan(stack, args.runs) for stack in args.stacks],
        "pack": throughput(args.resources),
    }
    results["growth"] = growth_series(args.copies, max(3, args.runs))
    results["base_diff"] = base_diff(max(3, args.runs))
    results["machine"]["load_1min_after"] = round(os.getloadavg()[0], 2)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    machine = results["machine"]
    print(
        f"machine: {machine['cpus']} CPUs, load average {machine['load_1min']} at the start, "
        f"{machine['load_1min_after']} at the end (other work on the machine slows every number)"
    )
    print(
        "compiled bytecode: "
        + ", ".join(
            f"{k} {v}" for k, v in results["bytecode"].items() if k != "PYTHONDONTWRITEBYTECODE"
        )
        + (
            " (PYTHONDONTWRITEBYTECODE is set: nothing compiled at run time is kept)"
            if results["bytecode"]["PYTHONDONTWRITEBYTECODE"]
            else ""
        )
    )
    for plan in results["plan"]:
        print(
            f"spendsense plan --stack {plan['stack']:<10}: median {plan['median_s']:.2f} s "
            f"(min {plan['min_s']:.2f}, max {plan['max_s']:.2f}; {plan['runs']} cold runs, "
            f"exit {plan['exit_codes']}) target <= 1.30 s; CPU (plan + pack) median "
            f"{plan['cpu_median_s']:.2f} s"
        )
    pack = results["pack"]
    print(
        f"policy pack ({pack['policies']} policies), {pack['resources']} resources: start "
        f"{pack['pack_start_s']:.2f} s; Analyze {pack['analyze_sequential_per_s']}/s sequential, "
        f"{pack['analyze_concurrent_per_s']}/s with 8 in flight (target >= 1000/s); "
        f"AnalyzeStack {pack['analyze_stack_s']:.2f} s"
    )
    print_growth(results["growth"])
    print_base_diff(results["base_diff"])
    return 0


def print_growth(growth: dict[str, Any]) -> None:
    print(
        "\ngrowth: the production stack's AWS part repeated N times (each copy renamed, linked "
        "to its own, free of violations), one AnalyzeStack each "
        f"(median of {growth['runs']})"
    )
    for row in growth["rows"]:
        print(
            f"  {row['copies']:>3} copies, {row['resources']:>5} resources: "
            f"{row['median_s']:.3f} s (min {row['min_s']:.3f}), "
            f"{row['median_s'] / row['copies'] * 1000:.1f} ms per copy"
        )
    exponent = growth["exponent_8_32"]
    if exponent is not None:
        verdict = "met" if exponent <= 1.15 else "NOT met"
        print(f"  exponent between 8 and 32 copies: {exponent:.2f} (goal <= 1.15: {verdict})")


if __name__ == "__main__":
    sys.exit(main())
