"""sre.platform.pg_bench in analyse-only mode: figures from the logs of a run made elsewhere.

The logs come from real pgbench runs on the harness PostgreSQL: one made by the
module itself (which keeps its logs), whose figures the analyse-only mode must
reproduce exactly, and one made here as the in-cluster Job makes it, whose
output gives the versions and pgbench's own TPS.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest
from ansible_collections.sre.platform.plugins.module_utils.pgbench_log import read_logs, summarize
from ansible_collections.sre.platform.plugins.module_utils.postgres import libpq_env

from tests.harness.ansible import ansible_doc, run_module, run_playbook
from tests.harness.servers import PostgresServer, find_binary

FIGURES = (
    "transactions",
    "failed_transactions",
    "skipped_transactions",
    "warmup_transactions",
    "error_rate_percent",
    "tps",
    "latency_avg_ms",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "latency_max_ms",
    "window_start_epoch",
    "window_end_epoch",
    "window_start",
    "window_end",
    "window_seconds",
    "timeseries",
)
RUN = {"builtin": "tpcb-like", "duration": 4, "warmup": 1, "clients": 4, "jobs": 2, "protocol": "prepared"}


@pytest.fixture(scope="module")
def measured_run(postgres_server: PostgresServer, tmp_path_factory) -> dict:
    """A normal pg_bench run on a fresh database, its logs kept."""
    name = postgres_server.createdb(f"analyse_{uuid.uuid4().hex[:8]}")
    logs = tmp_path_factory.mktemp("logs")
    args = {**postgres_server.conninfo, "login_db": name, **RUN, "init": True, "log_dir": str(logs)}
    result = run_module("sre.platform.pg_bench", args)
    assert not result.get("failed"), result.get("msg")
    assert len(result["log_files"]) == 2, "one log per pgbench thread"
    return {**result, "database": name}


def figures(result: dict) -> dict:
    return {key: result[key] for key in FIGURES}


def analyse_texts(args: dict, texts: dict[str, str], workdir: Path, check: bool = False) -> dict:
    """pg_bench with large text options (a whole run's log), read from files as a playbook would hold them."""
    options = dict(args)
    for option, text in texts.items():
        path = workdir / f"{option}.txt"
        path.write_text(text)
        options[option] = f"{{{{ lookup('ansible.builtin.file', '{path}', rstrip=false) }}}}"
    play = [{"name": "Analyse", "hosts": "localhost", "gather_facts": False, "tasks": []}]
    play[0]["tasks"].append({"name": "Measure the logs", "sre.platform.pg_bench": options})
    playbook = workdir / "analyse.yml"
    playbook.write_text(json.dumps(play))
    run = run_playbook(str(playbook), check=check)
    results = run.task_results("Measure the logs")
    assert results, run.output
    return results[0]


def without_the_runs_start(run: dict) -> dict:
    """The figures of a run's logs when pgbench's start is unknown: the window starts at the first transaction."""
    transactions = read_logs(run["log_files"])
    return figures(summarize(transactions, RUN["duration"], RUN["warmup"], [RUN["builtin"]]))


def test_log_files_give_the_figures_of_the_run(measured_run, tmp_path):
    output = tmp_path / "bench.json"
    args = {**RUN, "log_files": measured_run["log_files"], "output": str(output)}
    result = run_module("sre.platform.pg_bench", args)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False, "measuring logs changes nothing"
    assert "command" not in result, "nothing ran"
    assert figures(result) == without_the_runs_start(measured_run)
    first_start = min(t.end_us - (t.latency_us or 0) for t in read_logs(measured_run["log_files"]))
    assert result["window_start_epoch"] == (first_start + RUN["warmup"] * 1_000_000) / 1e6
    # The run itself knew its start, earlier by pgbench's connection time: a window shifted by that.
    assert measured_run["window_start_epoch"] <= result["window_start_epoch"]
    assert result["transactions"] == pytest.approx(measured_run["transactions"], rel=0.1)
    assert result["transactions"] > 100 and result["warmup_transactions"] > 0
    assert result["parameters"] == {**measured_run["parameters"], "init": False}
    assert json.loads(output.read_text())["latency_p99_ms"] == result["latency_p99_ms"]


def test_log_text_in_any_thread_order_gives_the_same_figures(measured_run, tmp_path):
    text = "".join(Path(path).read_text() for path in reversed(measured_run["log_files"]))
    output = tmp_path / "bench.json"
    result = analyse_texts({**RUN, "output": str(output)}, {"log_text": text}, tmp_path, check=True)
    assert not result.get("failed"), result.get("msg")
    assert figures(result) == without_the_runs_start(measured_run)
    assert (result["server_version"], result["pgbench_version"], result["pgbench_tps"]) == ("unknown", "unknown", None)
    assert not output.exists(), "check mode writes no output"


def test_pgbench_output_gives_the_versions_and_pgbench_tps(postgres_server, measured_run, tmp_path):
    """pgbench run here as the Job runs it; its output and logs go to the module."""
    pgbench = find_binary("pgbench", "postgresql-15", [Path(postgres_server.bindir)])
    prefix = tmp_path / "pgbench_log"
    command = [pgbench, "-T", "2", "-c", "2", "-j", "1", "-M", "prepared", "-l", "--log-prefix", str(prefix)]
    params = {**postgres_server.conninfo, "login_db": measured_run["database"]}
    env = {"PATH": "/usr/bin:/bin", **libpq_env(params)}
    done = subprocess.run([*command, "-b", "select-only"], env=env, capture_output=True, text=True, check=True)
    text = "".join(path.read_text() for path in sorted(tmp_path.glob("pgbench_log.*")))

    run = {**RUN, "duration": 2, "clients": 2, "jobs": 1, "warmup": 0, "builtin": "select-only"}
    result = analyse_texts(run, {"log_text": text, "pgbench_output": done.stdout}, tmp_path)
    assert not result.get("failed"), result.get("msg")
    server = postgres_server.psql("SHOW server_version")
    client = subprocess.run([pgbench, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    assert result["server_version"] == server
    assert result["pgbench_version"] == client
    assert result["pgbench_tps"] == float(done.stdout.split("tps = ")[1].split()[0]) > 0
    assert result["transactions"] == len(text.splitlines())


def test_analysis_errors_say_what_is_wrong(tmp_path):
    bad = run_module("sre.platform.pg_bench", {**RUN, "log_text": "0 1 not-a-number 0 1700000000 5\n"})
    assert bad["failed"] is True
    assert "log_text:1: not a pgbench log line" in bad["msg"]
    empty = run_module("sre.platform.pg_bench", {**RUN, "log_text": ""})
    assert "the pgbench logs hold no transaction" in empty["msg"]
    missing = run_module("sre.platform.pg_bench", {**RUN, "log_files": [str(tmp_path / "absent.0")]})
    assert "cannot read the pgbench log" in missing["msg"]
    both = run_module("sre.platform.pg_bench", {**RUN, "init": True, "log_text": "x", "log_files": ["y"]})
    assert "mutually exclusive" in both["msg"]
    init = run_module("sre.platform.pg_bench", {**RUN, "init": True, "log_text": "x"})
    assert "init runs pgbench; it cannot go with log_text or log_files" in init["msg"]


def test_the_analyse_only_mode_is_documented():
    doc = ansible_doc("sre.platform.pg_bench")
    assert {"log_text", "log_files", "pgbench_output"} <= set(doc["doc"]["options"])
    assert "log_text:" in doc["examples"]
