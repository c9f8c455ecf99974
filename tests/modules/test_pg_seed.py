"""sre.platform.pg_seed through Ansible, against a real PostgreSQL started by the harness."""

from __future__ import annotations

import itertools
import json
import re
import time
from pathlib import Path

import pytest
from ansible_collections.sre.platform.plugins.module_utils import seed_data, seed_schema

from tests.harness.ansible import kill_tree, run_module, start_module
from tests.harness.seeding import counts, orphans
from tests.harness.servers import PostgresServer, free_port

ROWS = 20_000
WORKLOADS = Path(__file__).resolve().parents[2] / "files" / "pgbench"
_databases = itertools.count()


@pytest.fixture
def database(postgres_server: PostgresServer) -> str:
    return postgres_server.createdb(f"seed_{next(_databases)}")


def seed(server: PostgresServer, db: str, check: bool = False, **options) -> dict:
    args = {**server.conninfo, "login_db": db, "rows": ROWS, "seed": 42, "jobs": 2, **options}
    return run_module("sre.platform.pg_seed", args, check=check)


def test_row_counts_sum_exactly_to_the_rows_asked_for():
    for total in (seed_schema.MIN_ROWS, 12_345, 1_000_000):
        counts = seed_schema.row_counts(total)
        assert sum(counts.values()) == total
        assert min(counts.values()) >= 1
        assert counts["inventory"] <= counts["products"] * counts["warehouses"]


def test_each_foreign_key_is_validated_the_cheaper_way():
    # Hashing only pays for a parent several times smaller than the table; an index the column leads gives a merge
    # of two index-only scans (see _constrain_table). Figures: EXPLAIN ANALYZE of each validation, 1M rows.
    expected = {
        "products.category_id": "hash",  # 2.2 ms hashed, 2.9 merged
        "products.supplier_id": "hash",
        "addresses.customer_id": "merge",  # 33 / 36: a draw
        "inventory.product_id": "index merge",
        "inventory.warehouse_id": "hash",
        "orders.customer_id": "index merge",  # 57 / 25
        "orders.shipping_address_id": "merge",  # 102 / 65
        "order_items.order_id": "index merge",  # 102 / 33
        "order_items.product_id": "hash",  # 38 / 73
        "payments.order_id": "index merge",
        "shipments.order_id": "merge",  # 51 / 36
        "shipments.warehouse_id": "hash",
        "reviews.product_id": "index merge",
        "reviews.customer_id": "merge",
    }
    found = {}
    for table in seed_schema.TABLES:
        for column, parent in table.foreign_keys:
            hashed = seed_schema.validated_by_hashing(table, column, parent)
            found[f"{table.name}.{column}"] = (
                "hash" if hashed else "index merge" if table.leads_an_index(column) else "merge"
            )
    assert found == expected


def test_rows_depend_only_on_the_seed_and_their_ids_not_on_how_the_ids_are_split():
    counts = seed_schema.row_counts(200_000)
    context = seed_data.SeedContext(5, counts, seed_data.build_pools(5))
    for table in ("customers", "orders", "order_items", "payments", "shipments"):
        last = counts[table]
        whole = seed_data.rows(context, table, 1, last)
        assert whole.count("\n") == last
        # Split at odd places, across generation blocks: the same text, so the same chunk checksums.
        cuts = [1, 2, 4_999, 5_003, 11_111, last + 1]
        parts = [seed_data.rows(context, table, first, stop - 1) for first, stop in itertools.pairwise(cuts)]
        assert "".join(parts) == whole == "".join(seed_data.blocks(context, table, 1, last))
    other = seed_data.SeedContext(6, counts, seed_data.build_pools(6))
    assert seed_data.rows(other, "customers", 1, 100) != seed_data.rows(context, "customers", 1, 100)


def test_segmented_lookups_give_the_same_rows_with_bounded_memory(monkeypatch):
    """Ids as text and order hours come a segment at a time, the least recently used dropped: rows stay the same
    when the ids of a block cross segments, and a worker holds at most KEPT segments however many rows."""
    counts = seed_schema.row_counts(60_000)
    whole = seed_data.SeedContext(5, counts, seed_data.build_pools(5))
    tables = ("orders", "order_items", "payments")
    expected = {table: seed_data.rows(whole, table, 1, counts[table]) for table in tables}
    monkeypatch.setattr(seed_data._Segments, "SIZE", 777)  # blocks of 5,000 ids cross several segments
    monkeypatch.setattr(seed_data._Segments, "KEPT", 2)
    segmented = seed_data.SeedContext(5, counts, seed_data.build_pools(5))
    for table, text in expected.items():
        assert seed_data.rows(segmented, table, 1, counts[table]) == text, table
    assert len(segmented._id_strings._segments) == 2
    assert segmented.ids(range(1_500, 1_560)) == [str(i) for i in range(1_500, 1_560)]


def test_large_lookups_computed_per_row_give_what_the_lists_would(monkeypatch):
    """Above _ID_LIST_LIMIT the picked ids and the order items' product, quantity and price are computed per row
    instead of looked up in lists built once: the same rows."""
    counts = seed_schema.row_counts(800_000)  # 80,000 customers (more than a wheel holds), 64,000 item choices
    pools = seed_data.build_pools(5)
    listed = seed_data.SeedContext(5, counts, pools)
    tables = ("orders", "reviews", "order_items", "payments")
    expected = {table: seed_data.rows(listed, table, 1, 12_000) for table in tables}
    assert "customers" in listed.values and "item_text" in vars(listed)
    monkeypatch.setattr(seed_data, "_ID_LIST_LIMIT", 60_000)
    computed = seed_data.SeedContext(5, counts, pools)
    for table in tables:
        assert seed_data.rows(computed, table, 1, 12_000) == expected[table], table
    assert "customers" not in computed.values and "item_text" not in vars(computed), "no list on the per-row path"


def test_tables_outside_faker_tables_load_before_the_pools_are_drawn():
    counts = seed_schema.row_counts(50_000)
    bare = seed_data.SeedContext(5, counts)
    full = seed_data.SeedContext(5, counts, seed_data.build_pools(5))
    for table in seed_schema.TABLE_NAMES:
        if table in seed_data.FAKER_TABLES:
            with pytest.raises(KeyError):
                seed_data.rows(bare, table, 1, 100)
        else:
            assert seed_data.rows(bare, table, 1, counts[table]) == seed_data.rows(full, table, 1, counts[table])
    bare.add_pools(seed_data.build_pools(5))
    assert seed_data.rows(bare, "customers", 1, 100) == seed_data.rows(full, "customers", 1, 100)


def test_seed_loads_related_tables_whose_keys_hold_and_a_rerun_changes_nothing(postgres_server, database):
    result = seed(postgres_server, database)
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is True and result["operation"] == "create"
    assert result["total_rows"] == result["rows_loaded"] == ROWS
    assert counts(postgres_server, database) == {name: table["rows"] for name, table in result["tables"].items()}

    data_tables = postgres_server.psql(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'shop' AND tablename NOT LIKE 'seed%'", database
    )
    assert int(data_tables) >= 10
    foreign_keys = postgres_server.psql(
        "SELECT count(*), count(*) FILTER (WHERE convalidated) FROM pg_constraint "
        "WHERE contype = 'f' AND conrelid::regclass::text NOT LIKE 'shop.seed%'",
        database,
    )
    expected = sum(len(table.foreign_keys) for table in seed_schema.TABLES)
    assert foreign_keys == f"{expected}|{expected}"
    assert set(orphans(postgres_server, database).values()) == {0}
    # Values that several tables share agree: every payment carries its order's total.
    wrong_totals = (
        "SELECT count(*) FROM shop.payments p JOIN (SELECT order_id, sum(quantity * unit_price) AS total "
        "FROM shop.order_items GROUP BY order_id) i USING (order_id) WHERE p.amount <> i.total"
    )
    assert postgres_server.psql(wrong_totals, database) == "0"
    # The checksum recorded while loading is the one SQL recomputes from the stored rows.
    for name, table in result["tables"].items():
        assert postgres_server.psql(f"SELECT shop.seed_checksum('shop.{name}')", database) == table["checksum"]
    assert any("loaded orders" in line for line in result["progress"])
    # The planner has statistics for every column, and autovacuum has no analyzing left to do after the seed.
    analyzed = postgres_server.psql(
        "SELECT tablename || '.' || attname FROM pg_stats WHERE schemaname = 'shop'", database
    )
    expected_stats = {f"{table.name}.{column}" for table in seed_schema.TABLES for column in table.column_names}
    assert expected_stats <= set(analyzed.splitlines()), sorted(expected_stats - set(analyzed.splitlines()))
    changed_since_analyze = postgres_server.psql(
        "SELECT relname FROM pg_stat_user_tables WHERE schemaname = 'shop' AND relname NOT LIKE 'seed%'"
        " AND n_mod_since_analyze > 0",
        database,
    )
    assert changed_since_analyze == "", changed_since_analyze
    # Loaded with COPY FREEZE: every page is all-visible from the start (ANALYZE records the visibility map's count),
    # so neither the checks that follow nor autovacuum revisit the rows to set hint bits or freeze them.
    not_all_visible = postgres_server.psql(
        "SELECT relname FROM pg_class WHERE relnamespace = 'shop'::regnamespace AND relkind = 'r'"
        " AND relname NOT LIKE 'seed%' AND (relpages = 0 OR relallvisible < relpages)",
        database,
    )
    assert not_all_visible == "", not_all_visible

    again = seed(postgres_server, database, verify=True)
    assert again["changed"] is False and again["operation"] == "none", again
    assert again["rows_loaded"] == 0
    assert again["tables"] == result["tables"]


def test_same_seed_gives_the_same_checksums_whatever_the_jobs_and_another_seed_rebuilds(postgres_server, database):
    first = seed(postgres_server, database, jobs=2)
    other_database = postgres_server.createdb(f"seed_{next(_databases)}")
    second = seed(postgres_server, other_database, jobs=1)
    assert second["tables"] == first["tables"]

    reseeded = seed(postgres_server, other_database, seed=7)
    assert reseeded["changed"] is True and reseeded["operation"] == "rebuild"
    assert "seed 42" in reseeded["reason"] and "seed 7" in reseeded["reason"]
    assert reseeded["tables"]["customers"]["checksum"] != first["tables"]["customers"]["checksum"]
    assert reseeded["total_rows"] == ROWS


def test_check_mode_reports_the_action_and_writes_nothing(postgres_server, database):
    planned = seed(postgres_server, database, check=True)
    assert planned["changed"] is True and planned["operation"] == "create"
    assert postgres_server.psql("SELECT count(*) FROM pg_namespace WHERE nspname = 'shop'", database) == "0"

    seed(postgres_server, database)
    before = postgres_server.psql("SELECT checksum FROM shop.seed_manifest ORDER BY table_name", database)
    planned = seed(postgres_server, database, check=True, rows=ROWS * 2)
    assert planned["changed"] is True and planned["operation"] == "rebuild"
    assert postgres_server.psql("SELECT checksum FROM shop.seed_manifest ORDER BY table_name", database) == before


def test_a_run_killed_while_loading_is_completed_with_exact_counts(postgres_server, database):
    rows = 300_000
    args = {**postgres_server.conninfo, "login_db": database, "rows": rows, "seed": 3, "jobs": 1}
    proc = start_module("sre.platform.pg_seed", args)
    chunks = "SELECT count(*) FROM shop.seed_chunks"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if int(postgres_server.psql(chunks, database)) >= 2:
                break
        except RuntimeError:
            pass  # the schema is not there yet
        time.sleep(0.05)
    kill_tree(proc)
    assert postgres_server.psql("SELECT status FROM shop.seed_run", database) == "loading"
    loaded_before = int(postgres_server.psql(chunks, database))
    assert 0 < loaded_before < len(seed_schema.chunks(seed_schema.row_counts(rows)))

    resumed = run_module("sre.platform.pg_seed", args)
    assert resumed.get("failed") is not True, resumed.get("msg")
    assert resumed["changed"] is True and resumed["operation"] == "resume"
    assert resumed["rows_loaded"] < rows
    assert counts(postgres_server, database) == seed_schema.row_counts(rows)
    assert set(orphans(postgres_server, database).values()) == {0}
    # Primary keys were built after the load: their existence proves there are no duplicate ids.
    primary_keys = "SELECT count(*) FROM pg_constraint WHERE contype = 'p' AND connamespace = 'shop'::regnamespace"
    assert int(postgres_server.psql(primary_keys, database)) == len(seed_schema.TABLES) + 3


def test_an_interrupted_run_resumes_exactly_unless_its_tables_were_changed(postgres_server, database):
    first = seed(postgres_server, database)
    # What a run stopped before loading reviews leaves behind: no rows and no chunk record for them.
    postgres_server.psql(
        "UPDATE shop.seed_run SET status = 'loading'; DELETE FROM shop.reviews;"
        " DELETE FROM shop.seed_chunks WHERE table_name = 'reviews'",
        database,
    )
    resumed = seed(postgres_server, database)
    assert resumed["operation"] == "resume", resumed
    assert resumed["rows_loaded"] == first["tables"]["reviews"]["rows"]
    assert resumed["tables"] == first["tables"]

    # Rows removed behind the manifest's back: resuming would record counts the tables do not hold.
    postgres_server.psql(
        "UPDATE shop.seed_run SET status = 'loading'; DELETE FROM shop.payments WHERE id = 7", database
    )
    rebuilt = seed(postgres_server, database)
    assert rebuilt["operation"] == "rebuild", rebuilt
    assert "shop.payments has" in rebuilt["reason"] and "loaded chunks hold" in rebuilt["reason"]
    assert rebuilt["tables"] == first["tables"]


def workload_statements() -> list[str]:
    """The statements of the pgbench scripts, variables set to an id, BEGIN and END left out."""
    statements = []
    for script in sorted(WORKLOADS.glob("*.sql")):
        text = "\n".join(line for line in script.read_text().splitlines() if not line.lstrip().startswith("--"))
        text = re.sub(r"(?<!:):[a-z_]+", "1", text.replace("\\gset", ";"))
        statements += [part.strip() for part in text.split(";") if part.strip().upper() not in ("", "BEGIN", "END")]
    return statements


def index_names(plan: object) -> set[str]:
    if isinstance(plan, list):
        return set().union(*map(index_names, plan))
    if not isinstance(plan, dict):
        return set()
    found = {plan["Index Name"]} if "Index Name" in plan else set()
    return found.union(*map(index_names, plan.values()))


def test_every_secondary_index_serves_a_workload_query(postgres_server, database):
    seed(postgres_server, database)
    statements = workload_statements()
    assert len(statements) >= 5, statements
    # Without sequential scans the planner shows which index serves each lookup, whatever the table size.
    postgres_server.psql(f"ALTER DATABASE {database} SET enable_seqscan = off", database)
    used = set()
    for statement in statements:
        used |= index_names(json.loads(postgres_server.psql(f"EXPLAIN (FORMAT JSON) {statement}", database)))
    secondary = {
        index.name
        for table in seed_schema.TABLES
        for index in seed_schema.indexes("shop", table)
        if not index.constraint
    }
    assert secondary, "the schema defines no secondary index"
    assert secondary <= used, f"indexes no workload in files/pgbench uses: {sorted(secondary - used)}"


def test_verify_detects_a_changed_row_and_absent_drops_the_schema(postgres_server, database):
    seed(postgres_server, database)
    postgres_server.psql("UPDATE shop.customers SET first_name = 'Mallory' WHERE id = 1", database)
    assert seed(postgres_server, database)["changed"] is False, "without verify only counts are compared"
    verified = seed(postgres_server, database, check=True, verify=True)
    assert verified["changed"] is True and "checksum of shop.customers" in verified["reason"]

    dropped = seed(postgres_server, database, state="absent")
    assert dropped["changed"] is True and dropped["operation"] == "drop"
    assert postgres_server.psql("SELECT count(*) FROM pg_namespace WHERE nspname = 'shop'", database) == "0"
    assert seed(postgres_server, database, state="absent")["changed"] is False


def test_the_database_owner_seeds_without_superuser_rights(postgres_server):
    # On the platform pg_seed logs in as CloudNativePG's application user: the database's owner, no superuser.
    number = next(_databases)
    owner, name = f"seed_owner_{number}", f"seed_owned_{number}"
    postgres_server.psql(f"CREATE ROLE {owner} LOGIN PASSWORD 'owner-pw' NOSUPERUSER")
    postgres_server.psql(f"CREATE DATABASE {name} OWNER {owner}")
    result = seed(postgres_server, name, login_user=owner, login_password="owner-pw")
    assert result.get("failed") is not True, result.get("msg")
    assert result["total_rows"] == ROWS
    assert counts(postgres_server, name) == {table: row["rows"] for table, row in result["tables"].items()}
    frozen = postgres_server.psql(
        "SELECT count(*) FROM pg_class WHERE relnamespace = 'shop'::regnamespace AND relkind = 'r'"
        " AND relname NOT LIKE 'seed%' AND relallvisible = relpages AND relpages > 0",
        name,
    )
    assert int(frozen) == len(seed_schema.TABLES)


def test_refuses_to_replace_a_schema_it_did_not_create(postgres_server, database):
    postgres_server.psql("CREATE SCHEMA shop; CREATE TABLE shop.precious (id int)", database)
    result = seed(postgres_server, database)
    assert result["failed"] is True
    assert "not created by sre.platform.pg_seed" in result["msg"]
    assert postgres_server.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'precious'", database) == "1"


def test_bad_password_fails_clearly_without_showing_the_password(postgres_server, database):
    result = seed(postgres_server, database, login_password="s3cret-not-the-password")
    assert result["failed"] is True
    assert "authentication failed" in result["msg"]
    assert "s3cret-not-the-password" not in json.dumps(result)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"rows": 99}, "rows must be at least 100"),
        ({"seed": 2**63}, "seed must fit PostgreSQL's bigint"),
        ({"jobs": -1}, "jobs must be 0 (one per CPU) or more"),
        ({"schema": "s" * 64}, "schema must be a lower-case identifier of at most 63 characters"),
        ({"schema": "shop\n"}, "schema must be a lower-case identifier"),
        ({"schema": "pg_seedtest"}, "schema must not start with pg_"),
    ],
)
def test_bad_parameters_fail_before_connecting(args, message):
    # No server listens on the port: the parameters are refused before any connection is tried.
    result = run_module("sre.platform.pg_seed", {"login_port": free_port(), "login_password": "x", **args})
    assert result["failed"] is True
    assert result["msg"].startswith(message), result["msg"]


def test_unreachable_server_fails_clearly():
    args = {"login_host": "127.0.0.1", "login_port": free_port(), "login_password": "x", "rows": ROWS}
    result = run_module("sre.platform.pg_seed", args)
    assert result["failed"] is True
    assert "nothing accepts connections" in result["msg"]


def test_missing_privilege_fails_clearly(postgres_server, database):
    postgres_server.psql(
        "DROP ROLE IF EXISTS seed_reader; CREATE ROLE seed_reader LOGIN PASSWORD 'reader-pw'; "
        f"REVOKE CREATE ON DATABASE {database} FROM PUBLIC",
        database,
    )
    result = seed(postgres_server, database, login_user="seed_reader", login_password="reader-pw")
    assert result["failed"] is True
    assert "lacks a privilege" in result["msg"] and "permission denied" in result["msg"]
    # Owning the schema would not do: creating (or rebuilding) it needs CREATE on the database.
    assert "needs CREATE on the database" in result["msg"] and "owner" not in result["msg"], result["msg"]
