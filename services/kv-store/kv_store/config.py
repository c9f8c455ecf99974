"""kv-store settings, all from the environment."""

from __future__ import annotations

import math
from dataclasses import dataclass

from service_common.env import ConfigError, env_float, env_int, env_str, workers_from_env

# Bounds that keep one request cheap whatever the store holds.
LIST_DEFAULT_PAGE = 100
LIST_MAX_PAGE = 1000
RANDOM_DEFAULT_PAIRS = 10
RANDOM_MAX_PAIRS = 1000
# Keys count UTF-8 bytes, as Redis stores them: /delete takes the key in its URL, where
# each byte may take three characters (%XX), and a request line longer than
# HEAD_LIMITS.request_line (service_common.http_errors: 4,094 bytes) is refused. 1,024 bytes make 3,072.
MAX_KEY_BYTES = 1024
MAX_VALUE_LENGTH = 64 * 1024
# The largest /write body a valid pair can make: a JSON string spells one character in at
# most 12 bytes (outside the BMP, two \uXXXX escapes), plus room for the braces, the field
# names and some whitespace. A larger body gets 413 before it is read (about 780 KiB).
_JSON_BYTES_PER_CHARACTER = 12
MAX_BODY_BYTES = _JSON_BYTES_PER_CHARACTER * (MAX_KEY_BYTES + MAX_VALUE_LENGTH) + 1024

# Memory of a pod besides request bodies, measured idle and rounded up: the gunicorn master
# (about 31 MiB), and each worker (about 44 MiB) with room for its connections' small requests.
_MiB = 1024 * 1024
MASTER_MEMORY_BYTES = 32 * _MiB
WORKER_MEMORY_BYTES = 64 * _MiB
# Memory a body takes while its request is served: the bytes read, the JSON decoded from them
# and the command sent to Redis. Measured: a maximal /write allocates about 1.4 times its body.
BODY_MEMORY_FACTOR = 2


def body_budget_from_env() -> int | None:
    """Bytes of request bodies one worker may hold at once; None (no bound) without MEMORY_LIMIT_BYTES.

    The pod's memory limit (MEMORY_LIMIT_BYTES, from the downward API) less the master's and the
    workers' own memory, shared by the WEB_CONCURRENCY workers, each body byte counted
    BODY_MEMORY_FACTOR times. A limit that cannot hold one maximal body per worker is refused.
    """
    limit = env_int("MEMORY_LIMIT_BYTES", 0, 0)
    if not limit:
        return None
    workers = workers_from_env()
    budget = (limit - MASTER_MEMORY_BYTES - workers * WORKER_MEMORY_BYTES) // workers // BODY_MEMORY_FACTOR
    if budget < MAX_BODY_BYTES:
        needed = MASTER_MEMORY_BYTES + workers * (WORKER_MEMORY_BYTES + BODY_MEMORY_FACTOR * MAX_BODY_BYTES)
        raise ConfigError(
            f"MEMORY_LIMIT_BYTES={limit} cannot hold WEB_CONCURRENCY={workers} workers with one request body of"
            f" {MAX_BODY_BYTES} bytes each: that needs at least {math.ceil(needed / _MiB)} MiB;"
            " raise the memory limit or lower WEB_CONCURRENCY"
        )
    return budget


@dataclass(frozen=True)
class RedisSettings:
    url: str
    password: str | None
    sentinels: tuple[tuple[str, int], ...]
    sentinel_master: str
    sentinel_password: str | None
    socket_timeout: float
    connect_timeout: float
    max_connections: int
    pool_timeout: float
    retries: int


def _parse_sentinels(raw: str) -> tuple[tuple[str, int], ...]:
    """'host-a:26379,host-b:26379' -> (('host-a', 26379), ('host-b', 26379))."""
    sentinels = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"REDIS_SENTINELS entry {item!r} is not host:port")
        sentinels.append((host, int(port)))
    return tuple(sentinels)


def redis_settings_from_env() -> RedisSettings:
    return RedisSettings(
        url=env_str("REDIS_URL", "redis://localhost:6379/0"),
        password=env_str("REDIS_PASSWORD") or None,
        sentinels=_parse_sentinels(env_str("REDIS_SENTINELS")),
        sentinel_master=env_str("REDIS_SENTINEL_MASTER", "mymaster"),
        sentinel_password=env_str("REDIS_SENTINEL_PASSWORD") or None,
        socket_timeout=env_float("REDIS_SOCKET_TIMEOUT", 0.5, 0.01, 30.0),
        connect_timeout=env_float("REDIS_CONNECT_TIMEOUT", 0.5, 0.01, 30.0),
        max_connections=env_int("REDIS_MAX_CONNECTIONS", 64, 1, 10_000),
        pool_timeout=env_float("REDIS_POOL_TIMEOUT", 1.0, 0.0, 30.0),
        retries=env_int("REDIS_RETRIES", 1, 0, 5),
    )
