#!/usr/bin/env python3
"""Throughput and latency of the three services, each beside a bare baseline.

Every server runs on 127.0.0.1 as it runs in its image; wrk loads one at a
time (default: 2 threads, 32 connections, 10 s) and each measurement is
repeated ``--runs`` times, the targets taking turns so that noise from other
work on the machine spreads over all of them. Reported: median requests/s,
median p50 and p99 latency, the server's CPU time per request, and the ratio
of each service to its baseline (FastAPI constant endpoint; Flask with one
Redis SET+GET) by rps and by CPU per request. On a busy machine the CPU
ratio is the steadier of the two.

    .venv/bin/python benchmarks/services.py                 # full run, ~3 min
    .venv/bin/python benchmarks/services.py --duration 3 --runs 1
    .venv/bin/python benchmarks/services.py --only kv-store       # one service and its baseline
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ROOT / "services"
CODE_DIRS = [SERVICES / name for name in ("common", "password-generator", "user-hasher", "kv-store")]
sys.path.insert(0, str(ROOT))

from tests.harness.apps import AppServer  # noqa: E402
from tests.harness.servers import RedisServer, find_binary  # noqa: E402

GUNICORN = [sys.executable, "-m", "gunicorn", "-c", str(SERVICES / "kv-store" / "gunicorn.conf.py")]
LATENCY_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
# Targets on this 2-core machine: (minimum ratio to baseline, minimum rps, maximum p99 ms).
GOALS = {
    "password-generator": (0.70, None, None),
    "user-hasher": (0.70, None, None),
    "kv-store": (0.90, 2000, 50.0),
}


@dataclass
class Target:
    name: str
    argv: list[str]
    path: str
    baseline: str | None = None
    health: str = "/healthz"


def all_targets() -> list[Target]:
    python = sys.executable
    return [
        Target("baseline-fastapi", [python, str(ROOT / "benchmarks/baselines/fastapi_constant.py")], "/", health="/"),
        Target(
            "password-generator",
            [python, "-m", "password_generator"],
            "/passwords?min_length=16&special_chars=2&digits=2&count=1",
            "baseline-fastapi",
        ),
        Target("user-hasher", [python, "-m", "user_hasher"], "/user_hash?user_id=TESTUSERID", "baseline-fastapi"),
        Target("baseline-flask", [*GUNICORN, "benchmarks.baselines.flask_redis:app"], "/", health="/"),
        Target("kv-store", [*GUNICORN, "kv_store:create_app()"], "/", "baseline-flask"),
    ]


def selected_targets(only: list[str] | None) -> list[Target]:
    """All targets, or the services named in ``only`` with the baselines they are compared with."""
    every = all_targets()
    if not only:
        return every
    unknown = set(only) - {target.name for target in every}
    if unknown:
        raise SystemExit(f"unknown target(s): {', '.join(sorted(unknown))}")
    wanted = set(only) | {target.baseline for target in every if target.name in only}
    return [target for target in every if target.name in wanted]


def parse_wrk(output: str) -> dict[str, float]:
    """Requests, requests/s and the p50/p99 latencies (ms) from ``wrk --latency`` output."""
    requests = re.search(r"(\d+) requests in", output)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    latencies = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", output, re.MULTILINE))
    if not requests or not rps or set(latencies) != {"50", "99"}:
        raise RuntimeError(f"could not read wrk output:\n{output}")
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return {
        "requests": int(requests.group(1)),
        "rps": float(rps.group(1)),
        "p50_ms": _to_ms(latencies["50"]),
        "p99_ms": _to_ms(latencies["99"]),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def _to_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(\w+)", value).groups()
    return float(number) * LATENCY_UNITS[unit]


def process_tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live children (gunicorn workers)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    seconds = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        return seconds + sum(process_tree_cpu_seconds(int(child)) for child in children.read().split())


def run_wrk(url: str, threads: int, connections: int, duration: int, server_pid: int) -> dict[str, float]:
    """One wrk run, plus the server's CPU per request: unlike rps, that barely moves when
    other work on the machine takes CPU away from the server."""
    wrk = find_binary("wrk", "wrk")
    argv = [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", url]
    cpu_before = process_tree_cpu_seconds(server_pid)
    result = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=duration + 60)
    measured = parse_wrk(result.stdout)
    measured["cpu_us_per_request"] = (process_tree_cpu_seconds(server_pid) - cpu_before) / measured["requests"] * 1e6
    return measured


def start_servers(redis_url: str, targets: list[Target]) -> dict[str, AppServer]:
    env = {
        "PYTHONPATH": os.pathsep.join(str(p) for p in [ROOT, *CODE_DIRS]),
        "REDIS_URL": redis_url,
        "USER_SALT": "TESTSALT",
    }
    servers = {}
    for target in targets:
        servers[target.name] = AppServer(target.name, target.argv, env=env, health_path=target.health).start()
    return servers


def summarise(runs: dict[str, list[dict]], targets: list[Target]) -> dict[str, dict]:
    summary = {}
    for target in targets:
        measured = runs[target.name]
        summary[target.name] = {
            "rps": statistics.median(r["rps"] for r in measured),
            "p50_ms": statistics.median(r["p50_ms"] for r in measured),
            "p99_ms": statistics.median(r["p99_ms"] for r in measured),
            "cpu_us_per_request": statistics.median(r["cpu_us_per_request"] for r in measured),
            "non_2xx": sum(r["non_2xx"] for r in measured),
            "baseline": target.baseline,
            "runs": measured,
        }
    for name, entry in summary.items():
        if entry["baseline"]:
            baseline = summary[entry["baseline"]]
            entry["ratio_to_baseline"] = entry["rps"] / baseline["rps"]
            # The rps ratio the server would reach with the CPU to itself.
            entry["cpu_ratio_to_baseline"] = baseline["cpu_us_per_request"] / entry["cpu_us_per_request"]
            entry["meets_target"] = _meets(name, entry)
    return summary


def _meets(name: str, entry: dict) -> bool:
    min_ratio, min_rps, max_p99 = GOALS[name]
    return (
        entry["ratio_to_baseline"] >= min_ratio
        and (min_rps is None or entry["rps"] >= min_rps)
        and (max_p99 is None or entry["p99_ms"] < max_p99)
        and entry["non_2xx"] == 0
    )


def print_table(summary: dict[str, dict]) -> None:
    header = ["target", "rps", "p50 ms", "p99 ms", "CPU us/req", "rps vs base", "CPU vs base", "target met"]
    print(f"{header[0]:<20}" + "".join(f"{title:>12}" for title in header[1:]))
    for name, entry in summary.items():
        ratio = f"{entry['ratio_to_baseline']:.0%}" if "ratio_to_baseline" in entry else "-"
        cpu_ratio = f"{entry['cpu_ratio_to_baseline']:.0%}" if "cpu_ratio_to_baseline" in entry else "-"
        met = {True: "yes", False: "NO"}.get(entry.get("meets_target"), "-")
        print(
            f"{name:<20}{entry['rps']:>12.0f}{entry['p50_ms']:>12.2f}{entry['p99_ms']:>12.2f}"
            f"{entry['cpu_us_per_request']:>12.0f}{ratio:>12}{cpu_ratio:>12}{met:>12}"
        )


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per run (default 10)")
    parser.add_argument("--runs", type=int, default=3, help="runs per target; the median is reported (default 3)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--only", nargs="+", metavar="TARGET", help="these services and their baselines only")
    parser.add_argument(
        "--output",
        type=Path,
        help="JSON results (default: benchmarks/results/services.json; with --only, none unless given)",
    )
    return parser.parse_args()


def measure(targets: list[Target], args: argparse.Namespace) -> dict[str, list[dict]]:
    """wrk results per target: ``args.runs`` rounds, each target in turn, after a warm-up."""
    redis = RedisServer().start()
    servers: dict[str, AppServer] = {}
    try:
        servers = start_servers(redis.url, targets)
        for target in targets:  # warm up: first requests open pools and fill caches
            run_wrk(servers[target.name].url + target.path, args.threads, args.connections, 1, servers[target.name].pid)
        runs: dict[str, list[dict]] = {target.name: [] for target in targets}
        for run in range(args.runs):
            for target in targets:
                server = servers[target.name]
                result = run_wrk(server.url + target.path, args.threads, args.connections, args.duration, server.pid)
                runs[target.name].append(result)
                print(f"run {run + 1}/{args.runs} {target.name}: {result['rps']:.0f} rps", file=sys.stderr)
    finally:
        for server in servers.values():
            server.cleanup()
        redis.cleanup()
    return runs


def main() -> int:
    args = parse_arguments()
    targets = selected_targets(args.only)
    output = args.output or (None if args.only else ROOT / "benchmarks/results/services.json")
    load_at_start = os.getloadavg()
    summary = summarise(measure(targets, args), targets)
    print_table(summary)
    report = {
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        # Other work on the machine moves rps more than the CPU per request: say how busy it was.
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg(),
        "wrk": {"threads": args.threads, "connections": args.connections, "duration_s": args.duration},
        "runs": args.runs,
        "results": summary,
    }
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(report, indent=2) + "\n")
        print(f"written: {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
