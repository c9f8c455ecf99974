"""Create, load, finish and inspect a seeded shop schema (the work behind sre.platform.pg_seed).

A run goes through steps that each commit on their own, so a run killed at any
moment is completed by the next one:

1. ``create_schema``: drop and recreate the schema, bare tables and the
   manifest, in one transaction sent as one batch (status ``loading``),
   while a thread of the parent builds what generating the rows needs;
2. ``build``: load every table not yet loaded, each in one transaction that
   empties it (TRUNCATE) and COPYs its chunks with ``FREEZE``, recording each
   chunk and its checksum in ``seed_chunks`` (a table is either fully there and
   recorded, or empty). Rows written by the transaction that emptied the table
   can be stored frozen and all-visible: the index builds, statistics and
   foreign-key checks that read them next, and autovacuum later, never revisit
   them to set hint bits or freeze them. As soon as a table is in, its indexes
   are built in parallel, its keys adopt them and it is analyzed; as soon as
   it and the tables it references have their keys, its foreign keys are added
   NOT VALID and validated. These tasks run while later tables still load; each
   first looks in the catalog and skips what exists. A resumed run first drops
   any key left on a table it reloads (``clear_keys``);
3. ``finish``: the counts and checksums of ``seed_chunks`` go into
   ``seed_manifest`` and the run is marked ``complete``.

Tables are loaded by ``jobs`` forked worker processes, each with its own
connection: generating rows is CPU-bound Python, so threads would not help.
The workers start at once on the tables that need no Faker pools (orders and
the rows that hang off them) while a thread of the parent draws the pools;
the other tables follow, carrying the pools. A worker streams a chunk to COPY
one block at a time, so its server backend parses a block while the worker
generates the next. Keys, statistics and foreign keys are work for the server
alone: ``jobs`` threads of the parent drive them on connections of their own,
so they proceed while the workers keep loading. Tasks cannot deadlock: a
transaction that waits for a lock holds at most one table, and waits only for
a table it references (see _constrain_table); the references form no cycle. A
loading transaction locks only its own table, which no other task touches
until it is loaded.

One run at a time works on a schema. The run's own connection holds an
advisory lock for the whole run and every other session of the run holds a
second one, shared (see ``lock``): a run whose own connection ended while its
workers still load keeps other runs out until they stop, and they stop before
their next task (``_check_lock``). A worker process that dies fails the run at
once (``_ProcessWatch``); the cleanup closes every session, releasing the locks.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import multiprocessing
import os
import pickle
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psycopg2
from ansible_collections.sre.platform.plugins.module_utils import seed_data, seed_schema
from ansible_collections.sre.platform.plugins.module_utils.postgres import open_connection
from ansible_collections.sre.platform.plugins.module_utils.seed_schema import qualified
from psycopg2 import sql

# SQLSTATE classes and codes turned into a reason a user can act on (42501 depends on the object: _privilege_hint).
_SQLSTATE_HINTS = {
    "53100": "the server's disk is full",
    "53200": "the server ran out of memory",
    "53300": "the server has no free connection slots (lower jobs or raise max_connections)",
    "57014": "the statement was cancelled (statement_timeout or an operator)",
    # pg_terminate_backend() and a fast shutdown end a session with the same error.
    "57P01": "the server is shutting down, or an administrator terminated the session",
    "25006": "the server is a read-only standby (connect to the primary)",
}
# A connection that broke without an error from the server: libpq reports its own state ("invalid socket",
# "server closed the connection unexpectedly"), psycopg2 then refuses the closed connection.
_CONNECTION_LOST = (
    "the connection to the server was lost (the server closed it: it is shutting down or restarting, "
    "an administrator terminated the session, or the network failed)"
)


class SeedError(Exception):
    """A step failed; the message says which step and why."""


def _privilege_hint(detail: str) -> str:
    """What the login role lacks, from the server's message: CREATE on the database, or the schema's ownership."""
    if "for database" in detail:
        return "the login role lacks a privilege: creating the schema, and rebuilding it, needs CREATE on the database"
    return (
        "the login role lacks a privilege on the schema or its tables, which belong to the role that created them: "
        "log in as the role that seeded it"
    )


def explain(step: str, exc: Exception) -> str:
    """``step failed: reason. Server said: ...`` for database errors; the exception for others."""
    code = getattr(exc, "pgcode", None)
    detail = str(exc).strip()
    if not code and isinstance(exc, (psycopg2.OperationalError, psycopg2.InterfaceError)):
        return f"{step} failed: {_CONNECTION_LOST}. The client library said: {detail}"
    if not code and not detail.startswith(("server closed", "could not", "connection")):
        return f"{step} failed: {exc.__class__.__name__}: {detail}"
    hint = _privilege_hint(detail) if code == "42501" else _SQLSTATE_HINTS.get(code or "")
    hint = hint or _SQLSTATE_HINTS.get((code or "")[:2], "")
    sqlstate = f" (SQLSTATE {code})" if code else ""
    return f"{step} failed: {hint + '. ' if hint else ''}Server said: {detail}{sqlstate}"


@dataclass(frozen=True)
class Plan:
    """What the user asked for: the schema, the seed and the total rows."""

    schema: str
    seed: int
    rows: int

    @property
    def counts(self) -> dict[str, int]:
        return seed_schema.row_counts(self.rows)


@dataclass
class State:
    """What the database holds: the run row and the manifest (``None`` when there is no schema)."""

    schema_exists: bool
    seeded: bool  # the schema has a seed_run table: sre.platform.pg_seed created it
    run: dict | None
    manifest: dict[str, dict]
    chunks_loaded: int
    damage: str | None = None  # why the bookkeeping cannot be read (a table of it missing, no run recorded)


def _fetch_dicts(cur) -> list[dict]:
    names = [column.name for column in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def read_state(conn, schema: str) -> State:
    """Read the run, manifest and chunk count; nothing is written."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = %s),"
            " ARRAY(SELECT tablename::text FROM pg_tables WHERE schemaname = %s AND tablename = ANY(%s))",
            (schema, schema, list(seed_schema.BOOKKEEPING_TABLES)),
        )
        schema_exists, present = cur.fetchone()
        missing = [name for name in seed_schema.BOOKKEEPING_TABLES if name not in present]
        if missing:
            conn.rollback()
            seeded = "seed_run" in present
            damage = f"table {schema}.{missing[0]} is missing" if seeded else None
            return State(schema_exists, seeded, None, {}, 0, damage)
        cur.execute(
            sql.SQL("SELECT schema_version, seed, target_rows, status FROM {}").format(qualified(schema, "seed_run"))
        )
        runs = _fetch_dicts(cur)
        cur.execute(
            sql.SQL("SELECT table_name, target_rows, actual_rows, checksum FROM {}").format(
                qualified(schema, "seed_manifest")
            )
        )
        manifest = {row["table_name"]: row for row in _fetch_dicts(cur)}
        cur.execute(sql.SQL("SELECT count(*) FROM {}").format(qualified(schema, "seed_chunks")))
        chunks_loaded = cur.fetchone()[0]
    conn.rollback()
    if not runs:
        return State(True, True, None, manifest, chunks_loaded, f"table {schema}.seed_run holds no run")
    return State(True, True, runs[0], manifest, chunks_loaded)


def same_parameters(state: State, plan: Plan) -> bool:
    run = state.run
    return (
        run is not None
        and run["schema_version"] == seed_schema.SCHEMA_VERSION
        and run["seed"] == plan.seed
        and run["target_rows"] == plan.rows
    )


def live_counts(conn, schema: str) -> dict[str, int | None]:
    """``count(*)`` of every data table; ``None`` for a table that is missing."""
    counts: dict[str, int | None] = {}
    with conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))
        present = {row[0] for row in cur.fetchall()}
        for name in seed_schema.TABLE_NAMES:
            if name not in present:
                counts[name] = None
                continue
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(qualified(schema, name)))
            counts[name] = cur.fetchone()[0]
    conn.rollback()
    return counts


def live_checksums(conn, schema: str) -> dict[str, str]:
    """Recompute every table's checksum with the schema's own ``seed_checksum`` function."""
    with conn.cursor() as cur:
        checksums = {}
        for name in seed_schema.TABLE_NAMES:
            checksums[name] = _checksum(cur, schema, name)
    conn.rollback()
    return checksums


def _checksum(cur, schema: str, table_name: str) -> str:
    cur.execute(
        sql.SQL("SELECT {}(%s::regclass)").format(qualified(schema, "seed_checksum")),
        (qualified(schema, table_name).as_string(cur),),
    )
    return cur.fetchone()[0]


# Advisory locks of a schema, keyed (hashtext(name), hashtext(schema)). A run's own connection holds the run
# lock exclusively from its start to its end; each of its other sessions (workers, threads) holds the sessions
# lock shared. A run whose own connection ended (terminated, timed out) while its other sessions still work
# therefore still keeps other runs out, and those sessions find out before their next task (_check_lock).
_RUN_LOCK = "sre.platform.pg_seed"
_SESSIONS_LOCK = "sre.platform.pg_seed sessions"
# PostgreSQL 14 added idle_session_timeout.
_IDLE_SESSION_TIMEOUT_VERSION = 140000


class LockLost(SeedError):
    """The run's own connection, which held its lock, has ended: another run may take the schema over."""


def _outlive_idle_timeouts(conn) -> None:
    """A run's sessions wait idle while others work (its own connection for the whole load): a server or database
    that ends idle sessions must not end them. Session settings, so the caller commits."""
    with conn.cursor() as cur:
        cur.execute("SET idle_in_transaction_session_timeout TO 0")
        if conn.server_version >= _IDLE_SESSION_TIMEOUT_VERSION:
            cur.execute("SET idle_session_timeout TO 0")


def _try_lock(cur, name: str, schema: str) -> bool:
    cur.execute("SELECT pg_try_advisory_lock(hashtext(%s), hashtext(%s))", (name, schema))
    return cur.fetchone()[0]


def _unlock(cur, name: str, schema: str) -> None:
    cur.execute("SELECT pg_advisory_unlock(hashtext(%s), hashtext(%s))", (name, schema))


def lock(conn, schema: str) -> bool:
    """Take the schema's run lock for this connection's session, unless another run holds it or still works.

    Another run still works while any of its sessions holds the sessions lock, even after its own connection
    (and with it the run lock) is gone. Checking for that exclusively, just after taking the run lock, is atomic
    against a session of that run joining (``_join_run``): either it joined first and this run is refused, or it
    joins after and finds the run lock is no longer its run's.
    """
    _outlive_idle_timeouts(conn)
    with conn.cursor() as cur:
        taken = _try_lock(cur, _RUN_LOCK, schema)
        if taken and not _try_lock(cur, _SESSIONS_LOCK, schema):
            _unlock(cur, _RUN_LOCK, schema)
            taken = False
        elif taken:
            _unlock(cur, _SESSIONS_LOCK, schema)
    conn.commit()
    return taken


def lock_holders(conn, schema: str) -> list[int]:
    """The server processes of the runs that hold the schema's locks, for a message."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid IN (hashtext(%s)::oid, hashtext(%s)::oid) AND objid = hashtext(%s)::oid ORDER BY pid",
            (_RUN_LOCK, _SESSIONS_LOCK, schema),
        )
        holders = [row[0] for row in cur.fetchall()]
    conn.rollback()
    return holders


def _join_run(conn, schema: str) -> None:
    """Take the sessions lock shared: while this session lives, no other run starts on the schema (see lock)."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock_shared(hashtext(%s), hashtext(%s))", (_SESSIONS_LOCK, schema))


def _check_lock(conn, schema: str, owner: int) -> None:
    """Raise LockLost unless the run's own connection (server process ``owner``) still holds the run lock."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = %s"
            " AND mode = 'ExclusiveLock' AND classid = hashtext(%s)::oid AND objid = hashtext(%s)::oid"
            " AND objsubid = 2)",
            (owner, _RUN_LOCK, schema),
        )
        if not cur.fetchone()[0]:
            raise LockLost(
                f"this run lost its lock on schema {schema}: the session that held it (server process {owner}) "
                "has ended (terminated, timed out or disconnected), and another run may now take the schema over, "
                "so this one stopped; a re-run resumes"
            )


def drop_schema(conn, schema: str) -> None:
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    conn.commit()


def create_schema(conn, plan: Plan) -> None:
    """Replace the schema with bare tables and a ``loading`` manifest, atomically.

    The statements go as one batch: one round trip instead of one per statement, which a remote server (through a
    port-forward) makes slow, and while the server runs them the GIL is free for the thread building the context.
    """
    run, manifest = qualified(plan.schema, "seed_run"), qualified(plan.schema, "seed_manifest")
    targets = sql.SQL(", ").join(
        sql.SQL("({}, {}, {})").format(sql.Literal(name), sql.Literal(order), sql.Literal(plan.counts[name]))
        for order, name in enumerate(seed_schema.TABLE_NAMES)
    )
    statements = [
        sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(plan.schema)),
        sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(plan.schema)),
        *(seed_schema.create_table_sql(plan.schema, table) for table in seed_schema.TABLES),
        *seed_schema.manifest_sql(plan.schema),
        seed_schema.checksum_function_sql(plan.schema),
        sql.SQL("INSERT INTO {} (schema_version, seed, target_rows, status) VALUES ({}, {}, {}, 'loading')").format(
            run, *map(sql.Literal, (seed_schema.SCHEMA_VERSION, plan.seed, plan.rows))
        ),
        sql.SQL("INSERT INTO {} (table_name, load_order, target_rows) VALUES {}").format(manifest, targets),
    ]
    with conn.cursor() as cur:
        cur.execute(sql.SQL(";\n").join(statements))
    conn.commit()


def pending_tables(conn, plan: Plan) -> dict[str, list[tuple[str, int, int, int]]]:
    """Every chunk of each table not fully recorded as loaded (a table is loaded whole), in foreign-key order."""
    with conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT table_name, chunk FROM {}").format(qualified(plan.schema, "seed_chunks")))
        done = set(cur.fetchall())
    conn.rollback()
    tables: dict[str, list] = collections.defaultdict(list)
    for chunk in seed_schema.chunks(plan.counts):
        tables[chunk[0]].append(chunk)
    return {name: chunks for name, chunks in tables.items() if any((name, chunk[1]) not in done for chunk in chunks)}


def clear_keys(conn, schema: str, tables: Iterable[str]) -> None:
    """Drop the keys and indexes of ``tables``, about to be reloaded, and the foreign keys that reference them.

    A table loads bare: TRUNCATE refuses a table that a foreign key references, and COPY would check a key
    against parents not loaded yet. A run that stopped leaves none on a table it had not loaded, but runs that
    overlapped before their sessions shared a lock did. The build adds every key back (it skips what exists).
    """
    names = list(tables)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT t.relname, c.conname FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid"
            " LEFT JOIN pg_class p ON p.oid = c.confrelid"
            " WHERE t.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = %s) AND c.contype IN ('f', 'p', 'u')"
            " AND (t.relname = ANY(%s) OR p.relname = ANY(%s))"
            " ORDER BY c.contype <> 'f'",  # foreign keys first: a key they reference cannot go before them
            (schema, names, names),
        )
        for table, constraint in cur.fetchall():
            cur.execute(
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                    qualified(schema, table), sql.Identifier(constraint)
                )
            )
        cur.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = ANY(%s)", (schema, names))
        for (index,) in cur.fetchall():
            cur.execute(sql.SQL("DROP INDEX {}").format(qualified(schema, index)))
    conn.commit()


# Worker processes -------------------------------------------------------------------
# Each worker keeps one connection; the context (pools, counts) is inherited through fork.

_worker: dict = {}


def _init_worker(params: dict, schema: str, owner: int, context: seed_data.SeedContext | None, started: int) -> None:
    # Rows are lists and strings that reference counting frees; the cycle collector would only walk the
    # millions of objects a chunk allocates (and the inherited context) looking for cycles there are none of.
    gc.disable()
    _worker.update(params=params, schema=schema, owner=owner, context=context, conn=None, started=started)


def _session(params: dict, schema: str):
    """A connection for the seeding work of a run on ``schema``, with settings for this session only."""
    conn = open_connection(params)
    _outlive_idle_timeouts(conn)
    _join_run(conn, schema)
    with conn.cursor() as cur:
        # A lost commit loses its chunk record with it, so the next run reloads it: safe to relax.
        cur.execute("SET synchronous_commit TO off")
        cur.execute("SET maintenance_work_mem TO '256MB'")
        # The seeding tasks already keep every core busy: parallel index builds, and parallel hash joins
        # validating foreign keys, would only add processes and coordination work competing for the same cores.
        cur.execute("SET max_parallel_maintenance_workers TO 0")
        cur.execute("SET max_parallel_workers_per_gather TO 0")
    conn.commit()
    return conn


def _connection():
    if _worker["conn"] is None:
        _worker["conn"] = _session(_worker["params"], _worker["schema"])
    return _worker["conn"]


def _execute(task: tuple, connection: Callable[[], object], schema: str, owner: int) -> tuple[str, object]:
    """Run one task of the run whose own connection is server process ``owner``; return ("ok", result) or
    ("error", message) (exceptions may not pickle)."""
    function, args, step = _TASKS[task[0]], task[1:-1], task[-1]
    conn = None
    try:
        if task[0] in _OFFLINE_TASKS:
            return "ok", function(*args)
        conn = connection()
        # Writes nothing for a run that lost its lock: the run stops at once instead of failing when it finishes.
        _check_lock(conn, schema, owner)
        result = function(conn, schema, *args)
        conn.commit()
        return "ok", result
    except LockLost as exc:
        _rollback(conn)
        return "error", f"Stopped before {step[0].lower()}{step[1:]}: {exc}"
    except Exception as exc:  # reported to the parent with the step that failed
        _rollback(conn)
        return "error", explain(step, exc)


def _rollback(conn) -> None:
    """End a failed task's transaction; a connection the failure broke has none left, and must not hide the
    failure with an error of its own."""
    if conn is not None and not conn.closed:
        with contextlib.suppress(psycopg2.Error):
            conn.rollback()


def _run_task(task: tuple) -> tuple[str, object]:
    # Tell the parent what this process works on: if it dies, the pool never reports the task (_ProcessWatch).
    os.write(_worker["started"], f"{os.getpid()} {task[-1]}\n".encode())
    return _execute(task, _connection, _worker["schema"], _worker["owner"])


class _CopySource:
    """A file for COPY FROM STDIN that generates its text a block at a time, as COPY reads it, and hashes it."""

    def __init__(self, blocks: Iterator[str]) -> None:
        self._blocks = blocks
        self.checksum = seed_schema.chunk_checksum()

    def read(self, size: int = -1) -> bytes:  # COPY sends whatever one call returns, whatever its size
        data = next(self._blocks, "").encode()
        self.checksum.update(data)
        return data


def _pickled_pools(seed: int) -> bytes:
    """The Faker pools, pickled once: they go with every chunk that needs them, and a worker unpickles them once."""
    return pickle.dumps(seed_data.build_pools(seed))


# PostgreSQL 15 added pg_stat_force_next_flush().
_FORCE_STATS_FLUSH_VERSION = 150000


def _load_table(conn, schema: str, table: str, chunks: list[tuple], pools: bytes | None) -> tuple[str, int]:
    """Empty the table and its chunk records, then COPY (FREEZE) and record every chunk; return (table, rows).

    Emptying it in the same transaction is what lets COPY store the rows frozen, and it makes reloading a table
    that an older loader left partly loaded safe.
    """
    context = _worker["context"]
    if pools is not None and not context.has_pools:
        context.add_pools(pickle.loads(pools))  # noqa: S301 - pickled by the parent process a moment ago
    name, chunk_records = qualified(schema, table), qualified(schema, "seed_chunks")
    columns = seed_schema.column_list(seed_schema.table(table).column_names)
    copy = sql.SQL("COPY {} ({}) FROM STDIN WITH (FREEZE)").format(name, columns)
    record = sql.SQL("INSERT INTO {} (table_name, chunk, first_id, last_id, checksum) VALUES (%s, %s, %s, %s, %s)")
    rows = 0
    with conn.cursor() as cur:
        cur.execute(sql.SQL("TRUNCATE {}").format(name))
        cur.execute(sql.SQL("DELETE FROM {} WHERE table_name = %s").format(chunk_records), (table,))
        copy, record = copy.as_string(cur), record.format(chunk_records).as_string(cur)
        for _, chunk, first, last in chunks:
            expected = last - first + 1
            source = _CopySource(seed_data.blocks(context, table, first, last))
            cur.copy_expert(copy, source)
            # The chunk record is what row counts are taken from: it must match what COPY stored.
            if cur.rowcount != expected:
                raise SeedError(f"COPY stored {cur.rowcount} rows of {table} chunk {chunk}, expected {expected}")
            cur.execute(record, (table, chunk, first, last, source.checksum.hexdigest()))
            rows += expected
        if conn.server_version >= _FORCE_STATS_FLUSH_VERSION:
            # A backend publishes its row counts at most once a second: the table's ANALYZE, which resets its count
            # of changed rows, must come after them, or autovacuum would analyze the table again after the seed.
            cur.execute("SELECT pg_stat_force_next_flush()")
    return table, rows


def _existing_constraints(cur, schema: str) -> dict[str, bool]:
    """Constraint name -> validated, for the schema."""
    cur.execute(
        "SELECT conname, convalidated FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
        " WHERE n.nspname = %s",
        (schema,),
    )
    return dict(cur.fetchall())


def _existing_indexes(cur, schema: str) -> set[str]:
    cur.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s", (schema,))
    return {row[0] for row in cur.fetchall()}


def missing_keys(conn, schema: str) -> list[str]:
    """Each key, foreign key and index of the data tables that is missing or not validated, described."""
    with conn.cursor() as cur:
        constraints = _existing_constraints(cur, schema)
        indexes = _existing_indexes(cur, schema)
    conn.rollback()
    drift = []
    for table in seed_schema.TABLES:
        where = f"of {schema}.{table.name}"
        for index in seed_schema.indexes(schema, table):
            if index.name not in indexes:
                drift.append(f"index {index.name} {where} is missing")
            elif index.constraint is not None and index.name not in constraints:
                drift.append(f"key {index.name} {where} is missing")
        for name, _ in seed_schema.foreign_key_statements(schema, table):
            if name not in constraints:
                drift.append(f"foreign key {name} {where} is missing")
            elif not constraints[name]:
                drift.append(f"foreign key {name} {where} is not validated")
    return drift


def _build_index(conn, schema: str, table_name: str, index_name: str) -> tuple[str, str]:
    """One index of a loaded table, unless it exists; the indexes of a table are built in parallel."""
    (index,) = [
        index for index in seed_schema.indexes(schema, seed_schema.table(table_name)) if index.name == index_name
    ]
    with conn.cursor() as cur:
        if index_name not in _existing_indexes(cur, schema):
            cur.execute(index.create)
    return table_name, index_name


def _prepare_table(conn, schema: str, table_name: str) -> str:
    """Once its indexes are built: the key constraints adopt them (skipping those that exist), then ANALYZE."""
    table = seed_schema.table(table_name)
    with conn.cursor() as cur:
        existing = _existing_constraints(cur, schema)
        for index in seed_schema.indexes(schema, table):
            if index.constraint is not None and index.name not in existing:
                cur.execute(index.constraint)
        # The workload that follows a seed needs statistics; the data no longer changes.
        cur.execute(seed_schema.analyze_sql(schema, table))
    return table_name


def _constrain_table(conn, schema: str, table_name: str) -> str:
    """Add the foreign keys of one table NOT VALID, then validate them (skipping what exists).

    Each key is added in a transaction of its own: adding one locks the table and
    then its parent (SHARE ROW EXCLUSIVE on both), so a transaction holding a
    table while waiting for a parent's lock only ever waits along a reference,
    and references form no cycle. Adding two keys in one transaction could hold
    a parent another task holds as its own table and wait for it in turn: a
    deadlock. Adding NOT VALID is instant; validating takes only ROW SHARE on the
    parent, so tables that reference the same table are validated in parallel.

    Validating is an anti-join of the table with its parent. Where the column
    leads an index, both sides can be read in order from index-only scans (the
    rows are all-visible) and merged, which is 3 to 5 times cheaper than the
    hash join the planner picks (orders.customer_id 86 -> 17 ms, order_items.order_id
    117 -> 28 ms). A merge also beats hashing a parent that is not several times
    smaller than the table (seed_schema.validated_by_hashing). Hash joins are
    turned off for those validations alone.
    """
    table = seed_schema.table(table_name)
    statements = seed_schema.foreign_key_statements(schema, table)
    with conn.cursor() as cur:
        existing = _existing_constraints(cur, schema)
        for name, statement in statements:
            if name not in existing:
                cur.execute(statement)
                conn.commit()
        for (name, _), (column, parent) in zip(statements, table.foreign_keys, strict=True):
            if not existing.get(name, False):
                if not seed_schema.validated_by_hashing(table, column, parent):
                    cur.execute("SET LOCAL enable_hashjoin TO off")
                cur.execute(seed_schema.validate_sql(schema, table_name, name))
                conn.commit()
    return table_name


_TASKS: dict[str, Callable] = {
    "load": _load_table,
    "index": _build_index,
    "prepare": _prepare_table,
    "constrain": _constrain_table,
    "pools": _pickled_pools,
}


# Tasks the parent's threads run: server work (libpq releases the GIL), and drawing the pools, which the
# workers do not wait for. The worker processes keep generating rows meanwhile.
_PARENT_TASKS = frozenset({"index", "prepare", "constrain", "pools"})
# Tasks that need no connection.
_OFFLINE_TASKS = frozenset({"pools"})


# How long run() waits for a result before it looks at the worker processes again.
_WATCH_SECONDS = 0.2


def _exit_cause(code: int) -> str:
    """How a process ended, from its multiprocessing exitcode (negative: the signal that killed it)."""
    if code >= 0:
        return f"exit status {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"
    if -code == signal.SIGKILL:
        return f"signal {-code}, {name}, which the kernel's out-of-memory killer sends: if memory ran out, lower jobs"
    return f"signal {-code}, {name}"


class _ProcessWatch:
    """Notices a worker process that died. multiprocessing.Pool never reports the task of a worker that died (it
    forks a replacement), so waiting for that task's result would wait forever, holding the run's lock.

    Each worker writes ``<pid> <step>`` to a pipe as it starts a task: one write of less than PIPE_BUF bytes is
    atomic and takes no lock, so a worker killed at any moment cannot leave one held for the others.
    """

    def __init__(self) -> None:
        self.reader, self.writer = os.pipe()
        os.set_blocking(self.reader, False)
        self.processes: list = []
        self._started: dict[int, str] = {}
        self._unread = b""

    def check(self, running: set[str]) -> None:
        """Raise SeedError naming the process that died and the step it ran, if one of ``running``."""
        started = self._read_started()
        for process in self.processes:
            code = process.exitcode
            if code is not None:
                step = started.get(process.pid)
                if step in running:  # its table loads in one transaction: the server rolls all of it back
                    doing, after = f" {step[0].lower()}{step[1:]}", "the table it was loading is rolled back, and "
                else:
                    doing, after = " (between tasks)", ""
                raise SeedError(
                    f"worker pid {process.pid}{doing} died ({_exit_cause(code)}): the run stopped; {after}"
                    "a re-run resumes"
                )

    def _read_started(self) -> dict[int, str]:
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(self.reader, 65536):
                self._unread += chunk
        *lines, self._unread = self._unread.split(b"\n")
        for line in lines:
            pid, step = line.decode().split(" ", 1)
            self._started[int(pid)] = step
        return self._started

    def close(self) -> None:
        os.close(self.reader)
        os.close(self.writer)


class Workers:
    """``jobs`` forked processes that load chunks and ``jobs`` threads that run the parent's tasks, each with its
    own connection; ``run`` raises SeedError on the first failure, or as soon as a worker process dies."""

    def __init__(
        self, params: dict, schema: str, jobs: int, owner: int, context: seed_data.SeedContext | None = None
    ) -> None:
        self.jobs = jobs
        self.params = params
        self.schema = schema
        self.owner = owner  # the server process of the run's own connection, which holds its lock
        self._watch = _ProcessWatch()
        before = set(multiprocessing.active_children())
        self.pool = multiprocessing.get_context("fork").Pool(
            jobs, _init_worker, (params, schema, owner, context, self._watch.writer)
        )
        self._watch.processes = [process for process in multiprocessing.active_children() if process not in before]
        self.threads = ThreadPoolExecutor(jobs)
        self._local = threading.local()
        self._connections: list = []
        self._finished: queue.SimpleQueue = queue.SimpleQueue()
        self._in_processes: set[str] = set()  # steps of the tasks handed to the worker processes, not finished

    def run(self, tasks: Iterable[tuple], on_result: Callable[[tuple, object], list[tuple]] = lambda *_: []) -> None:
        """Run ``tasks`` in order, ``jobs`` of each kind at a time; the tasks ``on_result`` returns run first.

        Only as many tasks as workers are handed out, so a task that becomes ready
        (a table whose last chunk is in) starts as soon as a worker of its kind is free.
        """
        waiting = collections.deque(tasks)
        running = collections.Counter()
        while waiting or sum(running.values()):
            waiting = self._start(waiting, running)
            task, (status, value) = self._next_finished()
            running[task[0] in _PARENT_TASKS] -= 1
            self._in_processes.discard(task[-1])
            if status == "error":
                raise SeedError(value)
            waiting.extendleft(reversed(on_result(task, value)))

    def _next_finished(self) -> tuple[tuple, tuple[str, object]]:
        """The next task that finished and its result; SeedError as soon as a worker process has died."""
        while True:
            self._watch.check(self._in_processes)
            try:
                return self._finished.get(timeout=_WATCH_SECONDS)
            except queue.Empty:
                continue

    def _start(self, waiting: collections.deque, running: collections.Counter) -> collections.deque:
        """Start every waiting task whose kind of worker is free, in order; return the others."""
        still_waiting: collections.deque = collections.deque()
        for task in waiting:
            in_parent = task[0] in _PARENT_TASKS
            if running[in_parent] < self.jobs:
                running[in_parent] += 1
                self._submit(task, in_parent)
            else:
                still_waiting.append(task)
        return still_waiting

    def _submit(self, task: tuple, in_parent: bool) -> None:
        def finished(result: tuple[str, object]) -> None:
            self._finished.put((task, result))

        def failed(exc: BaseException) -> None:
            finished(("error", explain(task[-1], exc)))

        if in_parent:
            future = self.threads.submit(_execute, task, self._thread_connection, self.schema, self.owner)
            future.add_done_callback(
                lambda done: failed(done.exception()) if done.exception() else finished(done.result())
            )
        else:
            self._in_processes.add(task[-1])
            self.pool.apply_async(_run_task, (task,), callback=finished, error_callback=failed)

    def _thread_connection(self):
        if getattr(self._local, "conn", None) is None:
            self._local.conn = _session(self.params, self.schema)
            self._connections.append(self._local.conn)
        return self._local.conn

    def close(self) -> None:
        """Stop everything; never raises a database error, which would replace the failure that led here."""
        self.pool.terminate()
        self.pool.join()
        for conn in self._connections:
            _cancel(conn)  # after a failure elsewhere, stop a long statement instead of waiting for it
        self.threads.shutdown(cancel_futures=True)
        for conn in self._connections:
            conn.close()
        self._watch.close()


def _cancel(conn) -> None:
    """Cancel the statement a connection runs, if any. A connection whose backend was terminated is closed
    already (cancel() would raise), or broken in a way only the cancel request finds out."""
    if not conn.closed:
        with contextlib.suppress(psycopg2.Error):
            conn.cancel()


def default_jobs() -> int:
    return os.cpu_count() or 2


class _BuildSchedule:
    """What a build runs next, from what has finished: loads, indexes, keys and statistics, foreign keys.

    A worker that is free takes the largest table it can load (the tables that
    need the Faker pools only once they are drawn), so the workers finish at
    about the same time, on small tables. Once a table is in, its indexes are
    built (in parallel), then it is prepared (keys adopt their indexes,
    statistics); it is constrained (foreign keys added and validated) once it
    and every table it references are prepared. Those tasks go ahead of the
    remaining loads, so the server builds and checks the tables loaded first
    while later ones still load.
    """

    def __init__(self, plan: Plan, pending: dict[str, list], jobs: int, log: Callable[[str], None]) -> None:
        self.plan = plan
        self.pending = pending
        self.jobs = jobs
        self.log = log
        self.to_load = sorted(pending, key=lambda name: -plan.counts[name])
        self.pools: bytes | None = None
        self.loading = 0
        self.unbuilt = {table.name: len(seed_schema.indexes(plan.schema, table)) for table in seed_schema.TABLES}
        self.prepared: set[str] = set()
        self.constrained: set[str] = set()
        self.loaded = 0

    def first_tasks(self) -> list[tuple]:
        """Indexes of the tables already loaded, the Faker pools when a pending table needs them, the first loads."""
        tasks = [task for name in seed_schema.TABLE_NAMES if name not in self.pending for task in self._indexes(name)]
        if seed_data.FAKER_TABLES.intersection(self.pending):
            tasks.append(("pools", self.plan.seed, "Drawing the value pools from Faker"))
        return tasks + self._next_loads(self.jobs)

    def on_result(self, task: tuple, result) -> list[tuple]:
        """The tasks that ``task``'s end makes ready, to run ahead of those waiting."""
        after = {
            "pools": self._after_pools,
            "load": self._after_load,
            "index": self._after_index,
            "prepare": self._after_prepare,
            "constrain": self._after_constrain,
        }
        return after[task[0]](result)

    def _after_pools(self, pools: bytes) -> list[tuple]:
        self.pools = pools
        self.log("drew the value pools from Faker")
        return self._next_loads(self.jobs - self.loading)

    def _after_load(self, result: tuple[str, int]) -> list[tuple]:
        table, rows = result
        self.loaded += rows
        self.loading -= 1
        chunks = len(self.pending[table])
        self.log(f"loaded {table} ({rows} rows in {chunks} chunk{'s' if chunks > 1 else ''})")
        return self._indexes(table) + self._next_loads(1)

    def _after_index(self, result: tuple[str, str]) -> list[tuple]:
        table, _ = result
        self.unbuilt[table] -= 1
        if self.unbuilt[table]:
            return []
        return [("prepare", table, f"Adding the keys of {self.plan.schema}.{table} and analyzing it")]

    def _after_prepare(self, table: str) -> list[tuple]:
        self.prepared.add(table)
        self.log(f"created the keys and indexes of {table} and analyzed it")
        return self._ready_to_constrain()

    def _after_constrain(self, table: str) -> list[tuple]:
        self.log(f"validated the foreign keys of {table}")
        return []

    def _next_loads(self, free: int) -> list[tuple]:
        """Up to ``free`` loads of the largest tables that can be loaded now."""
        ready = [name for name in self.to_load if self.pools is not None or name not in seed_data.FAKER_TABLES][:free]
        for name in ready:
            self.to_load.remove(name)
        self.loading += len(ready)
        return [
            (
                "load",
                name,
                self.pending[name],
                self.pools if name in seed_data.FAKER_TABLES else None,
                f"Loading {self.plan.schema}.{name} ({self.plan.counts[name]} rows)",
            )
            for name in ready
        ]

    def _indexes(self, name: str) -> list[tuple]:
        schema = self.plan.schema
        return [
            ("index", name, index.name, f"Creating index {index.name} of {schema}.{name}")
            for index in seed_schema.indexes(schema, seed_schema.table(name))
        ]

    def _ready_to_constrain(self) -> list[tuple]:
        ready = [
            table.name
            for table in seed_schema.TABLES
            if table.foreign_keys
            and table.name not in self.constrained
            and self.prepared.issuperset([table.name, *(parent for _, parent in table.foreign_keys)])
        ]
        self.constrained.update(ready)
        return [("constrain", name, f"Validating the foreign keys of {self.plan.schema}.{name}") for name in ready]


def build(workers: Workers, plan: Plan, pending: dict[str, list], log: Callable[[str], None]) -> int:
    """Load the pending tables and prepare and constrain every table as soon as it can be
    (``_BuildSchedule``); return the rows loaded."""
    schedule = _BuildSchedule(plan, pending, workers.jobs, log)
    workers.run(schedule.first_tasks(), schedule.on_result)
    return schedule.loaded


def chunk_counts(conn, schema: str) -> dict[str, int]:
    """Rows per table according to the recorded chunks (0 for a table with none)."""
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("SELECT table_name, sum(last_id - first_id + 1) FROM {} GROUP BY table_name").format(
                qualified(schema, "seed_chunks")
            )
        )
        recorded = dict(cur.fetchall())
    conn.rollback()
    return {name: int(recorded.get(name, 0)) for name in seed_schema.TABLE_NAMES}


_FINISH_STEP = "Recording the row counts and checksums in the manifest"


def finish(conn, schema: str) -> dict[str, dict]:
    """Counts and checksums from the chunk records into the manifest; mark the run complete; return them."""
    names = {name: qualified(schema, name) for name in seed_schema.BOOKKEEPING_TABLES}
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "UPDATE {seed_manifest} AS m SET actual_rows = c.rows, checksum = c.rows || ':' || c.md5"
                " FROM (SELECT table_name, sum(last_id - first_id + 1) AS rows,"
                "              md5(string_agg(checksum, '' ORDER BY chunk)) AS md5"
                "       FROM {seed_chunks} GROUP BY table_name) AS c"
                " WHERE m.table_name = c.table_name"
            ).format(**names)
        )
        cur.execute(
            sql.SQL("UPDATE {seed_run} SET status = 'complete', finished_at = clock_timestamp()").format(**names)
        )
        cur.execute(sql.SQL("SELECT table_name, actual_rows, checksum FROM {seed_manifest}").format(**names))
        tables = {name: {"rows": rows, "checksum": checksum} for name, rows, checksum in cur.fetchall()}
    conn.commit()
    return tables


def seed(conn, params: dict, plan: Plan, jobs: int, fresh: bool, log: Callable[[str], None]) -> dict:
    """Create (when ``fresh``) or resume the schema, load what is missing and finish; return the outcome."""
    started = time.monotonic()
    context: seed_data.SeedContext | None = None
    if fresh:
        # Every table will be loaded: build their context while the server creates the schema.
        with ThreadPoolExecutor(1) as builder:
            building = builder.submit(seed_data.SeedContext, plan.seed, plan.counts)
            create_schema(conn, plan)
            context = building.result()
        log(f"created schema {plan.schema} with {len(seed_schema.TABLES)} tables")
    pending = pending_tables(conn, plan)
    if pending and not fresh:
        clear_keys(conn, plan.schema, pending)
    if pending and context is None:
        context = seed_data.SeedContext(plan.seed, plan.counts)
    workers = Workers(params, plan.schema, jobs, conn.info.backend_pid, context)
    try:
        rows_loaded = build(workers, plan, pending, log)
    finally:
        workers.close()
    try:
        tables = finish(conn, plan.schema)
    except Exception as exc:  # the step and what it means for the data, rather than a bare server message
        raise SeedError(f"{explain(_FINISH_STEP, exc)}; the loaded data is kept and a re-run resumes") from exc
    log("recorded row counts and checksums; run complete")
    duration = time.monotonic() - started
    return {
        "tables": tables,
        "rows_loaded": rows_loaded,
        "chunks_loaded": sum(map(len, pending.values())),
        "duration_seconds": round(duration, 3),
        "rows_per_second": round(rows_loaded / duration) if duration else 0,
    }
