"""seed.yml and bench.yml check their parameters first: a bad value fails at once, naming only its variable."""

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
]


@pytest.mark.parametrize(
    ("playbook", "name", "value"),
    [("playbooks/seed.yml", *case) for case in SEED] + [("playbooks/bench.yml", *case) for case in BENCH],
)
def test_a_bad_parameter_fails_before_any_database_starts(tmp_path, playbook: str, name: str, value):
    server_dir = tmp_path / "pg"
    extra_vars = {name: value, "local_postgres_port": free_port(), "local_postgres_dir": str(server_dir)}
    run = run_playbook(playbook, inventory="inventories/postgres", extra_vars=extra_vars)
    assert run.returncode != 0
    refused = run.refused_parameters()
    assert list(refused) == [name], "exactly the bad variable is named"
    assert refused[name].startswith(f"Invalid {name}: need ") and refused[name].endswith(f"got {value}")
    assert not server_dir.exists(), "no throwaway PostgreSQL may be started (or seeded) for a run that cannot work"
