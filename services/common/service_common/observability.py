"""Structured JSON logs that carry the id of the request being served."""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
# Latency buckets sized for services that answer in milliseconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# The route label of requests no route matched (404s): one series, whatever the URL.
UNMATCHED_ROUTE = "unmatched"
# An incoming id is kept only when it is short and plain, so a client cannot
# inject text into the logs through it.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Fields of every LogRecord (and uvicorn's terminal colouring): not repeated in the JSON.
_STANDARD_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
access_logger = logging.getLogger("access")
logger = logging.getLogger(__name__)


def request_id_from(header_value: str | None) -> str:
    """Keep the caller's request id when it is valid, otherwise make a new one."""
    if header_value and _VALID_REQUEST_ID.match(header_value):
        return header_value
    # 128 random bits as 32 hex digits, like a uuid4 but without building a UUID object.
    return secrets.token_hex(16)


# Methods kept as metric labels; any other verb a client invents counts as OTHER,
# so clients cannot create series at will.
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    return method if method in _KNOWN_METHODS else "OTHER"


def status_class(status: int) -> str:
    """200 -> '2xx': keeps the label set small whatever status codes appear."""
    return f"{status // 100}xx"


class JsonFormatter(logging.Formatter):
    """One JSON object per line; ``extra={...}`` fields become top-level keys."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self._timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "service": self.service,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_RECORD_FIELDS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)

    @staticmethod
    def _timestamp(created: float) -> str:
        seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
        return f"{seconds}.{int(created % 1 * 1000):03d}Z"


def configure_logging(service: str, level: str) -> None:
    """Send every logger, the servers' included, to stdout as JSON."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "gunicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # The services write their own access log with the request id and route.
    logging.getLogger("uvicorn.access").disabled = True


def log_request(method: str, route: str, path: str, status: int, duration: float) -> None:
    access_logger.log(
        logging.WARNING if status >= 500 else logging.INFO,
        "%s %s %s",
        method,
        path,
        status,
        extra={"method": method, "route": route, "path": path, "status": status, "duration_ms": duration * 1000},
    )


def log_unhandled(error: BaseException) -> None:
    """An exception no handler caught: its traceback, in one line with the request id (never sent to the client)."""
    logger.error("unhandled error: %s: %s", type(error).__name__, error, exc_info=error)
