"""Redis down or stuck: quick 503 with a JSON error, then recovery without a restart."""

from __future__ import annotations

import json
import os
import signal
import time

from tests.harness.http import get_json, http
from tests.harness.servers import RedisServer

# REDIS_SOCKET_TIMEOUT 0.5 s, one retry: a stuck Redis answers 503 in about 1 s.
BOUND_SECONDS = 2.5


def _timed_get(url: str) -> tuple[int, dict, float]:
    start = time.monotonic()
    status, _, raw = http("GET", url, timeout=10)
    return status, json.loads(raw), time.monotonic() - start


def _wait_until_status(url: str, expected: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if http("GET", url, timeout=5)[0] == expected:
            return
        time.sleep(0.1)
    raise AssertionError(f"{url} never answered {expected}")


def test_redis_stopped_then_back(start_service, server_factory):
    redis = server_factory(RedisServer())
    kv = start_service("kv-store", REDIS_URL=redis.url)
    assert get_json(f"{kv.url}/")[0] == 200

    redis.stop()
    status, body, elapsed = _timed_get(f"{kv.url}/")
    assert (status, body["error"]) == (503, "redis unavailable")
    assert elapsed < BOUND_SECONDS
    assert "Traceback" not in json.dumps(body)
    # Still ready: every pod shares Redis, and a Service with no ready pod would refuse connections
    # instead of passing on this 503.
    assert get_json(f"{kv.url}/readyz") == (200, {"status": "ready"})
    assert get_json(f"{kv.url}/healthz")[0] == 200  # alive: no restart needed

    revived = RedisServer()
    revived.port = redis.port  # the same address the service keeps using
    server_factory(revived)
    _wait_until_status(f"{kv.url}/", 200)
    assert get_json(f"{kv.url}/") == (200, {"key": "test_key", "value": "Hello Redis!"})


def test_redis_stuck_answers_503_within_the_timeout(start_service, server_factory):
    redis = server_factory(RedisServer())
    kv = start_service("kv-store", REDIS_URL=redis.url)
    assert get_json(f"{kv.url}/")[0] == 200

    os.kill(redis.pid, signal.SIGSTOP)
    try:
        status, body, elapsed = _timed_get(f"{kv.url}/")
        assert (status, body["error"], body["detail"]) == (503, "redis unavailable", "TimeoutError")
        assert elapsed < BOUND_SECONDS
    finally:
        os.kill(redis.pid, signal.SIGCONT)
    _wait_until_status(f"{kv.url}/", 200)
