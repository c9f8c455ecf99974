"""Request ids and the access log of kv-store, as gunicorn serves it."""

from __future__ import annotations

import json

from tests.harness.http import http


def _log_entries(server) -> list[dict]:
    return [json.loads(line) for line in server.log_path.read_text().splitlines() if line.startswith("{")]


def test_request_id_is_echoed_or_made(kv):
    _, headers, _ = http("GET", f"{kv.url}/", headers={"X-Request-ID": "abc-123"})
    assert headers["X-Request-ID"] == "abc-123"
    _, headers, _ = http("GET", f"{kv.url}/", headers={"X-Request-ID": "bad id\twith spaces"})
    assert len(headers["X-Request-ID"]) == 32


def test_error_body_names_the_request_id(kv):
    status, headers, body = http("DELETE", f"{kv.url}/delete", headers={"X-Request-ID": "trace-400"})
    assert (status, headers["X-Request-ID"], json.loads(body)["request_id"]) == (400, "trace-400", "trace-400")


def test_access_log_is_json_with_request_id_and_route_template(start_service, redis):
    server = start_service("kv-store", REDIS_URL=redis.url, ACCESS_LOG="true")
    http("GET", f"{server.url}/", headers={"X-Request-ID": "trace-42"})
    http("GET", f"{server.url}/nowhere", headers={"X-Request-ID": "trace-404"})
    server.stop()
    access = {e["request_id"]: e for e in _log_entries(server) if e["logger"] == "access"}
    fields = ("route", "path", "method", "status", "service")
    assert {rid: tuple(access[rid][f] for f in fields) for rid in ("trace-42", "trace-404")} == {
        "trace-42": ("/", "/", "GET", 200, "kv-store"),
        "trace-404": ("unmatched", "/nowhere", "GET", 404, "kv-store"),
    }
    assert access["trace-42"]["duration_ms"] > 0


def test_no_access_log_by_default(kv):
    http("GET", f"{kv.url}/")
    assert not [e for e in _log_entries(kv) if e["logger"] == "access"]
