"""Filter: why a value is not a pg_bench result that bench_comparison can compare."""

from __future__ import annotations

from ansible_collections.sre.platform.plugins.module_utils.bench_compare import result_errors

DOCUMENTATION = r"""
---
name: bench_result_errors
short_description: Why a value is not a pg_bench result that sre.platform.bench_comparison can compare
version_added: "0.2.0"
description:
  - Checks what the C(sre.platform.bench_comparison) filter needs of a baseline, so a playbook can refuse a
    baseline before a benchmark runs rather than after it. The input is a M(sre.platform.pg_bench) result, or
    the text of the JSON the module writes to its C(output) (a bench.json).
  - A result needs C(tps), a number, and C(parameters), a mapping; the compared figures (C(tps) and the
    average, p50, p95 and p99 latency, of the whole run and of each C(by_script) entry) must be numbers or
    null. Text must be JSON.
positional: _input
options:
  _input:
    description: A pg_bench result, or a bench.json's text.
    type: raw
    required: true
seealso:
  - plugin: sre.platform.bench_comparison
    plugin_type: filter
author:
  - sre.platform maintainers
"""

EXAMPLES = r"""
- name: Check the baseline before the benchmark
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "baseline.json is not a pg_bench result: {{ problems | join('; ') }}"
  vars:
    problems: "{{ lookup('ansible.builtin.file', 'baseline.json') | sre.platform.bench_result_errors }}"
"""

RETURN = r"""
_value:
  description: One reason per problem (C(not JSON ...), C(no 'tps'), C('tps' is 'fast', not a number)...); empty
    when the value can be compared.
  type: list
  elements: str
  sample: ["'tps' is 'fast', not a number", "by_script read.sql: 'latency_p99_ms' is '4 ms', not a number"]
"""


def bench_result_errors(result) -> list[str]:
    """Why ``result`` cannot be compared (module_utils.bench_compare.result_errors); empty when it can."""
    return result_errors(result)


class FilterModule:
    """sre.platform benchmark result check filter."""

    def filters(self) -> dict:
        return {"bench_result_errors": bench_result_errors}
