"""kv-store under gunicorn (gevent workers) against a real redis-server."""

from __future__ import annotations

import json
import socket

import pytest
from kv_store.config import LIST_MAX_PAGE, MAX_BODY_BYTES, MAX_KEY_BYTES, MAX_VALUE_LENGTH, RANDOM_MAX_PAIRS

from tests.harness.http import get_json, http


def _redis_command(redis, *args: str | bytes) -> bytes:
    """One command over RESP, to check what the service really stored (or store what another client would)."""
    parts = [a if isinstance(a, bytes) else a.encode() for a in args]
    payload = f"*{len(parts)}\r\n".encode() + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
    with socket.create_connection(("127.0.0.1", redis.port), timeout=5) as sock:
        sock.sendall(payload)
        return sock.recv(65536)


def _post(url: str, payload) -> tuple[int, dict]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    status, _, raw = http("POST", url, body, {"Content-Type": "application/json"})
    return status, json.loads(raw)


def test_root_writes_then_reads_test_key(kv, redis):
    assert get_json(f"{kv.url}/") == (200, {"key": "test_key", "value": "Hello Redis!"})
    assert _redis_command(redis, "GET", "test_key") == b"$12\r\nHello Redis!\r\n"


def test_write_one_pair(kv, redis):
    assert _post(f"{kv.url}/write", {"key": "colour", "value": "blue"}) == (201, {"written": 1, "keys": ["colour"]})
    assert _redis_command(redis, "GET", "colour") == b"$4\r\nblue\r\n"


def test_write_without_payload_writes_random_pairs(kv, redis):
    status, _, raw = http("POST", f"{kv.url}/write?count=7")
    body = json.loads(raw)
    assert status == 201
    assert body["written"] == 7
    assert len(set(body["keys"])) == 7
    assert _redis_command(redis, "EXISTS", *body["keys"]) == b":7\r\n"


@pytest.mark.parametrize(
    "payload",
    [b"{not json", b"[1, 2]", b'"text"', {"key": "k"}, {"key": "", "value": "v"}, {"key": "k", "value": 3}],
)
def test_invalid_write_gets_400(kv, payload):
    status, body = _post(f"{kv.url}/write", payload)
    assert status == 400
    assert body["error"]


@pytest.mark.parametrize("count", ["0", str(RANDOM_MAX_PAIRS + 1), "many"])
def test_random_pairs_are_bounded(kv, count):
    status, _, _ = http("POST", f"{kv.url}/write?count={count}")
    assert status == 400


# Not ASCII digits, though str.isdigit() takes them: '²' (int() then fails) and '٣' (int() reads 3).
NON_ASCII_DIGITS = ["%C2%B2", "%D9%A3", "%EF%BC%93"]


@pytest.mark.parametrize("digits", NON_ASCII_DIGITS)
@pytest.mark.parametrize(("method", "path", "name"), [("POST", "/write", "count"), ("GET", "/list", "cursor")])
def test_integer_parameter_in_other_digits_gets_400_naming_it(kv, method, path, name, digits):
    status, headers, raw = http(method, f"{kv.url}{path}?{name}={digits}")
    assert (status, headers["Content-Type"]) == (400, "application/json")
    assert f"'{name}'" in json.loads(raw)["error"]


@pytest.mark.parametrize(
    ("raw", "field"), [(rb'{"key": "\ud800", "value": "v"}', "key"), (rb'{"key": "k", "value": "a\udfff"}', "value")]
)
def test_lone_surrogate_gets_400_naming_the_field(kv, raw, field):
    status, body = _post(f"{kv.url}/write", raw)
    assert status == 400
    assert f"'{field}'" in body["error"]


def _longest_key(character: str) -> str:
    """A key of exactly MAX_KEY_BYTES bytes of UTF-8, mostly ``character``."""
    width = len(character.encode())
    return character * (MAX_KEY_BYTES // width) + "k" * (MAX_KEY_BYTES % width)


def test_key_limit_counts_utf8_bytes(kv):
    assert _post(f"{kv.url}/write", {"key": _longest_key("é"), "value": "v"})[0] == 201
    status, body = _post(f"{kv.url}/write", {"key": "é" * MAX_KEY_BYTES, "value": "v"})
    assert (status, body["error"]) == (400, f"'key' is longer than {MAX_KEY_BYTES} bytes of UTF-8")


@pytest.mark.parametrize("character", ["k", "é", "€", "😀"])
def test_every_key_write_accepts_can_be_deleted_fully_percent_encoded(kv, redis, character):
    # /delete takes the key in the URL, where every byte as %XX makes the longest request line.
    # 1,024 characters of a 4-byte character would need 12,288 bytes: more than gunicorn allows.
    candidates = dict.fromkeys([_longest_key(character), character * MAX_KEY_BYTES])
    written = [key for key in candidates if _post(f"{kv.url}/write", {"key": key, "value": "v"})[0] == 201]
    assert _longest_key(character) in written
    for key in written:
        escaped = "".join(f"%{byte:02X}" for byte in key.encode())
        status, headers, raw = http("DELETE", f"{kv.url}/delete?key={escaped}")
        assert (status, headers["Content-Type"], json.loads(raw)) == (200, "application/json", {"deleted": key})
        assert _redis_command(redis, "EXISTS", key) == b":0\r\n"


def test_largest_pair_in_its_longest_json_spelling_fits_the_body_limit(kv):
    key = "\\u0001" * MAX_KEY_BYTES  # one byte of UTF-8 in six bytes of JSON
    value = "\\ud83d\\ude00" * MAX_VALUE_LENGTH  # one character in twelve bytes of JSON
    body = f'{{"key": "{key}", "value": "{value}"}}'.encode()
    assert len(body) <= MAX_BODY_BYTES
    assert _post(f"{kv.url}/write", body) == (201, {"written": 1, "keys": ["\x01" * MAX_KEY_BYTES]})


def test_delete_present_absent_and_without_key(kv):
    _post(f"{kv.url}/write", {"key": "doomed", "value": "x"})
    assert http("DELETE", f"{kv.url}/delete?key=doomed")[0] == 200
    status, _, raw = http("DELETE", f"{kv.url}/delete?key=doomed")
    assert (status, json.loads(raw)["error"]) == (404, "key not found")
    assert http("DELETE", f"{kv.url}/delete")[0] == 400


def test_list_walks_every_key_in_bounded_pages(kv, redis):
    for index in range(300):
        _redis_command(redis, "SET", f"walk:{index}", str(index))
    seen: dict[str, str] = {}
    cursor, pages = "0", 0
    while True:
        status, page = get_json(f"{kv.url}/list?cursor={cursor}&count=50")
        assert status == 200
        assert len(page["items"]) <= 100  # COUNT is a hint: a page stays near it
        seen.update(page["items"])
        pages += 1
        cursor = page["cursor"]
        if page["complete"]:
            break
    assert {k: v for k, v in seen.items() if k.startswith("walk:")} == {f"walk:{i}": str(i) for i in range(300)}
    assert pages >= 300 // 100


def test_list_shows_pairs_other_clients_wrote_in_bytes_that_are_not_utf8(kv, redis):
    # Every page holding such a pair answered 500, so the rest of the keyspace could not be listed.
    assert _redis_command(redis, "SET", b"foreign:\xff", b"caf\xe9 \xc3\xa9") == b"+OK\r\n"
    items: dict[str, str] = {}
    cursor = "0"
    try:
        while True:
            status, page = get_json(f"{kv.url}/list?cursor={cursor}&count=100")
            assert status == 200, page
            items.update(page["items"])
            cursor = page["cursor"]
            if page["complete"]:
                break
    finally:
        _redis_command(redis, "DEL", b"foreign:\xff")
    # The bytes that are not UTF-8 read as \xNN escapes, the rest as text.
    assert items["foreign:\\xff"] == "caf\\xe9 \u00e9"


@pytest.mark.parametrize("query", ["count=0", f"count={LIST_MAX_PAGE + 1}", "cursor=-1", "cursor=abc"])
def test_list_rejects_bad_paging(kv, query):
    assert http("GET", f"{kv.url}/list?{query}")[0] == 400


def test_probes_and_unknown_route(kv):
    assert get_json(f"{kv.url}/healthz") == (200, {"status": "ok"})
    assert get_json(f"{kv.url}/readyz") == (200, {"status": "ready"})
    status, body = get_json(f"{kv.url}/nowhere")
    assert status == 404
    assert body["error"]
