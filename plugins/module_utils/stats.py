"""Latency statistics: nearest-rank percentiles over sorted samples.

Nearest rank (no interpolation): the p-th percentile of N sorted values is the
value at 1-based rank ceil(p / 100 * N), and the smallest value for p = 0. Every
reported percentile is therefore a latency that really occurred, and the result
can be recomputed by hand from the raw logs.
"""

from __future__ import annotations

import math
from fractions import Fraction

REPORTED_PERCENTILES = (50, 95, 99)
# The keys latency_summary_ms returns.
LATENCY_FIELDS = ("latency_avg_ms", *(f"latency_p{percent}_ms" for percent in REPORTED_PERCENTILES), "latency_max_ms")


def nearest_rank(sorted_values, percent: float):
    """The ``percent``-th percentile (0..100) of already sorted values, by nearest rank."""
    if not sorted_values:
        raise ValueError("cannot take a percentile of no values")
    if not 0 <= percent <= 100:
        raise ValueError(f"a percentile is between 0 and 100, got {percent}")
    # Exact fractions: 0.95 * 20 must be rank 19, not 19.000000000000004 -> 20.
    rank = math.ceil(Fraction(str(percent)) * len(sorted_values) / 100)
    return sorted_values[max(rank, 1) - 1]


def latency_summary_ms(sorted_us) -> dict:
    """Average, p50/p95/p99 and max of sorted latencies in microseconds, in milliseconds."""
    if not sorted_us:
        raise ValueError("no latencies to summarise")
    summary = {"latency_avg_ms": sum(sorted_us) / len(sorted_us) / 1000.0}
    for percent in REPORTED_PERCENTILES:
        summary[f"latency_p{percent}_ms"] = nearest_rank(sorted_us, percent) / 1000.0
    summary["latency_max_ms"] = sorted_us[-1] / 1000.0
    return summary
