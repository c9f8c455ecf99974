"""kv-store's Redis settings against real servers: a password, and Sentinel (HA)."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from redis import Redis

from tests.harness.http import get_json, http
from tests.harness.servers import LOOPBACK, ManagedServer, RedisServer, _workdir, free_port, wait_for_port

MASTER = "mymaster"


class SentinelServer(ManagedServer):
    """redis-server in Sentinel mode watching one master (it rewrites its config: a file of its own)."""

    def __init__(self, master: RedisServer) -> None:
        super().__init__("sentinel", free_port(), _workdir("sentinel"))
        self.master = master

    def start(self, timeout: float = 15.0) -> SentinelServer:
        config = self.workdir / "sentinel.conf"
        config.write_text(
            f"port {self.port}\nbind {LOOPBACK}\ndir {self.workdir}\n"
            f"sentinel monitor {MASTER} {LOOPBACK} {self.master.port} 1\n"
            f"sentinel down-after-milliseconds {MASTER} 5000\n"
        )
        self.spawn([self.master.binary, str(config), "--sentinel"])
        wait_for_port(self.port, timeout, self.proc)
        return self


def test_password_from_the_environment(start_service, server_factory):
    redis = server_factory(RedisServer(password="s3cret"))
    url = f"redis://{LOOPBACK}:{redis.port}/0"
    kv = start_service("kv-store", REDIS_URL=url, REDIS_PASSWORD="s3cret")
    assert get_json(f"{kv.url}/") == (200, {"key": "test_key", "value": "Hello Redis!"})


def test_wrong_password_is_a_clear_503(start_service, server_factory):
    redis = server_factory(RedisServer(password="s3cret"))
    kv = start_service("kv-store", REDIS_URL=f"redis://{LOOPBACK}:{redis.port}/0", REDIS_PASSWORD="wrong")
    status, body = get_json(f"{kv.url}/")
    assert (status, body["error"]) == (503, "redis unavailable")
    assert get_json(f"{kv.url}/readyz") == (200, {"status": "ready"}), "a shared dependency never makes it unready"


def _kv_through_sentinel(start_service, sentinel, **env):
    """kv-store finding its master through ``sentinel``; REDIS_URL stays at its default, where nothing listens."""
    return start_service("kv-store", REDIS_SENTINELS=f"{LOOPBACK}:{sentinel.port}", REDIS_SENTINEL_MASTER=MASTER, **env)


def test_master_found_through_sentinel(start_service, server_factory):
    master = server_factory(RedisServer())
    kv = _kv_through_sentinel(start_service, server_factory(SentinelServer(master)))
    assert get_json(f"{kv.url}/") == (200, {"key": "test_key", "value": "Hello Redis!"})
    assert get_json(f"{kv.url}/readyz") == (200, {"status": "ready"})


def test_sentinel_mode_waits_for_a_free_connection(start_service, server_factory):
    # One connection per worker: while Redis stalls, the other requests must wait for it
    # (up to REDIS_POOL_TIMEOUT), as in plain REDIS_URL mode, not fail at once with 503.
    master = server_factory(RedisServer())
    kv = _kv_through_sentinel(
        start_service,
        server_factory(SentinelServer(master)),
        WEB_CONCURRENCY="1",
        REDIS_MAX_CONNECTIONS="1",
        REDIS_POOL_TIMEOUT="5",
        REDIS_SOCKET_TIMEOUT="3",
    )
    assert get_json(f"{kv.url}/")[0] == 200
    clients = ThreadPoolExecutor(4)
    os.kill(master.pid, signal.SIGSTOP)
    try:
        requests = [clients.submit(http, "GET", f"{kv.url}/", timeout=15) for _ in range(4)]
        time.sleep(0.5)  # all four in flight: one on the stalled connection, three waiting for it
    finally:
        os.kill(master.pid, signal.SIGCONT)
    statuses = [request.result()[0] for request in requests]
    clients.shutdown()
    assert statuses == [200] * 4


def _eventually(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.2)


def _write(kv, key: str) -> int:
    return http("POST", f"{kv.url}/write", json.dumps({"key": key, "value": "v"}).encode())[0]


@pytest.mark.slow
def test_sentinel_failover_moves_writes_to_the_new_master(start_service, server_factory):
    # The pool that waits for a free connection must still follow Sentinel to a new master.
    master, replica = server_factory(RedisServer()), server_factory(RedisServer())
    Redis(host=LOOPBACK, port=replica.port).replicaof(LOOPBACK, master.port)
    replica_info = Redis(host=LOOPBACK, port=replica.port).info
    _eventually(lambda: replica_info("replication")["master_link_status"] == "up", "replica in sync")
    sentinel = server_factory(SentinelServer(master))
    watcher = Redis(host=LOOPBACK, port=sentinel.port, decode_responses=True)
    _eventually(lambda: watcher.sentinel_slaves(MASTER), "Sentinel knows the replica")
    kv = _kv_through_sentinel(start_service, sentinel)
    assert _write(kv, "before") == 201

    watcher.execute_command("SENTINEL", "FAILOVER", MASTER)
    new_master = (LOOPBACK, replica.port)
    _eventually(lambda: watcher.sentinel_get_master_addr_by_name(MASTER) == new_master, "failover")
    # Gone, as a failed master would be (left running, it takes writes until Sentinel demotes it).
    master.stop()
    _eventually(lambda: _write(kv, "after") == 201, "kv-store writes again")
    assert Redis(host=LOOPBACK, port=replica.port).get("after") == b"v"
