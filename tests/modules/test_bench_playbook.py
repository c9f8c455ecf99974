"""playbooks/bench.yml end to end with inventories/postgres: throwaway PostgreSQL, seed, bench, SLOs, report."""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.harness.ansible import ROOT, PlaybookRun, run_playbook
from tests.harness.servers import PostgresServer, free_port

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DASH = "\u2013"  # what the report shows for a value it does not have


@pytest.fixture
def throwaway_postgres():
    """Variables that give the inventory's throwaway PostgreSQL its own directory and port; stopped afterwards."""
    # The server runs as the 'postgres' account under root: its directory must be reachable, unlike tmp_path.
    parent = Path(tempfile.mkdtemp(prefix="sre-bench-"))
    os.chmod(parent, 0o755)  # noqa: S103 - traversable by the server's account, holds no secret itself
    variables = {"local_postgres_dir": str(parent / "pg"), "local_postgres_port": free_port()}
    yield variables
    down = run_playbook("playbooks/local_postgres_down.yml", inventory="inventories/postgres", extra_vars=variables)
    assert down.returncode == 0, down.output
    assert not (parent / "pg").exists()
    parent.rmdir()


def test_bench_playbook_writes_the_report_and_the_plot(throwaway_postgres, tmp_path):
    reports = tmp_path / "reports"
    extra_vars = {**throwaway_postgres, "bench_duration": 5, "seed_rows": 20000, "bench_report_dir": str(reports)}
    run = run_playbook("playbooks/bench.yml", inventory="inventories/postgres", extra_vars=extra_vars)
    assert run.returncode == 0, run.output

    bench = run.task_results("Run pgbench")[0]
    assert bench["transactions"] > 0
    assert bench["parameters"]["workload"]["scripts"][0]["path"].endswith("files/pgbench/product_page.sql")
    verdicts = run.task_results("Judge the objectives over the measured window")[0]["verdicts"]
    assert [v["name"] for v in verdicts] == ["latency-p99", "error-rate"]
    assert all(v["status"] == "pass" for v in verdicts)

    report = (reports / "performance-report.md").read_text()
    assert f"**{bench['tps']:.1f} TPS**" in report
    assert f"| {bench['latency_p99_ms']:.2f} ms |" in report
    assert "| postgres/latency-p99 |" in report and "| pass |" in report
    assert "![Latency and throughput over the measured window](latency.png)" in report
    # Each script of the shop mix over the same window, adding up to the whole run.
    scripts = bench["by_script"]
    assert [s["script"] for s in scripts] == ["product_page.sql", "order_history.sql", "fulfil_order.sql"]
    assert sum(s["transactions"] for s in scripts) == bench["transactions"]
    assert all(s["transactions"] > 0 for s in scripts)
    for s in scripts:
        assert f"| `{s['script']}` | {s['transactions']} | {s['tps']:.1f} |" in report
        assert f"| {s['latency_p99_ms']:.2f} ms |" in report
    assert (reports / "latency.png").read_bytes().startswith(PNG_MAGIC)
    assert json.loads((reports / "bench.json").read_text())["window_end"] == bench["window_end"]
    assert (reports / "slo-verdicts.xml").exists()


def select_only(server: PostgresServer, database: str, reports: Path, **variables) -> dict:
    """bench.yml's variables for a 3 s select-only run on a new database of the harness server."""
    return {
        "pg_host": "127.0.0.1",
        "pg_port": server.port,
        "pg_password": server.password,
        "pg_database": server.createdb(database),
        "bench_duration": 3,
        "bench_script": "select-only",
        "bench_scale": 1,
        "bench_report_dir": str(reports),
        **variables,
    }


def test_bench_playbook_fails_on_a_breach_after_writing_the_report(postgres_server: PostgresServer, tmp_path):
    slo_file = tmp_path / "strict.yml"
    slo_file.write_text(
        "service: postgres\nslos:\n  - name: impossible\n    indicator: {bench: latency_p99_ms}\n"
        "    comparison: '<'\n    target: 0.000001\n    unit: ms\n"
    )
    extra_vars = select_only(postgres_server, "bench_breach", tmp_path / "reports", bench_slo_file=str(slo_file))
    run = run_playbook("playbooks/bench.yml", inventory="inventories/postgres", extra_vars=extra_vars)
    assert run.returncode != 0
    assert "SLO breached: postgres/impossible" in run.output
    assert "| postgres/impossible |" in (tmp_path / "reports" / "performance-report.md").read_text()
    assert postgres_server.password not in run.output


@pytest.fixture(scope="module")
def unjudgeable_run(postgres_server: PostgresServer, tmp_path_factory) -> tuple[PlaybookRun, Path]:
    """bench.yml with prometheus_url set to a port nothing listens on, over the last run's report and plot."""
    reports = tmp_path_factory.mktemp("unjudgeable") / "reports"
    reports.mkdir()
    (reports / "performance-report.md").write_text("# Performance report\n\n**all objectives met**.\n")
    (reports / "latency.png").write_bytes(PNG_MAGIC + b"the last run's plot")
    prometheus_url = f"http://127.0.0.1:{free_port()}"
    extra_vars = select_only(postgres_server, "bench_unjudgeable", reports, prometheus_url=prometheus_url)
    return run_playbook("playbooks/bench.yml", inventory="inventories/postgres", extra_vars=extra_vars), reports


def test_with_prometheus_each_objective_is_judged_once(unjudgeable_run):
    """postgres.yml is the bench objectives' file: the service objectives judged in Prometheus leave it out."""
    run, _ = unjudgeable_run
    (judged,) = run.task_results("Judge the objectives over the measured window")
    names = [(verdict["service"], verdict["name"]) for verdict in judged["verdicts"]]
    assert len(names) == len(set(names)), f"judged twice: {names}"
    assert [name for service, name in names if service == "postgres"] == ["latency-p99", "error-rate"]
    assert {service for service, _ in names} == {"postgres", "kv-store", "password-generator", "user-hasher"}


def test_objectives_that_cannot_be_judged_fail_the_play_after_this_runs_report(unjudgeable_run):
    run, reports = unjudgeable_run
    assert run.returncode != 0
    (failure,) = run.task_results("Fail when an objective could not be judged")
    assert failure["msg"].startswith("6 objective(s) could not be judged: kv-store/availability: cannot judge it")
    assert "is unreachable" in failure["msg"]
    assert failure["msg"].endswith(f"(report: {reports}/performance-report.md)")

    # The report and the plot are this run's, not the last run's saying "all objectives met".
    bench = run.task_results("Run pgbench")[0]
    report = (reports / "performance-report.md").read_text()
    assert f"{bench['window_start']} to {bench['window_end']} (measured window, UTC)" in report
    assert "**6 objective(s) could not be judged**." in report
    assert "all objectives met" not in report
    assert "| postgres/latency-p99 |" in report and "| pass |" in report
    assert f"| kv-store/availability | {DASH} | {DASH} | not judged | n/a |" in report
    assert "- kv-store/availability: cannot judge it: Prometheus at http://127.0.0.1:" in report
    plot = (reports / "latency.png").read_bytes()
    assert plot.startswith(PNG_MAGIC) and b"the last run's plot" not in plot


def test_an_slo_file_that_cannot_be_read_still_leaves_this_runs_report(postgres_server: PostgresServer, tmp_path):
    """slo_check fails before any verdict: the report says why instead of keeping the last run's."""
    broken = tmp_path / "broken.yml"
    broken.write_text("service: postgres\nslos: []\n")
    reports = tmp_path / "reports"
    extra_vars = select_only(postgres_server, "bench_no_verdicts", reports, bench_slo_file=str(broken))
    run = run_playbook("playbooks/bench.yml", inventory="inventories/postgres", extra_vars=extra_vars)
    assert run.returncode != 0
    (failure,) = run.task_results("Fail when an objective could not be judged")
    assert failure["msg"].startswith(f"Invalid SLO spec: {broken}: 'slos' must be a non-empty list")
    report = (reports / "performance-report.md").read_text()
    assert "**the objectives were not judged**" in report
    assert f"The objectives were not judged: Invalid SLO spec: {broken}" in report
    assert (reports / "latency.png").read_bytes().startswith(PNG_MAGIC)


def test_a_run_in_which_every_transaction_fails_is_reported_then_fails(postgres_server: PostgresServer, tmp_path):
    script = tmp_path / "always_fails.sql"
    script.write_text("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40001'; END $$;\n")
    reports = tmp_path / "reports"
    extra_vars = select_only(
        postgres_server,
        "bench_all_failed",
        reports,
        bench_script="shop",
        bench_seed=False,
        bench_shop_scripts=[{"path": str(script), "weight": 1}],
    )
    run = run_playbook("playbooks/bench.yml", inventory="inventories/postgres", extra_vars=extra_vars)
    assert run.returncode != 0
    (failure,) = run.task_results("Fail when an objective could not be judged")
    assert "postgres/latency-p99: cannot judge it: the bench result has no value for 'latency_p99_ms'" in failure["msg"]
    verdicts = {v["name"]: v for v in run.task_results("Judge the objectives over the measured window")[0]["verdicts"]}
    assert (verdicts["error-rate"]["status"], verdicts["error-rate"]["measured"]) == ("fail", 100.0)
    report = (reports / "performance-report.md").read_text()
    assert "**1 objective(s) could not be judged; SLO breached: postgres/error-rate**." in report
    assert "(100.000 %)" in report and "No transaction succeeded in the window" in report
    assert f"| {DASH} | {DASH} | {DASH} | {DASH} | {DASH} |" in report
    assert (reports / "latency.png").read_bytes().startswith(PNG_MAGIC)


def test_check_mode_says_what_pgbench_would_run_and_writes_nothing(postgres_server: PostgresServer, tmp_path):
    extra_vars = select_only(postgres_server, "bench_check", tmp_path / "reports")
    run = run_playbook("playbooks/bench.yml", inventory="inventories/postgres", extra_vars=extra_vars, check=True)
    assert run.returncode == 0, run.output
    (said,) = run.task_results("Say what a real run would run")
    assert said["msg"].startswith("Check mode, nothing ran. A real run runs: ")
    assert " -T 3 -c 10 -j 2 -M prepared " in said["msg"] and said["msg"].endswith(" -b select-only")
    assert not (tmp_path / "reports").exists()
    assert postgres_server.password not in run.output


def test_check_mode_without_a_running_throwaway_postgres_writes_nothing(tmp_path):
    server_dir = tmp_path / "pg"
    extra_vars = {"local_postgres_port": free_port(), "local_postgres_dir": str(server_dir)}
    run = run_playbook("playbooks/bench.yml", inventory="inventories/postgres", extra_vars=extra_vars, check=True)
    assert run.returncode == 0, run.output
    said = run.task_results("Say what a real run would do first")
    assert len(said) == 2, "the seed play and the benchmark play each stop there"
    assert "the throwaway PostgreSQL does not run" in said[0]["msg"]
    assert not run.task_results("Load the shop schema") and not run.task_results("Run pgbench")
    assert not server_dir.exists(), "check mode may not create the server's directory or password"


def test_a_run_is_compared_with_a_baseline_and_fails_on_a_regression(postgres_server: PostgresServer, tmp_path):
    reports = tmp_path / "reports"
    extra_vars = select_only(postgres_server, "bench_baseline", reports)
    first = run_playbook("playbooks/bench.yml", inventory="inventories/postgres", extra_vars=extra_vars)
    assert first.returncode == 0, first.output
    baseline = json.loads((reports / "bench.json").read_text())

    # The last run's own file is the baseline: it is read before this run overwrites it.
    last = {**extra_vars, "bench_baseline": str(reports / "bench.json"), "bench_max_regression_percent": 1000}
    second = run_playbook("playbooks/bench.yml", inventory="inventories/postgres", extra_vars=last)
    assert second.returncode == 0, second.output
    bench = second.task_results("Run pgbench")[0]
    comparison = second.task_results("Compare the figures with the baseline's")[0]["ansible_facts"]["bench_vs_baseline"]
    tps = next(row for row in comparison["rows"] if (row["scope"], row["figure"]) == ("all", "tps"))
    assert (tps["baseline"], tps["current"]) == (baseline["tps"], bench["tps"])
    assert tps["change_percent"] == pytest.approx((bench["tps"] - baseline["tps"]) / baseline["tps"] * 100)
    assert comparison["differing_parameters"] == [] and comparison["regressions"] == []
    report = (reports / "performance-report.md").read_text()
    assert f"The baseline is the run measured from {baseline['window_start']} (`bench.json`)." in report
    row = f"| whole run | tps | {baseline['tps']:.1f} | {bench['tps']:.1f} | {tps['change_percent']:+.1f} % |"
    assert row in report

    # A baseline ten times faster, with other clients: a regression beyond 5 % fails the play, after the report.
    faster = {**baseline, "tps": baseline["tps"] * 10, "parameters": {**baseline["parameters"], "clients": 99}}
    (tmp_path / "faster.json").write_text(json.dumps(faster))
    strict = {**extra_vars, "bench_baseline": str(tmp_path / "faster.json"), "bench_max_regression_percent": 5}
    third = run_playbook("playbooks/bench.yml", inventory="inventories/postgres", extra_vars=strict)
    assert third.returncode != 0
    (failure,) = third.task_results("Fail when the run regressed against the baseline")
    assert failure["msg"].startswith("Worse than the baseline by more than 5 %: all tps: ")
    report = (reports / "performance-report.md").read_text()
    assert "**Its parameters differ** (clients: 99 -> 10)" in report
    assert "**Worse by more than 5 %:** all tps: " in report


def test_relative_paths_are_relative_to_where_ansible_playbook_was_started(postgres_server, tmp_path):
    workdir = (tmp_path / "work").resolve()
    workdir.mkdir()
    misplaced = ROOT / "playbooks" / "relative-reports"
    extra_vars = select_only(postgres_server, "bench_relative", Path("relative-reports"))
    bench = functools.partial(run_playbook, "playbooks/bench.yml", inventory="inventories/postgres", cwd=workdir)
    try:
        first = bench(extra_vars=extra_vars)
        assert first.returncode == 0, first.output
        reports = workdir / "relative-reports"
        (met,) = first.task_results("Fail when an objective was missed")
        assert met["msg"] == f"All 2 objectives met; report: {reports}/performance-report.md"
        for name in ("performance-report.md", "latency.png", "bench.json", "slo-verdicts.json", "slo-verdicts.xml"):
            assert (reports / name).is_file(), name
        assert not misplaced.exists(), "not beside the playbook"

        # The baseline, from the same directory: the run just made.
        second = bench(extra_vars={**extra_vars, "bench_baseline": "relative-reports/bench.json"})
        assert second.returncode == 0, second.output
        first_start = first.task_results("Run pgbench")[0]["window_start"]
        report = (reports / "performance-report.md").read_text()
        assert f"The baseline is the run measured from {first_start} (`bench.json`)." in report
    finally:
        shutil.rmtree(misplaced, ignore_errors=True)


@pytest.mark.parametrize(
    ("content", "reasons"),
    [
        (json.dumps({"verdicts": []}), "no 'tps'; no 'parameters'"),
        (json.dumps({"tps": "fast", "parameters": {"clients": 10}}), "'tps' is 'fast', not a number"),
        (
            json.dumps({"tps": 1.0, "parameters": {}, "by_script": [{"script": "a.sql", "latency_p99_ms": "4 ms"}]}),
            "by_script a.sql: 'latency_p99_ms' is '4 ms', not a number",
        ),
        ("tps: 1\n", "not JSON (Expecting value: line 1 column 1 (char 0))"),
    ],
    ids=["other-report", "text-tps", "text-latency", "not-json"],
)
def test_a_baseline_that_is_not_a_bench_result_fails_before_anything_starts(tmp_path, content, reasons):
    not_bench = tmp_path / "baseline.json"
    not_bench.write_text(content)
    extra_vars = {
        "bench_baseline": str(not_bench),
        "local_postgres_dir": str(tmp_path / "pg"),
        "local_postgres_port": free_port(),
    }
    run = run_playbook("playbooks/bench.yml", inventory="inventories/postgres", extra_vars=extra_vars)
    assert run.returncode != 0
    (refusal,) = run.task_results("Check that the baseline is a pg_bench result")
    assert refusal["msg"] == (
        f"bench_baseline {not_bench} (file {not_bench}) is not a bench.json written by bench.yml (pg_bench's output): "
        + reasons
    )
    assert not (tmp_path / "pg").exists()


def test_bench_playbook_seeds_and_benchmarks_the_database_a_dsn_names(postgres_server: PostgresServer, tmp_path):
    """One connection URI serves both plays: the seed play reads it, the benchmark play keeps what it read."""
    database = postgres_server.createdb("bench_dsn")
    dsn = (
        f"postgresql://postgres:{postgres_server.password}@127.0.0.1:{postgres_server.port}/{database}?sslmode=disable"
    )
    extra_vars = {"pg_dsn": dsn, "seed_rows": 2000, "bench_duration": 3, "bench_report_dir": str(tmp_path / "reports")}
    run = run_playbook("playbooks/bench.yml", inventory="inventories/postgres", extra_vars=extra_vars)
    assert run.returncode == 0, run.output
    assert run.task_results("Run pgbench")[0]["transactions"] > 0
    assert int(postgres_server.psql("SELECT count(*) FROM shop.customers", dbname=database)) > 0
    read, again = run.task_results("Check pg_dsn")
    assert read["msg"] == "Database from pg_dsn: 127.0.0.1"
    assert again["skipped"] is True, "the benchmark play keeps the connection the seed play read"
    assert postgres_server.password not in run.output


@pytest.mark.parametrize(
    ("variables", "refusal"),
    [
        ({"pg_port": 5433}, "pg_dsn names the whole connection, and pg_port would override part of it"),
        ({}, "pg_dsn: the DSN names several hosts or ports"),
    ],
)
def test_a_dsn_that_cannot_be_used_fails_before_anything_starts(tmp_path, variables, refusal):
    server_dir = tmp_path / "pg"
    extra_vars = {
        "pg_dsn": "postgresql://app:hunter2@db1.example,db2.example/app",
        "local_postgres_port": free_port(),
        "local_postgres_dir": str(server_dir),
        **variables,
    }
    run = run_playbook("playbooks/bench.yml", inventory="inventories/postgres", extra_vars=extra_vars)
    assert run.returncode != 0
    assert refusal in run.output
    assert "hunter2" not in run.output
    assert not server_dir.exists()
