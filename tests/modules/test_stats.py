"""Nearest-rank percentiles and latency summaries: known inputs, exact outputs."""

from __future__ import annotations

import pytest
from ansible_collections.sre.platform.plugins.module_utils.stats import latency_summary_ms, nearest_rank

ONE_TO_HUNDRED = list(range(1, 101))


@pytest.mark.parametrize(
    ("values", "percent", "expected"),
    [
        (ONE_TO_HUNDRED, 50, 50),
        (ONE_TO_HUNDRED, 95, 95),
        (ONE_TO_HUNDRED, 99, 99),
        (ONE_TO_HUNDRED, 100, 100),
        (ONE_TO_HUNDRED, 0, 1),
        (ONE_TO_HUNDRED, 99.5, 100),
        ([15, 20, 35, 40, 50], 5, 15),
        ([15, 20, 35, 40, 50], 30, 20),
        ([15, 20, 35, 40, 50], 40, 20),
        ([15, 20, 35, 40, 50], 50, 35),
        ([15, 20, 35, 40, 50], 100, 50),
        (list(range(1, 21)), 95, 19),  # 0.95 * 20 is rank 19 exactly, not 20 by float rounding
        ([7], 99, 7),
    ],
)
def test_nearest_rank(values, percent, expected):
    assert nearest_rank(values, percent) == expected


@pytest.mark.parametrize(("values", "percent"), [([], 50), ([1, 2], 101), ([1, 2], -1)])
def test_nearest_rank_refuses_bad_input(values, percent):
    with pytest.raises(ValueError):
        nearest_rank(values, percent)


def test_latency_summary_in_milliseconds():
    latencies_us = [i * 1000 for i in range(1, 201)]  # 1 ms .. 200 ms
    assert latency_summary_ms(latencies_us) == {
        "latency_avg_ms": 100.5,
        "latency_p50_ms": 100.0,
        "latency_p95_ms": 190.0,
        "latency_p99_ms": 198.0,
        "latency_max_ms": 200.0,
    }
