"""Request bodies over a service's limit get 413 with a JSON error before they are read
whole: a declared Content-Length at once, a chunked body as soon as it passes the limit.
Each service runs as its image runs it; kv-store under gunicorn, with one worker so its
memory can be measured."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest
from kv_store.config import MAX_BODY_BYTES as KV_MAX_BODY_BYTES
from service_common.asgi import DEFAULT_MAX_BODY_BYTES

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Endpoint:
    service: str
    path: str
    limit: int
    valid: dict


ENDPOINTS = [
    Endpoint(
        "password-generator",
        "/passwords",
        DEFAULT_MAX_BODY_BYTES,
        {"min_length": 8, "special_chars": 1, "digits": 1, "count": 1},
    ),
    Endpoint("kv-store", "/write", KV_MAX_BODY_BYTES, {"key": "k", "value": "v"}),
]


@pytest.fixture(scope="module", params=ENDPOINTS, ids=lambda endpoint: endpoint.service)
def target(request, module_service, redis_server):
    endpoint = request.param
    app = module_service(endpoint.service, REDIS_URL=redis_server.url, WEB_CONCURRENCY="1")
    return app, endpoint


def _padded(payload: dict, size: int) -> bytes:
    """``payload`` as JSON of exactly ``size`` bytes: whitespace after the object (still valid JSON)."""
    body = json.dumps(payload).encode()
    return body + b" " * (size - len(body))


def _raw_post(port: int, path: str, header: str, body_parts=()) -> tuple[int, bytes, bytes]:
    """(status, header block in lower case, body) of a POST sent over a plain socket.

    Not urllib: it sends "Connection: close", and a server that answers before reading the
    whole body then closes with unread data, which resets the connection under the answer.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n{header}\r\n\r\n".encode()
        )
        for part in body_parts:
            sock.sendall(part)
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += _received(sock)
        head, _, body = reply.partition(b"\r\n\r\n")
        head = head.lower()
        length = int(head.split(b"content-length:")[1].split(b"\r\n")[0])
        while len(body) < length:
            body += _received(sock)
    return int(head.split(b" ")[1]), head, body


def _received(sock: socket.socket) -> bytes:
    data = sock.recv(65536)
    assert data, "the server closed the connection before its whole answer"
    return data


def _chunked(parts) -> list[bytes]:
    """``parts`` in chunked transfer coding: no Content-Length announces the size."""
    return [*(b"%x\r\n%s\r\n" % (len(part), part) for part in parts), b"0\r\n\r\n"]


def _send(app, endpoint: Endpoint, body: bytes, framing: str) -> tuple[int, bytes, bytes]:
    if framing == "content-length":
        return _raw_post(app.port, endpoint.path, f"Content-Length: {len(body)}", [body])
    pieces = [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)]
    return _raw_post(app.port, endpoint.path, "Transfer-Encoding: chunked", _chunked(pieces))


def _assert_json_413(status: int, head: bytes, body: bytes) -> None:
    assert status == 413, body[:200]
    assert b"content-type: application/json" in head
    assert len(body) < 1024


FRAMINGS = ["content-length", "chunked"]


@pytest.mark.parametrize("framing", FRAMINGS)
def test_body_at_the_limit_is_served(target, framing):
    app, endpoint = target
    status, _, body = _send(app, endpoint, _padded(endpoint.valid, endpoint.limit), framing)
    assert status in {200, 201}, body[:200]


@pytest.mark.parametrize("framing", FRAMINGS)
def test_body_one_byte_over_the_limit_gets_413(target, framing):
    # Cut at the limit, this body is still a valid request: only the size can refuse it.
    app, endpoint = target
    _assert_json_413(*_send(app, endpoint, _padded(endpoint.valid, endpoint.limit + 1), framing))


def test_declared_length_over_the_limit_gets_413_before_the_body_is_sent(target):
    app, endpoint = target
    _assert_json_413(*_raw_post(app.port, endpoint.path, f"Content-Length: {300 * 1024 * 1024}"))


def _peak_rss_kib(pid: int) -> int:
    """The largest resident set any worker of ``pid`` (or ``pid`` itself) has had."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    peaks = []
    for process in [pid, *map(int, children)]:
        status = Path(f"/proc/{process}/status").read_text()
        peaks.append(int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]))
    return max(peaks)


def test_chunked_body_over_the_limit_gets_413_without_being_held(target):
    app, endpoint = target
    before = _peak_rss_kib(app.pid)
    parts = [b'{"pad": "', *(b"x" * CHUNK for _ in range(1024)), b'"}']  # 64 MiB
    _assert_json_413(*_raw_post(app.port, endpoint.path, "Transfer-Encoding: chunked", _chunked(parts)))
    assert _peak_rss_kib(app.pid) - before < 16 * 1024  # KiB: far less than the 64 MiB sent
