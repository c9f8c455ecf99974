"""Application factory and the /user_hash route."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from service_common.asgi import create_service_app
from service_common.env import ServerSettings, env_str, identity_from_env, server_settings_from_env

from user_hasher import SERVICE, __version__
from user_hasher.hashing import user_hash

MAX_USER_ID_LENGTH = 256
logger = logging.getLogger(__name__)


def _salt_from_env() -> str:
    salt = env_str("USER_SALT")
    if not salt:
        logger.warning("USER_SALT is not set: hashing with an empty salt (production provides the Secret user-salt)")
    return salt


router = APIRouter(tags=["hashes"])


@router.get("/user_hash", summary="Hash a user id")
async def hash_user(
    request: Request,
    user_id: Annotated[str, Query(min_length=1, max_length=MAX_USER_ID_LENGTH, description="The user id to hash.")],
) -> str:
    """Return ``sha1(user_id + USER_SALT)`` in hex, as a JSON string."""
    request.app.state.user_hashes_generated.inc({})
    return user_hash(user_id, request.app.state.salt)


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    settings = settings or server_settings_from_env()
    app = create_service_app(
        identity_from_env(SERVICE, __version__),
        access_log=settings.access_log,
        routers=[router],
        title=SERVICE,
        description="Salted SHA-1 hashes of user ids.",
    )
    app.state.salt = _salt_from_env()
    app.state.user_hashes_generated = app.state.metrics.counter(
        "user_hashes_generated_total", "User hashes generated since the process started."
    )
    return app
