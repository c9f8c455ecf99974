"""Application factory."""

from __future__ import annotations

from fastapi import FastAPI
from service_common.asgi import create_service_app
from service_common.env import ServerSettings, identity_from_env, server_settings_from_env

from password_generator import SERVICE, __version__
from password_generator.api import router


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    settings = settings or server_settings_from_env()
    app = create_service_app(
        identity_from_env(SERVICE, __version__),
        access_log=settings.access_log,
        routers=[router],
        title=SERVICE,
        description="Generates passwords with exact numbers of special characters and digits (CSPRNG).",
    )
    app.state.passwords_generated = app.state.metrics.counter(
        "passwords_generated_total", "Passwords generated since the process started."
    )
    return app
