"""Every objective, alert and dashboard leaves the same requests out: probes and scrapes.

They always succeed and, on a quiet service, outnumber real traffic, so a query that kept
one of them would dilute the errors it measures. The matcher is written in each file (the
SLO files, the service alerts, the dashboards); this keeps every copy there and identical.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    *sorted((ROOT / "files" / "slos").glob("*.yml")),
    *sorted((ROOT / "files" / "rules" / "services").glob("*.yml")),
    *sorted((ROOT / "files" / "dashboards").glob("*.json")),
]
# The routes every service registers for its probes and its scrape (service_common asgi.py, wsgi.py).
PROBE_ROUTES = {"/healthz", "/readyz", "/metrics"}
# A selector of the services' request metrics, its quotes escaped or not (dashboards are JSON).
SELECTOR = re.compile(r"(http_responses_total|http_request_duration_seconds_(?:bucket|count|sum))\{([^}]*)\}")
ROUTE_MATCHER = re.compile(r'route(!~|=~|!=|=)\\?"([^"\\]*)\\?"')


BY_ROUTE = re.compile(r"by \(([^)]*\broute\b[^)]*)\)")


def selectors() -> list[tuple[str, str, str, str]]:
    """(file, line, metric, matchers) of every selector of the request metrics in the sources.

    Each query in these files is on one line (PromQL in YAML, the "expr" of a JSON target).
    """
    return [
        (str(path.relative_to(ROOT)), line, metric, matchers)
        for path in SOURCES
        for line in path.read_text().splitlines()
        for metric, matchers in SELECTOR.findall(line)
    ]


def test_every_query_of_the_request_metrics_leaves_out_exactly_the_probe_and_scrape_routes():
    found = selectors()
    assert {path for path, *_ in found} >= {
        "files/rules/services/ServiceHighErrorRate.yml",
        "files/dashboards/services.json",
        "files/slos/kv-store.yml",
    }
    for path, line, metric, matchers in found:
        routes = ROUTE_MATCHER.findall(matchers)
        if not routes and BY_ROUTE.search(line):
            continue  # a query per route shows the probes apart from the rest
        assert routes, f"{path}: {metric}{{{matchers}}} counts probes and scrapes"
        for operator, pattern in routes:
            assert (operator, set(pattern.split("|"))) == ("!~", PROBE_ROUTES), f"{path}: {metric}{{{matchers}}}"


def test_the_services_register_exactly_those_routes_outside_the_api():
    common = ROOT / "services" / "common" / "service_common"
    for module in ("asgi.py", "wsgi.py"):
        text = (common / module).read_text()
        assert {route for route in PROBE_ROUTES if f'"{route}"' in text} == PROBE_ROUTES, module
