"""SIGTERM on each service as a real process: readiness turns false first, the
process keeps serving for SHUTDOWN_DELAY_SECONDS, a request in flight
finishes, then the process exits."""

from __future__ import annotations

import json
import signal
import socket
import time

import pytest

from tests.harness.http import get_json
from tests.harness.servers import RedisServer

DELAY = 1.5


def _start_slow_request(port: int, path: str, body: bytes) -> socket.socket:
    """Send the headers and half the body: the request is now in flight."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body[: len(body) // 2])
    return sock


def _finish_request(sock: socket.socket, body: bytes) -> bytes:
    with sock:
        sock.sendall(body[len(body) // 2 :])
        return sock.recv(65536)


IN_FLIGHT = {
    "password-generator": ("/passwords", {"min_length": 8, "special_chars": 1, "digits": 1, "count": 1}, b"200"),
    "kv-store": ("/write", {"key": "in-flight", "value": "kept"}, b"201"),
}


@pytest.mark.parametrize("service", ["password-generator", "kv-store"])
def test_sigterm_unready_first_and_in_flight_request_finishes(service, start_service, server_factory):
    env = {"SHUTDOWN_DELAY_SECONDS": str(DELAY)}
    if service == "kv-store":
        env["REDIS_URL"] = server_factory(RedisServer()).url
    app = start_service(service, **env)
    path, payload, expected_status = IN_FLIGHT[service]
    body = json.dumps(payload).encode()
    sock = _start_slow_request(app.port, path, body)
    time.sleep(0.3)

    app.terminate()
    time.sleep(0.3)
    assert get_json(f"{app.url}/readyz") == (503, {"status": "stopping"})
    assert get_json(f"{app.url}/healthz")[0] == 200  # still serving during the delay

    time.sleep(DELAY + 0.5)  # past the delay: the server has stopped accepting
    response = _finish_request(sock, body)
    assert response.split(b"\r\n", 1)[0].split(b" ")[1] == expected_status, response
    assert app.wait(timeout=15) in {0, -signal.SIGTERM}
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", app.port), timeout=1).close()


def test_sigterm_without_delay_exits_promptly(start_service):
    app = start_service("user-hasher", USER_SALT="s")
    assert get_json(f"{app.url}/user_hash?user_id=u")[0] == 200
    started = time.monotonic()
    app.terminate()
    assert app.wait(timeout=10) in {0, -signal.SIGTERM}
    assert time.monotonic() - started < 5
    log = app.log_path.read_text()
    assert "shutdown requested" in log
