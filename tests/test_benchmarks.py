"""The benchmark scripts run end to end on small inputs; their figures are read by people, in docs/performance.md."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_benchmark(script: str, output: Path, *argv: str) -> tuple[subprocess.CompletedProcess, dict]:
    """Run ``benchmarks/<script>`` with ``argv``; its completed process and the JSON it wrote to ``output``."""
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *argv, "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed, json.loads(output.read_text())


def test_seed_benchmark_times_both_steps_and_judges_the_per_run_ratio(tmp_path: Path):
    argv = ["--runs", "2", "--rows", "2000", "--scale", "1"]
    completed, report = run_benchmark("seed.py", tmp_path / "seed.json", *argv)
    assert "pgbench -i -s 1 " in completed.stdout
    runs = report["runs"]
    assert len(runs) == 2
    for run in runs:
        assert run["tables"] == 12
        assert run["pgbench_init_s"] > 0 and run["pg_seed_module_s"] > 0
        assert run["ratio_module_to_pgbench"] == round(run["pg_seed_module_s"] / run["pgbench_init_s"], 3)
    per_run = report["median"]["ratio_module_to_pgbench_per_run"]
    assert per_run == round(statistics.median(run["ratio_module_to_pgbench"] for run in runs), 2)
    assert report["verdict"]["ratio_within_max"] == (per_run <= report["targets"]["max_ratio"])
    # 2,000 rows: the re-run reads the manifest and counts them, far below the 2 s target.
    assert report["verdict"]["rerun_within_max"] is True


def test_services_benchmark_compares_each_service_with_its_baseline(tmp_path: Path):
    argv = ["--only", "user-hasher", "--duration", "1", "--runs", "2", "--connections", "4"]
    completed, report = run_benchmark("services.py", tmp_path / "services.json", *argv)
    results = report["results"]
    hasher = results["user-hasher"]
    baseline = results[hasher["baseline"]]
    assert len(hasher["runs"]) == len(baseline["runs"]) == 2
    for entry in (hasher, baseline):
        assert entry["rps"] == statistics.median(run["rps"] for run in entry["runs"]) > 0
        assert entry["non_2xx"] == 0
    assert hasher["ratio_to_baseline"] == hasher["rps"] / baseline["rps"]
    assert "user-hasher" in completed.stdout
