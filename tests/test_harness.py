"""The harness itself: each server really starts, answers and stops by PID."""

from __future__ import annotations

import json
import os
import socket
import urllib.request

import pytest

from tests.harness.ansible import ansible_doc
from tests.harness.scheduling import work_unit
from tests.harness.servers import (
    MissingBinary,
    PostgresServer,
    PrometheusServer,
    RedisServer,
    find_binary,
)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_missing_binary_names_the_package():
    with pytest.raises(MissingBinary, match="apt-get install no-such-package"):
        find_binary("no-such-binary-xyz", "no-such-package")


def test_postgres_answers_sql(postgres_server: PostgresServer):
    assert postgres_server.psql("SELECT 40 + 2") == "42"
    assert postgres_server.psql("SHOW listen_addresses") == "127.0.0.1"


def test_redis_answers_ping_and_stops_by_pid(server_factory):
    server = server_factory(RedisServer())
    with socket.create_connection(("127.0.0.1", server.port), timeout=2) as sock:
        sock.sendall(b"PING\r\n")
        assert sock.recv(64) == b"+PONG\r\n"
    pid = server.pid
    server.stop()
    assert not _pid_alive(pid)


def test_prometheus_evaluates_promql(server_factory):
    server = server_factory(PrometheusServer())
    url = f"{server.url}/api/v1/query?query=vector(7)"
    with urllib.request.urlopen(url, timeout=5) as response:
        body = json.load(response)
    assert body["status"] == "success"
    assert body["data"]["result"][0]["value"][1] == "7"


def test_alertmanager_is_ready(alertmanager_server):
    with urllib.request.urlopen(f"{alertmanager_server.url}/api/v2/status", timeout=5) as response:
        status = json.load(response)
    assert status["cluster"]["status"] in {"disabled", "ready", "settling"}


def test_postgres_restarts_on_the_same_port_with_its_data(server_factory):
    server = server_factory(PostgresServer())
    server.psql("CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")
    pid, port = server.pid, server.port
    server.shutdown("fast")
    assert not _pid_alive(pid)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    server.start()
    assert server.port == port and server.pid != pid
    assert server.psql("SELECT n FROM kept") == "7"


def test_xdist_work_units_keep_modules_and_shared_suites_whole():
    assert work_unit("tests/test_release.py::test_rollback") == "tests/test_release.py"
    assert work_unit("tests/test_release.py::TestSlots::test_flip[blue]") == "tests/test_release.py"
    assert work_unit("tests/render/test_gitops.py::test_waves") == work_unit("tests/render/test_apps.py::test_hpa")
    assert work_unit("services/kv-store/tests/test_api.py::test_list") != work_unit("tests/test_release.py::test_x")


def test_ansible_doc_reads_a_plugins_documentation_and_fails_on_an_unknown_one():
    doc = ansible_doc("sre.platform.pg_seed")
    assert {"rows", "seed", "jobs", "state"} <= set(doc["doc"]["options"])
    assert "sre.platform.pg_seed:" in doc["examples"]
    with pytest.raises(AssertionError):
        ansible_doc("sre.platform.no_such_module")
