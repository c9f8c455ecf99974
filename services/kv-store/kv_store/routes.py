"""The key-value API: /, /write, /delete and /list."""

from __future__ import annotations

import secrets

from flask import Blueprint, current_app, jsonify, request
from redis import Redis
from service_common.text import is_utf8
from service_common.wsgi import request_body
from werkzeug.exceptions import BadRequest

from kv_store.config import (
    LIST_DEFAULT_PAGE,
    LIST_MAX_PAGE,
    MAX_KEY_BYTES,
    MAX_VALUE_LENGTH,
    RANDOM_DEFAULT_PAIRS,
    RANDOM_MAX_PAIRS,
)

TEST_KEY, TEST_VALUE = "test_key", "Hello Redis!"
RANDOM_KEY_PREFIX = "random:"

api = Blueprint("kv", __name__)


def _redis() -> Redis:
    return current_app.extensions["redis"]


# The operation label of each endpoint in kv_operations_total.
OPERATIONS = {"kv.hello": "roundtrip", "kv.write": "write", "kv.delete": "delete", "kv.list_pairs": "list"}


def count_operation(result: str, amount: int = 1) -> None:
    """kv_operations_total{operation, result}: result is ok, not_found or error."""
    operation = OPERATIONS.get(request.endpoint or "", "other")
    current_app.extensions["kv_operations"](operation, result).inc(amount)


def _int_arg(name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    # ASCII only: str.isdigit() also takes '²' (which int() refuses) and '٣' (which int() reads as 3).
    if not (raw.isascii() and raw.isdigit()) or not minimum <= int(raw) <= maximum:
        raise BadRequest(f"'{name}' must be an integer from {minimum} to {maximum}")
    return int(raw)


def _string_field(payload: dict, name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"'{name}' must be a non-empty string")
    if not is_utf8(value):
        # JSON can spell a lone surrogate ("\ud800"); Redis stores UTF-8, which cannot.
        raise BadRequest(f"'{name}' must be valid Unicode text (it holds a lone surrogate)")
    return value


def _key(payload: dict) -> str:
    key = _string_field(payload, "key")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise BadRequest(f"'key' is longer than {MAX_KEY_BYTES} bytes of UTF-8")
    return key


def _value(payload: dict) -> str:
    value = _string_field(payload, "value")
    if len(value) > MAX_VALUE_LENGTH:
        raise BadRequest(f"'value' is longer than {MAX_VALUE_LENGTH} characters")
    return value


@api.get("/")
def hello():
    """Write then read test_key: proves the round trip to Redis works.

    Both commands go in one pipeline without MULTI: Redis runs a connection's
    commands in order, so the GET still reads what the SET wrote, and one
    network round trip serves both.
    """
    _, value = _redis().pipeline(transaction=False).set(TEST_KEY, TEST_VALUE).get(TEST_KEY).execute()
    count_operation("ok")
    return jsonify(key=TEST_KEY, value=value)


@api.post("/write")
def write():
    """Write {"key", "value"}; without a body, write ?count= random pairs."""
    if not request_body():
        return _write_random(_int_arg("count", RANDOM_DEFAULT_PAIRS, 1, RANDOM_MAX_PAIRS))
    payload = request.get_json(force=True, silent=True)
    if not isinstance(payload, dict):
        raise BadRequest('the body must be a JSON object like {"key": "k", "value": "v"}')
    key, value = _key(payload), _value(payload)
    _redis().set(key, value)
    count_operation("ok")
    return jsonify(written=1, keys=[key]), 201


def _write_random(count: int):
    pairs = {f"{RANDOM_KEY_PREFIX}{secrets.token_hex(8)}": secrets.token_urlsafe(16) for _ in range(count)}
    _redis().mset(pairs)
    count_operation("ok", count)
    return jsonify(written=count, keys=list(pairs)), 201


@api.delete("/delete")
def delete():
    key = request.args.get("key")
    if not key:
        raise BadRequest("the query parameter 'key' is required")
    if _redis().delete(key):
        count_operation("ok")
        return jsonify(deleted=key)
    count_operation("not_found")
    return jsonify(error="key not found", key=key), 404


@api.get("/list")
def list_pairs():
    """One page of pairs. SCAN, never KEYS: each call touches about ``count`` keys.

    Pass the returned ``cursor`` back to get the next page; ``complete`` is
    true when the whole keyspace has been walked. Keys added or removed during
    the walk may or may not appear (SCAN's guarantee).
    """
    cursor = _int_arg("cursor", 0, 0, 2**64 - 1)
    count = _int_arg("count", LIST_DEFAULT_PAGE, 1, LIST_MAX_PAGE)
    client = _redis()
    next_cursor, keys = client.scan(cursor=cursor, count=count)
    # As bytes: the command packer (hiredis) encodes str strictly, whatever encoding_errors says.
    values = client.mget([_stored(key) for key in keys]) if keys else []
    count_operation("ok")
    # Keys holding other types than strings read as null.
    items = {_shown(key): _shown(value) for key, value in zip(keys, values, strict=True)}
    return jsonify(items=items, cursor=str(next_cursor), complete=next_cursor == 0)


def _stored(text: str) -> bytes:
    """The bytes Redis holds for text it answered (store.py decodes with surrogateescape)."""
    return text.encode("utf-8", "surrogateescape")


def _shown(text: str | None) -> str | None:
    """Text as JSON can carry it: bytes other clients stored that are not UTF-8 become \\xNN escapes."""
    return None if text is None else _stored(text).decode("utf-8", "backslashreplace")
