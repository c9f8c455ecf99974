"""The Redis client: a bounded pool, short timeouts, and Sentinel when configured.

Every call either answers or fails within about
(retries + 1) x (connect timeout + socket timeout), so a dead or stuck Redis
turns into a quick 503 instead of piling up requests. Broken connections are
replaced on the next call: the service recovers by itself when Redis returns.
"""

from __future__ import annotations

from redis import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool

from kv_store.config import RedisSettings


class BlockingSentinelConnectionPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's pool (master discovery, failover), with the blocking pool's wait for a free connection.

    redis-py's SentinelConnectionPool is a plain ConnectionPool: at max_connections it fails
    at once with MaxConnectionsError, so a short Redis stall turned into a burst of 503s.
    Sentinel's methods come first; getting, making and releasing connections are the
    blocking pool's, which still asks ``owns_connection`` (Sentinel's: is it the current master?).
    """


def _client_options(settings: RedisSettings) -> dict:
    return {
        "socket_timeout": settings.socket_timeout,
        "socket_connect_timeout": settings.connect_timeout,
        "retry": Retry(NoBackoff(), settings.retries),
        "decode_responses": True,
        # Other clients may store bytes that are not UTF-8: they decode to lone surrogates, which
        # encode back to the same bytes (SCAN then MGET finds the key), instead of failing the call.
        "encoding_errors": "surrogateescape",
    }


def connect(settings: RedisSettings) -> Redis:
    """A client for the Redis master, found through Sentinel when REDIS_SENTINELS is set."""
    if settings.sentinels:
        sentinel = Sentinel(
            list(settings.sentinels),
            sentinel_kwargs={"password": settings.sentinel_password, "socket_timeout": settings.connect_timeout},
            password=settings.password,
            **_client_options(settings),
        )
        return sentinel.master_for(
            settings.sentinel_master,
            connection_pool_class=BlockingSentinelConnectionPool,
            max_connections=settings.max_connections,
            timeout=settings.pool_timeout,
        )
    pool = BlockingConnectionPool.from_url(
        settings.url,
        max_connections=settings.max_connections,
        timeout=settings.pool_timeout,
        **({"password": settings.password} if settings.password else {}),
        **_client_options(settings),
    )
    return Redis(connection_pool=pool)
