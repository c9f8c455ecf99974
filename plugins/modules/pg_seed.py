#!/usr/bin/python
"""Ansible module sre.platform.pg_seed: a deterministic, realistic shop schema in any PostgreSQL."""

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_seed
short_description: Load a realistic, deterministic shop schema into PostgreSQL
version_added: 0.1.0
description:
  - Creates a schema of 12 related tables (categories, suppliers, warehouses, customers, products,
    addresses, inventory, orders, order_items, payments, shipments, reviews) with primary keys,
    foreign keys and the indexes a shop workload needs, and loads O(rows) rows of realistic values
    (names, emails, addresses, phone numbers, dates, amounts, text) with COPY, in foreign-key order.
  - Values come from pools drawn once from a seeded Faker and combined per row; the same O(seed)
    and O(rows) always give the same data, whatever O(jobs) is.
  - Idempotent. The manifest tables C(seed_run), C(seed_manifest) and C(seed_chunks) in the schema
    record the schema version, the seed, target and actual row counts and a checksum per table.
    A second run with the same parameters only reads the manifest and counts rows, and reports no
    change; different parameters rebuild the schema; an interrupted run (killed at any moment) is
    completed by the next one, with exact counts and no duplicates (or rebuilt when its tables no
    longer hold exactly the rows of its recorded chunks). Keys found on a table it still has to load
    are dropped first and built again after the load.
  - Each table is loaded in one transaction that empties it and COPYs its rows with C(FREEZE), so they are
    stored frozen and all-visible. The index builds and checks that follow, and autovacuum later, never revisit
    them; index-only scans work at once. Like any COPY FREEZE, a session whose snapshot is older than the load
    sees the rows too; nothing but the seeding reads the schema while it loads.
  - Keys, the indexes the workloads in C(files/pgbench) use, and statistics of every column are built
    for each table as soon as its rows are in; the foreign keys are then added and validated (never left
    NOT VALID). A seeded schema leaves autovacuum nothing to analyze.
  - The checksum of a table is C(<schema>.seed_checksum('<schema>.<table>')), a SQL function created
    in the schema, so any copy (a replica, a restored backup) can be compared with the manifest.
  - "Quick start without a cluster: C(ansible-playbook playbooks/seed.yml -i inventories/postgres)
    starts a throwaway PostgreSQL on loopback (role C(sre.platform.local_postgres)) and seeds it."
author:
  - sre.platform maintainers
extends_documentation_fragment:
  - sre.platform.postgres
options:
  rows:
    description:
      - Total number of rows over all tables, split in fixed proportions (orders and their items are the largest).
    type: int
    default: 1000000
  seed:
    description:
      - Seed of every generated value. The same seed gives the same data and the same checksums.
      - It is recorded in a C(bigint) column, so it lies between -2^63 and 2^63 - 1.
    type: int
    default: 42
  jobs:
    description:
      - Parallel worker processes that generate and load rows, each with its own connection. As many
        more connections build keys and validate foreign keys meanwhile, so a run uses up to
        2 x O(jobs) + 1 connections. V(0) means one per CPU.
    type: int
    default: 0
  schema:
    description:
      - Schema that holds the tables. It is dropped and recreated when the parameters change, so it must
        be used by nothing else. An existing schema without a C(seed_run) table (one this module did not create)
        is refused; one whose bookkeeping tables are damaged (a table of them dropped, no run recorded) is rebuilt.
      - A lower-case identifier (V([a-z_][a-z0-9_]*)) of at most 63 characters, PostgreSQL's limit, that does
        not start with V(pg_) (PostgreSQL reserves the prefix for system schemas).
    type: str
    default: shop
  state:
    description:
      - V(present) loads (or keeps) the data; V(absent) drops the schema, whatever its bookkeeping tables hold
        as long as it has a C(seed_run) table.
    type: str
    choices: [present, absent]
    default: present
  verify:
    description:
      - Also recompute every checksum and compare it with the manifest (one scan of every table).
        A difference is reported as a change, and outside check mode the schema is rebuilt.
      - And check that every primary key, unique key, foreign key and index exists, and every foreign key is
        validated. When only those differ, the change is reported as V(repair), and outside check mode what is
        missing is built again (the data is kept).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reports the operation (create, resume, rebuild, repair, drop or none) and its reason without writing.
notes:
  - Progress is written to the module log (syslog or journal) and returned in RV(progress).
  - Time grows with O(rows) (about 17 s for 10 million on two cores), and so does the database (1.2 GB for 10
    million). A worker's memory hardly does (about 230 MB at 10 and at 30 million rows).
  - The login role needs C(CREATE) on the database and, once the schema exists, to be the role that seeded it.
  - One run at a time works on a schema. A run holds an advisory lock on it from its own connection and another,
    shared, from each of its worker sessions, so a second run is refused, naming the server processes, while any
    session of the first still works, even after the first one's own connection ended. A run whose own
    connection ends (terminated, timed out) stops before its next step, and a run whose worker process dies (the
    OOM killer) fails at once; either way a re-run resumes. The run's sessions turn off C(idle_session_timeout)
    and C(idle_in_transaction_session_timeout) for themselves.
seealso:
  - name: PostgreSQL COPY
    description: How the rows are loaded.
    link: https://www.postgresql.org/docs/current/sql-copy.html
  - module: community.postgresql.postgresql_db
"""

EXAMPLES = r"""
- name: Seed one million rows into the shop schema
  sre.platform.pg_seed:
    login_host: 127.0.0.1
    login_port: 5432
    login_user: app
    login_password: "{{ pg_password }}"
    login_db: app
    rows: 1000000
    seed: 42

- name: Check that a restored copy holds exactly the seeded data (changes nothing)
  sre.platform.pg_seed:
    login_host: restored.example.internal
    login_password: "{{ pg_password }}"
    rows: 1000000
    seed: 42
    verify: true
  check_mode: true
  register: restored
  failed_when: restored.changed

- name: Drop the seeded schema
  sre.platform.pg_seed:
    login_host: 127.0.0.1
    login_password: "{{ pg_password }}"
    state: absent
"""

RETURN = r"""
operation:
  description: What the run did (or, in check mode, would do).
  type: str
  returned: always
  choices: [none, create, resume, rebuild, repair, drop]
  sample: create
reason:
  description: Why that operation was needed.
  type: str
  returned: always
  sample: "the manifest holds seed 41, 1000000 rows; asked for seed 42, 1000000 rows"
schema_version:
  description: Version of the table layout and generated values.
  type: int
  returned: always
  sample: 3
tables:
  description:
    - Rows and checksum of every table, from the manifest. The checksum is C(<rows>:<md5>), the md5 over the
      md5s of the table's chunks of COPY text, as C(<schema>.seed_checksum()) recomputes it from the rows.
      After a load, every table's; otherwise what the manifest records, which in check mode or after an
      interrupted run is the tables loaded so far, and empty when the schema does not exist (C(state=absent)).
  type: dict
  returned: always
  sample: {"orders": {"rows": 200000, "checksum": "200000:7b4398a91d0f2163d57cd4439da7311a"}}
total_rows:
  description: Sum of the rows of every table.
  type: int
  returned: always
  sample: 1000000
rows_loaded:
  description: Rows loaded by this run (0 when nothing changed).
  type: int
  returned: always
  sample: 1000000
chunks_loaded:
  description: COPY chunks loaded by this run.
  type: int
  returned: always
  sample: 46
duration_seconds:
  description: Wall-clock time of the run.
  type: float
  returned: always
  sample: 2.91
rows_per_second:
  description: Rows loaded per second of the run.
  type: int
  returned: always
  sample: 343000
jobs:
  description: Worker processes used.
  type: int
  returned: always
  sample: 2
progress:
  description: Steps in the order they finished.
  type: list
  elements: str
  returned: always
  sample: ["created schema shop with 12 tables", "loaded orders (200000 rows in 8 chunks)"]
"""

import time
import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sre.platform.plugins.module_utils.postgres import (
    connect,
    ensure_psycopg2,
    is_plain_identifier,
    postgres_argument_spec,
)

try:
    from ansible_collections.sre.platform.plugins.module_utils import seed_load, seed_schema
except ImportError:  # psycopg2 is missing: ensure_psycopg2() reports it
    seed_load = seed_schema = None


def argument_spec() -> dict:
    spec = postgres_argument_spec()
    spec.update(
        rows={"type": "int", "default": 1_000_000},
        seed={"type": "int", "default": 42},
        jobs={"type": "int", "default": 0},
        schema={"type": "str", "default": "shop"},
        state={"type": "str", "default": "present", "choices": ["present", "absent"]},
        verify={"type": "bool", "default": False},
    )
    return spec


def check_parameters(module: AnsibleModule) -> None:
    params = module.params
    if params["rows"] < seed_schema.MIN_ROWS:
        module.fail_json(
            msg=f"rows must be at least {seed_schema.MIN_ROWS} (one row per table and more), got {params['rows']}"
        )
    if not -(2**63) <= params["seed"] < 2**63:
        module.fail_json(msg=f"seed must fit PostgreSQL's bigint (-2^63 to 2^63 - 1), got {params['seed']}")
    if params["jobs"] < 0:
        module.fail_json(msg=f"jobs must be 0 (one per CPU) or more, got {params['jobs']}")
    if not is_plain_identifier(params["schema"]):
        module.fail_json(
            msg=f"schema must be a lower-case identifier of at most 63 characters ([a-z_][a-z0-9_]*), "
            f"got {params['schema']!r}"
        )
    if params["schema"].startswith("pg_"):
        module.fail_json(
            msg=f"schema must not start with pg_ (PostgreSQL reserves the prefix for system schemas), "
            f"got {params['schema']!r}"
        )


def _describe(seed: int, rows: int) -> str:
    return f"seed {seed}, {rows} rows"


def _count_mismatch(conn, expected: dict[str, int | None], schema: str, source: str) -> str | None:
    """A reason when a table is missing or its row count differs from ``expected`` (what ``source`` says)."""
    for name, rows in seed_load.live_counts(conn, schema).items():
        wanted = expected.get(name)
        if wanted is None:
            return f"the manifest records no row count for table {schema}.{name}"
        if rows is None:
            return f"table {schema}.{name} is missing; {source} {wanted} rows"
        if rows != wanted:
            return f"table {schema}.{name} has {rows} rows, {source} {wanted}"
    return None


def _checksum_mismatch(conn, state, schema: str) -> str | None:
    for name, checksum in seed_load.live_checksums(conn, schema).items():
        recorded = state.manifest[name]["checksum"]
        if checksum != recorded:
            return f"the checksum of {schema}.{name} is {checksum}, the manifest recorded {recorded}"
    return None


def decide_present(conn, state, plan, verify: bool) -> tuple[str, str]:
    """(operation, reason) for state=present, from what the database holds."""
    if not state.schema_exists:
        return "create", f"schema {plan.schema} holds no seeded data"
    if state.damage:  # the schema is pg_seed's (it has a seed_run table): safe to replace
        return "rebuild", f"the bookkeeping of schema {plan.schema} is damaged: {state.damage}"
    run = state.run
    if not seed_load.same_parameters(state, plan):
        return "rebuild", (
            f"the manifest holds schema version {run['schema_version']}, {_describe(run['seed'], run['target_rows'])}; "
            f"asked for version {seed_schema.SCHEMA_VERSION}, {_describe(plan.seed, plan.rows)}"
        )
    if run["status"] != "complete":
        # Resuming trusts the chunk records: rows added or removed since make that unsafe.
        mismatch = _count_mismatch(
            conn, seed_load.chunk_counts(conn, plan.schema), plan.schema, "its loaded chunks hold"
        )
        if mismatch:
            return "rebuild", f"a previous run stopped and {mismatch}"
        return "resume", f"a previous run stopped after {state.chunks_loaded} chunks; completing it"
    recorded = {name: row["actual_rows"] for name, row in state.manifest.items()}
    mismatch = _count_mismatch(conn, recorded, plan.schema, "the manifest recorded")
    if mismatch is None and verify:
        mismatch = _checksum_mismatch(conn, state, plan.schema)
    if mismatch:
        return "rebuild", mismatch
    drift = seed_load.missing_keys(conn, plan.schema) if verify else []
    if drift:
        return "repair", f"{_listing(drift)}; the data matches the manifest, so only those are built again"
    return "none", f"schema {plan.schema} already holds {_describe(plan.seed, plan.rows)}"


def _listing(items: list[str], shown: int = 5) -> str:
    more = f"; and {len(items) - shown} more" if len(items) > shown else ""
    return "; ".join(items[:shown]) + more


def decide(module: AnsibleModule, conn, state, plan) -> tuple[str, str]:
    # Whatever its bookkeeping holds, a schema with a seed_run table is pg_seed's own: it may drop or rebuild it.
    if state.schema_exists and not state.seeded:
        module.fail_json(
            msg=f"schema {plan.schema} exists but was not created by sre.platform.pg_seed (it has no seed_run table); "
            "refusing to replace or drop it: choose another schema or drop it yourself"
        )
    if module.params["state"] == "absent":
        return ("drop", f"schema {plan.schema} exists") if state.schema_exists else ("none", "schema is absent")
    return decide_present(conn, state, plan, module.params["verify"])


def summary(tables: dict[str, dict]) -> dict:
    return {"tables": tables, "total_rows": sum(table["rows"] or 0 for table in tables.values())}


def manifest_tables(state) -> dict[str, dict]:
    return {name: {"rows": row["actual_rows"], "checksum": row["checksum"]} for name, row in state.manifest.items()}


def apply(module: AnsibleModule, conn, plan, action: str, progress: list[str]) -> dict:
    """Carry out the operation; return the result fields it produced."""

    def log(message: str) -> None:
        progress.append(message)
        module.log(f"pg_seed: {message}")

    jobs = module.params["jobs"] or seed_load.default_jobs()
    if action == "drop":
        seed_load.drop_schema(conn, plan.schema)
        log(f"dropped schema {plan.schema}")
        return {"tables": {}, "total_rows": 0}
    # A resume and a repair keep what is there; the build only adds what is missing.
    outcome = seed_load.seed(conn, module.params, plan, jobs, fresh=action in ("create", "rebuild"), log=log)
    return {**outcome, **summary(outcome.pop("tables")), "jobs": jobs}


def refuse_concurrent_run(module: AnsibleModule, conn, schema: str) -> None:
    holders = seed_load.lock_holders(conn, schema)
    processes = f" (server processes {', '.join(map(str, holders))})" if holders else ""
    module.fail_json(msg=f"another sre.platform.pg_seed run is working on schema {schema}{processes}; try again later")


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    ensure_psycopg2(module)
    check_parameters(module)
    started = time.monotonic()
    params = module.params
    plan = seed_load.Plan(params["schema"], params["seed"], params["rows"])
    conn = connect(module)
    progress: list[str] = []
    result = {
        "changed": False,
        "schema_version": seed_schema.SCHEMA_VERSION,
        "rows_loaded": 0,
        "chunks_loaded": 0,
        "rows_per_second": 0,
        "jobs": params["jobs"] or seed_load.default_jobs(),
        "progress": progress,
    }
    try:
        if not seed_load.lock(conn, plan.schema):
            refuse_concurrent_run(module, conn, plan.schema)
        state = seed_load.read_state(conn, plan.schema)
        action, reason = decide(module, conn, state, plan)
        result.update(operation=action, reason=reason, changed=action != "none", **summary(manifest_tables(state)))
        if action != "none" and not module.check_mode:
            result.update(apply(module, conn, plan, action, progress))
    except seed_load.SeedError as exc:
        module.fail_json(msg=str(exc), exception=traceback.format_exc(), progress=progress)
    except Exception as exc:
        module.fail_json(
            msg=seed_load.explain(f"pg_seed on schema {plan.schema}", exc),
            exception=traceback.format_exc(),
            progress=progress,
        )
    finally:
        conn.close()
    result["duration_seconds"] = round(time.monotonic() - started, 3)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
