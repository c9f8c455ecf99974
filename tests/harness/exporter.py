"""A tiny metrics exporter for tests: serves known series in the Prometheus exposition format.

It is a real HTTP server in its own process on 127.0.0.1, stopped by PID like the
other harness servers. Each series is ``{"name", "labels", "value", "per_second"}``:
its value at scrape time is ``value + per_second * seconds_since_start``, so a
counter with ``per_second: 5`` has ``rate() == 5`` and a series with only
``value`` is a constant gauge. A series with ``sql`` and ``dsn`` instead reads
its value from PostgreSQL at each scrape (the first column of the first row),
as a database exporter does; it is left out of a scrape where the query fails.

    exporter = server_factory(MetricsExporter([{"name": "up_total", "per_second": 1}]))
    prometheus = server_factory(PrometheusServer(config=scrape_config(exporter.target)))
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.harness.servers import LOOPBACK, ManagedServer, _workdir, free_port, wait_for_http

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def queried(item: dict) -> float | None:
    """The value ``item["sql"]`` reads now, or None when the database cannot answer."""
    import psycopg2  # only the series that read a database need the driver

    try:
        with closing(psycopg2.connect(item["dsn"], connect_timeout=2)) as connection, connection.cursor() as cursor:
            cursor.execute(item["sql"])
            return float(cursor.fetchone()[0])
    except psycopg2.Error:
        return None


def exposition(series: list[dict], elapsed: float) -> str:
    """The exposition text of every series after ``elapsed`` seconds."""
    lines = []
    for item in series:
        labels = ",".join(f'{key}="{value}"' for key, value in sorted(item.get("labels", {}).items()))
        value = queried(item) if "sql" in item else item.get("value", 0) + item.get("per_second", 0) * elapsed
        if value is not None:
            lines.append(f"{item['name']}{{{labels}}} {value!r}")
    return "\n".join(lines) + "\n"


def scrape_config(target: str, interval: str = "1s") -> str:
    """A Prometheus configuration scraping ``target`` (``host:port``) as job ``exporter``."""
    return (
        f"global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n"
        f"scrape_configs:\n  - job_name: exporter\n    static_configs:\n      - targets: ['{target}']\n"
    )


class MetricsExporter(ManagedServer):
    """Serves ``series`` on ``/metrics`` from a child process."""

    def __init__(self, series: list[dict]) -> None:
        super().__init__("exporter", free_port(), _workdir("exporter"))
        self.series = series

    def start(self, timeout: float = 15.0) -> MetricsExporter:
        argv = [sys.executable, "-m", "tests.harness.exporter", "--port", str(self.port), json.dumps(self.series)]
        self.spawn(argv, env={"PYTHONPATH": str(REPOSITORY_ROOT), "PATH": "/usr/bin:/bin"})
        wait_for_http(f"{self.url}/metrics", timeout, self.proc)
        return self

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def target(self) -> str:
        return f"{LOOPBACK}:{self.port}"


def serve(port: int, series: list[dict]) -> None:
    started = time.monotonic()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/metrics":
                self.send_error(404)
                return
            body = exposition(series, time.monotonic() - started).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # scrapes every second would flood the log
            pass

    ThreadingHTTPServer((LOOPBACK, port), Handler).serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("series", help="JSON list of series")
    arguments = parser.parse_args()
    serve(arguments.port, json.loads(arguments.series))
