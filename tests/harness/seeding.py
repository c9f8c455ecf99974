"""What a schema seeded by sre.platform.pg_seed holds, read back with psql, and the processes of a running seed.

    from tests.harness.seeding import counts, orphans, foreign_keys, pool_workers

``counts`` and ``orphans`` compare the tables with what a run reported; ``foreign_keys`` says how many keys exist
and how many are validated; ``pool_workers`` finds the worker processes of a module started with ``start_module``
and ``client_pids`` the one that holds a given server connection, so a test can kill the worker loading a table.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
from pathlib import Path

from ansible_collections.sre.platform.plugins.module_utils import seed_schema

from tests.harness.ansible import descendants
from tests.harness.servers import PostgresServer


def counts(server: PostgresServer, db: str) -> dict[str, int]:
    # Table names come from the schema definition, not from input.
    sql = "SELECT count(*) FROM shop.{}"
    return {name: int(server.psql(sql.format(name), db)) for name in seed_schema.TABLE_NAMES}


def orphans(server: PostgresServer, db: str) -> dict[str, int]:
    """Rows whose foreign key points at no parent row, per foreign key."""
    found = {}
    for table in seed_schema.TABLES:
        for column, parent in table.foreign_keys:
            sql = "SELECT count(*) FROM shop.{} c LEFT JOIN shop.{} p ON p.id = c.{} WHERE p.id IS NULL"
            found[f"{table.name}.{column}"] = int(server.psql(sql.format(table.name, parent, column), db))
    return found


def foreign_keys(server: PostgresServer, db: str) -> tuple[int, int]:
    """(foreign keys of the data tables, how many of them are validated)."""
    found = server.psql(
        "SELECT count(*), count(*) FILTER (WHERE convalidated) FROM pg_constraint "
        "WHERE contype = 'f' AND connamespace = 'shop'::regnamespace"
        " AND conrelid::regclass::text NOT LIKE 'shop.seed%'",
        db,
    )
    total, validated = found.split("|")
    return int(total), int(validated)


EXPECTED_FOREIGN_KEYS = sum(len(table.foreign_keys) for table in seed_schema.TABLES)


def _process(pid: int) -> tuple[int, bytes]:
    """(parent pid, command line) of a process."""
    parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    return parent, Path(f"/proc/{pid}/cmdline").read_bytes()


def pool_workers(proc: subprocess.Popen, module: str = "pg_seed") -> list[int]:
    """The worker processes of a module run: forks of the module's process, so they run its very command line."""
    found = {}
    for pid in descendants(proc.pid):
        with contextlib.suppress(OSError, ValueError):
            found[pid] = _process(pid)
    return [
        pid
        for pid, (parent, command) in found.items()
        if f"AnsiballZ_{module}".encode() in command and found.get(parent, (0, b""))[1] == command
    ]


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            match = re.fullmatch(r"socket:\[(\d+)\]", str(fd.readlink()))
            if match:
                inodes.add(match.group(1))
    return inodes


def client_pids(pids: list[int], client_port: int) -> list[int]:
    """Which of ``pids`` has a TCP socket on local port ``client_port`` (pg_stat_activity.client_port): the
    process behind a server backend. A fork inherits its parent's sockets, so a worker's own connection is the
    one only it has."""
    rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    inodes = {row[9] for row in rows if int(row[1].split(":")[1], 16) == client_port}
    return [pid for pid in pids if _socket_inodes(pid) & inodes]
