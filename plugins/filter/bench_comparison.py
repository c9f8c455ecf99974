"""Filter: a pg_bench result compared with a baseline run, figure by figure."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.sre.platform.plugins.module_utils.bench_compare import BenchCompareError, compare

DOCUMENTATION = r"""
---
name: bench_comparison
short_description: A benchmark's figures against a baseline run's, and which got worse
version_added: "0.2.0"
description:
  - Compares two M(sre.platform.pg_bench) results (the JSON the module writes to its C(output)) by TPS and the
    average, p50, p95 and p99 latency, for the whole run and for every script both runs had (C(by_script)).
  - The parameters that change the figures (clients, threads, rate, protocol, workload, scale) are compared
    as well; when they differ the figures are still compared, and C(differing_parameters) says how.
  - The error rate is not compared; the objectives judge it (a change from 0 has no percentage).
positional: _input
options:
  _input:
    description: This run's pg_bench result.
    type: dict
    required: true
  baseline:
    description: The baseline run's pg_bench result.
    type: dict
    required: true
  max_regression_percent:
    description:
      - When given, C(regressions) lists each figure that is worse than the baseline by more than this, that is TPS
        lower, or a latency higher, by that percentage of the baseline value.
    type: float
seealso:
  - module: sre.platform.pg_bench
author:
  - sre.platform maintainers
"""

EXAMPLES = r"""
- name: Compare with the previous run
  ansible.builtin.set_fact:
    comparison: >-
      {{ bench | sre.platform.bench_comparison(lookup('file', 'baseline.json') | from_json,
                                               max_regression_percent=10) }}

- name: Fail on a regression
  ansible.builtin.assert:
    that: comparison.regressions | length == 0
    fail_msg: "{{ comparison.regressions | join('; ') }}"
"""

RETURN = r"""
_value:
  description:
    - C(rows), one per figure and scope (C(all) or a script's file name), with C(baseline), C(current),
      C(change_percent) and C(regression_percent) (how much worse; negative when better; C(null) when the
      baseline had no value), and C(text), the three as the report writes them (TPS with one decimal,
      latencies with four significant digits, the change signed; C(n/a) for a missing value).
    - C(differing_parameters) (each parameter's name, then the baseline's and the current value),
      C(baseline_window_start), and C(regressions) (messages; empty without O(max_regression_percent)).
  type: dict
  sample:
    rows:
      - scope: all
        figure: tps
        baseline: 11632.3
        current: 10211.0
        change_percent: -12.2
        regression_percent: 12.2
        text: {baseline: "11632.3", current: "10211.0", change: "-12.2 %"}
    differing_parameters: []
    baseline_window_start: "2026-12-04T22:09:05.942801Z"
    regressions: ["all tps: 11632.3 -> 10211.0 (12.2 % worse)"]
"""


def bench_comparison(current: dict, baseline: dict, max_regression_percent: float | None = None) -> dict:
    """This run against the baseline (module_utils.bench_compare.compare)."""
    try:
        return compare(current, baseline, None if max_regression_percent is None else float(max_regression_percent))
    except (BenchCompareError, TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"bench_comparison: {exc}") from exc


class FilterModule:
    """sre.platform benchmark comparison filter."""

    def filters(self) -> dict:
        return {"bench_comparison": bench_comparison}
