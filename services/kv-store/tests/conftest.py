"""kv-store runs under gunicorn against a redis-server of its own."""

from __future__ import annotations

import pytest

from tests.harness.servers import RedisServer


@pytest.fixture(scope="module")
def redis():
    server = RedisServer()
    try:
        yield server.start()
    finally:
        server.cleanup()


@pytest.fixture(scope="module")
def kv(module_service, redis):
    return module_service("kv-store", REDIS_URL=redis.url)
