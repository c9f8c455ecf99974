"""Readiness state and graceful shutdown on SIGTERM.

On SIGTERM a pod first turns unready, keeps serving for a short delay while
Kubernetes removes it from the Service endpoints, then stops accepting
connections and lets the requests in flight finish.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import FrameType

logger = logging.getLogger(__name__)

SignalHandler = Callable[[int, FrameType | None], None]
Scheduler = Callable[..., object]


def _later_in_a_thread(delay: float, function: Callable, *args) -> None:
    timer = threading.Timer(delay, function, args=args)
    timer.daemon = True
    timer.start()


class Readiness:
    """Whether this process should receive traffic (the /readyz answer)."""

    def __init__(self) -> None:
        self._stopping = threading.Event()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def mark_stopping(self) -> None:
        self._stopping.set()


def graceful(
    stop: SignalHandler, readiness: Readiness, delay: float, later: Scheduler = _later_in_a_thread
) -> SignalHandler:
    """Wrap a server's own SIGTERM handler: turn unready first, stop after ``delay`` seconds.

    ``later(delay, function, *args)`` schedules the stop without blocking the
    signal handler (a gevent worker passes ``gevent.spawn_later``).
    """

    def handle(sig: int, frame: FrameType | None) -> None:
        if readiness.stopping:
            stop(sig, frame)  # a second signal: do not wait again
            return
        readiness.mark_stopping()
        logger.info("shutdown requested: unready now, stopping in %.1f s", delay, extra={"signal": sig})
        later(delay, stop, sig, frame)

    return handle
