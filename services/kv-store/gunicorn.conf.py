"""gunicorn settings for kv-store: ``gunicorn -c gunicorn.conf.py 'kv_store:create_app()'``.

Only standard-library code (and gunicorn's own) is imported here: this file runs in the master,
before gevent patches the standard library and before prometheus_client must
see PROMETHEUS_MULTIPROC_DIR, so the application is imported by each worker.

gevent workers: a request mostly waits on Redis, and greenlets wait cheaply
(measured here: 2 gevent workers ~3,800 rps, 2 sync ~2,500). Metrics from all
workers are added up through PROMETHEUS_MULTIPROC_DIR. The worker class answers
the requests gunicorn refuses (malformed, over the head limits) with JSON errors.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import tempfile

from service_common.env import env_int, env_str, server_settings_from_env, workers_from_env
from service_common.http_errors import HEAD_LIMITS
from service_common.lifecycle import graceful
from service_common.observability import configure_logging

_settings = server_settings_from_env()

# Read by prometheus_client when the workers import the application.
_metrics_dir_given = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="kv-store-metrics-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir

bind = f"{_settings.host}:{_settings.port}"
workers = workers_from_env()
# gunicorn's gevent worker, answering the requests gunicorn refuses with JSON errors.
worker_class = "service_common.gunicorn_worker.JsonErrorGeventWorker"
# Mostly small requests; the bodies held at once are bounded by memory (kv_store/body_budget.py).
worker_connections = env_int("GUNICORN_WORKER_CONNECTIONS", 1000, 1, 100_000)
keepalive = env_int("GUNICORN_KEEPALIVE", 5, 0, 300)
timeout = env_int("GUNICORN_TIMEOUT", 30, 1, 3600)
# The request head limits every service shares (http_errors.HEAD_LIMITS): over them, 414 or 431.
limit_request_line = HEAD_LIMITS.request_line
limit_request_fields = HEAD_LIMITS.fields
limit_request_field_size = HEAD_LIMITS.field_size
# The unready delay comes out of the same budget as the requests in flight.
graceful_timeout = int(_settings.shutdown_delay + _settings.graceful_timeout + 0.999)
# Heartbeat files: /dev/shm is writable and in memory even with a read-only root filesystem.
worker_tmp_dir = env_str("GUNICORN_WORKER_TMP_DIR", "/dev/shm")  # noqa: S108 - tmpfs, per container
accesslog = None  # the application writes its own access log, as JSON with the request id
loglevel = _settings.log_level.lower()
proc_name = "kv-store"
# gunicorn's control socket would live in $HOME, which is read-only in the container.
control_socket_disable = True


def on_starting(server) -> None:
    configure_logging("kv-store", _settings.log_level)
    os.makedirs(_metrics_dir, exist_ok=True)
    # Files left by a previous run would be added to this run's counters.
    for stale in glob.glob(os.path.join(_metrics_dir, "*.db")):
        os.remove(stale)


def post_worker_init(worker) -> None:
    import gevent
    from service_common.wsgi import readiness_of

    readiness = readiness_of(worker.wsgi)
    if readiness is None:
        return  # an application without probes (the benchmark baseline): gunicorn's own SIGTERM handling
    handler = graceful(worker.handle_exit, readiness, _settings.shutdown_delay, later=gevent.spawn_later)
    signal.signal(signal.SIGTERM, handler)


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    if not _metrics_dir_given:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
