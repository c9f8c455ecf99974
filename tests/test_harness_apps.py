"""The application-server helper: starts a real process, waits for health, stops by PID."""

from __future__ import annotations

import os
import sys
import urllib.request

import pytest

from tests.harness.apps import AppServer

# A tiny HTTP server: answers 200 on every path, logs nothing.
HTTP_SERVER = (
    "import http.server, os\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        self.send_response(200); self.end_headers(); self.wfile.write(os.environ['GREETING'].encode())\n"
    "    def log_message(self, *args): pass\n"
    "http.server.HTTPServer((os.environ['HOST'], int(os.environ['PORT'])), H).serve_forever()\n"
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_app_server_starts_answers_and_stops(server_factory):
    server = server_factory(AppServer("hello", [sys.executable, "-c", HTTP_SERVER], env={"GREETING": "hi"}))
    with urllib.request.urlopen(f"{server.url}/healthz", timeout=5) as response:
        assert response.read() == b"hi"
    pid = server.pid
    server.stop()
    assert not _alive(pid)


def test_app_server_substitutes_the_port_in_arguments():
    server = AppServer("echo", [sys.executable, "-c", "pass", "--bind=127.0.0.1:{port}"])
    assert server.argv[-1] == f"--bind=127.0.0.1:{server.port}"
    server.cleanup()


def test_app_server_that_exits_reports_its_log(server_factory):
    failing = AppServer("broken", [sys.executable, "-c", "print('bad config: PORT'); raise SystemExit(3)"])
    with pytest.raises(RuntimeError, match="bad config: PORT"):
        server_factory(failing)
