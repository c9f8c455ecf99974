"""A benchmark against a baseline: known figures on both sides, exact changes and regressions."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.sre.platform.plugins.filter.bench_comparison import bench_comparison
from ansible_collections.sre.platform.plugins.filter.bench_result_errors import bench_result_errors
from ansible_collections.sre.platform.plugins.module_utils.bench_compare import compare

PARAMETERS = {
    "duration": 300,
    "clients": 10,
    "jobs": 2,
    "rate": None,
    "protocol": "prepared",
    "scale": 10,
    "workload": {"scripts": [{"path": "/a/files/pgbench/read.sql", "weight": 5}]},
}


def result(tps, p99, scripts=(), **parameters) -> dict:
    figures = {"tps": tps, "latency_avg_ms": 1.0, "latency_p50_ms": 1.0, "latency_p95_ms": 2.0, "latency_p99_ms": p99}
    return {
        **figures,
        "window_start": "2026-12-04T22:00:00.000000Z",
        "parameters": {**PARAMETERS, **parameters},
        "by_script": [
            {"script": name, **figures, "tps": s_tps, "latency_p99_ms": s_p99} for name, s_tps, s_p99 in scripts
        ],
    }


def _row(comparison: dict, scope: str, figure: str) -> dict:
    (row,) = [r for r in comparison["rows"] if (r["scope"], r["figure"]) == (scope, figure)]
    return row


def test_changes_and_regressions_per_figure_and_script():
    baseline = result(1000.0, 4.0, [("read.sql", 800.0, 2.0), ("gone.sql", 200.0, 8.0)])
    current = result(900.0, 5.0, [("read.sql", 880.0, 1.5), ("new.sql", 20.0, 9.0)])
    comparison = compare(current, baseline, max_regression_percent=10)

    tps = _row(comparison, "all", "tps")
    assert (tps["baseline"], tps["current"]) == (1000.0, 900.0)
    assert tps["change_percent"] == pytest.approx(-10.0) and tps["regression_percent"] == pytest.approx(10.0)
    assert tps["text"] == {"baseline": "1000.0", "current": "900.0", "change": "-10.0 %"}
    p99 = _row(comparison, "all", "latency_p99_ms")
    assert p99["change_percent"] == pytest.approx(25.0) and p99["regression_percent"] == pytest.approx(25.0)
    read_tps = _row(comparison, "read.sql", "tps")
    assert read_tps["regression_percent"] == pytest.approx(-10.0), "more TPS is better: a negative regression"
    assert _row(comparison, "read.sql", "latency_p99_ms")["regression_percent"] == pytest.approx(-25.0)
    # Only scripts both runs had are compared.
    assert {row["scope"] for row in comparison["rows"]} == {"all", "read.sql"}
    # 10 % worse is within a 10 % limit; 25 % is not.
    assert comparison["regressions"] == ["all latency_p99_ms: 4 -> 5 (25.0 % worse)"]
    assert comparison["differing_parameters"] == []
    assert comparison["baseline_window_start"] == "2026-12-04T22:00:00.000000Z"


def test_without_a_limit_nothing_is_called_a_regression():
    assert compare(result(500.0, 50.0), result(1000.0, 4.0))["regressions"] == []
    worse = compare(result(500.0, 4.0), result(1000.0, 4.0), max_regression_percent=10)
    assert worse["regressions"] == ["all tps: 1000.0 -> 500.0 (50.0 % worse)"], "no exponent in a message"


def test_differing_parameters_are_named_but_a_scripts_directory_is_not():
    other_checkout = {"scripts": [{"path": "/b/files/pgbench/read.sql", "weight": 5}]}
    assert (
        compare(result(1.0, 1.0, workload=other_checkout, duration=60), result(1.0, 1.0))["differing_parameters"] == []
    )
    changed = compare(result(1.0, 1.0, clients=20, workload={"builtin": "select-only"}), result(1.0, 1.0))
    assert changed["differing_parameters"] == [
        "clients: 10 -> 20",
        "workload: [('read.sql', 5)] -> select-only",
    ]


def test_a_baseline_without_a_value_gives_no_percentage():
    baseline = result(1000.0, 4.0, [("idle.sql", 0.0, None)])
    comparison = compare(result(1000.0, 4.0, [("idle.sql", 5.0, 3.0)]), baseline, max_regression_percent=0)
    assert _row(comparison, "idle.sql", "tps")["change_percent"] is None
    latency = _row(comparison, "idle.sql", "latency_p99_ms")
    assert latency["text"] == {"baseline": "n/a", "current": "3", "change": "n/a"}
    assert _row(comparison, "idle.sql", "latency_p99_ms")["regression_percent"] is None
    assert comparison["regressions"] == []


def test_the_filter_names_what_is_not_a_pg_bench_result():
    with pytest.raises(AnsibleFilterError, match=r"bench_comparison: the baseline is not a pg_bench result"):
        bench_comparison(result(1.0, 1.0), {"rows": []})
    with pytest.raises(AnsibleFilterError, match=r"the baseline is not a pg_bench result: 'tps' is 'fast', not a"):
        bench_comparison(result(1.0, 1.0), {**result(1.0, 1.0), "tps": "fast"})


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        (result(1.0, 4.0, [("read.sql", 1.0, None)]), []),
        ({**result(1.0, None), "latency_avg_ms": None}, []),
        ('{"tps": 1, "parameters": {}}', []),
        ("{", ["not JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"]),
        ("[]", ["not a mapping but a list"]),
        ({"tps": None, "parameters": []}, ["'tps' is null, not a number", "'parameters' is not a mapping"]),
        (
            {**result(True, 4.0), "latency_p95_ms": "9"},
            ["'tps' is True, not a number", "'latency_p95_ms' is '9', not a number"],
        ),
        ({**result(1.0, 4.0), "by_script": {"read.sql": {}}}, ["'by_script' is not a list of scripts' figures"]),
        (result(1.0, 4.0, [("read.sql", "1", 2.0)]), ["by_script read.sql: 'tps' is '1', not a number"]),
    ],
)
def test_bench_result_errors_name_every_figure_that_cannot_be_compared(value, errors):
    assert bench_result_errors(value) == errors
    assert bench_comparison(result(2.0, 1.0), result(1.0, 1.0), "5")["regressions"] == []
