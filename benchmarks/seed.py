#!/usr/bin/env python3
"""Seeding time of sre.platform.pg_seed beside ``pgbench -i`` on the same server, in the same run.

One throwaway PostgreSQL (the test harness's, on 127.0.0.1) serves both. Each
run, in turn: ``pgbench -i -s 10`` (1,000,000 pgbench_accounts rows, keys,
vacuum) into a fresh database, then ``pg_seed rows=1000000`` through Ansible
into another fresh database, then the same pg_seed again (the idempotent
re-run). Runs alternate so noise from other work on the machine spreads over
both. Reported: median wall time of each, the module's own duration (without
Ansible's start-up), and the ratios to pgbench. The verdict takes the median
of each run's own ratio: the two are timed seconds apart, so a change in how
fast the machine runs (other guests on the host) moves both, whereas the
ratio of the medians can pair a fast pgbench run with a slow pg_seed one. Also the CPU seconds each used,
client and server together: the work each did, which wall times hide when other
work shares the cores (pg_seed's client share is its run's minus the unchanged
re-run's, which is mostly Ansible's start-up; CPU seconds too grow on a busy
machine, as caches are shared).

    .venv/bin/python benchmarks/seed.py                  # 5 runs, ~1 min
    .venv/bin/python benchmarks/seed.py --runs 1 --rows 200000
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "collections"))

from ansible_collections.sre.platform.plugins.module_utils.postgres import libpq_env  # noqa: E402

from tests.harness.ansible import run_module  # noqa: E402
from tests.harness.servers import PostgresServer, find_binary  # noqa: E402

# Targets: pg_seed at most 2x pgbench -i -s 10 (goal 1.5x); an unchanged re-run under 2 s.
MAX_RATIO = 2.0
GOAL_RATIO = 1.5
MAX_RERUN_S = 2.0


def _process_cpu_s(pid: int | str, reaped: bool = False) -> float:
    """User + system CPU seconds of a process (and of the children it has reaped), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = fields[11:15] if reaped else fields[11:13]  # utime, stime[, cutime, cstime]
    return sum(map(int, ticks)) / os.sysconf("SC_CLK_TCK")


def server_cpu_s(server: PostgresServer) -> float:
    """CPU seconds the server has used: the postmaster, its live processes and the backends it has reaped."""
    postmaster = str(server.pid)
    total = _process_cpu_s(postmaster, reaped=True)
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "stat").read_text().rsplit(")", 1)[1].split()[1] == postmaster:
                total += _process_cpu_s(entry.name)
        except OSError:
            continue  # a process that ended meanwhile is counted by its postmaster
    return total


def client_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_used(server: PostgresServer, action) -> tuple[float, float, object]:
    """(client CPU s, server CPU s, result) of ``action``; its sessions have ended when it returns."""
    client, served = client_cpu_s(), server_cpu_s(server)
    result = action()
    time.sleep(0.2)  # lets the postmaster reap the backends that just ended
    return client_cpu_s() - client, server_cpu_s(server) - served, result


def timed(action) -> tuple[float, object]:
    started = time.monotonic()
    result = action()
    return time.monotonic() - started, result


def pgbench_init(server: PostgresServer, database: str, scale: int) -> float:
    pgbench = find_binary("pgbench", "postgresql-contrib", [server.bindir])
    env = {**os.environ, **libpq_env({**server.conninfo, "login_db": database})}
    elapsed, completed = timed(
        lambda: subprocess.run([pgbench, "-i", "-q", "-s", str(scale)], env=env, capture_output=True, text=True)
    )
    if completed.returncode != 0:
        raise RuntimeError(f"pgbench -i failed: {completed.stderr}")
    return elapsed


def pg_seed(server: PostgresServer, database: str, rows: int, jobs: int) -> tuple[float, dict]:
    args = {**server.conninfo, "login_db": database, "rows": rows, "seed": 42, "jobs": jobs}
    elapsed, result = timed(lambda: run_module("sre.platform.pg_seed", args, timeout=900))
    if result.get("failed"):
        raise RuntimeError(f"pg_seed failed: {result.get('msg')}")
    return elapsed, result


def settle(server: PostgresServer) -> None:
    """Let a timed step start with nothing of an earlier one pending: no checkpoint to write, no dirty page cache
    for the kernel to write back. Otherwise a step pays, at random, for the writes of the steps before it."""
    server.psql("CHECKPOINT")
    os.sync()


def one_run(server: PostgresServer, run: int, rows: int, scale: int, jobs: int) -> dict:
    # The machine may be shared: the load when the run starts says how far its figures are from idle ones.
    load_average = round(os.getloadavg()[0], 2)
    pgbench_database = server.createdb(f"pgbench_{run}")
    settle(server)
    pgbench_client, pgbench_server, pgbench_s = cpu_used(server, lambda: pgbench_init(server, pgbench_database, scale))
    database = server.createdb(f"seed_{run}")
    settle(server)
    seed_client, seed_server, (seed_s, seeded) = cpu_used(server, lambda: pg_seed(server, database, rows, jobs))
    rerun_client, _, (rerun_s, rerun) = cpu_used(server, lambda: pg_seed(server, database, rows, jobs))
    if seeded["total_rows"] != rows or rerun["changed"]:
        raise RuntimeError(
            f"unexpected pg_seed results: {seeded['total_rows']} rows, re-run changed={rerun['changed']}"
        )
    return {
        "ratio_module_to_pgbench": round(seeded["duration_seconds"] / pgbench_s, 3),
        "pgbench_init_s": pgbench_s,
        "pg_seed_s": seed_s,
        "pg_seed_module_s": seeded["duration_seconds"],
        "pg_seed_rerun_s": rerun_s,
        "pg_seed_rerun_module_s": rerun["duration_seconds"],
        "pgbench_init_cpu_s": round(pgbench_client + pgbench_server, 2),
        "pg_seed_cpu_s": round(seed_client - rerun_client + seed_server, 2),
        "pg_seed_server_cpu_s": round(seed_server, 2),
        "tables": len(seeded["tables"]),
        "jobs": seeded["jobs"],
        "load_average_1m": load_average,
    }


def summarise(runs: list[dict]) -> dict:
    median = {key: round(statistics.median(run[key] for run in runs), 3) for key in runs[0] if key.endswith("_s")}
    median["ratio_module_to_pgbench"] = round(median["pg_seed_module_s"] / median["pgbench_init_s"], 2)
    median["ratio_wall_to_pgbench"] = round(median["pg_seed_s"] / median["pgbench_init_s"], 2)
    median["ratio_cpu_to_pgbench"] = round(median["pg_seed_cpu_s"] / median["pgbench_init_cpu_s"], 2)
    median["ratio_module_to_pgbench_per_run"] = round(
        statistics.median(run["ratio_module_to_pgbench"] for run in runs), 2
    )
    median["tables"] = runs[0]["tables"]
    median["jobs"] = runs[0]["jobs"]
    return median


def print_table(summary: dict, rows: int, scale: int) -> None:
    lines = [
        ("what", "seconds", "vs pgbench -i"),
        (f"pgbench -i -s {scale}", summary["pgbench_init_s"], 1.0),
        (f"pg_seed rows={rows} (module)", summary["pg_seed_module_s"], summary["ratio_module_to_pgbench"]),
        ("  median of each run's ratio", "", summary["ratio_module_to_pgbench_per_run"]),
        (f"pg_seed rows={rows} (ansible, wall)", summary["pg_seed_s"], summary["ratio_wall_to_pgbench"]),
        ("pg_seed re-run (module)", summary["pg_seed_rerun_module_s"], ""),
        ("pg_seed re-run (ansible, wall)", summary["pg_seed_rerun_s"], ""),
        (f"pgbench -i -s {scale} (CPU s)", summary["pgbench_init_cpu_s"], 1.0),
        (f"pg_seed rows={rows} (CPU s)", summary["pg_seed_cpu_s"], summary["ratio_cpu_to_pgbench"]),
        ("  of which the server's", summary["pg_seed_server_cpu_s"], ""),
    ]
    for what, seconds, ratio in lines:
        print(f"{what:<38} {seconds!s:>8} {ratio!s:>14}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs; medians are reported (default 5)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="pg_seed rows (default 1000000)")
    parser.add_argument("--scale", type=int, default=10, help="pgbench -i scale (default 10 = 1,000,000 rows)")
    parser.add_argument("--jobs", type=int, default=0, help="pg_seed jobs (default 0 = one per CPU)")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks/results/seed.json")
    args = parser.parse_args()

    server = PostgresServer().start()
    try:
        runs = []
        for run in range(args.runs):
            runs.append(one_run(server, run, args.rows, args.scale, args.jobs))
            print(f"run {run + 1}/{args.runs}: {runs[-1]}", file=sys.stderr)
    finally:
        server.cleanup()

    summary = summarise(runs)
    print_table(summary, args.rows, args.scale)
    print(f"1-minute load average at the start of each run: {[run['load_average_1m'] for run in runs]}")
    verdict = {
        "ratio_within_max": summary["ratio_module_to_pgbench_per_run"] <= MAX_RATIO,
        "ratio_within_goal": summary["ratio_module_to_pgbench_per_run"] <= GOAL_RATIO,
        "rerun_within_max": summary["pg_seed_rerun_module_s"] < MAX_RERUN_S,
    }
    report = {
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        "load_average_1m": [run["load_average_1m"] for run in runs] + [round(os.getloadavg()[0], 2)],
        "rows": args.rows,
        "pgbench_scale": args.scale,
        "runs": runs,
        "median": summary,
        "targets": {"max_ratio": MAX_RATIO, "goal_ratio": GOAL_RATIO, "max_rerun_s": MAX_RERUN_S},
        "verdict": verdict,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written: {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
