"""Flask side: request id, access log, metrics, JSON errors and probes.

Metrics use prometheus_client. Under gunicorn with several workers,
PROMETHEUS_MULTIPROC_DIR makes every worker write its series to files that
/metrics adds up, so a scrape sees the whole pod whichever worker answers.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from flask import Blueprint, Flask, Response, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from werkzeug.exceptions import HTTPException

from service_common.env import Identity
from service_common.lifecycle import Readiness
from service_common.observability import (
    LATENCY_BUCKETS,
    REQUEST_ID_HEADER,
    UNMATCHED_ROUTE,
    log_request,
    method_label,
    request_id_from,
    request_id_var,
    status_class,
)

IDENTITY_LABELS = ("app_version", "pod_ip", "node_ip")
EXTENSION = "service_common"
logger = logging.getLogger(__name__)

ReadyCheck = Callable[[], bool]


def _multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class HttpMetrics:
    """The HTTP series every service exposes; identity labels are filled in once."""

    def __init__(self, identity: Identity) -> None:
        # In multiprocess mode the series live in files, not in a registry.
        self.registry = None if _multiprocess_dir() else CollectorRegistry()
        self._identity = (identity.app_version, identity.pod_ip, identity.node_ip)
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method.",
            [*IDENTITY_LABELS, "route", "method"],
            registry=self.registry,
            buckets=LATENCY_BUCKETS,
        )
        self.responses = self.counter(
            "http_responses_total",
            "HTTP responses sent, by route template, method and status class.",
            ("route", "method", "status_class"),
        )

    def counter(self, name: str, doc: str, labelnames: tuple[str, ...] = ()) -> Callable[..., Counter]:
        """A counter with the identity labels; returns ``labels(*values)`` for the other labels."""
        metric = Counter(name, doc, [*IDENTITY_LABELS, *labelnames], registry=self.registry)
        return lambda *values: metric.labels(*self._identity, *values)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.duration.labels(*self._identity, route, method).observe(seconds)
        self.responses(route, method, status_class(status)).inc()

    def render(self) -> bytes:
        registry = self.registry
        if registry is None:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
        return generate_latest(registry)


def _start_request() -> None:
    g.request_started = time.perf_counter()
    g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
    g.request_id_token = request_id_var.set(g.request_id)


def _end_request(exc: BaseException | None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        request_id_var.reset(token)


def _json_http_error(error: HTTPException):
    return jsonify(error=error.description, request_id=g.get("request_id")), error.code


def _json_server_error(error: Exception):
    # The traceback goes to the log, never to the client.
    logger.error("unhandled error: %s", error, exc_info=error)
    return jsonify(error="internal server error", request_id=g.get("request_id")), 500


def probe_blueprint(readiness: Readiness, metrics: HttpMetrics, ready_check: ReadyCheck | None) -> Blueprint:
    """/healthz (liveness), /readyz (readiness) and /metrics (Prometheus text)."""
    probes = Blueprint("probes", __name__)

    @probes.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @probes.get("/readyz")
    def readyz():
        if readiness.stopping:
            return jsonify(status="stopping"), 503
        if ready_check is not None and not ready_check():
            return jsonify(status="unavailable"), 503
        return jsonify(status="ready")

    @probes.get("/metrics")
    def prometheus_metrics():
        return Response(metrics.render(), content_type=CONTENT_TYPE_LATEST)

    return probes


def install_observability(
    app: Flask, identity: Identity, access_log: bool, ready_check: ReadyCheck | None = None
) -> HttpMetrics:
    """Request ids, access log, metrics, JSON errors and probes for a Flask application.

    The readiness state is kept in ``app.extensions["service_common"]`` for the server hooks.
    """
    readiness = Readiness()
    metrics = HttpMetrics(identity)
    app.extensions[EXTENSION] = {"readiness": readiness, "metrics": metrics}

    def finish(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = g.request_id
        elapsed = time.perf_counter() - g.request_started
        route = request.url_rule.rule if request.url_rule else UNMATCHED_ROUTE
        metrics.observe(route, method_label(request.method), response.status_code, elapsed)
        if access_log or response.status_code >= 500:
            log_request(request.method, route, request.path, response.status_code, elapsed)
        return response

    app.before_request(_start_request)
    app.after_request(finish)
    app.teardown_request(_end_request)
    app.register_error_handler(HTTPException, _json_http_error)
    app.register_error_handler(Exception, _json_server_error)
    app.register_blueprint(probe_blueprint(readiness, metrics, ready_check))
    return metrics


def readiness_of(app: Flask) -> Readiness | None:
    """The readiness state ``install_observability`` attached to ``app``, if any."""
    return app.extensions.get(EXTENSION, {}).get("readiness")
