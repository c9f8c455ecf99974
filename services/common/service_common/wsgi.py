"""Flask side: request id, access log, metrics, JSON errors and probes.

Metrics use prometheus_client. Under gunicorn with several workers,
PROMETHEUS_MULTIPROC_DIR makes every worker write its series to files that
/metrics adds up, so a scrape sees the whole pod whichever worker answers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

from flask import Blueprint, Flask, Response, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from service_common.env import Identity
from service_common.http_errors import SERVER_ERROR, error_body
from service_common.lifecycle import Readiness
from service_common.observability import (
    LATENCY_BUCKETS,
    REQUEST_ID_HEADER,
    UNMATCHED_ROUTE,
    log_request,
    log_unhandled,
    method_label,
    request_id_from,
    request_id_var,
    status_class,
)

IDENTITY_LABELS = ("app_version", "pod_ip", "node_ip")
_REQUEST_ID_ENVIRON_KEY = "HTTP_" + REQUEST_ID_HEADER.upper().replace("-", "_")
EXTENSION = "service_common"


def _multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class HttpMetrics:
    """The HTTP series every service exposes; identity labels are filled in once.

    ``labels()`` takes a lock and checks every value on each call; the hot
    path looks each labelled series up once and keeps it.
    """

    def __init__(self, identity: Identity) -> None:
        # In multiprocess mode the series live in files, not in a registry.
        self.registry = None if _multiprocess_dir() else CollectorRegistry()
        self._identity = (identity.app_version, identity.pod_ip, identity.node_ip)
        self.duration = self._labelled(
            Histogram(
                "http_request_duration_seconds",
                "Time to answer an HTTP request, by route template and method.",
                [*IDENTITY_LABELS, "route", "method"],
                registry=self.registry,
                buckets=LATENCY_BUCKETS,
            )
        )
        self.responses = self.counter(
            "http_responses_total",
            "HTTP responses sent, by route template, method and status class.",
            ("route", "method", "status_class"),
        )

    def _labelled(self, metric: Counter | Histogram) -> Callable[..., Counter | Histogram]:
        """``series(*values)``: the child of ``metric`` for the identity and these label values, kept once made."""
        series = {}

        def child(*values: str) -> Counter | Histogram:
            found = series.get(values)
            if found is None:
                found = series[values] = metric.labels(*self._identity, *values)
            return found

        return child

    def counter(self, name: str, doc: str, labelnames: tuple[str, ...] = ()) -> Callable[..., Counter]:
        """A counter with the identity labels; returns ``series(*values)`` for the other labels."""
        return self._labelled(Counter(name, doc, [*IDENTITY_LABELS, *labelnames], registry=self.registry))

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.duration(route, method).observe(seconds)
        self.responses(route, method, status_class(status)).inc()

    def render(self) -> bytes:
        registry = self.registry
        if registry is None:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
        return generate_latest(registry)


class ObservabilityMiddleware:
    """WSGI middleware around the Flask application: request id, metrics, access log.

    One wrapper costs less than three Flask hooks (before, after, teardown),
    each reached through context-local proxies. Flask starts the response while
    its request context is still active, so the request it matched (werkzeug
    keeps it in the environ until then) gives the route template.
    """

    def __init__(self, wsgi_app: Callable, metrics: HttpMetrics, access_log: bool) -> None:
        self.wsgi_app = wsgi_app
        self.metrics = metrics
        self.access_log = access_log

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request_id = request_id_from(environ.get(_REQUEST_ID_ENVIRON_KEY))
        token = request_id_var.set(request_id)
        # What is recorded if the application raises instead of answering.
        answered = {"status": 500, "route": UNMATCHED_ROUTE, "path": environ.get("PATH_INFO", "")}
        started = time.perf_counter()

        def start_with_id(status_line: str, headers: list, exc_info=None):
            answered["status"] = int(status_line[:3])
            request = environ.get("werkzeug.request")
            if request is not None:
                answered["path"] = request.path
                if request.url_rule is not None:
                    answered["route"] = request.url_rule.rule
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status_line, headers, exc_info)

        try:
            return self.wsgi_app(environ, start_with_id)
        finally:
            self._record(environ["REQUEST_METHOD"], answered, time.perf_counter() - started)
            request_id_var.reset(token)

    def _record(self, method: str, answered: dict, elapsed: float) -> None:
        status, route = answered["status"], answered["route"]
        self.metrics.observe(route, method_label(method), status, elapsed)
        if self.access_log or status >= 500:
            log_request(method, route, answered["path"], status, elapsed)


def request_body() -> bytes:
    """The request body, or 413 when it is longer than the application's MAX_CONTENT_LENGTH.

    werkzeug refuses a longer Content-Length before reading, but a chunked body it stops
    reading at the limit and returns as if it had ended there. So when the limit is reached,
    one more byte from the server's own stream tells whether the body went on.
    """
    body = request.get_data()
    limit = request.max_content_length
    if limit is not None and len(body) >= limit and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()
    return body


def _json_http_error(error: HTTPException):
    return jsonify(error_body(error.description, request_id_var.get())), error.code


def _json_server_error(error: Exception):
    log_unhandled(error)
    return jsonify(error_body(SERVER_ERROR.detail, request_id_var.get())), SERVER_ERROR.status


def probe_blueprint(readiness: Readiness, metrics: HttpMetrics) -> Blueprint:
    """/healthz (liveness), /readyz (readiness) and /metrics (Prometheus text).

    Readiness is this process's alone: a dependency every pod shares (Redis) would make all of them unready at
    once, and callers would get connection errors from a Service without endpoints instead of a 503 JSON error.
    """
    probes = Blueprint("probes", __name__)

    @probes.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @probes.get("/readyz")
    def readyz():
        if readiness.stopping:
            return jsonify(status="stopping"), 503
        return jsonify(status="ready")

    @probes.get("/metrics")
    def prometheus_metrics():
        return Response(metrics.render(), content_type=CONTENT_TYPE_LATEST)

    return probes


def install_observability(app: Flask, identity: Identity, access_log: bool) -> HttpMetrics:
    """Request ids, access log, metrics, JSON errors and probes for a Flask application.

    The readiness state is kept in ``app.extensions["service_common"]`` for the server hooks.
    """
    readiness = Readiness()
    metrics = HttpMetrics(identity)
    app.extensions[EXTENSION] = {"readiness": readiness, "metrics": metrics}
    app.wsgi_app = ObservabilityMiddleware(app.wsgi_app, metrics, access_log)
    app.register_error_handler(HTTPException, _json_http_error)
    app.register_error_handler(Exception, _json_server_error)
    app.register_blueprint(probe_blueprint(readiness, metrics))
    return metrics


def readiness_of(app: Flask) -> Readiness | None:
    """The readiness state ``install_observability`` attached to ``app``, if any."""
    return app.extensions.get(EXTENSION, {}).get("readiness")


def metrics_of(app: Flask) -> HttpMetrics | None:
    """The metrics ``install_observability`` attached to ``app``, if any."""
    return app.extensions.get(EXTENSION, {}).get("metrics")
