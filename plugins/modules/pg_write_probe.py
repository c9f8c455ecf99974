#!/usr/bin/python
"""Ansible module: commit numbered rows at a steady pace and report what a writing client saw."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pg_write_probe
short_description: Write to PostgreSQL at a steady pace through an outage; report gaps and lost commits
version_added: "0.1.0"
description:
  - Commits one numbered row per transaction into O(table) every O(interval) seconds for O(duration)
    seconds, the way an application writing through a failover sees the database. The table is created
    when missing; each run writes under its own RV(run_id), so runs never collide.
  - Each row holds the run id, an C(id) from a local counter and the client's timestamp when the row was
    inserted, just before COMMIT.
  - On an error the transaction is rolled back; a broken connection is dropped and a new one is opened at the
    next slot, with a short O(connect_timeout), until the duration ends. libpq's
    C(target_session_attrs=read-write) makes every connection land on a primary, so with several hosts in
    O(login_host) the probe follows a failover.
  - A row counts as committed only when COMMIT returned. When COMMIT raised and the session survived, the
    server rolled the transaction back (RV(failed_ids)); when the connection broke during COMMIT the outcome
    is unknown (RV(uncertain_ids)) and the row is not counted as committed.
  - With O(verify), it then connects again (retrying until O(verify_timeout)) and checks that every row it
    believes committed is in the table. RV(lost) must be 0 for a failover without data loss.
  - Returns the counts, the first and last commit, the longest stretch without a commit (RV(longest_gap))
    and the measured window. The module reports; the caller asserts (for example C(lost == 0)).
  - With O(stop_file), a drill ends the writing once the database has recovered, by creating that file;
    the probe goes on for O(stop_delay) seconds more, and O(duration) is the upper bound.
extends_documentation_fragment:
  - sre.platform.postgres
  - sre.platform.probe_stop
options:
  login_host:
    description:
      - Host name or IP address of the PostgreSQL server, or a comma-separated list of hosts such as
        C(pg-1,pg-2,pg-3); libpq tries them in order and keeps the first that accepts writes.
      - All hosts share O(login_port). Empty means the local Unix socket (see O(login_unix_socket)).
    type: str
    default: ''
  connect_timeout:
    description:
      - Seconds to wait for each connection attempt; short, so a dead host costs little of the run.
      - libpq treats values below 2 as 2.
    type: int
    default: 2
  table:
    description:
      - The probe table, optionally schema-qualified (C(monitoring.write_probe)). Created when missing with
        columns C(run_id text), C(id bigint), C(client_committed_at timestamptz) and primary key
        C((run_id, id)).
    type: str
    default: sre_write_probe
  duration:
    description:
      - Seconds of writing; with O(stop_file), the most seconds the probe may write.
    type: float
    default: 60
  interval:
    description:
      - Seconds between the starts of two transactions. A transaction or a reconnection that overruns its
        slot makes the probe skip to the next slot that is still ahead.
    type: float
    default: 0.05
  io_timeout:
    description:
      - Seconds a statement or an unacknowledged write may take before the connection is given up
        (server C(statement_timeout), libpq C(tcp_user_timeout) and TCP keepalives), so a host that
        vanished without closing its sockets does not stall the probe.
    type: float
    default: 2
  verify:
    description:
      - After the run, check that every row believed committed is in the table.
    type: bool
    default: true
  verify_timeout:
    description:
      - Seconds to keep trying to connect for the verification before failing.
    type: float
    default: 60
attributes:
  check_mode:
    support: full
    description: Connects to a primary, reports whether the table exists and what would be written;
      writes nothing.
  diff_mode:
    support: none
notes:
  - Run it in the background (C(async)/C(poll 0)) while a drill breaks the database, then collect it with
    M(ansible.builtin.async_status); see C(playbooks/failover_drill.yml).
  - C(changed) is true after a run (rows were written) and in check mode.
seealso:
  - name: libpq connection parameters (multiple hosts, target_session_attrs)
    description: How libpq picks among several hosts.
    link: https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-MULTIPLE-HOSTS
  - module: sre.platform.http_probe
author:
  - sre.platform maintainers
"""

EXAMPLES = r"""
- name: Write every 50 ms for 90 s in the background while the primary is deleted
  sre.platform.pg_write_probe:
    login_host: "{{ pg_host }}"
    login_port: "{{ pg_port }}"
    login_user: "{{ pg_user }}"
    login_password: "{{ pg_password }}"
    login_db: "{{ pg_database }}"
    duration: 90
    interval: 0.05
  async: 300
  poll: 0
  register: probe_job

- name: Follow the primary among the instances of a self-managed cluster
  sre.platform.pg_write_probe:
    login_host: pg-1.example,pg-2.example,pg-3.example
    login_password: "{{ vault_pg_password }}"
    duration: 30
  register: probe

- name: No commit may be lost
  ansible.builtin.assert:
    that:
      - probe.lost == 0
      - probe.longest_gap.seconds <= 30
"""

RETURN = r"""
run_id:
  description: Identifier of this run; its rows carry it in C(run_id).
  returned: always
  type: str
  sample: 6f1c0d2e9b7a4c1f8e3d5a7b9c0d1e2f
table:
  description: The probe table.
  returned: always
  type: str
  sample: sre_write_probe
table_exists:
  description: Whether the table existed before the run.
  returned: always
  type: bool
attempted:
  description: Transactions begun (each with its own id).
  returned: success, not in check mode
  type: int
  sample: 1612
committed:
  description: Transactions whose COMMIT returned.
  returned: success, not in check mode
  type: int
  sample: 1607
failed_transactions:
  description: Transactions known not to have committed (error before COMMIT, or COMMIT rejected by a
    server that kept the session). RV(failed_ids) lists their ids.
  returned: success, not in check mode
  type: int
  sample: 2
failed_ids:
  description: Ids of the failed transactions.
  returned: success, not in check mode
  type: list
  elements: int
  sample: [812, 1200]
uncertain:
  description: Transactions whose connection broke during COMMIT (outcome unknown, not counted as
    committed). RV(uncertain_ids) lists them; RV(uncertain_committed_ids) those found in the table.
  returned: success, not in check mode
  type: int
  sample: 1
uncertain_ids:
  description: Ids of the uncertain transactions.
  returned: success, not in check mode
  type: list
  elements: int
  sample: [813]
uncertain_committed_ids:
  description: Uncertain ids found in the table by the verification (they did commit).
  returned: success, when verify
  type: list
  elements: int
  sample: [813]
lost:
  description: Committed ids missing from the table after the run (must be 0). RV(lost_ids) lists them.
  returned: success, when verify
  type: int
  sample: 0
lost_ids:
  description: The lost ids.
  returned: success, when verify
  type: list
  elements: int
  sample: []
phantom_ids:
  description: Ids counted as failed that are in the table all the same (must be empty).
  returned: success, when verify
  type: list
  elements: int
  sample: []
verified:
  description: Whether the verification ran.
  returned: success, not in check mode
  type: bool
first_commit:
  description: Client time of the first commit, ISO 8601 UTC (null when none committed). RV(last_commit)
    likewise.
  returned: success, not in check mode
  type: str
  sample: "2025-01-01T00:00:00.051234Z"
last_commit:
  description: Client time of the last commit, ISO 8601 UTC.
  returned: success, not in check mode
  type: str
  sample: "2025-01-01T00:01:29.951002Z"
longest_gap:
  description: The longest stretch of the window without a commit (between two consecutive commits, or from
    an edge of the window), with C(seconds), C(start), C(end) (ISO 8601 UTC), C(start_epoch), C(end_epoch).
  returned: success, not in check mode
  type: dict
  sample: {seconds: 9.41, start: "2025-01-01T00:00:20.101000Z", end: "2025-01-01T00:00:29.511000Z",
           start_epoch: 1735689620.101, end_epoch: 1735689629.511}
window:
  description: The measured window, same keys as RV(longest_gap).
  returned: success, not in check mode
  type: dict
stopped_by:
  description: What ended the writing, C(duration) or C(stop_file).
  returned: success, not in check mode
  type: str
  sample: stop_file
connect_failures:
  description: Connection attempts that failed during the run.
  returned: success, not in check mode
  type: int
  sample: 180
reconnects:
  description: Connections opened during the run after the first one.
  returned: success, not in check mode
  type: int
  sample: 1
errors:
  description: How often each error message occurred during the run (the most frequent ones).
  returned: success, not in check mode
  type: dict
  sample: {"server closed the connection unexpectedly": 1}
parameters:
  description: The run's parameters (table, duration, interval, io_timeout, verify, verify_timeout, stop_file,
    stop_delay).
  returned: always
  type: dict
msg:
  description: In check mode, what the run would do.
  returned: in check mode
  type: str
  sample: "would commit up to 6000 rows into sre_write_probe on app@10.0.0.5:5432/app (check mode: nothing written)"
"""

import time
import traceback
import uuid

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sre.platform.plugins.module_utils.postgres import (
    PostgresConnectionError,
    describe_target,
    ensure_psycopg2,
    open_connection,
    postgres_argument_spec,
)
from ansible_collections.sre.platform.plugins.module_utils.probe import (
    STOP_FILE_ARGUMENT_SPEC,
    Pacer,
    StopFile,
    longest_gap,
    span,
    stop_file_errors,
    tally,
)
from ansible_collections.sre.platform.plugins.module_utils.timestamps import iso_utc

try:
    import psycopg2
    from psycopg2 import sql
except ImportError:  # reported by ensure_psycopg2
    pass

APPLICATION_NAME = "sre.platform.pg_write_probe"
VERIFY_RETRY_DELAY = 1.0


def argument_spec() -> dict:
    spec = postgres_argument_spec()
    spec["connect_timeout"]["default"] = 2
    spec.update(
        table={"type": "str", "default": "sre_write_probe"},
        duration={"type": "float", "default": 60},
        interval={"type": "float", "default": 0.05},
        io_timeout={"type": "float", "default": 2},
        verify={"type": "bool", "default": True},
        verify_timeout={"type": "float", "default": 60},
        **STOP_FILE_ARGUMENT_SPEC,
    )
    return spec


def validation_errors(params: dict) -> list[str]:
    """Everything wrong with the options, so one run reports all of it."""
    errors = [
        f"{name} must be positive, got {params[name]}"
        for name in ("duration", "interval", "io_timeout", "verify_timeout")
        if params[name] <= 0
    ]
    errors += stop_file_errors(params)
    if params["interval"] > params["duration"]:
        errors.append(f"interval ({params['interval']} s) cannot exceed duration ({params['duration']} s)")
    if not all(params["table"].split(".")) or params["table"].count(".") > 1:
        errors.append(f"table must be 'name' or 'schema.name', got '{params['table']}'")
    return errors


def libpq_options(params: dict) -> dict:
    """Always a primary, and never stuck on a host that vanished without closing its sockets."""
    io_ms = max(1, round(params["io_timeout"] * 1000))
    return {
        "target_session_attrs": "read-write",
        "application_name": APPLICATION_NAME,
        "keepalives": 1,
        "keepalives_idle": 1,
        "keepalives_interval": 1,
        "keepalives_count": max(1, round(params["io_timeout"])),
        "tcp_user_timeout": io_ms,
        "options": f"-c statement_timeout={io_ms}",
    }


def table_identifier(name: str):
    return sql.SQL(".").join(sql.Identifier(part) for part in name.split("."))


def table_exists(conn, name: str) -> bool:
    with conn.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (str(table_identifier(name).as_string(conn)),))
        return cursor.fetchone()[0]


def create_table(conn, name: str) -> None:
    statement = sql.SQL(
        "CREATE TABLE IF NOT EXISTS {} (run_id text NOT NULL, id bigint NOT NULL, "
        "client_committed_at timestamptz NOT NULL, PRIMARY KEY (run_id, id))"
    ).format(table_identifier(name))
    with conn.cursor() as cursor:
        cursor.execute(statement)
    conn.commit()


def first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


class WriteProbe:
    """One run: the current connection and what became of every id."""

    def __init__(self, params: dict, run_id: str, conn) -> None:
        self.params = params
        self.run_id = run_id
        self.conn = conn
        self.insert = sql.SQL(
            "INSERT INTO {} (run_id, id, client_committed_at) VALUES (%s, %s, to_timestamp(%s))"
        ).format(table_identifier(params["table"]))
        self.next_id = 1
        self.commit_times: dict[int, float] = {}
        self.failed_ids: list[int] = []
        self.uncertain_ids: list[int] = []
        self.errors: list[str] = []
        self.connect_failures = 0
        self.reconnects = 0

    def run(self, pacer: Pacer) -> None:
        slot = 0
        while pacer.reached(slot):
            if self.conn is not None or self.reconnect():
                self.write_one(pacer)
            slot = pacer.next_slot(slot)
        self.drop_connection()

    def reconnect(self) -> bool:
        try:
            self.conn = open_connection(self.params, libpq_options=libpq_options(self.params))
        except PostgresConnectionError as exc:
            self.connect_failures += 1
            self.errors.append(first_line(exc))
            return False
        self.reconnects += 1
        return True

    def write_one(self, pacer: Pacer) -> None:
        """One transaction with the next id; COMMIT's outcome decides where the id goes."""
        row_id, self.next_id = self.next_id, self.next_id + 1
        phase = "insert"
        try:
            with self.conn.cursor() as cursor:
                cursor.execute(self.insert, (self.run_id, row_id, pacer.now()))
            phase = "commit"
            self.conn.commit()
            self.commit_times[row_id] = pacer.now()
        except psycopg2.Error as exc:
            self.errors.append(first_line(exc))
            # A broken connection during COMMIT leaves the outcome unknown; a live session means the
            # server answered, and an answered COMMIT that raised was rolled back.
            outcome_unknown = phase == "commit" and self.conn.closed != 0
            (self.uncertain_ids if outcome_unknown else self.failed_ids).append(row_id)
            self.recover()

    def recover(self) -> None:
        """Roll back on a live session; drop a broken one (the next slot reconnects)."""
        if self.conn.closed == 0:
            try:
                self.conn.rollback()
                return
            except psycopg2.Error as exc:
                self.errors.append(first_line(exc))
        self.drop_connection()

    def drop_connection(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def report(self, pacer: Pacer) -> dict:
        commits = sorted(self.commit_times.values())
        return {
            "attempted": self.next_id - 1,
            "committed": len(commits),
            "failed_transactions": len(self.failed_ids),
            "failed_ids": self.failed_ids,
            "uncertain": len(self.uncertain_ids),
            "uncertain_ids": self.uncertain_ids,
            "first_commit": iso_utc(commits[0]) if commits else None,
            "last_commit": iso_utc(commits[-1]) if commits else None,
            "longest_gap": longest_gap(commits, pacer.start, pacer.end),
            "window": span(pacer.start, pacer.end),
            "stopped_by": pacer.stop.stopped_by,
            "connect_failures": self.connect_failures,
            "reconnects": self.reconnects,
            "errors": tally(self.errors),
        }


def connect_for_verification(params: dict):
    """Keep trying until ``verify_timeout``: right after a failover the new primary may still be starting."""
    deadline = time.monotonic() + params["verify_timeout"]
    while True:
        try:
            return open_connection(params, libpq_options=libpq_options(params))
        except PostgresConnectionError:
            if time.monotonic() + VERIFY_RETRY_DELAY > deadline:
                raise
            time.sleep(VERIFY_RETRY_DELAY)


def verify(params: dict, run_id: str, probe: WriteProbe) -> dict:
    """Which ids of the run are in the table: every committed one must be, no failed one may be."""
    conn = connect_for_verification(params)
    try:
        with conn.cursor() as cursor:
            query = sql.SQL("SELECT id FROM {} WHERE run_id = %s").format(table_identifier(params["table"]))
            cursor.execute(query, (run_id,))
            present = {row[0] for row in cursor.fetchall()}
    finally:
        conn.close()
    lost = sorted(set(probe.commit_times) - present)
    return {
        "verified": True,
        "lost": len(lost),
        "lost_ids": lost,
        "uncertain_committed_ids": [row_id for row_id in probe.uncertain_ids if row_id in present],
        "phantom_ids": [row_id for row_id in probe.failed_ids if row_id in present],
    }


def parameters(params: dict) -> dict:
    keys = ("table", "duration", "interval", "io_timeout", "verify", "verify_timeout", "stop_file", "stop_delay")
    return {key: params[key] for key in keys}


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    errors = validation_errors(params)
    if errors:
        module.fail_json(msg="Invalid pg_write_probe options: " + "; ".join(errors))
    ensure_psycopg2(module)
    run_id = uuid.uuid4().hex
    result = {"changed": True, "run_id": run_id, "table": params["table"], "parameters": parameters(params)}
    try:
        conn = open_connection(params, libpq_options=libpq_options(params))
    except PostgresConnectionError as exc:
        module.fail_json(msg=f"pg_write_probe could not start: {exc}", exception=traceback.format_exc(), **result)
    try:
        result["table_exists"] = table_exists(conn, params["table"])
        if module.check_mode:
            conn.close()
            slots = Pacer(params["interval"], params["duration"]).slots
            module.exit_json(
                msg=f"would commit up to {slots} rows into {params['table']} on {describe_target(params)} "
                "(check mode: nothing written)",
                **result,
            )
        create_table(conn, params["table"])
    except psycopg2.Error as exc:
        module.fail_json(
            msg=f"Could not prepare the probe table {params['table']} on {describe_target(params)}: {first_line(exc)}",
            exception=traceback.format_exc(),
            **result,
        )
    probe = WriteProbe(params, run_id, conn)
    pacer = Pacer(params["interval"], params["duration"], StopFile.from_params(params))
    probe.run(pacer)
    result.update(probe.report(pacer), verified=False)
    if params["verify"]:
        try:
            result.update(verify(params, run_id, probe))
        except (PostgresConnectionError, psycopg2.Error) as exc:
            module.fail_json(
                msg=f"The probe ran but its rows could not be verified within {params['verify_timeout']} s: {exc}",
                exception=traceback.format_exc(),
                **result,
            )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
