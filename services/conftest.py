"""What every service test needs: the services' code importable, and a way to
start a service as a real process (uvicorn or gunicorn) on 127.0.0.1.

In an image each service and ``service_common`` are copied side by side into
/app; here the same directories go on the path.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.harness.apps import AppServer

SERVICES = Path(__file__).resolve().parent
CODE_DIRS = [SERVICES / "common", SERVICES / "password-generator", SERVICES / "user-hasher", SERVICES / "kv-store"]
for _path in CODE_DIRS:
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

GUNICORN_CONF = SERVICES / "kv-store" / "gunicorn.conf.py"


def service_argv(service: str) -> list[str]:
    """How each service's image starts it (the stage named after it in services/Dockerfile)."""
    if service == "kv-store":
        return [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "kv_store:create_app()"]
    return [sys.executable, "-m", service.replace("-", "_")]


def service_server(service: str, env: dict[str, str] | None = None, argv: list[str] | None = None) -> AppServer:
    """``service`` as its image runs it, or ``argv`` (another command line) in the same environment."""
    pythonpath = os.pathsep.join(str(path) for path in CODE_DIRS)
    # Unbuffered, as in the images: tests read the JSON log while the service runs.
    base = {"PYTHONPATH": pythonpath, "PYTHONUNBUFFERED": "1"}
    return AppServer(service, argv or service_argv(service), env={**base, **(env or {})})


@pytest.fixture
def start_service(server_factory) -> Callable[..., AppServer]:
    """``start_service("user-hasher", USER_SALT="x")``: a fresh service process for one test."""

    def start(service: str, **env: str) -> AppServer:
        return server_factory(service_server(service, env))

    return start


@pytest.fixture(scope="module")
def module_service():
    """Like ``start_service``, but the process is shared by the tests of one module.

    ``argv`` runs another command line (a test-only application) in the service's environment.
    """
    started: list[AppServer] = []

    def start(service: str, argv: list[str] | None = None, **env: str) -> AppServer:
        server = service_server(service, env, argv)
        started.append(server)
        return server.start()

    yield start
    for server in reversed(started):
        server.cleanup()


@pytest.fixture(scope="session")
def error_body() -> Callable[[str, str, str], dict[str, str]]:
    """``error_body(service, detail, request_id)``: the JSON body of ``service``'s error answers.

    FastAPI's ``{"detail": ...}`` for the FastAPI services; kv-store's ``error`` with the request id.
    """

    def body(service: str, detail: str, request_id: str) -> dict[str, str]:
        if service == "kv-store":
            return {"error": detail, "request_id": request_id}
        return {"detail": detail}

    return body
