"""The seeded shop schema: tables, keys, indexes, row counts and the checksum definition.

Tables are listed in foreign-key order (every table after the tables it
references). They are created bare, loaded with COPY, and only then get their
primary keys, unique constraints, foreign keys and indexes, as pg_restore does:
building an index once is several times cheaper than maintaining it per row.

The checksum of a table is defined in SQL (``checksum_function_sql``) so it can
be recomputed on any copy of the data, for example after a restore:
``SELECT shop.seed_checksum('shop.orders')``. It is the row count and an md5
over the rows' COPY text in id order (chunk by chunk): independent of the
physical row order, and it changes when any row is added, lost, duplicated or
altered. The loader computes the same md5s from the text it sends
(``chunk_checksum``), so seeding needs no extra scan.

Row counts need no scan either: a chunk's COPY and its row in ``seed_chunks``
commit together, and the loader checks the rows COPY reports against the
chunk's id range.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import NamedTuple

from psycopg2 import sql

# Bump when tables, columns, indexes or generated values change: a different version rebuilds.
SCHEMA_VERSION = 3

# Rows per COPY transaction. Fixed (not derived from jobs) so the data of a chunk,
# and therefore the checksums, do not depend on the parallelism.
CHUNK_ROWS = 25_000

# Smallest total that still gives every table at least one row and every order its customer's address.
MIN_ROWS = 100


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    weight: int  # rows per million rows seeded
    uniques: tuple[tuple[str, ...], ...] = ()
    foreign_keys: tuple[tuple[str, str], ...] = ()  # (column, referenced table)
    # Secondary indexes: only those a workload in files/pgbench looks rows up by (building one costs
    # as much CPU as loading a narrow table; the foreign keys are validated without them).
    indexes: tuple[tuple[str, ...], ...] = ()
    column_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_names", tuple(column.split()[0] for column in self.columns))

    def leads_an_index(self, column: str) -> bool:
        """Whether ``column`` is the first column of one of the table's unique or secondary indexes."""
        return any(columns[0] == column for columns in (*self.uniques, *self.indexes))


# Identifiers (slug, code, email, sku) compare byte by byte (COLLATE "C"): they are looked up, never sorted for
# people to read, and their unique indexes then sort with memcmp and abbreviated keys instead of the locale's
# strcoll (customers_email_key builds in 0.05 s instead of 0.08 s). Under a C or C.UTF-8 database locale the
# order is the same.
TABLES: tuple[Table, ...] = (
    Table(
        "categories",
        ("id bigint NOT NULL", "name text NOT NULL", 'slug text COLLATE "C" NOT NULL', "description text NOT NULL"),
        weight=200,
        uniques=(("slug",),),
    ),
    Table(
        "suppliers",
        (
            "id bigint NOT NULL",
            "name text NOT NULL",
            "email text NOT NULL",
            "phone text NOT NULL",
            "country text NOT NULL",
            "created_at timestamptz NOT NULL",
        ),
        weight=1_000,
    ),
    Table(
        "warehouses",
        ("id bigint NOT NULL", 'code text COLLATE "C" NOT NULL', "city text NOT NULL", "country text NOT NULL"),
        weight=50,
        uniques=(("code",),),
    ),
    Table(
        "customers",
        (
            "id bigint NOT NULL",
            "first_name text NOT NULL",
            "last_name text NOT NULL",
            'email text COLLATE "C" NOT NULL',
            "phone text NOT NULL",
            "birth_date date NOT NULL",
            "created_at timestamptz NOT NULL",
        ),
        weight=100_000,
        uniques=(("email",),),
    ),
    Table(
        "products",
        (
            "id bigint NOT NULL",
            "category_id bigint NOT NULL",
            "supplier_id bigint NOT NULL",
            'sku text COLLATE "C" NOT NULL',
            "name text NOT NULL",
            "description text NOT NULL",
            "price numeric(10,2) NOT NULL",
            "created_at timestamptz NOT NULL",
        ),
        weight=20_000,
        uniques=(("sku",),),
        foreign_keys=(("category_id", "categories"), ("supplier_id", "suppliers")),
    ),
    Table(
        "addresses",
        (
            "id bigint NOT NULL",
            "customer_id bigint NOT NULL",
            "kind text NOT NULL",
            "street text NOT NULL",
            "city text NOT NULL",
            "postcode text NOT NULL",
            "country text NOT NULL",
        ),
        weight=130_000,
        foreign_keys=(("customer_id", "customers"),),
    ),
    Table(
        "inventory",
        (
            "id bigint NOT NULL",
            "product_id bigint NOT NULL",
            "warehouse_id bigint NOT NULL",
            "quantity integer NOT NULL",
            "updated_at timestamptz NOT NULL",
        ),
        weight=40_000,
        uniques=(("product_id", "warehouse_id"),),
        foreign_keys=(("product_id", "products"), ("warehouse_id", "warehouses")),
    ),
    Table(
        "orders",
        (
            "id bigint NOT NULL",
            "customer_id bigint NOT NULL",
            "shipping_address_id bigint NOT NULL",
            "status text NOT NULL",
            "ordered_at timestamptz NOT NULL",
        ),
        weight=200_000,
        foreign_keys=(("customer_id", "customers"), ("shipping_address_id", "addresses")),
        indexes=(("customer_id",),),  # order_history.sql
    ),
    Table(
        "order_items",
        (
            "id bigint NOT NULL",
            "order_id bigint NOT NULL",
            "product_id bigint NOT NULL",
            "quantity integer NOT NULL",
            "unit_price numeric(10,2) NOT NULL",
        ),
        weight=310_000,
        foreign_keys=(("order_id", "orders"), ("product_id", "products")),
        indexes=(("order_id",),),  # order_history.sql, fulfil_order.sql
    ),
    Table(
        "payments",
        (
            "id bigint NOT NULL",
            "order_id bigint NOT NULL",
            "method text NOT NULL",
            "amount numeric(12,2) NOT NULL",
            "status text NOT NULL",
            "paid_at timestamptz NOT NULL",
        ),
        weight=100_000,
        uniques=(("order_id",),),
        foreign_keys=(("order_id", "orders"),),
    ),
    Table(
        "shipments",
        (
            "id bigint NOT NULL",
            "order_id bigint NOT NULL",
            "warehouse_id bigint NOT NULL",
            "carrier text NOT NULL",
            "tracking_number text NOT NULL",
            "shipped_at timestamptz NOT NULL",
            "delivered_at timestamptz",
        ),
        weight=80_000,
        foreign_keys=(("order_id", "orders"), ("warehouse_id", "warehouses")),
    ),
    Table(
        "reviews",
        (
            "id bigint NOT NULL",
            "product_id bigint NOT NULL",
            "customer_id bigint NOT NULL",
            "rating smallint NOT NULL CHECK (rating BETWEEN 1 AND 5)",
            "title text NOT NULL",
            "body text NOT NULL",
            "created_at timestamptz NOT NULL",
        ),
        weight=18_750,
        foreign_keys=(("product_id", "products"), ("customer_id", "customers")),
        indexes=(("product_id",),),  # product_page.sql
    ),
)

TABLE_NAMES = tuple(table.name for table in TABLES)
# pg_seed's own tables: the run, the manifest of counts and checksums, and the chunks loaded.
BOOKKEEPING_TABLES = ("seed_run", "seed_manifest", "seed_chunks")


def table(name: str) -> Table:
    return TABLES[TABLE_NAMES.index(name)]


def validated_by_hashing(child: Table, column: str, parent: str) -> bool:
    """Whether the foreign key ``child.column`` is cheaper to validate with the planner's hash anti-join.

    The hash join reads the whole parent into a hash table (PostgreSQL 15 always hashes the referenced side);
    a merge join reads the parent's primary key in order and the column in order, from an index it leads or
    sorted. Hashing pays only when the parent is several times smaller than the table: orders.shipping_address_id
    (130,000 addresses for 200,000 orders) validates in 65 ms merged instead of 102 ms hashed, whereas
    order_items.product_id (20,000 products) takes 38 ms hashed and 73 ms merged.
    """
    return not child.leads_an_index(column) and table(parent).weight * 4 <= child.weight


# The largest table absorbs rounding so the total is exactly the rows asked for.
_REMAINDER_TABLE = "order_items"


def row_counts(total: int) -> dict[str, int]:
    """Rows per table for ``total`` rows: proportional to the weights, summing exactly to ``total``."""
    counts = {table.name: max(1, total * table.weight // 1_000_000) for table in TABLES}
    # Each inventory row is a distinct (product, warehouse) pair.
    counts["inventory"] = min(counts["inventory"], counts["products"] * counts["warehouses"])
    counts[_REMAINDER_TABLE] += total - sum(counts.values())
    return counts


def chunks(counts: dict[str, int]) -> list[tuple[str, int, int, int]]:
    """Every (table, chunk number, first id, last id), tables in foreign-key order."""
    plan = []
    for name in TABLE_NAMES:
        for number, first in enumerate(range(1, counts[name] + 1, CHUNK_ROWS)):
            plan.append((name, number, first, min(first + CHUNK_ROWS - 1, counts[name])))
    return plan


def qualified(schema: str, name: str) -> sql.Identifier:
    return sql.Identifier(schema, name)


def column_list(columns: tuple[str, ...]) -> sql.Composable:
    return sql.SQL(", ").join(map(sql.Identifier, columns))


def create_table_sql(schema: str, table: Table) -> sql.Composable:
    """CREATE TABLE without keys: they are added after the load."""
    definitions = sql.SQL(", ").join(map(sql.SQL, table.columns))
    return sql.SQL("CREATE TABLE {} ({})").format(qualified(schema, table.name), definitions)


class Index(NamedTuple):
    """An index of a table and, for a key, the constraint that adopts it."""

    name: str
    create: sql.Composable
    constraint: sql.Composable | None


def indexes(schema: str, table: Table) -> list[Index]:
    """The primary key, unique constraints and secondary indexes of ``table``.

    Keys are built as plain unique indexes, then adopted by their constraints
    (``USING INDEX``, instant): CREATE INDEX takes a lock that other index builds
    share, so the indexes of one table are built in parallel, whereas ADD
    PRIMARY KEY and ADD UNIQUE would lock the table exclusively for the build.
    """
    target = qualified(schema, table.name)
    create_unique = sql.SQL("CREATE UNIQUE INDEX {} ON {} ({})")
    adopt = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {} USING INDEX {}")
    keys = [(f"{table.name}_pkey", "PRIMARY KEY", ("id",))] + [
        (f"{table.name}_{'_'.join(columns)}_key", "UNIQUE", columns) for columns in table.uniques
    ]
    found = [
        Index(
            name,
            create_unique.format(sql.Identifier(name), target, column_list(columns)),
            adopt.format(target, sql.Identifier(name), sql.SQL(kind), sql.Identifier(name)),
        )
        for name, kind, columns in keys
    ]
    for columns in table.indexes:
        name = f"{table.name}_{'_'.join(columns)}_idx"
        create = sql.SQL("CREATE INDEX {} ON {} ({})").format(sql.Identifier(name), target, column_list(columns))
        found.append(Index(name, create, None))
    return found


def foreign_key_statements(schema: str, table: Table) -> list[tuple[str, sql.Composable]]:
    """(name, SQL) of the foreign keys of ``table``, added NOT VALID (instant) and validated separately,
    so the validations can run in parallel."""
    statement = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} (id) NOT VALID")
    return [
        (
            f"{table.name}_{column}_fkey",
            statement.format(
                qualified(schema, table.name),
                sql.Identifier(f"{table.name}_{column}_fkey"),
                sql.Identifier(column),
                qualified(schema, parent),
            ),
        )
        for column, parent in table.foreign_keys
    ]


def analyze_sql(schema: str, table: Table) -> sql.Composable:
    """Statistics of every column. Only an ANALYZE of the whole table resets its count of changed rows: with a
    column list, autovacuum would analyze the table again at its next pass, during whatever runs after the seed."""
    return sql.SQL("ANALYZE {}").format(qualified(schema, table.name))


def validate_sql(schema: str, table_name: str, constraint: str) -> sql.Composable:
    return sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(
        qualified(schema, table_name), sql.Identifier(constraint)
    )


def manifest_sql(schema: str) -> list[sql.Composable]:
    """The bookkeeping tables: one run row, one row per table, one row per loaded chunk."""
    statements = [
        """CREATE TABLE {seed_run} (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            schema_version integer NOT NULL,
            seed bigint NOT NULL,
            target_rows bigint NOT NULL,
            status text NOT NULL CHECK (status IN ('loading', 'complete')),
            started_at timestamptz NOT NULL DEFAULT now(),
            finished_at timestamptz)""",
        """CREATE TABLE {seed_manifest} (
            table_name text PRIMARY KEY,
            load_order integer NOT NULL,
            target_rows bigint NOT NULL,
            actual_rows bigint,
            checksum text)""",
        """CREATE TABLE {seed_chunks} (
            table_name text NOT NULL REFERENCES {seed_manifest},
            chunk integer NOT NULL,
            first_id bigint NOT NULL,
            last_id bigint NOT NULL,
            checksum text NOT NULL,
            loaded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            PRIMARY KEY (table_name, chunk))""",
    ]
    names = {name: qualified(schema, name) for name in BOOKKEEPING_TABLES}
    return [sql.SQL(statement).format(**names) for statement in statements]


def checksum_function_sql(schema: str) -> sql.Composable:
    """``<schema>.seed_checksum(regclass)``: ``rows:md5`` of a table, recomputed from its rows.

    A row's line is its columns as text joined by tabs, NULL as ``\\N``: exactly
    the COPY text line the loader sent. Rows are grouped in chunks of
    CHUNK_ROWS ids; a chunk's md5 is over its lines in id order, each ending
    with a newline (the COPY text of the chunk), and the table's md5 is over
    its chunks' md5s in chunk order. The loader therefore gets every chunk's
    md5 from the text it sends (``chunk_checksum``) and seeding needs no scan;
    this function recomputes the same value on any copy. Date style and time
    zone are pinned so the text is the same on every server.
    """
    return sql.SQL(r"""CREATE FUNCTION {}(tbl regclass) RETURNS text
        LANGUAGE plpgsql STABLE
        SET datestyle = 'ISO, YMD' SET timezone = 'UTC' SET extra_float_digits = '1'
        AS $fn$
        DECLARE
            line text;
            result text;
        BEGIN
            SELECT string_agg(format('coalesce(t.%I::text, %L)', attname, '\N'), ', ' ORDER BY attnum)
              INTO line
              FROM pg_attribute WHERE attrelid = tbl AND attnum > 0 AND NOT attisdropped;
            EXECUTE format(
                'SELECT coalesce(sum(n), 0) || '':'' || md5(coalesce(string_agg(h, '''' ORDER BY chunk), ''''))'
                ' FROM (SELECT (t.id - 1) / {} AS chunk, count(*) AS n,'
                '              md5(string_agg(concat_ws(E''\t'', %s) || E''\n'', '''' ORDER BY t.id)) AS h'
                '       FROM %s AS t GROUP BY 1) AS chunks', line, tbl)
              INTO result;
            RETURN result;
        END
        $fn$""").format(qualified(schema, "seed_checksum"), sql.Literal(CHUNK_ROWS))


def chunk_checksum():
    """The hash ``seed_checksum`` computes per chunk: ``update()`` it with the chunk's COPY text, in order."""
    return hashlib.md5()  # noqa: S324 - a checksum, not security
