"""Playbooks check their parameters first: a bad value fails at once, naming only its variable.

seed.yml and bench.yml run on inventories/postgres, where no throwaway PostgreSQL may be started; the drills,
the load test, the release and the restore run on inventories/local with a kubeconfig that does not exist, so
the check must come before anything reads the cluster.
"""

from __future__ import annotations

import pytest

from tests.harness.ansible import run_playbook
from tests.harness.servers import free_port

SEED = [
    ("seed_rows", "1e6"),
    ("seed_rows", 99),
    ("seed_rows", "1000\n"),
    ("seed_seed", "x"),
    ("seed_seed", 2**63),
    ("seed_jobs", -1),
    ("seed_schema", "Shop"),
    ("seed_schema", "s" * 64),
    ("seed_schema", 5),
    ("seed_schema", "pg_shop"),  # PostgreSQL reserves the prefix
    ("seed_state", "dropped"),
    ("seed_verify", "maybe"),
]
BENCH = [
    ("bench_duration", "30s"),
    ("bench_duration", 1),
    ("bench_warmup", -1),
    ("bench_clients", 0),
    ("bench_jobs", 11),  # more threads than the 10 default clients
    ("bench_rate", "fast"),
    ("bench_protocol", "http"),
    ("bench_script", "tpcb"),
    ("bench_scale", 0),
    ("bench_fail_on_breach", "maybe"),
    ("bench_seed", "sometimes"),
    ("bench_baseline", "/nonexistent/bench.json"),
    ("bench_max_regression_percent", "ten"),
]


FAILOVER_DRILL = [
    ("drill_mode", "zone"),
    ("drill_warmup", "10s"),
    ("drill_duration", 10),  # not above the default warm-up of 10 s
    ("drill_tail", "abc"),
    ("drill_interval", 0),
    ("drill_max_gap", "-1"),
    ("drill_failover_timeout", "3m"),
    ("drill_verify_timeout", 0),
]
ALERT_DRILL = [
    ("drill_alert", "cpu"),
    ("drill_fire_timeout", 0),
    ("drill_resolve_timeout", "10m"),
    ("drill_write_duration", -5),
    ("drill_ready_timeout", "1m"),
    ("drill_disk_fill_percent", 80),
    ("drill_disk_fill_percent", 100),
    ("drill_disk_max_fill_mib", "2G"),
]
LOAD = [
    ("load_service", "kv_store"),
    ("load_duration", "3m"),
    ("load_connections", 0),
    ("load_sample_interval", 0.5),
    ("load_cooldown", -1),
    ("load_path", "user_hash"),
]
RELEASE = [
    ("rollback", "ture"),
    ("release_rollback_window", "5m"),
]
RESTORE = [
    ("cloudnative_pg_restore_target_time", "yesterday"),
    ("cloudnative_pg_restore_target_time", "2026-11-21 23:40:00"),  # no zone: read in the server's
    ("cloudnative_pg_restore_target_time", "2026-02-30T00:00:00Z"),
    ("cloudnative_pg_restore_target_time", "2999-01-01T00:00:00Z"),  # recovery can never reach it
    ("seed_schema", "shop; drop schema shop"),
    ("cloudnative_pg_restore_cleanup", "keep"),
]
CASES = (
    [("seed", *case) for case in SEED]
    + [("bench", *case) for case in BENCH]
    + [("failover_drill", *case) for case in FAILOVER_DRILL]
    + [("alert_drill", *case) for case in ALERT_DRILL]
    + [("load", *case) for case in LOAD]
    + [("release", *case) for case in RELEASE]
    + [("restore", *case) for case in RESTORE]
)


@pytest.mark.parametrize(("playbook", "name", "value"), CASES)
def test_a_bad_parameter_fails_before_anything_starts(tmp_path, playbook: str, name: str, value):
    server_dir = tmp_path / "pg"
    if playbook in ("seed", "bench"):
        inventory = "inventories/postgres"
        extra_vars = {"local_postgres_port": free_port(), "local_postgres_dir": str(server_dir)}
    else:
        inventory = "inventories/local"
        extra_vars = {"platform_kubeconfig": str(tmp_path / "no-cluster")}
    run = run_playbook(f"playbooks/{playbook}.yml", inventory=inventory, extra_vars={**extra_vars, name: value})
    assert run.returncode != 0
    refused = run.refused_parameters()
    assert list(refused) == [name], "exactly the bad variable is named"
    assert refused[name].startswith(f"Invalid {name}: need ") and refused[name].endswith(f"got {value}")
    assert not server_dir.exists(), "no throwaway PostgreSQL may be started (or seeded) for a run that cannot work"


def test_the_throwaway_server_needs_a_plain_database_name(tmp_path):
    server_dir = tmp_path / "pg"
    extra_vars = {
        "local_postgres_port": free_port(),
        "local_postgres_dir": str(server_dir),
        "local_postgres_database": "s" * 64,  # PostgreSQL would cut it to 63
    }
    run = run_playbook("playbooks/seed.yml", inventory="inventories/postgres", extra_vars=extra_vars)
    assert run.returncode != 0
    (refusal,) = run.task_results("sre.platform.local_postgres : Check the inputs")
    assert "local_postgres_database a lower-case identifier of at most 63 characters" in refusal["msg"]
    assert not server_dir.exists()
