"""kv-store's Redis settings against real servers: a password, and Sentinel (HA)."""

from __future__ import annotations

from tests.harness.http import get_json
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
    assert get_json(f"{kv.url}/readyz")[0] == 503


def test_master_found_through_sentinel(start_service, server_factory):
    # REDIS_URL is left at its default, where nothing listens: the address must come from Sentinel.
    master = server_factory(RedisServer())
    sentinel = server_factory(SentinelServer(master))
    kv = start_service(
        "kv-store",
        REDIS_SENTINELS=f"{LOOPBACK}:{sentinel.port}",
        REDIS_SENTINEL_MASTER=MASTER,
    )
    assert get_json(f"{kv.url}/") == (200, {"key": "test_key", "value": "Hello Redis!"})
    assert get_json(f"{kv.url}/readyz") == (200, {"status": "ready"})
