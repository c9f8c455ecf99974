"""user-hasher as a real uvicorn process on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json

import pytest
from user_hasher.main import MAX_USER_ID_LENGTH

from tests.harness.http import get_json, http, metric_samples
from tests.harness.openapi import check_operations

CHECK_HASH = "9f1021612c2a810d26472a66e4064f6608d52fd3"


@pytest.fixture(scope="module")
def server(module_service):
    return module_service("user-hasher", USER_SALT="TESTSALT")


def test_check_value_with_the_test_salt(server):
    status, headers, body = http("GET", f"{server.url}/user_hash?user_id=TESTUSERID")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert body == f'"{CHECK_HASH}"'.encode()


@pytest.mark.parametrize(
    "query", ["user_id=TEST%55SERID", "user_id=x&user_id=TESTUSERID", "other=1&user_id=TESTUSERID"]
)
def test_query_read_as_fastapi_reads_it(server, query):
    # Percent-escapes decoded, the last of repeated names wins, unknown names ignored.
    assert get_json(f"{server.url}/user_hash?{query}") == (200, CHECK_HASH)


def test_user_id_bound_counts_characters_not_bytes(server):
    two_byte = "%C3%A9"  # é
    assert get_json(f"{server.url}/user_hash?user_id={two_byte * MAX_USER_ID_LENGTH}")[0] == 200
    assert get_json(f"{server.url}/user_hash?user_id={two_byte * (MAX_USER_ID_LENGTH + 1)}")[0] == 422


@pytest.mark.parametrize("user_id", ["%FF", "%FE", "%C0", "%C3", "TEST%FFUSER", "%ED%A0%80", "%F4%90%80%80"])
def test_user_id_not_utf8_gets_422(server, user_id):
    # Read with U+FFFD in place of the bad bytes, all of these would hash alike.
    status, body = get_json(f"{server.url}/user_hash?user_id={user_id}")
    assert status == 422
    assert [(e["loc"], e["type"]) for e in body["detail"]] == [(["query", "user_id"], "string_unicode")]


def test_replacement_character_sent_as_utf8_is_a_user_id_like_any_other(server):
    assert get_json(f"{server.url}/user_hash?user_id=%EF%BF%BD")[0] == 200


@pytest.mark.parametrize(
    "query", ["", "?user_id=", "?user_id=TESTUSERID&user_id=", f"?user_id={'x' * (MAX_USER_ID_LENGTH + 1)}"]
)
def test_missing_empty_or_huge_user_id_gets_422(server, query):
    status, body = get_json(f"{server.url}/user_hash{query}")
    assert status == 422
    assert body["detail"][0]["loc"] == ["query", "user_id"]


def test_probes(server):
    assert get_json(f"{server.url}/healthz") == (200, {"status": "ok"})
    assert get_json(f"{server.url}/readyz") == (200, {"status": "ready"})


def _log_entries(server) -> list[dict]:
    return [json.loads(line) for line in server.log_path.read_text().splitlines() if line.startswith("{")]


def test_without_salt_hashes_with_empty_salt_and_warns_once(start_service):
    server = start_service("user-hasher", USER_SALT="")
    unsalted = hashlib.sha1(b"TESTUSERID", usedforsecurity=False).hexdigest()
    for _ in range(2):
        assert get_json(f"{server.url}/user_hash?user_id=TESTUSERID") == (200, unsalted)
    warnings = [e for e in _log_entries(server) if e["level"] == "WARNING" and "USER_SALT" in e["message"]]
    assert len(warnings) == 1


def test_access_log_is_json_with_request_id(start_service):
    server = start_service("user-hasher", USER_SALT="s", ACCESS_LOG="true")
    http("GET", f"{server.url}/user_hash?user_id=u1", headers={"X-Request-ID": "trace-42"})
    server.stop()
    access = [e for e in _log_entries(server) if e["logger"] == "access" and e["path"] == "/user_hash"]
    assert access == [
        {
            **access[0],
            "request_id": "trace-42",
            "route": "/user_hash",
            "method": "GET",
            "status": 200,
            "service": "user-hasher",
        }
    ]
    assert access[0]["duration_ms"] > 0


def test_no_access_log_by_default(server):
    http("GET", f"{server.url}/user_hash?user_id=quiet")
    assert not [e for e in _log_entries(server) if e["logger"] == "access"]


def test_metrics_count_known_traffic_exactly(start_service):
    server = start_service("user-hasher", USER_SALT="s", POD_IP="10.0.0.5", NODE_IP="192.0.2.1")
    identity = {("app_version", "1.0.0"), ("pod_ip", "10.0.0.5"), ("node_ip", "192.0.2.1")}
    for user in ("a", "b", "c", "d", "e"):
        assert get_json(f"{server.url}/user_hash?user_id={user}")[0] == 200
    assert get_json(f"{server.url}/user_hash?user_id=")[0] == 422
    assert get_json(f"{server.url}/nowhere")[0] == 404
    text = http("GET", f"{server.url}/metrics")[2].decode()

    assert metric_samples(text, "user_hashes_generated_total") == {frozenset(identity): 5}
    responses = metric_samples(text, "http_responses_total")
    hashes = identity | {("route", "/user_hash"), ("method", "GET")}
    assert responses[frozenset(hashes | {("status_class", "2xx")})] == 5
    assert responses[frozenset(hashes | {("status_class", "4xx")})] == 1
    unmatched = identity | {("route", "unmatched"), ("method", "GET"), ("status_class", "4xx")}
    assert responses[frozenset(unmatched)] == 1
    buckets = metric_samples(text, "http_request_duration_seconds_bucket")
    assert buckets[frozenset(hashes | {("le", "+Inf")})] == 6
    # Every series carries the identity labels.
    for name in ("http_responses_total", "http_request_duration_seconds_count", "user_hashes_generated_total"):
        assert all(identity <= labels for labels in metric_samples(text, name))


def test_api_conforms_to_its_schema(start_service):
    server = start_service("user-hasher", USER_SALT="s")
    checked = check_operations(f"{server.url}/openapi.json", max_examples=60)
    assert "GET /user_hash" in checked
