#!/usr/bin/python
"""Ansible module: benchmark PostgreSQL with pgbench and measure latency from per-transaction logs."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pg_bench
short_description: Benchmark PostgreSQL with pgbench; TPS, latency percentiles and the exact measured window
version_added: "0.1.0"
description:
  - Runs C(pgbench) for O(duration) seconds with O(clients) connections and O(jobs) threads, either a
    built-in workload (O(builtin)) or the project's own SQL scripts with weights (O(scripts)).
  - Every transaction is logged by pgbench (C(-l --log-prefix)); with several threads each thread writes its
    own file and all of them are combined. Failed and skipped transactions and those that ended during the
    O(warmup) are dropped; the latencies are sorted and the percentiles taken by nearest rank.
  - The measured window is the run after the warm-up, from the run's start plus O(warmup) to the run's start
    plus O(duration), and every rate is over its whole length. Seconds in which no transaction finished
    (idle under O(rate), a stall, an outage) count, so a throttled or short run is not inflated. pgbench lets
    the transactions in flight at the end finish; the window ends at the last of them when that is later.
    pgbench does not log when its run started; it is when the module launched pgbench, or the last transaction
    start minus O(duration) if that is later (set-up and connections took that long).
  - Returns transactions, TPS, average, p50, p95, p99 and max latency (ms), failed transactions, the error
    rate, the exact start and end of the measured window (epoch and ISO 8601 UTC) and a per-second series
    (transactions, p50, p99) for plots. Writes the same as JSON to O(output) when given. A run in which every
    transaction failed has figures too, with a 100 % error rate and null latencies.
  - The password reaches pgbench through the C(PGPASSWORD) environment variable, never the command line.
  - With O(log_text) or O(log_files) the module runs nothing and connects nowhere; it computes the same
    figures from the per-transaction logs of a run made elsewhere, for example pgbench in a Kubernetes Job
    next to a database the controller cannot reach (C(playbooks/bench.yml) with C(bench_in_cluster)). The
    run's options (O(duration), O(clients), O(warmup), O(scripts)...) are then those that run used; they are
    returned in RV(parameters), and O(duration) and O(warmup) set the window. The run's start is not known
    from logs alone; the window starts at the earliest transaction start plus O(warmup), later than pgbench's
    start by its connection time (and, with a rate, by the first transaction's schedule), and ends
    O(duration) after that earliest start.
extends_documentation_fragment:
  - sre.platform.postgres
options:
  duration:
    description:
      - Length of the run in seconds (pgbench C(-T)), warm-up included. The measured window is this long, less
        the warm-up (longer only by transactions still finishing after it).
      - In analyse-only mode, the analysed run's C(-T); it sets the window, and so TPS.
    type: int
    default: 300
  clients:
    description:
      - Concurrent database sessions (pgbench C(-c)).
    type: int
    default: 10
  jobs:
    description:
      - pgbench worker threads (C(-j)); at most O(clients).
    type: int
    default: 2
  rate:
    description:
      - Target transactions per second for the whole run (C(-R)); unthrottled when omitted.
      - With a rate, latencies include the time a transaction waited for its schedule.
    type: int
  protocol:
    description:
      - How queries are sent (C(-M)).
    type: str
    choices: [simple, extended, prepared]
    default: simple
  builtin:
    description:
      - Built-in pgbench workload (C(-b)). Used when O(scripts) is empty; V(tpcb-like) by default.
      - Needs the pgbench tables; see O(init).
    type: str
    choices: [tpcb-like, simple-update, select-only]
  scripts:
    description:
      - Custom SQL scripts (C(-f path@weight)), for example C(files/pgbench/*.sql) on the seeded schema.
      - Mutually exclusive with O(builtin).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Path of the pgbench script on the host running the module.
        type: path
        required: true
      weight:
        description: Relative frequency of the script in the mix.
        type: int
        default: 1
  scale:
    description:
      - Scale factor for O(init) (C(-i -s)); 1 is 100,000 accounts.
    type: int
    default: 1
  init:
    description:
      - Create and load the pgbench tables (C(pgbench -i -q -s scale)) before the run. Built-in workloads only.
      - Drops existing pgbench tables first.
    type: bool
    default: false
  warmup:
    description:
      - Seconds at the start of the run left out of every figure and of the window (caches, connections).
      - Must be shorter than O(duration).
    type: int
    default: 0
  output:
    description:
      - Write the result as JSON to this path (parent directories are created).
    type: path
  log_dir:
    description:
      - Keep the per-transaction logs in a new C(pgbench-*) directory under this one (returned as
        RV(log_files)). Without it the logs go to a temporary directory removed after the run.
    type: path
  pgbench_path:
    description:
      - The pgbench binary. By default the one on E(PATH), then C(/usr/lib/postgresql/*/bin/pgbench).
    type: path
  log_text:
    description:
      - Analyse-only mode. The per-transaction log lines of a finished run (C(pgbench -l); with several
        threads, every thread's file concatenated, in any order). No pgbench runs, no connection is made.
      - Mutually exclusive with O(log_files).
    type: str
    version_added: "0.2.0"
  log_files:
    description:
      - Analyse-only mode, from files; the per-transaction log files of a finished run (every thread's).
      - Mutually exclusive with O(log_text).
    type: list
    elements: path
    version_added: "0.2.0"
  pgbench_output:
    description:
      - Analyse-only mode. pgbench's standard output of the analysed run. Its C(tps =) line gives
        RV(pgbench_tps) and its first line (C(pgbench (client[, server server]))) RV(pgbench_version) and
        RV(server_version); without it they are C(null) and C(unknown).
    type: str
    default: ""
    version_added: "0.2.0"
attributes:
  check_mode:
    support: full
    description: Validates the options, the scripts, the binary and the connection, and returns the command
      that would run; runs nothing. In analyse-only mode the figures are computed (that changes nothing)
      but O(output) is not written.
  diff_mode:
    support: none
notes:
  - pgbench runs on the host that runs the module (usually the controller) and connects over the network.
  - C(changed) is true after a run and in check mode, because a benchmark writes to the database; false in
    analyse-only mode.
seealso:
  - name: pgbench
    description: Options and per-transaction log format.
    link: https://www.postgresql.org/docs/current/pgbench.html
  - module: sre.platform.slo_check
  - module: sre.platform.pg_seed
requirements:
  - pgbench. On Debian it comes with the server package C(postgresql-15) (Debian 12; C(postgresql-NN) for
    another version), not with C(postgresql-client), whose C(/usr/bin/pgbench) is only a wrapper.
author:
  - sre.platform maintainers
"""

EXAMPLES = r"""
- name: Five minutes of the project's read/write mix on the seeded schema
  sre.platform.pg_bench:
    login_host: "{{ pg_host }}"
    login_port: "{{ pg_port }}"
    login_user: "{{ pg_user }}"
    login_password: "{{ pg_password }}"
    login_db: "{{ pg_database }}"
    clients: 16
    jobs: 2
    warmup: 10
    scripts:
      - path: "{{ playbook_dir }}/../files/pgbench/product_page.sql"
        weight: 5
      - path: "{{ playbook_dir }}/../files/pgbench/order_history.sql"
        weight: 3
      - path: "{{ playbook_dir }}/../files/pgbench/fulfil_order.sql"
        weight: 2
    output: reports/bench.json
  register: bench

- name: Built-in TPC-B-like workload on freshly initialised tables
  sre.platform.pg_bench:
    login_host: 127.0.0.1
    login_password: "{{ vault_pg_password }}"
    builtin: tpcb-like
    init: true
    scale: 10
    duration: 60

- name: Show what would run
  sre.platform.pg_bench:
    login_host: 127.0.0.1
    builtin: select-only
  check_mode: true

- name: Figures of a run made elsewhere (a pgbench Job in the cluster), from what it printed
  sre.platform.pg_bench:
    duration: 300
    warmup: 10
    clients: 10
    jobs: 2
    protocol: prepared
    builtin: tpcb-like
    log_text: "{{ job_transaction_log }}"
    pgbench_output: "{{ job_pgbench_output }}"
    output: reports/bench.json
  register: bench

- name: The same figures again from log files kept by an earlier run (log_dir); its duration sets the window
  sre.platform.pg_bench:
    builtin: tpcb-like
    duration: "{{ earlier_run.parameters.duration }}"
    warmup: "{{ earlier_run.parameters.warmup }}"
    log_files: "{{ earlier_run.log_files }}"
"""

RETURN = r"""
command:
  description: The pgbench command line; the password is never part of it (it goes in the environment).
  returned: when pgbench ran, and in check mode; not in analyse-only mode
  type: list
  elements: str
  sample: [/usr/bin/pgbench, -T, "300", -c, "10", -j, "2", -M, simple, -l, --log-prefix, /tmp/x/log, -b, tpcb-like]
transactions:
  description: Successful transactions in the measured window.
  returned: success; in check mode only in analyse-only mode
  type: int
  sample: 184211
tps:
  description: Successful transactions per second over the measured window, its whole length (the run less the
    warm-up), including seconds in which none finished.
  returned: success; in check mode only in analyse-only mode
  type: float
  sample: 613.9
latency_avg_ms:
  description: Mean latency of the successful transactions, in milliseconds. This and the other latencies
    are null when no transaction succeeded in the window (every one failed).
  returned: success; in check mode only in analyse-only mode
  type: float
  sample: 16.2
latency_p50_ms:
  description: Median latency (nearest rank), ms. RV(latency_p95_ms), RV(latency_p99_ms) and
    RV(latency_max_ms) likewise.
  returned: success; in check mode only in analyse-only mode
  type: float
  sample: 12.9
latency_p95_ms:
  description: 95th percentile latency (nearest rank), ms.
  returned: success; in check mode only in analyse-only mode
  type: float
  sample: 38.4
latency_p99_ms:
  description: 99th percentile latency (nearest rank), ms.
  returned: success; in check mode only in analyse-only mode
  type: float
  sample: 61.0
latency_max_ms:
  description: Slowest successful transaction, ms.
  returned: success; in check mode only in analyse-only mode
  type: float
  sample: 240.7
failed_transactions:
  description: Transactions pgbench logged as failed (serialization or deadlock errors) in the window.
  returned: success; in check mode only in analyse-only mode
  type: int
  sample: 0
skipped_transactions:
  description: Transactions pgbench logged as skipped in the window. Only a run with a rate and
    C(--latency-limit) skips any, so only logs given in analyse-only mode can hold them.
  returned: success; in check mode only in analyse-only mode
  type: int
  sample: 0
warmup_transactions:
  description: Transactions that ended before the measured window, during the O(warmup), left out of every
    figure.
  returned: success; in check mode only in analyse-only mode
  type: int
  sample: 6120
error_rate_percent:
  description: Failed transactions as a percentage of all finished ones (failed + successful); 100 when
    every one failed.
  returned: success; in check mode only in analyse-only mode
  type: float
  sample: 0.0
window_start_epoch:
  description: Start of the measured window, the run's start plus O(warmup), Unix time with microseconds;
    in analyse-only mode the earliest transaction start plus O(warmup). RV(window_end_epoch) is the run's
    start plus O(duration).
  returned: success; in check mode only in analyse-only mode
  type: float
  sample: 1735689600.123456
window_end_epoch:
  description: End of the measured window, Unix time; the end of the last transaction when that is later
    (pgbench lets the transactions in flight finish).
  returned: success; in check mode only in analyse-only mode
  type: float
  sample: 1735689900.129876
window_start:
  description: Start of the measured window, ISO 8601 UTC. RV(window_end) likewise.
  returned: success; in check mode only in analyse-only mode
  type: str
  sample: "2025-01-01T00:00:00.123456Z"
window_end:
  description: End of the measured window, ISO 8601 UTC.
  returned: success; in check mode only in analyse-only mode
  type: str
  sample: "2025-01-01T00:05:00.129876Z"
window_seconds:
  description: Length of the measured window in seconds, O(duration) less O(warmup) or a little more.
  returned: success; in check mode only in analyse-only mode
  type: float
  sample: 300.006
timeseries:
  description: One entry for every second of the window, by transaction end, with C(second) (offset from the
    window start), C(transactions) (successful ones), C(latency_p50_ms) and C(latency_p99_ms). A second in
    which no transaction succeeded, an outage, has C(transactions=0) and null latencies. The last, partial
    second holds what ended up to the window's end.
  returned: success; in check mode only in analyse-only mode
  type: list
  elements: dict
  sample: [{second: 0, transactions: 612, latency_p50_ms: 12.8, latency_p99_ms: 58.1}]
by_script:
  description: The same figures for each script of the workload, in the order of O(scripts) (one entry, named
    after the builtin, for a builtin), so a slow write hidden in a read-heavy mix shows. Each entry has
    C(script) (the file name), C(transactions), C(failed_transactions), C(error_rate_percent), C(tps) and
    C(latency_avg_ms), C(latency_p50_ms), C(latency_p95_ms), C(latency_p99_ms), C(latency_max_ms) (C(null)
    for a script that finished no transaction in the window).
  returned: success; in check mode only in analyse-only mode
  type: list
  elements: dict
  sample:
    - {script: product_page.sql, transactions: 90210, failed_transactions: 0, error_rate_percent: 0.0, tps: 300.7,
       latency_avg_ms: 4.1, latency_p50_ms: 3.2, latency_p95_ms: 9.8, latency_p99_ms: 17.5, latency_max_ms: 88.0}
parameters:
  description: The run's parameters (duration, clients, jobs, rate, protocol, workload, warmup, scale, init).
  returned: always
  type: dict
pgbench_tps:
  description: The TPS pgbench itself printed (whole run, warm-up included, without connection time);
    in analyse-only mode read from O(pgbench_output), C(null) without it.
  returned: success; in check mode only in analyse-only mode
  type: float
  sample: 615.2
server_version:
  description: PostgreSQL server version (analyse-only mode, from O(pgbench_output) or C(unknown)).
  returned: always
  type: str
  sample: "15.10"
pgbench_version:
  description: First line of C(pgbench --version) (analyse-only mode, from O(pgbench_output) or C(unknown)).
  returned: always
  type: str
  sample: pgbench (PostgreSQL) 15.10
log_files:
  description: The per-transaction log files kept under O(log_dir) (empty without it); in analyse-only mode
    O(log_files) as given (empty with O(log_text)).
  returned: success; in check mode only in analyse-only mode
  type: list
  elements: str
"""

import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import traceback
from pathlib import Path

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sre.platform.plugins.module_utils.pgbench_command import (
    INIT_WITH_SCRIPTS,
    MUTUALLY_EXCLUSIVE,
    OPTION_SPEC,
    bench_command,
    init_command,
    option_errors,
    workload,
)
from ansible_collections.sre.platform.plugins.module_utils.pgbench_log import (
    PgbenchLogError,
    log_files,
    parse_text,
    read_logs,
    summarize,
)
from ansible_collections.sre.platform.plugins.module_utils.postgres import (
    connect,
    describe_target,
    libpq_env,
    postgres_argument_spec,
)

# Debian ships pgbench in the server package; postgresql-client-common only has a wrapper that needs it.
DEBIAN_PACKAGE = "postgresql-15"
PGBENCH_TPS = re.compile(r"^tps = ([0-9.]+)", re.MULTILINE)
# The header pgbench prints before a run: "pgbench (17.5 (Debian ...))" or "pgbench (15.10, server 17.5)".
PGBENCH_HEADER = re.compile(r"^pgbench \((?P<client>.+?)(?:, server (?P<server>[^,()]+))?\)$", re.MULTILINE)
UNKNOWN = "unknown"


def argument_spec() -> dict:
    spec = postgres_argument_spec()
    spec.update(
        OPTION_SPEC,
        init={"type": "bool", "default": False},
        warmup={"type": "int", "default": 0},
        output={"type": "path"},
        log_dir={"type": "path"},
        pgbench_path={"type": "path"},
        log_text={"type": "str"},
        log_files={"type": "list", "elements": "path"},
        pgbench_output={"type": "str", "default": ""},
    )
    return spec


def analyse_only(params: dict) -> bool:
    """The logs of a run made elsewhere are given: measure them, run nothing."""
    return params["log_text"] is not None or params["log_files"] is not None


def validation_errors(params: dict) -> list[str]:
    """Everything wrong with the options, so one run reports all of it."""
    errors = option_errors(params)
    if not 0 <= params["warmup"] < params["duration"]:
        errors.append(f"warmup ({params['warmup']} s) must be at least 0 and shorter than duration")
    if params["init"] and params["scripts"]:
        errors.append(INIT_WITH_SCRIPTS)
    if params["init"] and analyse_only(params):
        errors.append("init runs pgbench; it cannot go with log_text or log_files (analyse-only mode)")
    errors += [
        f"script {script['path']} does not exist or is not a file"
        for script in params["scripts"]
        if not os.path.isfile(script["path"])
    ]
    return errors


def find_pgbench(configured: str | None) -> str | None:
    """The pgbench binary: the configured one, then PATH, then the newest PostgreSQL bin directory."""
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    candidates = [shutil.which("pgbench"), *sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"), reverse=True)]
    return next((path for path in candidates if path), None)


def script_names(params: dict) -> list[str]:
    """The names of the run's scripts in the order pgbench numbers them: file names, or the builtin's."""
    chosen = workload(params)
    if "builtin" in chosen:
        return [chosen["builtin"]]
    return [os.path.basename(script["path"]) for script in chosen["scripts"]]


def run_parameters(params: dict) -> dict:
    keys = ("duration", "clients", "jobs", "rate", "protocol", "warmup", "scale", "init")
    return {**{key: params[key] for key in keys}, "workload": workload(params)}


def pgbench_env(params: dict) -> dict:
    return {**os.environ, **libpq_env(params)}


def run_pgbench(module: AnsibleModule, command: list[str], what: str) -> str:
    """Run pgbench; fail the module with its stderr when it fails."""
    try:
        done = subprocess.run(command, env=pgbench_env(module.params), capture_output=True, text=True, check=False)
    except OSError as exc:
        module.fail_json(msg=f"Could not start pgbench ({command[0]}) for {what}: {exc}", command=command)
    if done.returncode != 0:
        module.fail_json(
            msg=f"pgbench failed during {what} against {describe_target(module.params)} "
            f"(exit code {done.returncode}): {done.stderr.strip() or done.stdout.strip()}",
            command=command,
            stdout=done.stdout,
            stderr=done.stderr,
        )
    return done.stdout


def pgbench_version(module: AnsibleModule, pgbench: str) -> str:
    done = subprocess.run([pgbench, "--version"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        module.fail_json(msg=f"{pgbench} --version failed: {done.stderr.strip()}")
    return done.stdout.strip().splitlines()[0]


def server_version(module: AnsibleModule) -> str:
    """Connect once before the run, so an unreachable database fails with a clear reason."""
    conn = connect(module)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return cursor.fetchone()[0]
    finally:
        conn.close()


def write_json(path: str, result: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def pgbench_tps(stdout: str) -> float | None:
    found = PGBENCH_TPS.search(stdout)
    return float(found.group(1)) if found else None


def reported_versions(stdout: str) -> dict:
    """Client and server versions from the header of a run's output; the server's is the client's when equal."""
    header = PGBENCH_HEADER.search(stdout)
    if header is None:
        return {"pgbench_version": UNKNOWN, "server_version": UNKNOWN}
    client = header.group("client")
    return {
        "pgbench_version": f"pgbench (PostgreSQL) {client}",
        "server_version": header.group("server") or client,
    }


def analyse(module: AnsibleModule) -> dict:
    """The figures of a run made elsewhere, from the logs and the output it produced."""
    params = module.params
    try:
        if params["log_text"] is not None:
            transactions = parse_text(params["log_text"], "log_text")
        else:
            transactions = read_logs(params["log_files"])
        # The run's start is unknown here: the window starts at the earliest transaction start.
        figures = summarize(transactions, params["duration"], params["warmup"], script_names(params))
    except PgbenchLogError as exc:
        module.fail_json(msg=f"Could not measure the run from the given pgbench logs: {exc}")
    stdout = params["pgbench_output"]
    return {
        **figures,
        **reported_versions(stdout),
        "pgbench_tps": pgbench_tps(stdout),
        "log_files": params["log_files"] or [],
    }


def measure(module: AnsibleModule, pgbench: str, log_root: str) -> dict:
    """Run the benchmark with per-transaction logs under ``log_root`` and return its figures."""
    params = module.params
    if params["init"]:
        run_pgbench(module, init_command(pgbench, params), f"initialisation at scale {params['scale']}")
    prefix = os.path.join(tempfile.mkdtemp(prefix="pgbench-", dir=log_root), "pgbench_log")
    command = bench_command(pgbench, params, prefix)
    # pgbench does not log when its -T clock started; it cannot be before this.
    launched_us = time.time_ns() // 1000
    stdout = run_pgbench(module, command, "the benchmark")
    files = log_files(prefix)
    try:
        figures = summarize(read_logs(files), params["duration"], params["warmup"], script_names(params), launched_us)
    except PgbenchLogError as exc:
        module.fail_json(msg=f"Could not measure the run from pgbench's logs: {exc}", command=command)
    return {**figures, "command": command, "pgbench_tps": pgbench_tps(stdout), "log_files": files}


def report_analysis(module: AnsibleModule) -> dict:
    """Analyse-only mode: figures from given logs; O(output) written unless in check mode."""
    result = {"changed": False, "parameters": run_parameters(module.params), **analyse(module)}
    if module.params["output"] and not module.check_mode:
        try:
            write_json(module.params["output"], result)
        except OSError as exc:
            module.fail_json(msg=f"pg_bench could not write its output: {exc}", exception=traceback.format_exc())
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[*MUTUALLY_EXCLUSIVE, ("log_text", "log_files")],
        supports_check_mode=True,
    )
    params = module.params
    errors = validation_errors(params)
    if errors:
        module.fail_json(msg="Invalid pg_bench options: " + "; ".join(errors))
    if analyse_only(params):
        module.exit_json(**report_analysis(module))
    pgbench = find_pgbench(params["pgbench_path"])
    if pgbench is None:
        looked_at = params["pgbench_path"] or "on PATH and in /usr/lib/postgresql/*/bin"
        module.fail_json(
            msg=f"pgbench was not found ({looked_at}): on Debian 12 it comes with the server package "
            f"'{DEBIAN_PACKAGE}' (apt-get install {DEBIAN_PACKAGE}), not with postgresql-client"
        )
    result = {
        "changed": True,
        "parameters": run_parameters(params),
        "pgbench_version": pgbench_version(module, pgbench),
        "server_version": server_version(module),
    }
    if module.check_mode:
        log_root = params["log_dir"] or tempfile.gettempdir()
        command = bench_command(pgbench, params, os.path.join(log_root, "pgbench-XXXXXXXX", "pgbench_log"))
        module.exit_json(msg="would run pgbench (check mode: nothing ran)", command=command, **result)
    try:
        if params["log_dir"]:
            os.makedirs(params["log_dir"], exist_ok=True)
            result.update(measure(module, pgbench, params["log_dir"]))
        else:
            with tempfile.TemporaryDirectory(prefix="sre-pg-bench-") as log_root:
                result.update(measure(module, pgbench, log_root), log_files=[])
        if params["output"]:
            write_json(params["output"], result)
    except OSError as exc:
        module.fail_json(msg=f"pg_bench could not write its logs or output: {exc}", exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
