"""playbooks/seed.yml with inventories/postgres: a throwaway PostgreSQL, seeded, kept, then torn down."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.ansible import run_playbook
from tests.harness.servers import LOOPBACK, PG_BIN_DIRS, find_binary, free_port, stop_pid

ROWS = 5_000


@pytest.fixture
def server_dir() -> Iterator[Path]:
    """A directory the unprivileged server account can traverse; the server is stopped by its pidfile after."""
    parent = Path(tempfile.mkdtemp(prefix="sre-local-pg-"))
    parent.chmod(0o755)
    directory = parent / "server"
    yield directory
    pidfile = directory / "data" / "postmaster.pid"
    if pidfile.exists():
        stop_pid(int(pidfile.read_text().split()[0]))
    shutil.rmtree(parent, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Running: a process that exited but is not reaped yet (a zombie: init reaps it when it gets to it) is not."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _psql(server: str, statement: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [find_binary("psql", "postgresql", PG_BIN_DIRS), "-XAt", "-c", statement, server],
        capture_output=True,
        text=True,
    )


def test_seed_playbook_on_a_throwaway_postgres_is_idempotent_and_torn_down(server_dir: Path):
    extra_vars = {"seed_rows": ROWS, "local_postgres_port": free_port(), "local_postgres_dir": str(server_dir)}
    first = run_playbook("playbooks/seed.yml", inventory="inventories/postgres", extra_vars=extra_vars)
    assert first.returncode == 0, first.output
    seeded = first.task_results("Load the shop schema")[0]
    assert seeded["changed"] is True and seeded["total_rows"] == ROWS
    assert len(seeded["tables"]) >= 10
    summary = first.task_results("Show what the schema holds")[0]["msg"]
    assert sum(int(rows) for rows in summary["tables"].values()) == ROWS
    pid = int((server_dir / "data" / "postmaster.pid").read_text().split()[0])
    password = (server_dir / "password").read_text().strip()
    assert len(password) >= 16 and password not in first.output
    server = f"host={LOOPBACK} port={extra_vars['local_postgres_port']} user=postgres password={password} dbname=sre"
    # Text sorts as on the platform: CloudNativePG initialises clusters with the C locale.
    locale = _psql(server, "SELECT datcollate, datctype FROM pg_database WHERE datname = current_database()")
    assert locale.stdout.strip() == "C|C", locale.stderr

    second = run_playbook("playbooks/seed.yml", inventory="inventories/postgres", extra_vars=extra_vars)
    assert second.returncode == 0, second.output
    assert second.stats()["changed"] == 0, second.output
    assert second.task_results("Load the shop schema")[0]["operation"] == "none"

    # Data changed behind the manifest's back: the counts still match, so only seed_verify sees it, and repairs it.
    assert _psql(server, "UPDATE shop.customers SET email = 'drift@example.com' WHERE id = 1").returncode == 0
    unverified = run_playbook("playbooks/seed.yml", inventory="inventories/postgres", extra_vars=extra_vars)
    assert unverified.stats()["changed"] == 0, unverified.output
    verify = {**extra_vars, "seed_verify": "on"}  # any spelling that | bool reads as true
    repaired = run_playbook("playbooks/seed.yml", inventory="inventories/postgres", extra_vars=verify)
    assert repaired.returncode == 0, repaired.output
    result = repaired.task_results("Load the shop schema")[0]
    assert (result["changed"], result["operation"]) == (True, "rebuild")
    assert result["reason"].startswith("the checksum of shop.customers is ")
    assert _psql(server, "SELECT email FROM shop.customers WHERE id = 1").stdout.strip() != "drift@example.com"
    verified = run_playbook("playbooks/seed.yml", inventory="inventories/postgres", extra_vars=verify)
    assert verified.stats()["changed"] == 0, verified.output

    dropped = run_playbook(
        "playbooks/seed.yml", inventory="inventories/postgres", extra_vars={**extra_vars, "seed_state": "absent"}
    )
    assert dropped.returncode == 0, dropped.output
    result = dropped.task_results("Load the shop schema")[0]
    assert (result["changed"], result["operation"], result["total_rows"]) == (True, "drop", 0)
    again = run_playbook(
        "playbooks/seed.yml", inventory="inventories/postgres", extra_vars={**extra_vars, "seed_state": "absent"}
    )
    assert again.stats()["changed"] == 0, again.output
    assert again.task_results("Load the shop schema")[0]["reason"] == "schema is absent"

    down = run_playbook("playbooks/local_postgres_down.yml", inventory="inventories/postgres", extra_vars=extra_vars)
    assert down.returncode == 0, down.output
    assert not _alive(pid)
    assert not server_dir.exists()


def test_the_throwaway_servers_password_never_shows_even_at_vvv(server_dir: Path):
    """-vvv prints every command with its environment: the role's own psql and createdb must not get the
    password there. Two runs: the first creates the workload database, the second finds it."""
    extra_vars = {"seed_rows": 100, "local_postgres_port": free_port(), "local_postgres_dir": str(server_dir)}
    for _ in range(2):
        run = run_playbook(
            "playbooks/seed.yml",
            inventory="inventories/postgres",
            extra_vars=extra_vars,
            env={"ANSIBLE_VERBOSITY": "3"},
            json_output=False,
        )
        assert run.returncode == 0, run.output
        password = (server_dir / "password").read_text().strip()
        assert len(password) == 24
        assert "Look for the workload database" in run.stdout and "EXEC" in run.stdout, "-vvv shows commands"
        assert password not in run.output
