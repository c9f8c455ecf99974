"""Request bodies a worker holds at once fit the pod's memory limit: the budget comes from
MEMORY_LIMIT_BYTES and WEB_CONCURRENCY, an impossible pair stops the service at start, and
bodies beyond the budget get a quick 503 instead of being read."""

from __future__ import annotations

import json
import socket

import pytest
from kv_store.config import (
    BODY_MEMORY_FACTOR,
    MASTER_MEMORY_BYTES,
    MAX_BODY_BYTES,
    WORKER_MEMORY_BYTES,
    body_budget_from_env,
)
from service_common.env import ConfigError

MiB = 1024 * 1024


def test_the_budget_shares_the_memory_limit_among_the_workers(monkeypatch):
    monkeypatch.setenv("MEMORY_LIMIT_BYTES", str(384 * MiB))  # the chart's limit for kv-store
    monkeypatch.setenv("WEB_CONCURRENCY", "2")
    budget = body_budget_from_env()
    assert budget == (384 - 32 - 2 * 64) * MiB // 2 // 2
    assert budget // MAX_BODY_BYTES >= 70, "about 70 maximal bodies at once per worker"
    worst_case = MASTER_MEMORY_BYTES + 2 * (WORKER_MEMORY_BYTES + BODY_MEMORY_FACTOR * budget)
    assert worst_case <= 384 * MiB


def test_without_a_memory_limit_there_is_no_budget(monkeypatch):
    monkeypatch.delenv("MEMORY_LIMIT_BYTES", raising=False)
    assert body_budget_from_env() is None


def test_a_limit_that_cannot_hold_one_body_per_worker_is_refused(monkeypatch):
    monkeypatch.setenv("MEMORY_LIMIT_BYTES", str(256 * MiB))
    monkeypatch.setenv("WEB_CONCURRENCY", "4")  # 32 MiB + 4 x 64 MiB leave nothing for bodies
    with pytest.raises(ConfigError, match=r"MEMORY_LIMIT_BYTES=268435456 .* WEB_CONCURRENCY=4 .* at least 295 MiB"):
        body_budget_from_env()


def test_kv_store_refuses_to_start_when_its_limit_cannot_fit(start_service, redis):
    with pytest.raises(RuntimeError, match="did not start") as refused:
        start_service("kv-store", REDIS_URL=redis.url, WEB_CONCURRENCY="1", MEMORY_LIMIT_BYTES=str(96 * MiB))
    assert "ConfigError: MEMORY_LIMIT_BYTES=100663296 cannot hold WEB_CONCURRENCY=1 workers" in str(refused.value)


def _open_post(port: int, size: int) -> socket.socket:
    """A POST /write announcing ``size`` bytes of body, of which only the first byte is sent."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = f"POST /write HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
    sock.sendall(head.encode() + b"{")
    return sock


def _answer(sock: socket.socket, timeout: float) -> tuple[int, dict] | None:
    """(status, JSON body) once the server answers within ``timeout``, else None."""
    sock.settimeout(timeout)
    reply = b""
    try:
        while b"\r\n\r\n" not in reply or len(reply.partition(b"\r\n\r\n")[2]) < _length(reply):
            data = sock.recv(65536)
            assert data, "the server closed the connection before its whole answer"
            reply += data
    except TimeoutError:
        return None
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


def _length(reply: bytes) -> int:
    head = reply.partition(b"\r\n\r\n")[0].lower()
    return int(head.split(b"content-length:")[1].split(b"\r\n")[0])


def test_bodies_beyond_the_budget_get_503_without_being_read(start_service, redis):
    # One worker whose budget holds exactly two maximal bodies.
    limit = MASTER_MEMORY_BYTES + WORKER_MEMORY_BYTES + BODY_MEMORY_FACTOR * 2 * MAX_BODY_BYTES
    kv = start_service("kv-store", REDIS_URL=redis.url, WEB_CONCURRENCY="1", MEMORY_LIMIT_BYTES=str(limit))
    body = json.dumps({"key": "big", "value": "x" * 60_000}).encode().ljust(MAX_BODY_BYTES)
    sockets = [_open_post(kv.port, len(body)) for _ in range(10)]
    # Only the first byte of each body is sent: a refusal now is made before reading it.
    answers = [_answer(sock, timeout=3) for sock in sockets]
    refused = [answer for answer in answers if answer is not None]
    assert [status for status, _ in refused] == [503] * 8, answers
    assert refused[0][1]["error"] == "too many request bodies in flight, retry later"
    # The two admitted bodies are read and served; their memory is then free for the next ones.
    for sock, answer in zip(sockets, answers, strict=True):
        if answer is None:
            sock.sendall(body[1:])
            assert _answer(sock, timeout=10)[0] == 201
        sock.close()
    again = _open_post(kv.port, len(body))
    again.sendall(body[1:])
    assert _answer(again, timeout=10)[0] == 201
    again.close()
