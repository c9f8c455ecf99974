"""Application factory."""

from __future__ import annotations

from fastapi import FastAPI
from service_common.asgi import create_service_app
from service_common.env import ServerSettings

from password_generator import SERVICE, __version__
from password_generator.api import router


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    app = create_service_app(
        SERVICE,
        __version__,
        [router],
        settings=settings,
        description="Generates passwords with exact numbers of special characters and digits (CSPRNG).",
    )
    app.state.passwords_generated = app.state.metrics.counter(
        "passwords_generated_total", "Passwords generated since the process started."
    )
    return app
