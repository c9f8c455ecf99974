"""FastAPI side: request id, access log and metrics middleware, probes, routes
with a fast path for plainly valid requests, and a uvicorn server that turns
unready before it stops and answers the requests it refuses with JSON errors.

Metrics use aioprometheus, in a registry owned by each application, so the
series of one process are exactly what its /metrics shows. One uvicorn worker
per container: scale with replicas, not with workers, so no series is split
between processes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

import uvicorn
from aioprometheus import Counter, Histogram, Registry, render
from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service_common.env import Identity, ServerSettings, identity_from_env, server_settings_from_env
from service_common.http_errors import (
    FIELDS_TOO_LARGE,
    HEAD_LIMITS,
    LINE_TOO_LONG,
    MALFORMED,
    SERVER_ERROR,
    Refusal,
    detail_body,
    refuse,
)
from service_common.lifecycle import Readiness, graceful
from service_common.observability import (
    LATENCY_BUCKETS,
    REQUEST_ID_HEADER,
    UNMATCHED_ROUTE,
    configure_logging,
    log_request,
    log_unhandled,
    method_label,
    request_id_from,
    request_id_var,
    status_class,
)
from service_common.text import is_utf8, printable

_REQUEST_ID_KEY = REQUEST_ID_HEADER.lower().encode()
# The FastAPI services take a few small JSON fields at most: 16 KiB leaves room for any
# whitespace a client adds, and keeps what one request can make a worker hold small.
DEFAULT_MAX_BODY_BYTES = 16 * 1024

# Answers a plainly valid request, or returns None to leave it to FastAPI.
FastPath = Callable[[Request], Awaitable[Response | None]]


class HttpMetrics:
    """The HTTP series every service exposes, labelled with the service identity.

    aioprometheus serialises the label set of every observation to find its
    series, which cost more than the rest of the middleware together. So the
    hot path keeps the histogram of each (route, method) at hand and counts
    responses in a plain dict; ``sync()`` copies the counts into the registry
    when /metrics is scraped.
    """

    def __init__(self, identity: Identity, registry: Registry) -> None:
        self.registry = registry
        self.identity = identity
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method.",
            const_labels=identity.labels,
            registry=registry,
            buckets=(*LATENCY_BUCKETS, float("inf")),
        )
        self.responses = Counter(
            "http_responses_total",
            "HTTP responses sent, by route template, method and status class.",
            const_labels=identity.labels,
            registry=registry,
        )
        self._histograms: dict[tuple[str, str], object] = {}
        self._response_counts: dict[tuple[str, str, str], int] = {}

    def counter(self, name: str, doc: str) -> Counter:
        """A service-specific counter with the same identity labels."""
        return Counter(name, doc, const_labels=self.identity.labels, registry=self.registry)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        series = self._histograms.get((route, method))
        if series is None:
            labels = {"route": route, "method": method}
            self.duration.observe(labels, seconds)
            self._histograms[(route, method)] = self.duration.get_value(labels)
        else:
            series.observe(seconds)
        key = (route, method, status_class(status))
        self._response_counts[key] = self._response_counts.get(key, 0) + 1

    def sync(self) -> None:
        for (route, method, status_class_), count in list(self._response_counts.items()):
            self.responses.set({"route": route, "method": method, "status_class": status_class_}, count)


def _route_template(scope: dict) -> str:
    route = scope.get("route")
    return getattr(route, "path", UNMATCHED_ROUTE)


def _incoming_request_id(scope: dict) -> str | None:
    for key, value in scope["headers"]:
        if key == _REQUEST_ID_KEY:
            return value.decode("latin-1")
    return None


class ObservabilityMiddleware:
    """Pure ASGI (not BaseHTTPMiddleware, which costs a task per request).

    It also answers an exception no handler caught: Starlette's outermost middleware would
    send a plain-text 500 without the request id, and the server would log the traceback
    once the request id is gone. Here the client gets the JSON ``detail`` and the log the
    traceback with the request id.
    """

    def __init__(self, app, metrics: HttpMetrics, access_log: bool) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(_incoming_request_id(scope))
        token = request_id_var.set(request_id)
        status = None  # until the response starts
        start = time.perf_counter()

        async def send_with_id(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (_REQUEST_ID_KEY, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as error:
            log_unhandled(error)
            if status is not None:
                raise  # the answer has begun: the server can only cut the connection
            answer = JSONResponse(detail_body(SERVER_ERROR.detail, request_id), status_code=SERVER_ERROR.status)
            await answer(scope, receive, send_with_id)
        finally:
            status = status or 500  # the server's own 500 when the application answered nothing
            elapsed = time.perf_counter() - start
            route = _route_template(scope)
            self.metrics.observe(route, method_label(scope["method"]), status, elapsed)
            if self.access_log or status >= 500:
                log_request(scope["method"], route, scope["path"], status, elapsed)
            request_id_var.reset(token)


def _content_length(scope: dict) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodySizeLimitMiddleware:
    """413 with a JSON ``detail`` for a request body over ``max_bytes``, before it is read whole.

    A Content-Length over the limit is refused before any of the body is received. Without
    one (chunked), the body is counted as it arrives and refused once it passes the limit;
    the server discards the rest. So no request makes the process hold more than the limit.
    """

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.detail = f"request body larger than {max_bytes} bytes"

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await JSONResponse({"detail": self.detail}, status_code=413)(scope, receive, send)
            return
        # uvicorn never passes on more than a declared length: only a body without one is counted.
        await self.app(scope, receive if declared is not None else self._counted(receive), send)

    def _counted(self, receive):
        received = 0

        async def receive_within_limit():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                # FastAPI re-raises an HTTPException met while reading a body; its handler answers 413.
                raise HTTPException(413, self.detail)
            return message

        return receive_within_limit


def fast_path(handler: FastPath) -> Callable:
    """Decorate an endpoint of a ``FastPathRoute`` router: ``handler`` answers first.

    The endpoint's signature still documents the operation in OpenAPI, and the
    endpoint still serves every request the handler declines (returns None
    for), so invalid input gets FastAPI's own 422 body. A handler must decline
    anything it does not answer exactly as the endpoint would.
    """

    def attach(endpoint: Callable) -> Callable:
        endpoint.fast_path = handler
        return endpoint

    return attach


class FastPathRoute(APIRoute):
    """An APIRoute whose endpoint's ``fast_path`` handler answers before FastAPI's machinery.

    Solving the endpoint's parameters and serialising its response model cost
    several times what a small service does per request; a handler that
    parses a few plain values itself skips both for the requests it accepts.
    """

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        validated = super().get_route_handler()
        fast = getattr(self.endpoint, "fast_path", None)
        if fast is None:
            return validated

        async def handler(request: Request) -> Response:
            response = await fast(request)
            return response if response is not None else await validated(request)

        return handler


def query_values(request: Request) -> dict[str, str]:
    """The query parameters as Starlette reads them (the last of repeated names wins), as a plain dict.

    Except that a parameter whose escapes are not UTF-8 (``%FF``) raises a 422 naming it:
    Starlette reads the bad bytes as U+FFFD, so ``%FF`` and ``%FE`` would read alike.
    Every fast path reads its query here first, so its route refuses them too.
    """
    query = request.scope["query_string"].decode("latin-1")
    if "%" in query or "+" in query:
        return _utf8_only(dict(parse_qsl(query, keep_blank_values=True, errors="surrogateescape")))
    # Nothing to unescape: splitting gives what parse_qsl would, at a fraction of its cost.
    return {name: value for name, _, value in (pair.partition("=") for pair in query.split("&") if pair)}


def _utf8_only(values: dict[str, str]) -> dict[str, str]:
    """``values``, unless a name or value holds bytes that are not UTF-8 (kept as lone surrogates)."""
    for name, value in values.items():
        if not (is_utf8(name) and is_utf8(value)):
            error = {"type": "string_unicode", "loc": ("query", printable(name)), "msg": "Input should be UTF-8"}
            raise RequestValidationError([error])
    return values


def _json_safe(value: object) -> object:
    """``value`` with what JSON cannot carry spelled as text: inf and nan (the JSON reader
    takes 1e400 as inf), lone surrogates, and objects such as the ValueError in a ``ctx``."""
    if isinstance(value, dict):
        return {printable(str(key)): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


# What a client needs to fix its request. Not "input": echoing it would send a large
# request back whole, and a value JSON cannot write made FastAPI's own handler fail (500).
_VALIDATION_ERROR_FIELDS = ("type", "loc", "msg", "ctx")


async def validation_failed(request: Request, error: RequestValidationError) -> JSONResponse:
    """422 with ``detail[]`` naming each invalid field, as FastAPI answers, but always JSON."""
    detail = [{key: item[key] for key in _VALIDATION_ERROR_FIELDS if key in item} for item in error.errors()]
    return JSONResponse({"detail": _json_safe(detail)}, status_code=422)


def json_response(body: bytes) -> Response:
    """A 200 response from JSON already serialised."""
    return Response(body, media_type="application/json")


def probe_router(readiness: Readiness, metrics: HttpMetrics) -> APIRouter:
    """/healthz (liveness), /readyz (readiness: not shutting down) and /metrics (Prometheus text)."""
    router = APIRouter(tags=["probes"])

    @router.get("/healthz", summary="Liveness: the process is alive and serving")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: the service should receive traffic",
        responses={503: {"description": "Shutting down"}},
    )
    async def readyz() -> JSONResponse:
        if readiness.stopping:
            return JSONResponse({"status": "stopping"}, status_code=503)
        return JSONResponse({"status": "ready"})

    @router.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        metrics.sync()
        content, headers = render(metrics.registry, request.headers.getlist("accept"))
        return Response(content, headers=headers)

    return router


class _HeadRefused(Exception):
    """Raised from a parser callback: httptools stops, and uvicorn calls ``send_400_response``."""


# " HTTP/1.1" after the target: the rest of a request line once its method and target are read.
_VERSION_PART = len(" HTTP/1.1")


class JsonErrorProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with gunicorn's request head limits and JSON refusals.

    httptools reads request lines and header fields of any size, and uvicorn answers what
    it cannot parse with a plain-text 400. Here a request line, a field or a field count over
    ``HEAD_LIMITS`` is refused (414, 431), a head still unfinished past the most a valid one
    can take is refused before more of it is held, and every refusal is the JSON ``refuse``
    answer, shaped as FastAPI's own errors are (``detail_body``).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._refusal = MALFORMED
        self._reading_head = True  # until the headers of the request being received are complete
        self._head_bytes = 0

    def data_received(self, data: bytes) -> None:
        if self._reading_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._reading_head and self._head_bytes > HEAD_LIMITS.head_size and not self.transport.is_closing():
            self._send_refusal(FIELDS_TOO_LARGE)

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.parser.get_method()) + 1 + len(self.url) + _VERSION_PART > HEAD_LIMITS.request_line:
            self._refuse_head(LINE_TOO_LONG)

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        size = len(name) + len(value) + len(": \r\n")
        if len(self.headers) > HEAD_LIMITS.fields or size > HEAD_LIMITS.field_size:
            self._refuse_head(FIELDS_TOO_LARGE)

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._reading_head = True
        super().on_message_complete()

    def _refuse_head(self, refusal: Refusal) -> None:
        self._refusal = refusal
        raise _HeadRefused(refusal.detail)

    def send_400_response(self, msg: str) -> None:
        # uvicorn's answer to a request httptools could not parse, or that a callback above refused.
        self._send_refusal(self._refusal)

    def _send_refusal(self, refusal: Refusal) -> None:
        self.transport.write(refuse(refusal, metrics_of(self.config.app), detail_body))
        self.transport.close()


def metrics_of(app: FastAPI) -> HttpMetrics | None:
    """The metrics ``create_service_app`` attached to ``app``, if any."""
    return getattr(app.state, "metrics", None)


class GracefulServer(uvicorn.Server):
    """uvicorn, but SIGTERM turns /readyz to 503 ``delay`` seconds before serving stops."""

    def __init__(self, config: uvicorn.Config, readiness: Readiness, delay: float) -> None:
        super().__init__(config)
        self._on_signal = graceful(super().handle_exit, readiness, delay)

    def handle_exit(self, sig, frame) -> None:
        self._on_signal(sig, frame)


def serve(app, readiness: Readiness, settings: ServerSettings) -> None:
    """Run one uvicorn worker with uvloop and httptools (plain asyncio + h11 is far slower),
    answering requests it refuses with JSON errors (``JsonErrorProtocol``)."""
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=JsonErrorProtocol,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=int(settings.graceful_timeout),
    )
    GracefulServer(config, readiness, settings.shutdown_delay).run()


def create_service_app(
    service: str,
    version: str,
    routers: list[APIRouter],
    *,
    settings: ServerSettings | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    **fastapi_options,
) -> FastAPI:
    """A FastAPI application titled ``service`` with the service's routers and the
    probes, metrics, request logging, JSON validation errors and body size limit
    (``max_body_bytes``) every service has.

    ``settings`` default to the environment's; ``fastapi_options`` go to FastAPI
    (a description, for example; the title and version are set here). The service's routes come before
    the probes: routes are tried in order, and the service's own traffic is the
    bulk. Its handlers find ``readiness`` and ``metrics`` in ``request.app.state``.
    """
    settings = settings or server_settings_from_env()
    app = FastAPI(title=service, version=version, **fastapi_options)
    app.state.readiness = Readiness()
    app.state.metrics = HttpMetrics(identity_from_env(service, version), Registry())
    app.add_exception_handler(RequestValidationError, validation_failed)
    # Added first, so it runs inside the observability middleware: a 413 is logged and counted.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=max_body_bytes)
    app.add_middleware(ObservabilityMiddleware, metrics=app.state.metrics, access_log=settings.access_log)
    for router in routers:
        app.include_router(router)
    app.include_router(probe_router(app.state.readiness, app.state.metrics))
    return app


def run_service(service: str, create_app: Callable[[ServerSettings], FastAPI]) -> None:
    """Entry point of a FastAPI service: JSON logs, settings from the environment, one worker."""
    settings = server_settings_from_env()
    configure_logging(service, settings.log_level)
    app = create_app(settings)
    serve(app, app.state.readiness, settings)
