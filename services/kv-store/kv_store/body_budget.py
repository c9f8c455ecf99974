"""Bounds the memory of the request bodies one worker holds at once.

A gevent worker takes up to GUNICORN_WORKER_CONNECTIONS requests at once, and each may
carry a body of up to MAX_BODY_BYTES: together far more than the pod's memory limit. Each
request with a body reserves its size (the largest allowed when chunked) before anything
reads it; one that does not fit gets 503 at once, so the pod sheds load instead of being
OOM-killed. Small bodies reserve little: thousands of them still go through at once.
"""

from __future__ import annotations

import threading

from flask import Flask, g, jsonify, request

from kv_store.config import MAX_BODY_BYTES


class BodyBudget:
    """Bytes of request bodies reserved out of ``capacity``."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.reserved = 0
        self._lock = threading.Lock()  # gevent's own lock under gunicorn's gevent worker

    def reserve(self, size: int) -> bool:
        with self._lock:
            if self.reserved + size > self.capacity:
                return False
            self.reserved += size
            return True

    def release(self, size: int) -> None:
        with self._lock:
            self.reserved -= size


def _body_size() -> int:
    """What the request's body may take: its Content-Length, or the largest body allowed when chunked."""
    if request.content_length is not None:
        return min(request.content_length, MAX_BODY_BYTES)
    return MAX_BODY_BYTES if "chunked" in request.headers.get("Transfer-Encoding", "").lower() else 0


def install_body_budget(app: Flask, capacity: int) -> None:
    """Answer 503 (Retry-After: 1) to a request whose body does not fit in what is left of ``capacity``."""
    budget = BodyBudget(capacity)

    @app.before_request
    def reserve_body():
        size = _body_size()
        if not size:
            return None
        if not budget.reserve(size):
            response = jsonify(error="too many request bodies in flight, retry later")
            return response, 503, {"Retry-After": "1"}
        g.body_reserved = size
        return None

    @app.teardown_request
    def release_body(_error):
        budget.release(g.pop("body_reserved", 0))
