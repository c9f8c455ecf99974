"""sre.platform.http_probe through Ansible against a real HTTP server process on loopback.

The server is a small ThreadingHTTPServer script run as its own process: the test stops it by PID and
starts it again on the same port. It writes the instant its socket started listening, so the window in
which requests must fail is known from both ends: the test's own clock before the stop, the server's
after the restart.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from ansible_collections.sre.platform.plugins.modules.http_probe import validation_errors

from tests.harness.ansible import BackgroundModule, run_module
from tests.harness.apps import AppServer

RATE = 20

# GET /status/<code> answers <code>; GET /sleep/<seconds> answers 200 after that long; anything else 200.
SERVER = """
import http.server, pathlib, sys, time

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        parts = self.path.strip("/").split("/")
        if parts[0] == "sleep":
            time.sleep(float(parts[1]))
        status = int(parts[1]) if parts[0] == "status" else 200
        body = b"ok"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
pathlib.Path(sys.argv[2]).write_text(repr(time.time()))  # listening from this instant
server.serve_forever()
"""


@pytest.fixture
def http_server(server_factory, tmp_path) -> AppServer:
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    server = AppServer("probe-target", [sys.executable, str(script), "{port}", str(tmp_path / "listening")])
    return server_factory(server)


def wait_for_request(server: AppServer, path: str, timeout: float = 30) -> None:
    """Wait until the server logged a request for ``path`` (the probe has started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if f'"GET {path} ' in server.log_tail(5):
            return
        time.sleep(0.02)
    raise AssertionError(f"no request for {path} reached the server within {timeout} s")


def scheduled_between(result: dict, start: float, end: float) -> int:
    """Requests the probe scheduled in [start, end): request i is due at start_epoch + i / rate."""
    origin = result["window"]["start_epoch"]
    return sum(1 for i in range(result["scheduled"]) if start <= origin + i / RATE < end)


def test_an_outage_fails_exactly_the_requests_sent_while_the_server_was_down(http_server):
    probe = BackgroundModule(
        "sre.platform.http_probe", {"url": f"{http_server.url}/probe", "rate": RATE, "duration": 6, "timeout": 1}
    )
    probe.start()
    wait_for_request(http_server, "/probe")
    time.sleep(1.5)
    down_at = time.time()
    http_server.stop()
    time.sleep(1.5)
    http_server.start()
    up_at = float(Path(http_server.argv[-1]).read_text())
    result = probe.outcome(60)

    assert not result.get("failed"), result.get("msg")
    expected = scheduled_between(result, down_at, up_at)
    print(f"down {up_at - down_at:.3f} s: {expected} requests scheduled then, {result['failures']} failed")
    assert result["scheduled"] == 6 * RATE
    assert result["successes"] + result["failures"] == result["scheduled"]
    assert abs(result["failures"] - expected) <= 1, f"{expected} requests were due during the outage: {result}"
    assert result["failures_by_reason"]["connection_refused"] >= result["failures"] - 1
    assert result["longest_failure_gap"]["attempts"] == result["failures"]
    assert result["longest_failure_gap"]["seconds"] == pytest.approx(up_at - down_at, abs=2 / RATE)
    assert result["longest_gap"]["seconds"] == pytest.approx(up_at - down_at, abs=0.2)
    assert result["status_codes"] == {"200": result["successes"]}


def test_a_server_that_stays_up_fails_nothing(http_server):
    args = {"url": f"{http_server.url}/steady", "rate": RATE, "duration": 2, "fail_on_error": True}
    result = run_module("sre.platform.http_probe", args)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    assert (result["scheduled"], result["successes"], result["failures"]) == (2 * RATE, 2 * RATE, 0)
    assert result["longest_failure_gap"]["attempts"] == 0
    assert result["longest_gap"]["seconds"] < 0.5
    assert 0 < result["latency_p50_ms"] <= result["latency_p95_ms"] <= result["latency_p99_ms"]
    assert result["latency_p99_ms"] <= result["latency_max_ms"] < 1000
    assert result["max_start_delay_ms"] < 250


def test_unexpected_status_fails_the_task_with_fail_on_error(http_server):
    args = {"url": f"{http_server.url}/status/503", "rate": 10, "duration": 1, "fail_on_error": True}
    result = run_module("sre.platform.http_probe", args)
    assert result["failed"] is True
    assert "10 of 10 requests" in result["msg"] and "10 unexpected_status" in result["msg"]
    assert result["status_codes"] == {"503": 10}
    assert result["latency_p99_ms"] is None


def test_slow_answers_are_timeouts_and_later_requests_still_leave_on_time(http_server):
    args = {"url": f"{http_server.url}/sleep/2", "rate": 10, "duration": 1, "timeout": 0.3}
    started = time.monotonic()
    result = run_module("sre.platform.http_probe", args)
    assert not result.get("failed"), result.get("msg")
    assert result["failures_by_reason"]["timeout"] == result["failures"] == 10
    # One at a time, request 9 would start 1.8 s late (each waits for the 0.3 s timeout of the one before).
    assert result["max_start_delay_ms"] < 250, "a hanging request must not delay the next ones"
    assert result["longest_failure_gap"]["seconds"] == pytest.approx(1, abs=0.05)
    assert time.monotonic() - started < 30


def test_a_stop_file_ends_the_probe_its_delay_after_it_appears(http_server, tmp_path):
    marker = tmp_path / "change-done"
    args = {
        "url": f"{http_server.url}/during",
        "rate": RATE,
        "duration": 120,
        "stop_delay": 1,
        "stop_file": str(marker),
    }
    probe = BackgroundModule("sre.platform.http_probe", args)
    probe.start()
    wait_for_request(http_server, "/during")
    time.sleep(1)
    marker.touch()
    created_at = time.time()
    result = probe.outcome(60)

    assert not result.get("failed"), result.get("msg")
    assert result["stopped_by"] == "stop_file"
    # Seen within one interval of its creation, then one more second of requests.
    assert result["window"]["end_epoch"] == pytest.approx(created_at + 1, abs=2 / RATE + 0.05)
    assert result["scheduled"] == result["successes"] == scheduled_between(result, 0, result["window"]["end_epoch"])
    assert RATE * 2 <= result["scheduled"] < RATE * 10
    assert result["parameters"]["stop_file"] == str(marker)


def test_without_its_stop_file_the_probe_runs_its_duration(http_server, tmp_path):
    args = {"url": f"{http_server.url}/steady", "rate": RATE, "duration": 1, "stop_file": str(tmp_path / "never")}
    result = run_module("sre.platform.http_probe", args)
    assert not result.get("failed"), result.get("msg")
    assert (result["stopped_by"], result["scheduled"]) == ("duration", RATE)


def test_check_mode_sends_no_write(http_server):
    args = {"url": f"{http_server.url}/write", "method": "post", "body": "{}", "rate": 5, "duration": 2}
    result = run_module("sre.platform.http_probe", args, check=True)
    assert not result.get("failed"), result.get("msg")
    assert result["msg"].startswith("would send 10 POST requests")
    assert "POST /write" not in http_server.log_tail(50)
    bounded = run_module("sre.platform.http_probe", {**args, "stop_file": "/nonexistent/done"}, check=True)
    assert bounded["msg"].startswith("would send up to 10 POST requests"), bounded["msg"]


def test_invalid_options_are_all_reported():
    params = {
        "url": "ftp://x/",
        "rate": 0,
        "duration": 5,
        "timeout": 1,
        "concurrency": 0,
        "expected_status": [],
        "stop_delay": -1,
    }
    message = "; ".join(validation_errors(params))
    for fragment in (
        "rate must be positive",
        "concurrency must be at least 1",
        "http:// or https://",
        "expected_status",
        "stop_delay must not be negative",
    ):
        assert fragment in message
