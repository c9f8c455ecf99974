"""/metrics adds up the series of every gunicorn worker (multiprocess mode)."""

from __future__ import annotations

from tests.harness.http import http, metric_samples


def test_metrics_count_known_traffic_exactly_across_workers(start_service, redis):
    kv = start_service("kv-store", REDIS_URL=redis.url, WEB_CONCURRENCY="2", POD_IP="10.9.8.7", NODE_IP="192.0.2.9")
    identity = {("app_version", "1.0.0"), ("pod_ip", "10.9.8.7"), ("node_ip", "192.0.2.9")}
    # Fresh connections spread the requests over both workers.
    for _ in range(20):
        assert http("GET", f"{kv.url}/")[0] == 200
    assert http("POST", f"{kv.url}/write?count=4")[0] == 201
    assert http("DELETE", f"{kv.url}/delete?key=absent")[0] == 404
    text = http("GET", f"{kv.url}/metrics")[2].decode()

    operations = metric_samples(text, "kv_operations_total")
    assert operations == {
        frozenset(identity | {("operation", "roundtrip"), ("result", "ok")}): 20,
        frozenset(identity | {("operation", "write"), ("result", "ok")}): 4,
        frozenset(identity | {("operation", "delete"), ("result", "not_found")}): 1,
    }
    responses = metric_samples(text, "http_responses_total")
    root = identity | {("route", "/"), ("method", "GET")}
    assert responses[frozenset(root | {("status_class", "2xx")})] == 20
    delete = identity | {("route", "/delete"), ("method", "DELETE"), ("status_class", "4xx")}
    assert responses[frozenset(delete)] == 1
    assert metric_samples(text, "http_request_duration_seconds_count")[frozenset(root)] == 20
