"""sre.platform.bench_plot through Ansible: a real PNG, honest changed, check mode writes nothing."""

from __future__ import annotations

import math

from ansible_collections.sre.platform.plugins.modules.bench_plot import plotted

from tests.harness.ansible import run_module

SERIES = [
    {"second": s, "transactions": 500 + s, "latency_p50_ms": 2.0 + s / 10, "latency_p99_ms": 9.0 + s} for s in range(5)
]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_writes_a_png_once(tmp_path):
    path = tmp_path / "plots" / "latency.png"
    args = {"timeseries": SERIES, "path": str(path), "latency_target_ms": 200}
    checked = run_module("sre.platform.bench_plot", args, check=True)
    assert checked["changed"] is True and not path.exists()
    first = run_module("sre.platform.bench_plot", args)
    assert not first.get("failed"), first.get("msg")
    assert first["changed"] is True and first["points"] == 5
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert run_module("sre.platform.bench_plot", args)["changed"] is False
    other = run_module("sre.platform.bench_plot", {**args, "title": "another run"})
    assert other["changed"] is True


def test_refuses_what_is_not_a_pg_bench_series(tmp_path):
    empty = run_module("sre.platform.bench_plot", {"timeseries": [], "path": str(tmp_path / "x.png")})
    assert empty["failed"] is True and "nothing to plot" in empty["msg"]
    partial = run_module("sre.platform.bench_plot", {"timeseries": [{"second": 0}], "path": str(tmp_path / "x.png")})
    assert partial["failed"] is True and "latency_p99_ms" in partial["msg"]


def _point(second: int, transactions: int, p50: float | None = None, p99: float | None = None) -> dict:
    return {"second": second, "transactions": transactions, "latency_p50_ms": p50, "latency_p99_ms": p99}


# A lock held from 0.6 s to 4.1 s: pg_bench gives the empty seconds with null latencies; an older series
# left them out altogether (second 2 here).
OUTAGE = [_point(0, 500, 2.0, 9.0), _point(1, 0), _point(3, 0), _point(4, 300, 800.0, 3500.0), _point(5, 510, 2, 9)]


def test_an_outage_is_drawn_as_zero_throughput_and_a_gap_in_the_latency_lines():
    series = plotted(OUTAGE)
    assert series["seconds"] == [0, 1, 2, 3, 4, 5]
    assert series["transactions"] == [500, 0, 0, 0, 300, 510]
    assert [math.isnan(value) for value in series["latency_p99_ms"]] == [False, True, True, True, False, False]
    assert series["latency_p50_ms"][4] == 800.0


def test_plots_an_outage_and_a_run_without_a_successful_transaction(tmp_path):
    outage = run_module("sre.platform.bench_plot", {"timeseries": OUTAGE, "path": str(tmp_path / "outage.png")})
    assert not outage.get("failed"), outage.get("msg")
    assert outage["points"] == 6, "every second from the first to the last"
    failed = {"timeseries": [_point(second, 0) for second in range(3)], "latency_target_ms": 200}
    none_succeeded = run_module("sre.platform.bench_plot", {**failed, "path": str(tmp_path / "failed.png")})
    assert not none_succeeded.get("failed"), none_succeeded.get("msg")
    assert (tmp_path / "failed.png").read_bytes().startswith(PNG_MAGIC)
