"""Create, load, finish and inspect a seeded shop schema (the work behind sre.platform.pg_seed).

A run goes through steps that each commit on their own, so a run killed at any
moment is completed by the next one:

1. ``create_schema``: drop and recreate the schema, bare tables and the
   manifest, in one transaction (status ``loading``);
2. ``load``: COPY every missing chunk, each in its own transaction together
   with its row in ``seed_chunks`` (a chunk is either fully there and recorded,
   or absent);
3. ``finish``: keys, indexes, foreign keys, statistics and checksums; every
   step first looks in the catalog and skips what exists; the run is marked
   ``complete`` with the counts and checksums in ``seed_manifest``.

Chunks and finishing steps run in ``jobs`` forked worker processes, each with
its own connection: generating rows is CPU-bound Python, so threads would not help.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ansible_collections.sre.platform.plugins.module_utils import seed_data, seed_schema
from ansible_collections.sre.platform.plugins.module_utils.postgres import open_connection
from ansible_collections.sre.platform.plugins.module_utils.seed_schema import qualified
from psycopg2 import sql

# SQLSTATE classes and codes turned into a reason a user can act on.
_SQLSTATE_HINTS = {
    "42501": "the login role lacks a privilege (it needs CREATE on the database, or ownership of the schema)",
    "53100": "the server's disk is full",
    "53200": "the server ran out of memory",
    "53300": "the server has no free connection slots (lower jobs or raise max_connections)",
    "57014": "the statement was cancelled (statement_timeout or an operator)",
    "57P01": "the server is shutting down",
    "25006": "the server is a read-only standby (connect to the primary)",
}


class SeedError(Exception):
    """A step failed; the message says which step and why."""


def explain(step: str, exc: Exception) -> str:
    """``step failed: reason. Server said: ...`` for database errors; the exception for others."""
    code = getattr(exc, "pgcode", None)
    detail = str(exc).strip()
    if not code and not detail.startswith(("server closed", "could not", "connection")):
        return f"{step} failed: {exc.__class__.__name__}: {detail}"
    hint = _SQLSTATE_HINTS.get(code or "") or _SQLSTATE_HINTS.get((code or "")[:2], "")
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
    run: dict | None
    manifest: dict[str, dict]
    chunks_loaded: int


def _fetch_dicts(cur) -> list[dict]:
    names = [column.name for column in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def read_state(conn, schema: str) -> State:
    """Read the run, manifest and chunk count; nothing is written."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = %s),"
            " EXISTS (SELECT FROM pg_tables WHERE schemaname = %s AND tablename = 'seed_run')",
            (schema, schema),
        )
        schema_exists, has_run = cur.fetchone()
        if not has_run:
            conn.rollback()
            return State(schema_exists, None, {}, 0)
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
    return State(True, runs[0] if runs else None, manifest, chunks_loaded)


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


def lock(conn, schema: str) -> bool:
    """Session advisory lock so two runs never load the same schema at once."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(hashtext('sre.platform.pg_seed'), hashtext(%s))", (schema,))
        return cur.fetchone()[0]


def drop_schema(conn, schema: str) -> None:
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    conn.commit()


def create_schema(conn, plan: Plan) -> None:
    """Replace the schema with bare tables and a ``loading`` manifest, atomically."""
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(plan.schema)))
        cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(plan.schema)))
        for table in seed_schema.TABLES:
            cur.execute(seed_schema.create_table_sql(plan.schema, table))
        for statement in seed_schema.manifest_sql(plan.schema):
            cur.execute(statement)
        cur.execute(seed_schema.checksum_function_sql(plan.schema))
        cur.execute(
            sql.SQL("INSERT INTO {} (schema_version, seed, target_rows, status) VALUES (%s, %s, %s, 'loading')").format(
                qualified(plan.schema, "seed_run")
            ),
            (seed_schema.SCHEMA_VERSION, plan.seed, plan.rows),
        )
        cur.executemany(
            sql.SQL("INSERT INTO {} (table_name, load_order, target_rows) VALUES (%s, %s, %s)").format(
                qualified(plan.schema, "seed_manifest")
            ),
            [(name, order, plan.counts[name]) for order, name in enumerate(seed_schema.TABLE_NAMES)],
        )
    conn.commit()


def pending_chunks(conn, plan: Plan) -> list[tuple[str, int, int, int]]:
    """Chunks not yet recorded as loaded, in foreign-key order."""
    with conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT table_name, chunk FROM {}").format(qualified(plan.schema, "seed_chunks")))
        done = set(cur.fetchall())
    conn.rollback()
    return [chunk for chunk in seed_schema.chunks(plan.counts) if (chunk[0], chunk[1]) not in done]


# Worker processes -------------------------------------------------------------------
# Each worker keeps one connection; the context (pools, counts) is inherited through fork.

_worker: dict = {}


def _init_worker(params: dict, schema: str, context: seed_data.SeedContext | None) -> None:
    _worker.update(params=params, schema=schema, context=context, conn=None)


def _connection():
    if _worker["conn"] is None:
        conn = open_connection(_worker["params"])
        with conn.cursor() as cur:
            # A lost commit loses its chunk record with it, so the next run reloads it: safe to relax.
            cur.execute("SET synchronous_commit TO off")
            cur.execute("SET maintenance_work_mem TO '256MB'")
        conn.commit()
        _worker["conn"] = conn
    return _worker["conn"]


def _run_task(task: tuple) -> tuple[str, object]:
    """Run one task in a worker; return ("ok", result) or ("error", message) (exceptions may not pickle)."""
    function, args, step = _TASKS[task[0]], task[1:], task[-1]
    conn = None
    try:
        conn = _connection()
        result = function(conn, _worker["schema"], *args[:-1])
        conn.commit()
        return "ok", result
    except Exception as exc:  # reported to the parent with the step that failed
        if conn is not None and not conn.closed:
            conn.rollback()
        return "error", explain(step, exc)


def _load_chunk(conn, schema: str, table: str, chunk: int, first: int, last: int) -> tuple[str, int, int]:
    text = seed_data.chunk_rows(_worker["context"], table, chunk, first, last)
    columns = seed_schema.column_list(seed_schema.table(table).column_names)
    copy = sql.SQL("COPY {} ({}) FROM STDIN").format(qualified(schema, table), columns)
    record = sql.SQL("INSERT INTO {} (table_name, chunk, first_id, last_id, checksum) VALUES (%s, %s, %s, %s, %s)")
    checksum = seed_schema.chunk_checksum(text)
    with conn.cursor() as cur:
        cur.copy_expert(copy.as_string(cur), io.StringIO(text))
        cur.execute(record.format(qualified(schema, "seed_chunks")), (table, chunk, first, last, checksum))
    return table, chunk, last - first + 1


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


def _index_table(conn, schema: str, table_name: str) -> str:
    """Primary key, unique constraints and indexes of one table, skipping those that exist."""
    table = seed_schema.table(table_name)
    with conn.cursor() as cur:
        existing = set(_existing_constraints(cur, schema)) | _existing_indexes(cur, schema)
        for name, statement in seed_schema.index_statements(schema, table):
            if name not in existing:
                cur.execute(statement)
    return table_name


def _validate_foreign_key(conn, schema: str, table_name: str, constraint: str) -> str:
    with conn.cursor() as cur:
        if not _existing_constraints(cur, schema).get(constraint, False):
            cur.execute(seed_schema.validate_sql(schema, table_name, constraint))
    return constraint


def _summarize_table(conn, schema: str, table_name: str) -> tuple[str, int, str]:
    """ANALYZE the table, count it, and record the count and the md5 of its chunks' md5s in the manifest."""
    with conn.cursor() as cur:
        cur.execute(sql.SQL("ANALYZE {}").format(qualified(schema, table_name)))
        cur.execute(sql.SQL("SELECT count(*) FROM {}").format(qualified(schema, table_name)))
        rows = cur.fetchone()[0]
        cur.execute(
            sql.SQL("SELECT md5(string_agg(checksum, '' ORDER BY chunk)) FROM {} WHERE table_name = %s").format(
                qualified(schema, "seed_chunks")
            ),
            (table_name,),
        )
        checksum = f"{rows}:{cur.fetchone()[0]}"
        cur.execute(
            sql.SQL("UPDATE {} SET actual_rows = %s, checksum = %s WHERE table_name = %s").format(
                qualified(schema, "seed_manifest")
            ),
            (rows, checksum, table_name),
        )
    return table_name, rows, checksum


_TASKS: dict[str, Callable] = {
    "load": _load_chunk,
    "index": _index_table,
    "validate": _validate_foreign_key,
    "summarize": _summarize_table,
}


class Workers:
    """A pool of forked workers, each with its own connection; ``run`` raises SeedError on the first failure."""

    def __init__(self, params: dict, schema: str, jobs: int, context: seed_data.SeedContext | None = None) -> None:
        self.pool = multiprocessing.get_context("fork").Pool(jobs, _init_worker, (params, schema, context))

    def run(self, tasks: Iterable[tuple], on_result: Callable[[object], None] = lambda _: None) -> list:
        results = []
        for status, value in self.pool.imap_unordered(_run_task, tasks):
            if status == "error":
                raise SeedError(value)
            results.append(value)
            on_result(value)
        return results

    def close(self) -> None:
        self.pool.terminate()
        self.pool.join()


def default_jobs() -> int:
    return os.cpu_count() or 2


def load(workers: Workers, chunks: list, log: Callable[[str], None]) -> int:
    """COPY the given chunks; return the rows loaded."""
    tasks = [("load", *chunk, f"Loading {chunk[0]} rows {chunk[2]}..{chunk[3]}") for chunk in chunks]
    loaded = workers.run(tasks, lambda r: log(f"loaded {r[0]} chunk {r[1]} ({r[2]} rows)"))
    return sum(rows for _, _, rows in loaded)


def add_foreign_keys(conn, schema: str) -> list[tuple[str, str]]:
    """Add every missing foreign key NOT VALID (instant) in one transaction; return (table, constraint) pairs."""
    pairs = []
    with conn.cursor() as cur:
        existing = _existing_constraints(cur, schema)
        for table in seed_schema.TABLES:
            for name, statement in seed_schema.foreign_key_statements(schema, table):
                if name not in existing:
                    cur.execute(statement)
                pairs.append((table.name, name))
    conn.commit()
    return pairs


def finish(conn, workers: Workers, schema: str, log: Callable[[str], None]) -> dict[str, dict]:
    """Keys and indexes, foreign keys, statistics and checksums; then mark the run complete."""
    names = seed_schema.TABLE_NAMES
    workers.run([("index", name, f"Creating keys and indexes of {schema}.{name}") for name in names])
    log("created primary keys, unique constraints and indexes")
    try:
        pairs = add_foreign_keys(conn, schema)
    except Exception as exc:
        conn.rollback()
        raise SeedError(explain(f"Adding the foreign keys of schema {schema}", exc)) from exc
    workers.run([("validate", table, name, f"Validating foreign key {name}") for table, name in pairs])
    log(f"validated {len(pairs)} foreign keys")
    summaries = workers.run([("summarize", name, f"Checksumming {schema}.{name}") for name in names])
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("UPDATE {} SET status = 'complete', finished_at = clock_timestamp()").format(
                qualified(schema, "seed_run")
            )
        )
    conn.commit()
    log("recorded row counts and checksums; run complete")
    return {name: {"rows": rows, "checksum": checksum} for name, rows, checksum in summaries}


def seed(conn, params: dict, plan: Plan, jobs: int, fresh: bool, log: Callable[[str], None]) -> dict:
    """Create (when ``fresh``) or resume the schema, load what is missing and finish; return the outcome."""
    started = time.monotonic()
    if fresh:
        create_schema(conn, plan)
        log(f"created schema {plan.schema} with {len(seed_schema.TABLES)} tables")
    chunks = pending_chunks(conn, plan)
    context = seed_data.SeedContext(plan.seed, plan.counts, seed_data.build_pools(plan.seed)) if chunks else None
    workers = Workers(params, plan.schema, jobs, context)
    try:
        rows_loaded = load(workers, chunks, log)
        tables = finish(conn, workers, plan.schema, log)
    finally:
        workers.close()
    duration = time.monotonic() - started
    return {
        "tables": tables,
        "rows_loaded": rows_loaded,
        "chunks_loaded": len(chunks),
        "duration_seconds": round(duration, 3),
        "rows_per_second": round(rows_loaded / duration) if duration else 0,
    }
