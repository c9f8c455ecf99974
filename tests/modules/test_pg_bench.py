"""sre.platform.pg_bench through Ansible against a real PostgreSQL and the real pgbench.

The figures are recomputed here, independently of the module's code, from the
raw per-transaction log files the module kept.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from tests.harness.ansible import run_module
from tests.harness.servers import PostgresServer, free_port


@pytest.fixture
def bench_db(postgres_server: PostgresServer) -> dict:
    """A fresh database per test: connection options for the module."""
    name = postgres_server.createdb(f"bench_{uuid.uuid4().hex[:8]}")
    return {**postgres_server.conninfo, "login_db": name}


def _raw_log_lines(paths: list[str]) -> list[tuple[int, str]]:
    """(end time in µs, latency column) of every line of every thread's log."""
    lines = []
    for path in paths:
        with open(path) as handle:
            for line in handle:
                fields = line.split()
                lines.append((int(fields[4]) * 1_000_000 + int(fields[5]), fields[2]))
    return lines


def _percentile(sorted_values: list[int], percent: int) -> int:
    """Nearest rank with integer arithmetic: rank = ceil(percent * n / 100)."""
    rank = -(-percent * len(sorted_values) // 100)
    return sorted_values[rank - 1]


def test_figures_match_the_raw_pgbench_logs(bench_db, tmp_path):
    output = tmp_path / "out" / "bench.json"
    args = {
        **bench_db,
        "builtin": "tpcb-like",
        "init": True,
        "duration": 4,
        "warmup": 1,
        "clients": 4,
        "jobs": 2,
        "log_dir": str(tmp_path / "logs"),
        "output": str(output),
    }
    launched = time.time_ns() // 1000
    result = run_module("sre.platform.pg_bench", args)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    assert len(result["log_files"]) == 2, "one log file per pgbench thread"
    assert bench_db["login_password"] not in " ".join(result["command"])

    # The window: from the run's start (before any transaction) plus the warm-up to its start plus the
    # duration, or to the last transaction's end when one finished after that.
    lines = _raw_log_lines(result["log_files"])
    starts = [end - int(latency) for end, latency in lines if latency not in ("failed", "skipped")]
    window_start = round(result["window_start_epoch"] * 1e6)
    run_start = window_start - 1_000_000
    # Not before the launch, nor before the last start minus the duration; not after the first start.
    assert max(launched, max(starts) - 4_000_000) <= run_start <= min(starts)
    window_end = max(run_start + 4_000_000, *(end for end, _ in lines))
    measured = [(end, latency) for end, latency in lines if end >= window_start]
    latencies = sorted(int(latency) for _, latency in measured if latency not in ("failed", "skipped"))
    failed = sum(1 for _, latency in measured if latency == "failed")

    assert result["window_end_epoch"] == window_end / 1e6
    assert result["window_start"].endswith("Z")
    assert result["transactions"] == len(latencies) > 100
    assert result["warmup_transactions"] == len(lines) - len(measured) > 0
    assert result["failed_transactions"] == failed
    assert result["error_rate_percent"] == failed / (len(latencies) + failed) * 100
    assert result["tps"] == pytest.approx(len(latencies) / ((window_end - window_start) / 1e6))
    assert result["latency_avg_ms"] == pytest.approx(sum(latencies) / len(latencies) / 1000)
    for percent in (50, 95, 99):
        assert result[f"latency_p{percent}_ms"] == _percentile(latencies, percent) / 1000
    assert result["latency_max_ms"] == latencies[-1] / 1000
    assert sum(point["transactions"] for point in result["timeseries"]) == len(latencies)
    assert result["pgbench_tps"] > 0
    assert json.loads(output.read_text())["latency_p99_ms"] == result["latency_p99_ms"]


def test_a_throttled_run_counts_its_idle_time(bench_db):
    """Under -R the clients idle between transactions: TPS is over the whole run after the warm-up, about
    the rate, not over the span from the first to the last transaction."""
    args = {**bench_db, "builtin": "select-only", "init": True, "duration": 3, "rate": 4, "clients": 1, "jobs": 1}
    result = run_module("sre.platform.pg_bench", args)
    assert not result.get("failed"), result.get("msg")
    assert result["transactions"] > 0
    # Never shorter than the run; longer only by a transaction still finishing after it.
    assert 3.0 <= result["window_seconds"] < 3.5
    assert result["tps"] == pytest.approx(result["transactions"] / result["window_seconds"])
    assert result["tps"] <= result["transactions"] / 3.0


def test_a_run_in_which_every_transaction_fails_breaches_the_error_rate(bench_db, tmp_path):
    """pgbench logs a serialization failure as failed: the figures say 100 %, the error-rate objective fails."""
    script = tmp_path / "always_fails.sql"
    script.write_text("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40001'; END $$;\n")
    args = {**bench_db, "duration": 2, "clients": 1, "jobs": 1, "scripts": [{"path": str(script)}]}
    result = run_module("sre.platform.pg_bench", args)
    assert not result.get("failed"), result.get("msg")
    assert result["transactions"] == 0 and result["failed_transactions"] > 0
    assert (result["error_rate_percent"], result["tps"], result["latency_p99_ms"]) == (100.0, 0.0, None)
    assert all(point["transactions"] == 0 for point in result["timeseries"])

    slo_file = Path(__file__).resolve().parents[2] / "files" / "slos" / "postgres.yml"
    judged = run_module(
        "sre.platform.slo_check", {"slo_files": [str(slo_file)], "bench_result": result, "fail_on_breach": False}
    )
    verdicts = {verdict["name"]: verdict for verdict in judged["verdicts"]}
    assert (verdicts["error-rate"]["status"], verdicts["error-rate"]["measured"]) == ("fail", 100.0)
    assert verdicts["latency-p99"]["status"] == "error", "no latency to judge, never a pass"
    assert "no value for 'latency_p99_ms'" in verdicts["latency-p99"]["message"]


def test_check_mode_runs_nothing(bench_db, postgres_server, tmp_path):
    args = {**bench_db, "builtin": "tpcb-like", "init": True, "duration": 2, "log_dir": str(tmp_path / "logs")}
    result = run_module("sre.platform.pg_bench", args, check=True)
    assert not result.get("failed"), result.get("msg")
    assert "-b" in result["command"]
    assert result["server_version"].startswith("15")
    assert not (tmp_path / "logs").exists()
    query = "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'pgbench%'"
    tables = postgres_server.psql(query, bench_db["login_db"])
    assert tables == "0", "check mode must not initialise the pgbench tables"


def test_unreachable_database_is_a_clear_failure(postgres_server):
    result = run_module("sre.platform.pg_bench", {**postgres_server.conninfo, "login_port": free_port(), "duration": 2})
    assert result["failed"] is True
    assert "Could not connect to PostgreSQL" in result["msg"]
    assert postgres_server.password not in json.dumps(result)


def test_missing_pgbench_names_the_debian_package(postgres_server):
    result = run_module(
        "sre.platform.pg_bench", {**postgres_server.conninfo, "duration": 2, "pgbench_path": "/nonexistent/pgbench"}
    )
    assert result["failed"] is True
    assert "apt-get install postgresql-15" in result["msg"]
    assert "not with postgresql-client" in result["msg"], "postgresql-client-common only has a wrapper"


def test_pgbench_failure_reports_its_stderr(bench_db, tmp_path):
    script = tmp_path / "broken.sql"
    script.write_text("SELECT * FROM no_such_table;\n")
    result = run_module("sre.platform.pg_bench", {**bench_db, "duration": 2, "scripts": [{"path": str(script)}]})
    assert result["failed"] is True
    assert 'relation "no_such_table" does not exist' in result["msg"]
    assert any(f"{script}@1" in part for part in result["command"])


def test_invalid_options_are_all_reported(postgres_server, tmp_path):
    args = {
        **postgres_server.conninfo,
        "duration": 5,
        "warmup": 5,
        "clients": 1,
        "jobs": 2,
        "scripts": [{"path": str(tmp_path / "missing.sql"), "weight": 0}],
    }
    result = run_module("sre.platform.pg_bench", args)
    assert result["failed"] is True
    expected = ("warmup (5 s)", "jobs (2) cannot exceed clients (1)", "weight must be at least 1", "does not exist")
    for fragment in expected:
        assert fragment in result["msg"]
