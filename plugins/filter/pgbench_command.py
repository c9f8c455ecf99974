"""Filter: the pgbench command line sre.platform.pg_bench would run, as an argv list."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.sre.platform.plugins.module_utils.pgbench_command import (
    INIT_WITH_SCRIPTS,
    PgbenchCommandError,
    bench_command,
    command_options,
    init_command,
)

DOCUMENTATION = r"""
---
name: pgbench_command
short_description: The pgbench command line of a benchmark, as sre.platform.pg_bench builds it
version_added: "0.2.0"
description:
  - Builds the pgbench argv from the options of M(sre.platform.pg_bench) with the module's own code, so a
    run made elsewhere (pgbench in a Kubernetes Job, C(playbooks/tasks/pgbench_job.yml)) runs exactly the
    command the module would run.
  - Options left out or C(null) take the module's defaults. They are checked against the module's own
    argument spec, so the filter refuses what the module would refuse, with the same messages.
  - For a shell, quote each element with the C(ansible.builtin.quote) filter and join them with spaces.
positional: _input
options:
  _input:
    description:
      - The module's benchmark options; the names are those of M(sre.platform.pg_bench).
      - C(duration), C(clients), C(jobs) (at most C(clients)), C(scale) (integers, at least 1); C(rate)
        (target TPS; C(null) or V(0) is unthrottled); C(protocol) (V(simple), V(extended) or V(prepared));
        C(builtin) (V(tpcb-like), V(simple-update) or V(select-only)) or C(scripts) (a list of C(path) and
        C(weight), mutually exclusive with C(builtin)). An unknown name is an error.
    type: dict
    required: true
  pgbench:
    description: The pgbench binary, as the run will find it.
    type: str
    default: pgbench
  log_prefix:
    description: Where the run writes its per-transaction logs (C(--log-prefix)); one file per thread.
    type: str
    default: pgbench_log
  script_dir:
    description:
      - The directory where the run finds the scripts; it replaces the directory of each script's C(path).
      - For a run on another machine, for example V(/scripts) where a Job mounts the scripts' ConfigMap.
    type: str
  init:
    description: Return the command that creates and loads the builtin workloads' tables (C(-i -s scale)).
    type: bool
    default: false
seealso:
  - module: sre.platform.pg_bench
author:
  - sre.platform maintainers
"""

EXAMPLES = r"""
- name: The command line of a builtin run, for a shell
  ansible.builtin.debug:
    msg: >-
      {{ {'duration': 60, 'clients': 8, 'jobs': 2, 'builtin': 'select-only'}
         | sre.platform.pgbench_command(log_prefix='/logs/pgbench_log')
         | map('ansible.builtin.quote') | join(' ') }}
  # pgbench -T 60 -c 8 -j 2 -M simple -l --log-prefix /logs/pgbench_log -b select-only

- name: Weighted scripts found where a Job mounts them
  ansible.builtin.set_fact:
    job_command: >-
      {{ {'duration': 300, 'protocol': 'prepared',
          'scripts': [{'path': 'files/pgbench/product_page.sql', 'weight': 5}]}
         | sre.platform.pgbench_command(log_prefix='/logs/pgbench_log', script_dir='/scripts') }}
  # [pgbench, -T, "300", ..., -n, -f, /scripts/product_page.sql@5]

- name: The initialisation of the builtin workloads' tables
  ansible.builtin.set_fact:
    init_command: "{{ {'scale': 10} | sre.platform.pgbench_command(init=true) }}"
  # [pgbench, -i, -q, -s, "10"]
"""

RETURN = r"""
_value:
  description: The argv, binary first; numbers as strings. No password (libpq reads it from the environment).
  type: list
  elements: str
  sample: [pgbench, -T, "300", -c, "10", -j, "2", -M, prepared, -l, --log-prefix, /logs/pgbench_log, -b, tpcb-like]
"""


def _plain(value):
    """Plain dicts and lists, every nested template resolved here, in the play's context.

    The argument spec validator copies what it gets; a template still pending inside (a script path
    such as ``{{ root }}/files/pgbench/x.sql``) would be resolved in the copy, where filters fail to load.
    """
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def pgbench_command(
    options: dict,
    pgbench: str = "pgbench",
    log_prefix: str = "pgbench_log",
    script_dir: str | None = None,
    init: bool = False,
) -> list[str]:
    """The benchmark's argv, or its initialisation's with ``init``."""
    if not isinstance(options, dict):
        raise AnsibleFilterError(f"pgbench_command: expects a dict of pg_bench options, got {options!r}")
    try:
        params = command_options(_plain(options))
    except PgbenchCommandError as exc:
        raise AnsibleFilterError(f"pgbench_command: {exc}") from exc
    if init:
        if params["scripts"]:
            raise AnsibleFilterError(f"pgbench_command: {INIT_WITH_SCRIPTS}")
        return init_command(pgbench, params)
    return bench_command(pgbench, params, log_prefix, script_dir)


class FilterModule:
    """sre.platform pgbench filter."""

    def filters(self) -> dict:
        return {"pgbench_command": pgbench_command}
