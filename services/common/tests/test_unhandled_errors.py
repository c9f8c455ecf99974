"""An exception no handler catches gets the service's JSON error, never the framework's plain
text or a traceback: 500 in the service's own error shape, application/json, the request's
X-Request-ID; the traceback is logged as one JSON line with that request id, and the answer is
counted as 5xx. No route of the services raises such an exception, so each service serves its
own factory's application plus a test-only route that does (raising_app.py), as its image
serves it: uvicorn for the FastAPI services, gunicorn with kv-store's configuration."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import kv_store
import pytest

from tests.harness.http import http, metric_samples

RAISING_APP = Path(__file__).resolve().parent / "raising_app.py"
GUNICORN_CONF = Path(kv_store.__file__).resolve().parents[1] / "gunicorn.conf.py"
RAISING_PATH = "/test-only/raise"
SERVER_ERROR = "internal server error"


def _argv(service: str) -> list[str]:
    """The service's own server, serving its application with the raising route."""
    if service == "kv-store":
        gunicorn = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "--pythonpath", str(RAISING_APP.parent)]
        return [*gunicorn, f"{RAISING_APP.stem}:flask_app({RAISING_PATH!r})"]
    return [sys.executable, str(RAISING_APP), service, RAISING_PATH]


@pytest.fixture(scope="module", params=["password-generator", "user-hasher", "kv-store"])
def service(request, module_service, redis_server):
    return module_service(request.param, argv=_argv(request.param), REDIS_URL=redis_server.url, USER_SALT="salt")


def _raise(service, request_id: str):
    return http("GET", f"{service.url}{RAISING_PATH}", headers={"X-Request-ID": request_id})


def test_unhandled_exception_gets_the_services_json_error(service, error_body):
    status, headers, body = _raise(service, "unhandled-json")
    assert (status, json.loads(body)) == (500, error_body(service.name, SERVER_ERROR, "unhandled-json"))
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Request-ID"] == "unhandled-json"


def _log_entries(service) -> list[dict]:
    lines = service.log_path.read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_traceback_is_logged_once_with_the_request_id(service):
    _raise(service, "unhandled-logged")
    tracebacks = [entry for entry in _log_entries(service) if "DeliberateFailure" in entry.get("exception", "")]
    logged = [entry for entry in tracebacks if entry.get("request_id") == "unhandled-logged"]
    assert [(entry["level"], entry["exception"].startswith("Traceback")) for entry in logged] == [("ERROR", True)]
    # None without its request id either (a server's own "Exception in ASGI application").
    assert all(entry.get("request_id") for entry in tracebacks)


def _server_errors(service) -> float:
    _, _, text = http("GET", f"{service.url}/metrics")
    samples = metric_samples(text.decode(), "http_responses_total")
    wanted = {("route", RAISING_PATH), ("method", "GET"), ("status_class", "5xx")}
    return sum(value for labels, value in samples.items() if wanted <= labels)


def test_unhandled_exception_is_counted_as_5xx(service):
    before = _server_errors(service)
    _raise(service, "unhandled-counted")
    assert _server_errors(service) == before + 1


def test_service_keeps_serving_after_an_unhandled_exception(service):
    _raise(service, "unhandled-then-healthy")
    assert http("GET", f"{service.url}/healthz")[0] == 200
