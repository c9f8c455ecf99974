"""sre.platform.bench_plot through Ansible: a real PNG, honest changed, check mode writes nothing."""

from __future__ import annotations

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
