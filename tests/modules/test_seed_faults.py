"""sre.platform.pg_seed when something breaks under it, against a real PostgreSQL started by the harness.

Each test breaks a run the way production does (a worker killed by the OOM killer, a session terminated by an
administrator or ended by idle_session_timeout, damaged bookkeeping, dropped keys) and checks that the run fails
at once with a message naming what broke, leaves nothing behind, and that the next run completes the data.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import re
import signal
import time

import psycopg2
import pytest
from ansible_collections.sre.platform.plugins.module_utils import seed_load, seed_schema
from ansible_collections.sre.platform.plugins.module_utils.postgres import open_connection

from tests.harness.ansible import module_outcome, run_module, start_module
from tests.harness.seeding import EXPECTED_FOREIGN_KEYS, client_pids, counts, foreign_keys, orphans, pool_workers
from tests.harness.servers import PostgresServer

ROWS = 20_000
# Large enough that a table loads for a few tenths of a second: long enough to break the run in the middle.
LONG_ROWS = 300_000
_databases = itertools.count()

ACTIVE_COPY = (
    "SELECT pid, client_port, query FROM pg_stat_activity WHERE datname = current_database()"
    " AND state = 'active' AND query LIKE 'COPY %' LIMIT 1"
)
# The session that holds a run's lock on its schema (exclusively; the run's other sessions share another lock).
TERMINATE_LOCK_HOLDER = (
    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND mode = 'ExclusiveLock' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


@pytest.fixture
def database(postgres_server: PostgresServer) -> str:
    return postgres_server.createdb(f"seed_fault_{next(_databases)}")


def arguments(server: PostgresServer, db: str, **options) -> dict:
    return {**server.conninfo, "login_db": db, "rows": ROWS, "seed": 42, "jobs": 2, **options}


def seed(server: PostgresServer, db: str, check: bool = False, **options) -> dict:
    return run_module("sre.platform.pg_seed", arguments(server, db, **options), check=check)


def wait_for(server: PostgresServer, db: str, query: str, timeout: float = 120) -> str:
    """The first non-empty answer to ``query``, polled."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = server.psql(query, db)
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"nothing matched within {timeout} s: {query}")


def assert_nothing_left_behind(server: PostgresServer, db: str) -> None:
    """No session of the run stays connected and no lock stays held (they would block the next run)."""
    leftovers = (
        "SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        "        AND application_name = 'sre.platform')"
        " || ' sessions, ' || (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory') || ' advisory locks'"
    )
    deadline = time.monotonic() + 10
    while (found := server.psql(leftovers, db)) != "0 sessions, 0 advisory locks" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert found == "0 sessions, 0 advisory locks"


def assert_complete(server: PostgresServer, db: str, result: dict, rows: int) -> None:
    assert result.get("failed") is not True, result.get("msg")
    assert counts(server, db) == seed_schema.row_counts(rows)
    assert foreign_keys(server, db) == (EXPECTED_FOREIGN_KEYS, EXPECTED_FOREIGN_KEYS)
    assert set(orphans(server, db).values()) == {0}
    assert server.psql("SELECT status FROM shop.seed_run", db) == "complete"


def test_a_worker_killed_while_loading_fails_the_run_at_once_and_a_rerun_resumes(postgres_server, database):
    args = arguments(postgres_server, database, rows=LONG_ROWS, seed=40)
    proc = start_module("sre.platform.pg_seed", args, capture=True)
    _, client_port, query = wait_for(postgres_server, database, ACTIVE_COPY).split("|", 2)
    table = re.search(r'COPY "shop"\."(\w+)"', query).group(1)
    (victim,) = client_pids(pool_workers(proc), int(client_port))
    os.kill(victim, signal.SIGKILL)  # what the OOM killer does

    failed = module_outcome(proc, timeout=60)
    assert failed.get("failed") is True, failed
    assert f"worker pid {victim} loading shop.{table} (" in failed["msg"], failed["msg"]
    assert "died (signal 9, SIGKILL" in failed["msg"] and "a re-run resumes" in failed["msg"], failed["msg"]
    assert_nothing_left_behind(postgres_server, database)

    resumed = run_module("sre.platform.pg_seed", args)
    assert resumed.get("operation") == "resume", resumed
    assert_complete(postgres_server, database, resumed, LONG_ROWS)


def test_a_run_keeps_its_sessions_where_the_database_ends_idle_ones(postgres_server, database):
    # The run's lock is held by a session that idles while the workers load: it must not be timed out.
    for setting in ("idle_session_timeout", "idle_in_transaction_session_timeout"):
        postgres_server.psql(f"ALTER DATABASE {database} SET {setting} = '100ms'")
    result = seed(postgres_server, database, rows=200_000)
    assert_complete(postgres_server, database, result, 200_000)


def test_a_run_that_loses_its_lock_stops_and_no_other_run_starts_while_it_works(postgres_server, database):
    args = arguments(postgres_server, database, rows=LONG_ROWS, seed=60, jobs=1)
    proc = start_module("sre.platform.pg_seed", args, capture=True)
    wait_for(postgres_server, database, ACTIVE_COPY)
    assert postgres_server.psql(TERMINATE_LOCK_HOLDER, database) == "t"
    # A second run at once: the first one still works through its other sessions, so it must be refused.
    second = open_connection(args)
    try:
        assert seed_load.lock(second, "shop") is False, "a second run took the schema while the first one loaded"
    finally:
        second.close()

    first = module_outcome(proc, timeout=60)
    assert first.get("failed") is True, first
    assert "lost its lock on schema shop" in first["msg"] and "a re-run resumes" in first["msg"], first["msg"]
    assert_nothing_left_behind(postgres_server, database)
    assert_complete(postgres_server, database, seed(postgres_server, database, rows=LONG_ROWS, seed=61), LONG_ROWS)


def test_a_resume_reloads_tables_that_foreign_keys_were_left_on(postgres_server, database):
    first = seed(postgres_server, database, seed=61)
    # What two runs overlapping on one schema used to leave: keys (one NOT VALID) on empty tables, no chunks.
    # Table names come from the schema definition, not from input.
    postgres_server.psql("TRUNCATE {}".format(", ".join(f"shop.{name}" for name in seed_schema.TABLE_NAMES)), database)
    postgres_server.psql(
        "UPDATE shop.seed_run SET status = 'loading'; DELETE FROM shop.seed_chunks;"
        " ALTER TABLE shop.orders DROP CONSTRAINT orders_customer_id_fkey;"
        " ALTER TABLE shop.orders ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id)"
        " REFERENCES shop.customers (id) NOT VALID",
        database,
    )
    resumed = seed(postgres_server, database, seed=61)
    assert resumed.get("operation") == "resume", resumed
    assert resumed["tables"] == first["tables"]
    assert_complete(postgres_server, database, resumed, ROWS)


def test_a_terminated_index_build_is_reported_with_its_step(postgres_server, database):
    seed(postgres_server, database)
    postgres_server.psql(
        "UPDATE shop.seed_run SET status = 'loading'; ALTER TABLE shop.orders DROP CONSTRAINT orders_pkey CASCADE",
        database,
    )
    args = arguments(postgres_server, database)
    blocker = open_connection(args)  # holds a lock the index build waits for, so it can be caught running
    try:
        with blocker.cursor() as cur:
            cur.execute("LOCK TABLE shop.orders IN ROW EXCLUSIVE MODE")
        proc = start_module("sre.platform.pg_seed", args, capture=True)
        build = wait_for(
            postgres_server,
            database,
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND query LIKE 'CREATE UNIQUE INDEX \"orders_pkey\"%' AND wait_event_type = 'Lock'",
        )
        postgres_server.psql(f"SELECT pg_terminate_backend({int(build)})", database)
    finally:
        blocker.rollback()
        blocker.close()

    failed = module_outcome(proc, timeout=60)
    assert failed.get("failed") is True, failed
    assert failed["msg"].startswith("Creating index orders_pkey of shop.orders failed: "), failed["msg"]
    assert "an administrator terminated the session" in failed["msg"], failed["msg"]
    assert_nothing_left_behind(postgres_server, database)
    assert_complete(postgres_server, database, seed(postgres_server, database), ROWS)


def test_a_terminated_copy_says_the_session_was_terminated(postgres_server, database):
    args = arguments(postgres_server, database, rows=LONG_ROWS, jobs=1)
    proc = start_module("sre.platform.pg_seed", args, capture=True)
    pid, _, query = wait_for(postgres_server, database, ACTIVE_COPY).split("|", 2)
    table = re.search(r'COPY "shop"\."(\w+)"', query).group(1)
    postgres_server.psql(f"SELECT pg_terminate_backend({int(pid)})", database)

    failed = module_outcome(proc, timeout=60)
    assert failed.get("failed") is True, failed
    assert failed["msg"].startswith(f"Loading shop.{table} ("), failed["msg"]
    assert "an administrator terminated the session" in failed["msg"], failed["msg"]
    assert_nothing_left_behind(postgres_server, database)


def test_a_failure_recording_the_manifest_names_that_step_and_a_rerun_resumes(postgres_server, database):
    first = seed(postgres_server, database)
    postgres_server.psql(
        "UPDATE shop.seed_run SET status = 'loading';"
        " ALTER TABLE shop.seed_manifest ADD CONSTRAINT refuse_checksums CHECK (checksum IS NULL) NOT VALID",
        database,
    )
    failed = seed(postgres_server, database)
    assert failed.get("failed") is True, failed
    assert failed["msg"].startswith("Recording the row counts and checksums in the manifest failed: "), failed["msg"]
    assert "refuse_checksums" in failed["msg"]
    assert "the loaded data is kept and a re-run resumes" in failed["msg"], failed["msg"]

    postgres_server.psql("ALTER TABLE shop.seed_manifest DROP CONSTRAINT refuse_checksums", database)
    resumed = seed(postgres_server, database)
    assert resumed.get("operation") == "resume", resumed
    assert resumed["rows_loaded"] == 0 and resumed["tables"] == first["tables"]
    assert_complete(postgres_server, database, resumed, ROWS)


def test_verify_reports_and_recreates_missing_keys_and_indexes(postgres_server, database):
    first = seed(postgres_server, database)
    postgres_server.psql(
        "ALTER TABLE shop.order_items DROP CONSTRAINT order_items_order_id_fkey;"
        " DROP INDEX shop.orders_customer_id_idx;"
        " ALTER TABLE shop.payments DROP CONSTRAINT payments_order_id_fkey;"
        " ALTER TABLE shop.payments ADD CONSTRAINT payments_order_id_fkey FOREIGN KEY (order_id)"
        " REFERENCES shop.orders (id) NOT VALID",
        database,
    )
    assert seed(postgres_server, database)["changed"] is False, "without verify only counts are compared"

    planned = seed(postgres_server, database, check=True, verify=True)
    assert planned["changed"] is True and planned["operation"] == "repair", planned
    for drift in (
        "foreign key order_items_order_id_fkey of shop.order_items is missing",
        "index orders_customer_id_idx of shop.orders is missing",
        "foreign key payments_order_id_fkey of shop.payments is not validated",
    ):
        assert drift in planned["reason"], planned["reason"]
    assert foreign_keys(postgres_server, database) == (EXPECTED_FOREIGN_KEYS - 1, EXPECTED_FOREIGN_KEYS - 2)

    repaired = seed(postgres_server, database, verify=True)
    assert repaired["changed"] is True and repaired["operation"] == "repair", repaired
    assert repaired["rows_loaded"] == 0 and repaired["tables"] == first["tables"]
    assert_complete(postgres_server, database, repaired, ROWS)
    assert postgres_server.psql("SELECT count(*) FROM pg_indexes WHERE indexname = 'orders_customer_id_idx'", database)
    assert seed(postgres_server, database, verify=True)["changed"] is False


def test_damaged_bookkeeping_is_rebuilt_and_never_blocks_absent(postgres_server, database):
    seed(postgres_server, database)
    postgres_server.psql("DELETE FROM shop.seed_run", database)
    planned = seed(postgres_server, database, check=True)
    assert planned["operation"] == "rebuild" and "table shop.seed_run holds no run" in planned["reason"], planned
    assert seed(postgres_server, database, state="absent", check=True)["operation"] == "drop"
    rebuilt = seed(postgres_server, database)
    assert rebuilt["operation"] == "rebuild", rebuilt
    assert_complete(postgres_server, database, rebuilt, ROWS)

    postgres_server.psql("DROP TABLE shop.seed_chunks", database)
    planned = seed(postgres_server, database, check=True)
    assert planned["operation"] == "rebuild" and "table shop.seed_chunks is missing" in planned["reason"], planned
    dropped = seed(postgres_server, database, state="absent")
    assert dropped.get("failed") is not True, dropped.get("msg")
    assert dropped["changed"] is True and dropped["operation"] == "drop"
    assert postgres_server.psql("SELECT count(*) FROM pg_namespace WHERE nspname = 'shop'", database) == "0"


def test_a_dropped_table_is_named_as_missing(postgres_server, database):
    seed(postgres_server, database)
    postgres_server.psql("DROP TABLE shop.reviews", database)
    planned = seed(postgres_server, database, check=True)
    assert planned["operation"] == "rebuild", planned
    rows = seed_schema.row_counts(ROWS)["reviews"]
    assert planned["reason"] == f"table shop.reviews is missing; the manifest recorded {rows} rows", planned["reason"]

    postgres_server.psql("UPDATE shop.seed_run SET status = 'loading'", database)
    planned = seed(postgres_server, database, check=True)
    assert "table shop.reviews is missing; its loaded chunks hold" in planned["reason"], planned["reason"]


def test_a_schema_seeded_by_another_role_is_refused_naming_the_owner_it_needs(postgres_server, database):
    seed(postgres_server, database)
    postgres_server.psql(
        "DROP ROLE IF EXISTS seed_stranger; CREATE ROLE seed_stranger LOGIN PASSWORD 'stranger-pw';"
        f" GRANT CREATE ON DATABASE {database} TO seed_stranger",
        database,
    )
    result = seed(postgres_server, database, seed=7, login_user="seed_stranger", login_password="stranger-pw")
    assert result.get("failed") is True, result
    assert "log in as the role that seeded it" in result["msg"], result["msg"]
    assert "CREATE on the database" not in result["msg"], result["msg"]


def test_a_connection_lost_without_a_server_error_is_explained():
    for error in (psycopg2.OperationalError("invalid socket"), psycopg2.InterfaceError("connection already closed")):
        message = seed_load.explain("Loading shop.orders (200000 rows)", error)
        assert message.startswith("Loading shop.orders (200000 rows) failed: the connection to the server was lost")
        assert "an administrator terminated the session" in message and str(error) in message


def test_a_worker_that_dies_between_tasks_is_named_too():
    watch = seed_load._ProcessWatch()
    worker = multiprocessing.get_context("fork").Process(target=time.sleep, args=(60,))
    worker.start()
    try:
        watch.processes = [worker]
        step = "Loading shop.orders (200000 rows)"
        os.write(watch.writer, f"{worker.pid} {step}\n".encode())
        watch.check({step})  # alive: nothing to report
        os.kill(worker.pid, signal.SIGTERM)
        worker.join()
        with pytest.raises(seed_load.SeedError) as died:
            watch.check(set())  # its task had finished
        assert str(died.value).startswith(f"worker pid {worker.pid} (between tasks) died (signal 15, SIGTERM): ")
        with pytest.raises(seed_load.SeedError, match=f"worker pid {worker.pid} loading shop.orders"):
            watch.check({step})
    finally:
        worker.kill()
        watch.close()
