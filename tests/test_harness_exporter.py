"""The test exporter: a real HTTP server process serving known series, stopped by PID."""

from __future__ import annotations

import os
import time
import urllib.request

from tests.harness.exporter import MetricsExporter, exposition


def test_exposition_text():
    series = [{"name": "hits_total", "labels": {"b": "2", "a": "1"}, "per_second": 4}, {"name": "g", "value": 0.5}]
    assert exposition(series, 2.5) == 'hits_total{a="1",b="2"} 10.0\ng{} 0.5\n'


def test_a_series_read_from_postgresql_is_left_out_while_its_query_fails(postgres_server):
    dsn = postgres_server.dsn()
    answered = {"name": "answer", "sql": "SELECT 6 * 7", "dsn": dsn}
    failing = {"name": "broken", "sql": "SELECT * FROM no_such_table", "dsn": dsn}
    unreachable = {"name": "gone", "sql": "SELECT 1", "dsn": "host=127.0.0.1 port=1 user=nobody"}
    assert exposition([answered, failing, unreachable], 0) == "answer{} 42.0\n"


def _scrape(url: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=2) as response:
        text = response.read().decode()
    return {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()}


def test_counter_grows_gauge_stays_and_stop_ends_the_process(server_factory):
    exporter = server_factory(MetricsExporter([{"name": "c_total", "per_second": 100}, {"name": "g", "value": 7}]))
    first = _scrape(exporter.url)
    time.sleep(0.3)
    second = _scrape(exporter.url)
    assert second["c_total{}"] > first["c_total{}"]
    assert first["g{}"] == second["g{}"] == 7
    pid = exporter.pid
    exporter.stop()
    try:
        os.kill(pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive
