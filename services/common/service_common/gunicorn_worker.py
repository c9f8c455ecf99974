"""gunicorn's gevent worker, answering the requests gunicorn refuses with JSON errors.

gunicorn's ``Worker.handle_error`` writes an HTML page naming what it could not parse
(the client's own bytes included). Here the same cases get ``http_errors.refuse`` in the
shape of the Flask application's own errors (``error_body``: ``{"error": ..., "request_id": ...}``,
as kv-store's 4xx), with gunicorn's statuses, counted and logged. The configuration names
the class: ``worker_class = "service_common.gunicorn_worker.JsonErrorGeventWorker"``.

gunicorn's master loads this class before forking: it imports gunicorn and the
standard library only, never the application (see kv-store's gunicorn.conf.py).
"""

from __future__ import annotations

from gunicorn import util
from gunicorn.http import errors
from gunicorn.workers.ggevent import GeventWorker

from service_common.http_errors import (
    FIELDS_TOO_LARGE,
    LINE_TOO_LONG,
    MALFORMED,
    SERVER_ERROR,
    Refusal,
    error_body,
    refuse,
)

# gunicorn's statuses for what it refuses, first match first. Every other ParseException is
# a request gunicorn could not parse (400); any other exception is the server's fault (500).
_REFUSALS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], Refusal], ...] = (
    # Headers the application tried to send: subclasses of the client's InvalidHeader*.
    ((errors.InvalidResponseHeader, errors.InvalidResponseHeaderName), SERVER_ERROR),
    (errors.ConfigurationProblem, SERVER_ERROR),
    (errors.LimitRequestLine, LINE_TOO_LONG),
    (errors.LimitRequestHeaders, FIELDS_TOO_LARGE),
    (errors.UnsupportedTransferCoding, Refusal(501, "unsupported transfer coding")),
    (errors.ExpectationFailed, Refusal(417, "unsupported expectation")),
    (errors.ForbiddenProxyRequest, Refusal(403, "proxy request not allowed")),
    (errors.ParseException, MALFORMED),
)


def refusal_for(exc: BaseException) -> Refusal:
    """What to answer for ``exc``, raised while gunicorn read or served a request."""
    for types, refusal in _REFUSALS:
        if isinstance(exc, types):
            return refusal
    return SERVER_ERROR


class JsonErrorGeventWorker(GeventWorker):
    """A gevent worker whose error answers are the Flask services' JSON errors, not gunicorn's HTML."""

    def handle_error(self, req, client, addr, exc) -> None:
        refusal = refusal_for(exc)
        if refusal.status >= 500:
            # The traceback goes to the log, never to the client.
            self.log.exception("error handling a request: %s", type(exc).__name__)
        try:
            util.write_nonblock(client, refuse(refusal, self._metrics(), error_body))
        except Exception:  # the client may be gone: nothing left to tell it
            self.log.debug("failed to send the error answer")

    def _metrics(self):
        from service_common.wsgi import metrics_of  # the worker has imported Flask by now

        return metrics_of(self.wsgi)
