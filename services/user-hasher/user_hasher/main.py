"""Application factory and the /user_hash route."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request, Response
from service_common.asgi import FastPathRoute, create_service_app, fast_path, json_response, query_values
from service_common.env import ServerSettings, env_str

from user_hasher import SERVICE, __version__
from user_hasher.hashing import user_hash

MAX_USER_ID_LENGTH = 256
logger = logging.getLogger(__name__)


def _salt_from_env() -> str:
    salt = env_str("USER_SALT")
    if not salt:
        logger.warning("USER_SALT is not set: hashing with an empty salt (production provides the Secret user-salt)")
    return salt


router = APIRouter(tags=["hashes"], route_class=FastPathRoute)


def _hash_and_count(request: Request, user_id: str) -> str:
    request.app.state.user_hashes_generated.inc({})
    return user_hash(user_id, request.app.state.salt)


async def _hash_plain_query(request: Request) -> Response | None:
    """A user id within bounds, answered without FastAPI's parameter solving; anything else declined."""
    user_id = query_values(request).get("user_id")
    if not user_id or len(user_id) > MAX_USER_ID_LENGTH:
        return None
    # A hex digest needs no JSON escaping.
    return json_response(b'"%s"' % _hash_and_count(request, user_id).encode())


@router.get("/user_hash", summary="Hash a user id")
@fast_path(_hash_plain_query)
async def hash_user(
    request: Request,
    user_id: Annotated[str, Query(min_length=1, max_length=MAX_USER_ID_LENGTH, description="The user id to hash.")],
) -> str:
    """Return ``sha1(user_id + USER_SALT)`` in hex, as a JSON string."""
    return _hash_and_count(request, user_id)


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    app = create_service_app(
        SERVICE, __version__, [router], settings=settings, description="Salted SHA-1 hashes of user ids."
    )
    app.state.salt = _salt_from_env()
    app.state.user_hashes_generated = app.state.metrics.counter(
        "user_hashes_generated_total", "User hashes generated since the process started."
    )
    return app
