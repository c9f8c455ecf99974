"""Test-only: a service's application as its own factory builds it, plus a route that raises.

No route of the services raises an exception they leave unhandled, so the tests of that
case mount one here and serve the result as each image serves its service:
``python raising_app.py <service> <path>`` under uvicorn (FastAPI services), gunicorn's
``raising_app:flask_app('<path>')`` with kv-store's configuration.
"""

from __future__ import annotations

import importlib
import sys


class DeliberateFailure(RuntimeError):
    """What the route raises: no handler of the application catches it."""


def _raiser(path: str):
    def fail() -> None:
        raise DeliberateFailure(f"raised by the test-only route {path}")

    return fail


def flask_app(path: str):
    """kv-store's application with ``path`` raising."""
    from kv_store import create_app

    app = create_app()
    app.add_url_rule(path, view_func=_raiser(path))
    return app


def fastapi_factory(service: str, path: str):
    """The ``create_app(settings)`` of a FastAPI service, with ``path`` raising."""
    create_app = importlib.import_module(f"{service.replace('-', '_')}.main").create_app

    def create(settings):
        app = create_app(settings)
        app.add_api_route(path, _raiser(path))
        return app

    return create


if __name__ == "__main__":
    from service_common.asgi import run_service

    service, path = sys.argv[1:]
    run_service(service, fastapi_factory(service, path))
