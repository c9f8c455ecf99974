"""SLO file loading, validation and verdict arithmetic (known inputs, exact outputs)."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import yaml
from ansible_collections.sre.platform.plugins.module_utils.slo_spec import (
    SloSpecError,
    format_duration,
    load_slo_dir,
    load_slo_file,
    parse_duration,
    ratio_verdict,
    render_window,
    threshold_verdict,
    validate_slo_spec,
)

ROOT = Path(__file__).resolve().parents[2]

VALID = {
    "service": "user-hasher",
    "slos": [
        {
            "name": "availability",
            "description": "Requests answered without a server error.",
            "objective": 99.9,
            "window": "30d",
            "sli": {
                "errors": 'sum(rate(http_responses_total{status_class="5xx"}[{{window}}]))',
                "total": "sum(rate(http_responses_total[{{ window }}]))",
            },
        },
        {
            "name": "latency-p99",
            "description": "99th percentile latency of transactions.",
            "indicator": {"bench": "latency_p99_ms"},
            "comparison": "<",
            "target": 200,
            "unit": "ms",
        },
    ],
}


def _spec_with(**changes) -> dict:
    """VALID with fields of the second (threshold) objective replaced or removed (None)."""
    data = copy.deepcopy(VALID)
    for key, value in changes.items():
        if value is None:
            data["slos"][1].pop(key, None)
        else:
            data["slos"][1][key] = value
    return data


def test_valid_spec_is_normalised():
    spec = validate_slo_spec(VALID, "inline")
    ratio, threshold = spec["slos"]
    assert spec["service"] == "user-hasher"
    assert spec["source"] == "inline"
    assert ratio["kind"] == "ratio"
    assert ratio["objective"] == 99.9
    assert ratio["window_seconds"] == 30 * 86400
    assert threshold == {
        "name": "latency-p99",
        "description": "99th percentile latency of transactions.",
        "kind": "threshold",
        "indicator": {"bench": "latency_p99_ms"},
        "comparison": "<",
        "target": 200.0,
        "unit": "ms",
        "window": None,
        "window_seconds": None,
    }


def test_a_bench_indicator_may_name_a_script():
    spec = validate_slo_spec(_spec_with(indicator={"bench": "latency_p99_ms", "script": "fulfil_order.sql"}), "x")
    assert spec["slos"][1]["indicator"] == {"bench": "latency_p99_ms", "script": "fulfil_order.sql"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "Latency_P99"}, "'name' must match"),
        ({"comparison": "=="}, "'comparison' must be one of"),
        ({"target": "fast"}, "'target' must be a finite number"),
        ({"target": True}, "'target' must be a finite number"),
        ({"indicator": {"bench": "a", "promql": "b"}}, "exactly one of"),
        ({"indicator": {"sql": "select 1"}}, "exactly one of"),
        ({"indicator": {"script": "a.sql"}}, "exactly one of"),
        ({"indicator": {"promql": "up", "script": "a.sql"}}, r"unknown keys \['script'\]"),
        ({"indicator": {"bench": "tps", "scripts": "a.sql"}}, r"unknown keys \['scripts'\]"),
        ({"indicator": {"bench": "tps", "script": ""}}, "indicator.script"),
        ({"indicator": None}, "either 'sli'"),
        ({"sli": {"errors": "a", "total": "b"}}, "not both"),
        ({"threshold": 3}, "unknown field"),
        ({"window": "a month"}, "not a Prometheus duration"),
    ],
)
def test_invalid_threshold_objective_is_refused_with_the_reason(changes, message):
    with pytest.raises(SloSpecError, match=message) as error:
        validate_slo_spec(_spec_with(**changes), "files/slos/x.yml")
    assert str(error.value).startswith("files/slos/x.yml: ")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["slos"][0].update(objective=100), "strictly between 0 and 100"),
        (lambda d: d["slos"][0].update(objective=0), "strictly between 0 and 100"),
        (lambda d: d["slos"][0]["sli"].pop("total"), "exactly 'errors' and 'total'"),
        (lambda d: d["slos"][0].pop("window"), "'window' must be a non-empty string"),
        (lambda d: d["slos"][1].update(name="availability"), r"unique in a file, repeated: \['availability'\]"),
        (lambda d: d.update(service="user_hasher"), "DNS-1123"),
        (lambda d: d.update(slos=[]), "non-empty list"),
        (lambda d: d.update(owner="team"), "unknown top-level field"),
    ],
)
def test_invalid_spec_is_refused_with_the_reason(mutate, message):
    data = copy.deepcopy(VALID)
    mutate(data)
    with pytest.raises(SloSpecError, match=message):
        validate_slo_spec(data)


def test_load_slo_file_reports_yaml_errors_with_the_path(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("service: [unclosed\n")
    with pytest.raises(SloSpecError, match=f"{broken}: not valid YAML"):
        load_slo_file(broken)
    with pytest.raises(SloSpecError, match="cannot read"):
        load_slo_file(tmp_path / "missing.yml")


def test_load_slo_dir_reads_every_yml_sorted(tmp_path):
    (tmp_path / "b.yml").write_text(yaml.safe_dump(VALID))
    (tmp_path / "a.yml").write_text(yaml.safe_dump({**VALID, "service": "kv-store"}))
    (tmp_path / "README.md").write_text("not a spec")
    assert [spec["service"] for spec in load_slo_dir(tmp_path)] == ["kv-store", "user-hasher"]
    with pytest.raises(SloSpecError, match=r"no \*.yml SLO file"):
        load_slo_dir(tmp_path / "b.yml")


def test_every_shipped_slo_file_is_valid():
    specs = load_slo_dir(ROOT / "files" / "slos")
    postgres = next(spec for spec in specs if spec["service"] == "postgres")
    by_name = {slo["name"]: slo for slo in postgres["slos"]}
    assert by_name["latency-p99"]["indicator"] == {"bench": "latency_p99_ms"}
    assert (by_name["latency-p99"]["comparison"], by_name["latency-p99"]["target"]) == ("<", 200.0)
    assert by_name["error-rate"]["indicator"] == {"bench": "error_rate_percent"}
    assert (by_name["error-rate"]["comparison"], by_name["error-rate"]["target"]) == ("<", 0.1)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30d", 2592000), ("1h30m", 5400), ("90s", 90), ("2500ms", 2.5), ("1w", 604800), ("1y", 31536000)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "5 m", "m5", "1.5h", "-5m"])
def test_parse_duration_refuses_garbage(text):
    with pytest.raises(SloSpecError, match="not a Prometheus duration"):
        parse_duration(text)


@pytest.mark.parametrize(("seconds", "text"), [(30, "30s"), (30.5, "30500ms"), (300.0004, "300s"), (0.001, "1ms")])
def test_format_duration_is_exact_to_the_millisecond(seconds, text):
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds, abs=0.0005)


def test_format_duration_refuses_an_empty_window():
    with pytest.raises(SloSpecError, match="longer than 0 ms"):
        format_duration(0.0001)


def test_render_window_replaces_every_placeholder():
    expr = "sum(rate(a[{{window}}])) / sum(rate(b[{{ window }}]))"
    assert render_window(expr, "305s") == "sum(rate(a[305s])) / sum(rate(b[305s]))"


THRESHOLD = {"name": "t", "comparison": "<", "target": 200.0}


@pytest.mark.parametrize(
    ("comparison", "target", "value", "passed", "budget"),
    [
        ("<", 200.0, 50.0, True, 75.0),
        ("<", 200.0, 200.0, False, 0.0),
        ("<=", 200.0, 200.0, True, 0.0),
        ("<", 200.0, 300.0, False, -50.0),
        ("<", 0.1, 0.025, True, 75.0),
        (">", 500.0, 600.0, True, 20.0),
        (">=", 500.0, 400.0, False, -20.0),
        ("<=", 0.0, 0.0, True, None),
        # Negative targets: relative to the target's size, so a breach is negative whatever the sign.
        ("<", -5.0, 9.908, False, -298.16),
        ("<", -5.0, -10.0, True, 100.0),
        (">", -5.0, 0.0, True, 100.0),
        (">=", -5.0, -7.5, False, -50.0),
    ],
)
def test_threshold_verdict(comparison, target, value, passed, budget):
    verdict = threshold_verdict({**THRESHOLD, "comparison": comparison, "target": target}, value)
    assert verdict["passed"] is passed
    assert verdict["measured"] == value
    if budget is None:
        assert verdict["error_budget_left_percent"] is None
    else:
        assert verdict["error_budget_left_percent"] == pytest.approx(budget, abs=1e-9)


@pytest.mark.parametrize("value", [math.nan, math.inf, None, True, {"clients": 10}, "15.10", "fast", [1.0]])
def test_threshold_verdict_refuses_non_numbers(value):
    with pytest.raises(SloSpecError, match="not a finite number"):
        threshold_verdict(THRESHOLD, value)


RATIO = {"name": "availability", "objective": 99.9}


@pytest.mark.parametrize(
    ("errors", "total", "passed", "measured", "budget"),
    [
        (0, 1000, True, 100.0, 100.0),
        (1, 1000, True, 99.9, 0.0),
        (2, 1000, False, 99.8, -100.0),
        (1, 4000, True, 99.975, 75.0),
        (0.25, 1000, True, 99.975, 75.0),
    ],
)
def test_ratio_verdict(errors, total, passed, measured, budget):
    verdict = ratio_verdict(RATIO, errors, total)
    assert verdict["passed"] is passed
    assert verdict["measured"] == pytest.approx(measured, abs=1e-9)
    assert verdict["error_budget_left_percent"] == pytest.approx(budget, abs=1e-6)
    assert (verdict["target"], verdict["comparison"]) == (99.9, ">=")


@pytest.mark.parametrize(
    ("errors", "total", "message"),
    [(0, 0, "no events in the window"), (5, 3, "between 0 and total"), (math.nan, 10, "not a finite number")],
)
def test_ratio_verdict_refuses_what_cannot_be_judged(errors, total, message):
    with pytest.raises(SloSpecError, match=message):
        ratio_verdict(RATIO, errors, total)
