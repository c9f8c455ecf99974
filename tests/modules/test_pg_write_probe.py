"""sre.platform.pg_write_probe through Ansible against a real PostgreSQL that the tests stop and restart."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from ansible_collections.sre.platform.plugins.modules.pg_write_probe import validation_errors

from tests.harness.ansible import BackgroundModule, run_module
from tests.harness.servers import PostgresServer, free_port

OUTAGE_SECONDS = 3.0

# A constraint trigger runs at COMMIT: the transaction with id 3 is rejected by COMMIT itself.
REJECT_AT_COMMIT = """
CREATE TABLE {table} (run_id text NOT NULL, id bigint NOT NULL, client_committed_at timestamptz NOT NULL,
                      PRIMARY KEY (run_id, id));
CREATE FUNCTION reject_id_3() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.id = 3 THEN RAISE EXCEPTION 'id 3 rejected at commit'; END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER reject_id_3 AFTER INSERT ON {table}
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION reject_id_3();
"""


@pytest.fixture
def probe_db(postgres_server: PostgresServer) -> dict:
    """A fresh database on the shared server: connection options for the module."""
    name = postgres_server.createdb(f"probe_{uuid.uuid4().hex[:8]}")
    return {**postgres_server.conninfo, "login_db": name}


def wait_for_rows(server: PostgresServer, timeout: float = 30) -> None:
    """Wait until the probe has committed its first rows (ansible takes a while to start); one run per server."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if int(server.psql("SELECT count(*) FROM write_probe")) > 0:
                return
        except RuntimeError:
            pass  # the table does not exist yet
        time.sleep(0.1)
    raise AssertionError(f"the probe wrote nothing into write_probe within {timeout} s")


def test_an_outage_shows_as_the_longest_gap_with_no_lost_commit(server_factory, tmp_path):
    """The drill's way: the probe ends two seconds after the test says the database is back."""
    server = server_factory(PostgresServer())
    recovered = tmp_path / "recovered"
    args = {**server.conninfo, "table": "write_probe", "duration": 60, "interval": 0.05, "verify_timeout": 20}
    args |= {"stop_file": str(recovered), "stop_delay": 2}
    probe = BackgroundModule("sre.platform.pg_write_probe", args)
    probe.start()
    wait_for_rows(server)
    time.sleep(1)
    down_at = time.time()
    server.shutdown("fast")
    time.sleep(OUTAGE_SECONDS)
    server.start()
    up_at = time.time()
    recovered.touch()
    result = probe.outcome(60)
    assert not result.get("failed"), result.get("msg")
    assert result["stopped_by"] == "stop_file"
    assert result["window"]["end_epoch"] == pytest.approx(up_at + 2, abs=0.2)
    outage = up_at - down_at
    gap = result["longest_gap"]
    print(f"outage caused {outage:.2f} s; longest gap reported {gap['seconds']:.2f} s; {result['committed']} committed")
    assert gap["seconds"] == pytest.approx(outage, abs=1), f"outage {outage:.2f} s, reported gap {gap}"
    assert down_at - 1 < gap["start_epoch"] <= down_at + 0.5
    assert result["lost"] == 0 and result["lost_ids"] == []
    assert result["phantom_ids"] == []
    assert result["reconnects"] >= 1 and result["connect_failures"] > 0
    assert result["attempted"] == result["committed"] + result["failed_transactions"] + result["uncertain"]
    stored = server.psql("SELECT count(*) FROM write_probe")
    assert int(stored) == result["committed"] + len(result["uncertain_committed_ids"])
    writing = result["window"]["seconds"] - outage
    assert result["committed"] > (writing - 1) / 0.05 * 0.5, "the probe kept its pace outside the outage"


def test_a_commit_rejected_by_the_server_is_failed_not_committed(probe_db, postgres_server):
    postgres_server.psql(REJECT_AT_COMMIT.format(table="guarded"), probe_db["login_db"])
    args = {**probe_db, "table": "guarded", "duration": 1, "interval": 0.1}
    result = run_module("sre.platform.pg_write_probe", args)
    assert not result.get("failed"), result.get("msg")
    assert result["failed_ids"] == [3]
    assert result["uncertain"] == 0
    assert result["committed"] == result["attempted"] - 1 >= 5
    assert result["lost"] == 0 and result["phantom_ids"] == []
    assert any("id 3 rejected at commit" in message for message in result["errors"])
    ids = postgres_server.psql("SELECT id FROM guarded", probe_db["login_db"])
    assert "3" not in ids.split() and len(ids.split()) == result["committed"]


def test_check_mode_writes_nothing(probe_db, postgres_server):
    result = run_module("sre.platform.pg_write_probe", {**probe_db, "duration": 2, "interval": 0.5}, check=True)
    assert not result.get("failed"), result.get("msg")
    assert result["table_exists"] is False
    assert "would commit up to 4 rows into sre_write_probe" in result["msg"]
    tables = postgres_server.psql(
        "SELECT count(*) FROM pg_tables WHERE tablename = 'sre_write_probe'", probe_db["login_db"]
    )
    assert tables == "0"


def test_an_unreachable_database_is_a_clear_failure_without_the_password(postgres_server):
    args = {**postgres_server.conninfo, "login_port": free_port(), "duration": 1}
    result = run_module("sre.platform.pg_write_probe", args)
    assert result["failed"] is True
    assert "nothing accepts connections" in result["msg"]
    assert postgres_server.password not in json.dumps(result)


def test_invalid_options_are_all_reported():
    params = {"duration": 1, "interval": 2, "io_timeout": 0, "verify_timeout": 5, "table": "a.b.c", "stop_delay": -1}
    message = "; ".join(validation_errors(params))
    assert "interval (2 s) cannot exceed duration" in message
    assert "io_timeout must be positive" in message
    assert "table must be 'name' or 'schema.name'" in message
    assert "stop_delay must not be negative" in message
