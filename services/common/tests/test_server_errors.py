"""Requests the HTTP server refuses before the application sees them (a request line or
header fields over the limits, a request it cannot parse) get the service's own JSON error
(FastAPI's ``{"detail": ...}``, kv-store's ``{"error": ..., "request_id": ...}``),
Content-Type application/json, Connection: close and an X-Request-ID, never the server's
HTML or plain text. Each is counted and logged like any response. Every service runs as
its image runs it, sent raw bytes no HTTP client would send."""

from __future__ import annotations

import contextlib
import json
import socket
from dataclasses import dataclass

import pytest
from service_common.http_errors import HEAD_LIMITS

from tests.harness.http import http, metric_samples

SERVICES = ["password-generator", "user-hasher", "kv-store"]

MALFORMED = "invalid HTTP request"
LINE_TOO_LONG = f"request line longer than {HEAD_LIMITS.request_line} bytes"
FIELDS_TOO_LARGE = (
    f"request header fields too large: at most {HEAD_LIMITS.fields} fields"
    f" of at most {HEAD_LIMITS.field_size} bytes each"
)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool

    def json(self) -> dict:
        return json.loads(self.body)


@pytest.fixture(scope="module", params=SERVICES)
def service(request, module_service, redis_server):
    return module_service(request.param, REDIS_URL=redis_server.url, USER_SALT="salt")


def _exchange(port: int, request: bytes) -> Answer:
    """Send ``request`` whole, then read the answer and whether the server closed the connection.

    A server that refuses a request before reading all of it closes with bytes unread, and the
    kernel may then reset the connection: a reset after the whole answer is a close too.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        # Refused before it was all sent: the answer is still read below.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        received = b""
        closed = False
        while not closed:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                data = b""
            except TimeoutError:
                break
            received += data
            closed = not data
            if not closed and _complete(received):
                sock.settimeout(2)  # a kept-alive connection stays open: do not wait long
    return _parsed(received, closed)


def _complete(received: bytes) -> bool:
    head, separator, body = received.partition(b"\r\n\r\n")
    length = int(_headers(head).get("content-length", "0"))
    return bool(separator) and len(body) >= length


def _headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}


def _parsed(received: bytes, closed: bool) -> Answer:
    assert received, "no answer at all"
    head, _, body = received.partition(b"\r\n\r\n")
    return Answer(int(head.split(b" ")[1]), _headers(head), body, closed)


def _get(target: str = "/healthz", headers: tuple[str, ...] = ("Host: test",), version: str = "HTTP/1.1") -> bytes:
    return "\r\n".join([f"GET {target} {version}", *headers, "", ""]).encode()


def _target_for_line(length: int) -> str:
    """A /healthz target whose request line (without its CRLF) is ``length`` bytes long."""
    base = len("GET /healthz?pad= HTTP/1.1")
    return "/healthz?pad=" + "a" * (length - base)


def _with_field_of(size: int) -> tuple[str, str]:
    """Host and one header field that counts ``size`` bytes, its name, separator and CRLF included."""
    return ("Host: test", "X-Pad: " + "v" * (size - len("X-Pad: \r\n")))


def _fields(count: int) -> tuple[str, ...]:
    """``count`` header fields, Host included."""
    return ("Host: test", *(f"X-Field-{n}: v" for n in range(count - 1)))


REFUSED = {
    "request line of 10 KiB": (_get(_target_for_line(10 * 1024)), 414, LINE_TOO_LONG),
    "request line one byte over": (_get(_target_for_line(HEAD_LIMITS.request_line + 1)), 414, LINE_TOO_LONG),
    "200 header fields": (_get(headers=_fields(200)), 431, FIELDS_TOO_LARGE),
    "one field over the count": (_get(headers=_fields(HEAD_LIMITS.fields + 1)), 431, FIELDS_TOO_LARGE),
    "a header field of 10 KiB": (_get(headers=_with_field_of(10 * 1024)), 431, FIELDS_TOO_LARGE),
    "a field one byte over": (_get(headers=_with_field_of(HEAD_LIMITS.field_size + 1)), 431, FIELDS_TOO_LARGE),
    # Never finished: refused once more than any valid head has arrived, not held whole.
    "2 MiB of an unfinished header": (b"GET /healthz HTTP/1.1\r\nX-Big: " + b"v" * (2 << 20), 431, FIELDS_TOO_LARGE),
    "a garbage request line": (b"GARBAGE\r\n\r\n", 400, MALFORMED),
    "an invalid HTTP version": (_get(version="HTTP/9.x"), 400, MALFORMED),
    "a header name with a space": (_get(headers=("Host: test", "Bad Name: v")), 400, MALFORMED),
    "a Content-Length that is no number": (_get(headers=("Host: test", "Content-Length: x")), 400, MALFORMED),
}


@pytest.mark.parametrize("case", REFUSED)
def test_refused_request_gets_a_json_error_and_a_close(service, error_body, case):
    request, status, detail = REFUSED[case]
    answer = _exchange(service.port, request)
    request_id = answer.headers["x-request-id"]
    assert (answer.status, answer.json()) == (status, error_body(service.name, detail, request_id))
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["connection"].lower() == "close"
    assert len(request_id) == 32
    assert answer.closed


AT_THE_LIMITS = {
    "request line at the limit": _get(_target_for_line(HEAD_LIMITS.request_line)),
    "as many fields as allowed": _get(headers=_fields(HEAD_LIMITS.fields)),
    "a field at the limit": _get(headers=_with_field_of(HEAD_LIMITS.field_size)),
}


@pytest.mark.parametrize("case", AT_THE_LIMITS)
def test_request_at_the_limits_is_served(service, case):
    answer = _exchange(service.port, AT_THE_LIMITS[case])
    assert (answer.status, answer.json()) == (200, {"status": "ok"})


def _refused_4xx(service) -> float:
    _, _, text = http("GET", f"{service.url}/metrics")
    samples = metric_samples(text.decode(), "http_responses_total")
    wanted = {("route", "unmatched"), ("method", "OTHER"), ("status_class", "4xx")}
    return sum(value for labels, value in samples.items() if wanted <= labels)


def test_refusal_is_counted_and_logged_with_its_request_id(service):
    before = _refused_4xx(service)
    answer = _exchange(service.port, _get(headers=_fields(HEAD_LIMITS.fields + 1)))
    assert _refused_4xx(service) == before + 1
    request_id = answer.headers["x-request-id"]
    entries = [json.loads(line) for line in service.log_path.read_text().splitlines() if request_id in line]
    assert [(entry["status"], entry["detail"]) for entry in entries] == [(431, FIELDS_TOO_LARGE)]


def test_service_keeps_serving_after_a_refusal(service):
    _exchange(service.port, b"GARBAGE\r\n\r\n")
    assert http("GET", f"{service.url}/healthz")[0] == 200
