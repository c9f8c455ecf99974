"""A benchmark against a baseline run: each figure before and after, and which ones got worse by how much.

Both sides are sre.platform.pg_bench results (the JSON it writes to ``output``). Throughput and latency are
compared for the whole run and for every script both runs had (``by_script``); the error rate is left to
the objectives (a change from 0 has no percentage). The parameters that decide the figures are compared
too: when they differ, the figures are still shown, but the comparison says so.

``result_errors`` says why a value (or the text of a bench.json) cannot be compared: ``compare`` refuses
such a side, and bench.yml checks its baseline with it before running anything.
"""

from __future__ import annotations

import json
import posixpath

# Compared figures, and whether a higher value is better.
FIGURES = (
    ("tps", True),
    ("latency_avg_ms", False),
    ("latency_p50_ms", False),
    ("latency_p95_ms", False),
    ("latency_p99_ms", False),
)
# Run parameters that change the figures (duration does not, beyond noise: TPS is per second).
PARAMETERS = ("clients", "jobs", "rate", "protocol", "workload", "scale")


class BenchCompareError(ValueError):
    """A side is not a pg_bench result."""


def _workload(parameters: dict):
    """The workload without the directory of its scripts, which differs between checkouts."""
    workload = parameters.get("workload") or {}
    if "scripts" in workload:
        return [(posixpath.basename(script["path"]), script["weight"]) for script in workload["scripts"]]
    return workload.get("builtin")


def differing_parameters(current: dict, baseline: dict) -> list[str]:
    """The parameters that differ, each as ``name: baseline -> current``."""
    now, before = current.get("parameters") or {}, baseline.get("parameters") or {}
    found = []
    for name in PARAMETERS:
        old, new = (_workload(side) if name == "workload" else side.get(name) for side in (before, now))
        if old != new:
            found.append(f"{name}: {old} -> {new}")
    return found


def _figure(value: float | None) -> str:
    """TPS with one decimal, latencies with four significant digits: no exponent either way."""
    if value is None:
        return "n/a"
    return f"{value:.1f}" if abs(value) >= 100 else f"{value:.4g}"


def figure_rows(scope: str, current: dict, baseline: dict) -> list[dict]:
    """One row per compared figure; ``regression_percent`` is how much worse (negative: better), and ``text``
    holds the baseline, the current value and the change as the report and the messages write them."""
    rows = []
    for name, higher_is_better in FIGURES:
        before, now = baseline.get(name), current.get(name)
        change = (now - before) / before * 100.0 if before and now is not None else None
        regression = None if change is None else (-change if higher_is_better else change)
        rows.append(
            {
                "scope": scope,
                "figure": name,
                "baseline": before,
                "current": now,
                "change_percent": change,
                "regression_percent": regression,
                "text": {
                    "baseline": _figure(before),
                    "current": _figure(now),
                    "change": "n/a" if change is None else f"{change:+.1f} %",
                },
            }
        )
    return rows


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _figure_errors(figures: dict, where: str = "") -> list[str]:
    """Compared figures that are neither a number nor null (a latency is null when nothing succeeded)."""
    return [
        f"{where}'{name}' is {figures[name]!r}, not a number"
        for name, _ in FIGURES
        if figures.get(name) is not None and not _is_number(figures[name])
    ]


def _script_errors(scripts) -> list[str]:
    if scripts is None:
        return []
    if not isinstance(scripts, list) or not all(isinstance(entry, dict) and "script" in entry for entry in scripts):
        return ["'by_script' is not a list of scripts' figures"]
    return [error for entry in scripts for error in _figure_errors(entry, f"by_script {entry['script']}: ")]


def result_errors(result) -> list[str]:
    """Why ``result``, a pg_bench result or the text of its JSON, cannot be compared; empty when it can."""
    if isinstance(result, str):
        try:
            result = json.loads(result)
        except ValueError as exc:
            return [f"not JSON ({exc})"]
    if not isinstance(result, dict):
        return [f"not a mapping but a {type(result).__name__}"]
    errors = [f"no '{key}'" for key in ("tps", "parameters") if key not in result]
    if "tps" in result and result["tps"] is None:
        errors.append("'tps' is null, not a number")
    if not isinstance(result.get("parameters", {}), dict):
        errors.append("'parameters' is not a mapping")
    return errors + _figure_errors(result) + _script_errors(result.get("by_script"))


def _check(side, which: str) -> None:
    errors = result_errors(side)
    if errors:
        raise BenchCompareError(f"the {which} is not a pg_bench result: {'; '.join(errors)}")


def compare(current: dict, baseline: dict, max_regression_percent: float | None = None) -> dict:
    """``rows`` for the whole run (scope ``all``) and each common script, ``differing_parameters``, and, given
    ``max_regression_percent``, ``regressions``: a message for each row worse by more than that."""
    _check(current, "current run")
    _check(baseline, "baseline")
    rows = figure_rows("all", current, baseline)
    baseline_scripts = {entry["script"]: entry for entry in baseline.get("by_script") or []}
    for entry in current.get("by_script") or []:
        if entry["script"] in baseline_scripts:
            rows += figure_rows(entry["script"], entry, baseline_scripts[entry["script"]])
    regressions = []
    if max_regression_percent is not None:
        regressions = [
            f"{row['scope']} {row['figure']}: {row['text']['baseline']} -> {row['text']['current']} "
            f"({row['regression_percent']:.1f} % worse)"
            for row in rows
            if row["regression_percent"] is not None and row["regression_percent"] > max_regression_percent
        ]
    return {
        "baseline_window_start": baseline.get("window_start"),
        "differing_parameters": differing_parameters(current, baseline),
        "rows": rows,
        "regressions": regressions,
    }
