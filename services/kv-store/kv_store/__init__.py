"""kv-store: a small key-value API on Redis (Flask, served by gunicorn)."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from service_common.env import identity_from_env, server_settings_from_env
from service_common.wsgi import install_observability

from kv_store.body_budget import install_body_budget
from kv_store.config import MAX_BODY_BYTES, RedisSettings, body_budget_from_env, redis_settings_from_env
from kv_store.routes import api, count_operation
from kv_store.store import connect

# The one place the version is written: the image reads it,
# and metrics label it unless APP_VERSION (the image tag) says otherwise.
__version__ = "1.0.0"
SERVICE = "kv-store"

logger = logging.getLogger(__name__)


def _redis_unavailable(error: RedisError):
    """Redis down, stuck or refusing us: a clear 503 the caller may retry, never a traceback."""
    logger.warning("redis unavailable: %s: %s", type(error).__name__, error)
    count_operation("error")
    return jsonify(error="redis unavailable", detail=type(error).__name__), 503


def _redis_failed(error: RedisError):
    logger.error("redis command failed: %s", error)
    count_operation("error")
    return jsonify(error="redis command failed", detail=str(error)), 502


def create_app(redis_settings: RedisSettings | None = None, access_log: bool | None = None) -> Flask:
    """Build the application; settings come from the environment unless given."""
    app = Flask(__name__)
    app.json.sort_keys = False
    # werkzeug refuses a larger Content-Length at once, and stops a chunked body there.
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    # Refuses, before the workers serve, a memory limit that cannot hold their bodies.
    body_budget = body_budget_from_env()
    if body_budget is not None:
        install_body_budget(app, body_budget)
    client = connect(redis_settings or redis_settings_from_env())
    app.extensions["redis"] = client

    if access_log is None:
        access_log = server_settings_from_env().access_log
    metrics = install_observability(app, identity_from_env(SERVICE, __version__), access_log)
    app.extensions["kv_operations"] = metrics.counter(
        "kv_operations_total", "Key-value operations, by operation and result.", ("operation", "result")
    )
    app.register_error_handler(RedisConnectionError, _redis_unavailable)
    app.register_error_handler(RedisTimeoutError, _redis_unavailable)
    app.register_error_handler(RedisError, _redis_failed)
    app.register_blueprint(api)
    return app
