"""The services expose every metric, label and label value the dashboards and rules read.

Each service runs as a real process and answers a few requests; its /metrics is then compared with
the selectors of files/dashboards/services.json and of the generated service and SLO rules. A panel
or an alert naming a series no service exposes stays empty or silent without any error.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.harness.http import http
from tests.harness.servers import RedisServer

ROOT = Path(__file__).resolve().parents[3]
SERVICE_METRIC = re.compile(r"\b(http_\w+|passwords_generated_total|user_hashes_generated_total|kv_operations_total)\b")
SELECTOR = re.compile(r"\b(\w+)\{([^}]*)\}")
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"')
GROUPING = re.compile(r"\b(?:by|on)\s*\(([^)]*)\)")
# Labels Prometheus adds to every series of a ServiceMonitor target (files/charts/service).
TARGET_LABELS = {"namespace", "service", "pod", "job", "endpoint", "container", "instance"}
# Labels whose values the expressions compare with a fixed string: those values must occur.
EXACT_LABELS = {"status_class", "le"}
# A request each service counts as its business, then what every service answers: a client
# error, the probes and a scrape.
BUSINESS = {
    "password-generator": "/passwords?min_length=12&special_chars=1&digits=1&count=1",
    "user-hasher": "/user_hash?user_id=alice",
    "kv-store": "/",
}
COMMON_PATHS = ("/nowhere", "/healthz", "/readyz", "/metrics")


def service_expressions() -> list[str]:
    """Every PromQL expression of the services dashboard and of the service and SLO rule files."""
    board = json.loads((ROOT / "files" / "dashboards" / "services.json").read_text())
    exprs = [target["expr"] for panel in board["panels"] for target in panel.get("targets", [])]
    generated = ROOT / "files" / "rules" / "_generated"
    for path in [generated / "alerts-services.yml", *generated.glob("slo-*.yml")]:
        for group in yaml.safe_load(path.read_text())["groups"]:
            exprs += [rule["expr"] for rule in group["rules"]]
    return [expr for expr in exprs if SERVICE_METRIC.search(expr)]


def exposed(text: str) -> dict[str, dict[str, set[str]]]:
    """{metric name: {label name: values}} of one /metrics page."""
    found: dict[str, dict[str, set[str]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = found.setdefault(sample.name, {})
            for name, value in sample.labels.items():
                labels.setdefault(name, set()).add(value)
    return found


def merge(pages: list[dict[str, dict[str, set[str]]]]) -> dict[str, dict[str, set[str]]]:
    merged: dict[str, dict[str, set[str]]] = {}
    for page in pages:
        for metric, labels in page.items():
            for name, values in labels.items():
                merged.setdefault(metric, {}).setdefault(name, set()).update(values)
    return merged


def serve_traffic(server) -> None:
    for path in (BUSINESS[server.name], *COMMON_PATHS):
        http("GET", f"{server.url}{path}")


def scrape(server) -> dict[str, dict[str, set[str]]]:
    return exposed(http("GET", f"{server.url}/metrics")[2].decode())


@pytest.fixture(scope="module")
def metrics(module_service) -> dict[str, dict[str, set[str]]]:
    servers = [module_service("password-generator"), module_service("user-hasher", USER_SALT="salt")]
    redis = RedisServer().start()
    try:
        kv = module_service("kv-store", REDIS_URL=redis.url)
        for server in [*servers, kv]:
            serve_traffic(server)
    finally:
        redis.cleanup()
    # Without its Redis, kv-store answers 503: a server error, as the 5xx selectors expect.
    assert http("GET", f"{kv.url}/")[0] == 503
    return merge([scrape(server) for server in [*servers, kv]])


def problems(expr: str, metrics: dict[str, dict[str, set[str]]]) -> list[str]:
    """What ``expr`` reads that no service exposes."""
    found = []
    used_labels = set(TARGET_LABELS)
    for metric, matchers in SELECTOR.findall(expr):
        if metric not in metrics:
            found.append(f"metric {metric}")
            continue
        labels = metrics[metric]
        used_labels |= set(labels)
        for name, operator, value in MATCHER.findall(matchers):
            if name not in labels and name not in TARGET_LABELS:
                found.append(f"label {metric}{{{name}}}")
            elif operator == "=" and name in EXACT_LABELS and value not in labels[name]:
                found.append(f'value {metric}{{{name}="{value}"}} (exposed: {sorted(labels[name])})')
            elif operator in ("=~", "!~") and name == "route":
                found += [f'route {metric}{{route="{path}"}}' for path in value.split("|") if path not in labels[name]]
    for grouping in GROUPING.findall(expr):
        found += [f"grouping label {name}" for name in re.findall(r"\w+", grouping) if name not in used_labels]
    return found


def test_the_services_expose_every_series_the_dashboards_and_rules_read(metrics):
    exprs = service_expressions()
    assert len(exprs) > 20, "the services dashboard and the SLO rules are read"
    found = {expr: problems(expr, metrics) for expr in exprs}
    assert {expr: p for expr, p in found.items() if p} == {}


def test_a_selector_no_service_exposes_is_reported(metrics):
    assert problems('sum by (pod_name) (rate(http_requests_total{code="500"}[5m]))', metrics) == [
        "metric http_requests_total",
        "grouping label pod_name",
    ]
    assert problems('rate(http_responses_total{route!~"/health|/readyz"}[5m])', metrics) == [
        'route http_responses_total{route="/health"}'
    ]
    assert problems('rate(http_responses_total{status="5xx",status_class="500"}[5m])', metrics) == [
        "label http_responses_total{status}",
        "value http_responses_total{status_class=\"500\"} (exposed: ['2xx', '4xx', '5xx'])",
    ]
