"""Requests the HTTP server refuses before the application sees them.

A request line or header fields over the limits, or bytes that do not parse as
HTTP, are answered by the server (uvicorn, gunicorn), not the application. Both
servers' adapters (``asgi.JsonErrorProtocol``, ``gunicorn_worker.JsonErrorGeventWorker``)
answer through ``refuse``: a JSON error in the shape of the application's own errors
(``detail_body`` for FastAPI, ``error_body`` for Flask), counted and logged like any
response. Standard library only: gunicorn's master imports this before any worker.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Protocol

from service_common.observability import REQUEST_ID_HEADER, UNMATCHED_ROUTE, request_id_from, request_id_var

logger = logging.getLogger(__name__)

# The method label of refused requests: the server may refuse one before reading its method.
REFUSED_METHOD = "OTHER"


@dataclass(frozen=True)
class HeadLimits:
    """The largest request head every service reads (gunicorn's defaults, for all three).

    kv-store's longest URL, /delete with a key of MAX_KEY_BYTES all percent-encoded, makes a
    request line of about 3,100 bytes: within ``request_line``.
    """

    request_line: int = 4094  # bytes, without its CRLF
    fields: int = 100  # header fields, Host included
    field_size: int = 8190  # bytes of one field: name, colon, value and CRLF

    @property
    def head_size(self) -> int:
        """The most a valid head can take (gunicorn's header buffer): more is refused unread."""
        return self.request_line + 2 + self.fields * (self.field_size + 2) + 4


HEAD_LIMITS = HeadLimits()


@dataclass(frozen=True)
class Refusal:
    status: int
    detail: str


MALFORMED = Refusal(400, "invalid HTTP request")
LINE_TOO_LONG = Refusal(414, f"request line longer than {HEAD_LIMITS.request_line} bytes")
FIELDS_TOO_LARGE = Refusal(
    431,
    f"request header fields too large: at most {HEAD_LIMITS.fields} fields"
    f" of at most {HEAD_LIMITS.field_size} bytes each",
)
SERVER_ERROR = Refusal(500, "internal server error")


# The JSON object of an error answer, from its detail and request id: each framework's own shape.
ErrorBody = Callable[[str, str], dict[str, str]]


def detail_body(detail: str, request_id: str) -> dict[str, str]:
    """FastAPI's shape, which the FastAPI services' own errors (404, 413, 500) have: ``{"detail": ...}``."""
    return {"detail": detail}


def error_body(detail: str, request_id: str) -> dict[str, str]:
    """The shape of the Flask services' errors (``service_common.wsgi``, kv-store): ``{"error", "request_id"}``."""
    return {"error": detail, "request_id": request_id}


class Metrics(Protocol):
    """What both services' HttpMetrics (asgi, wsgi) offer."""

    def observe(self, route: str, method: str, status: int, seconds: float) -> None: ...


def refuse(refusal: Refusal, metrics: Metrics | None, body: ErrorBody) -> bytes:
    """Count and log ``refusal``; return the whole response, its JSON shaped by ``body``, to write before closing."""
    request_id = request_id_from(None)
    if metrics is not None:
        metrics.observe(UNMATCHED_ROUTE, REFUSED_METHOD, refusal.status, 0.0)
    token = request_id_var.set(request_id)
    try:
        logger.log(
            logging.ERROR if refusal.status >= 500 else logging.INFO,
            "request refused by the server: %s %s",
            refusal.status,
            refusal.detail,
            extra={"status": refusal.status, "detail": refusal.detail, "route": UNMATCHED_ROUTE},
        )
    finally:
        request_id_var.reset(token)
    return _response(refusal, request_id, json.dumps(body(refusal.detail, request_id)).encode())


def _response(refusal: Refusal, request_id: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {refusal.status} {HTTPStatus(refusal.status).phrase}\r\n"
        f"Date: {formatdate(usegmt=True)}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n"
        f"{REQUEST_ID_HEADER}: {request_id}\r\n\r\n"
    )
    return head.encode("ascii") + body
