"""The one pgbench command-line builder: module_utils, the sre.platform.pgbench_command filter, pg_bench.

The builder is checked against argv lists written out by hand; the filter, called directly and through
Ansible, must return exactly the builder's argv; and sre.platform.pg_bench (check mode, against a real
PostgreSQL) must report the command the filter gives for the same options.
"""

from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.sre.platform.plugins.filter.pgbench_command import FilterModule
from ansible_collections.sre.platform.plugins.module_utils.pgbench_command import (
    INIT_WITH_SCRIPTS,
    OPTION_SPEC,
    PgbenchCommandError,
    bench_command,
    command_options,
    init_command,
    workload,
)

from tests.harness.ansible import run_module, run_playbook
from tests.harness.servers import PostgresServer

SHOP = [
    {"path": "/repo/files/pgbench/product_page.sql", "weight": 5},
    {"path": "/repo/files/pgbench/fulfil_order.sql", "weight": 2},
]
FILTER = FilterModule().filters()["pgbench_command"]
DEFAULTS = {name: spec.get("default") for name, spec in OPTION_SPEC.items()}


def params(**options) -> dict:
    return {**DEFAULTS, **options}


def test_builtin_run_with_the_module_defaults():
    assert bench_command("/usr/bin/pgbench", params(), "/tmp/run/pgbench_log") == [
        "/usr/bin/pgbench",
        *("-T", "300", "-c", "10", "-j", "2", "-M", "simple"),
        *("-l", "--log-prefix", "/tmp/run/pgbench_log"),
        *("-b", "tpcb-like"),
    ]


def test_throttled_builtin_run():
    options = params(duration=60, clients=8, jobs=4, rate=250, protocol="prepared", builtin="select-only")
    assert bench_command("pgbench", options, "log") == [
        *("pgbench", "-T", "60", "-c", "8", "-j", "4", "-M", "prepared", "-l", "--log-prefix", "log"),
        *("-R", "250", "-b", "select-only"),
    ]


def test_scripts_with_weights_skip_the_vacuum_of_the_builtin_tables():
    assert bench_command("pgbench", params(scripts=SHOP), "log") == [
        *("pgbench", "-T", "300", "-c", "10", "-j", "2", "-M", "simple", "-l", "--log-prefix", "log", "-n"),
        *("-f", "/repo/files/pgbench/product_page.sql@5"),
        *("-f", "/repo/files/pgbench/fulfil_order.sql@2"),
    ]


def test_script_dir_replaces_each_scripts_directory():
    command = bench_command("pgbench", params(scripts=SHOP), "log", script_dir="/scripts")
    assert command[-4:] == ["-f", "/scripts/product_page.sql@5", "-f", "/scripts/fulfil_order.sql@2"]
    mounted = [{"path": "/scripts/product_page.sql", "weight": 5}, {"path": "/scripts/fulfil_order.sql", "weight": 2}]
    assert workload(params(scripts=SHOP), "/scripts/") == {"scripts": mounted}
    assert workload(params(builtin="simple-update"), "/scripts") == {"builtin": "simple-update"}


def test_init_command_loads_the_builtin_tables_at_the_scale():
    assert init_command("pgbench", params(scale=50)) == ["pgbench", "-i", "-q", "-s", "50"]


def test_command_options_complete_and_convert_what_a_playbook_passes():
    given = {"duration": "4", "clients": "2", "jobs": 2, "rate": 0, "builtin": None, "scripts": [{"path": "a.sql"}]}
    assert command_options(given) == {
        **DEFAULTS,
        "duration": 4,
        "clients": 2,
        "rate": None,
        "scripts": [{"path": "a.sql", "weight": 1}],
    }
    assert command_options({"rate": "120"})["rate"] == 120


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"duraton": 60}, "unknown option duraton. Supported parameters include: builtin, clients"),
        ({"clients": 2, "jobs": 4}, "jobs (4) cannot exceed clients (2)"),
        ({"duration": 0}, "duration must be at least 1, got 0"),
        ({"rate": -5}, "rate must be at least 1 transaction per second, got -5"),
        ({"clients": "many"}, "argument 'clients' is of type str and we were unable to convert to int"),
        ({"jobs": True}, "jobs must be an integer, got True"),
        ({"protocol": "binary"}, "value of protocol must be one of: simple, extended, prepared, got: binary"),
        ({"builtin": "tpcc"}, "value of builtin must be one of: tpcb-like, simple-update, select-only, got: tpcc"),
        ({"builtin": "tpcb-like", "scripts": SHOP}, "parameters are mutually exclusive: builtin|scripts"),
        ({"scripts": [{"path": "a.sql", "weight": 0}]}, "script a.sql: weight must be at least 1, got 0"),
        ({"scripts": [{"weight": 3}]}, "missing required arguments: path found in scripts"),
        ({"scripts": [{"path": "a.sql", "wieght": 3}]}, "unknown option scripts.wieght"),
        ({"scripts": "a.sql"}, "Elements value for option 'scripts' is of type str"),
    ],
)
def test_command_options_refuse_what_pgbench_could_not_run(options, reason):
    with pytest.raises(PgbenchCommandError) as raised:
        command_options(options)
    assert reason in str(raised.value)


def test_command_options_report_every_reason_at_once():
    with pytest.raises(PgbenchCommandError) as raised:
        command_options({"protocol": "binary", "clients": "many", "builtin": "tpcc"})
    reasons = str(raised.value).split("; ")
    assert len(reasons) == 3 and all(name in str(raised.value) for name in ("protocol", "clients", "builtin"))


def test_filter_returns_the_builders_argv():
    options = {"duration": 30, "clients": 4, "protocol": "extended", "rate": 100, "scripts": SHOP}
    expected = bench_command("pgbench", command_options(options), "/logs/pgbench_log", script_dir="/scripts")
    assert FILTER(options, log_prefix="/logs/pgbench_log", script_dir="/scripts") == expected
    assert FILTER({"scale": 3}, pgbench="/opt/pgbench", init=True) == ["/opt/pgbench", "-i", "-q", "-s", "3"]
    assert FILTER({}) == bench_command("pgbench", params(), "pgbench_log")


def test_filter_errors_name_the_filter_and_the_reason():
    with pytest.raises(AnsibleFilterError, match="pgbench_command: jobs \\(3\\) cannot exceed clients \\(1\\)"):
        FILTER({"clients": 1, "jobs": 3})
    with pytest.raises(AnsibleFilterError, match="expects a dict of pg_bench options"):
        FILTER(["-T", "60"])
    # pg_bench refuses init with scripts: the filter gives no command for it either.
    with pytest.raises(AnsibleFilterError, match=re.escape(f"pgbench_command: {INIT_WITH_SCRIPTS}")):
        FILTER({"scripts": SHOP}, init=True)


def debug_msg(expression: str) -> dict:
    """``expression`` templated by Ansible (ansible.builtin.debug on localhost): the task's result."""
    return run_module("ansible.builtin.debug", {"msg": "{{ " + expression + " }}"})


def test_filter_through_ansible_matches_the_builder_and_quotes_for_a_shell():
    options = {"duration": 30, "clients": 4, "rate": 0, "scripts": [{"path": "/repo/my scripts/a b.sql", "weight": 3}]}
    result = debug_msg(f"{options!r} | sre.platform.pgbench_command(log_prefix='/logs/pgbench_log')")
    assert not result.get("failed"), result.get("msg")
    assert result["msg"] == bench_command("pgbench", command_options(options), "/logs/pgbench_log")

    quoted = debug_msg(
        f"{options!r} | sre.platform.pgbench_command(script_dir='/scripts') | map('ansible.builtin.quote') | join(' ')"
    )
    assert quoted["msg"].endswith(" -n -f '/scripts/a b.sql@3'")

    refused = debug_msg("{'builtin': 'tpcc'} | sre.platform.pgbench_command")
    assert refused["failed"] is True
    assert "pgbench_command: value of builtin must be one of" in refused["msg"]


def test_filter_resolves_templates_inside_the_options(tmp_path):
    """A script path that is itself a template using a filter, as bench.yml's are (it used to fail to load)."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        """\
- hosts: localhost
  gather_facts: false
  vars:
    root: "{{ '/repo/files' | dirname }}"
    options: {duration: 5, scripts: [{path: "{{ root }}/x.sql", weight: 2}]}
  tasks:
    - name: Build
      ansible.builtin.set_fact:
        argv: "{{ options | sre.platform.pgbench_command(script_dir='/scripts') }}"
"""
    )
    run = run_playbook(str(playbook))
    assert run.returncode == 0, run.output
    (built,) = run.task_results("Build")
    expected = bench_command(
        "pgbench",
        command_options({"duration": 5, "scripts": [{"path": "/repo/x.sql", "weight": 2}]}),
        "pgbench_log",
        "/scripts",
    )
    assert built["ansible_facts"]["argv"] == expected


def test_pg_bench_reports_the_command_the_filter_builds(postgres_server: PostgresServer, tmp_path):
    script = tmp_path / "select_one.sql"
    script.write_text("SELECT 1;\n")
    options = {"duration": 20, "clients": 3, "jobs": 3, "rate": 40, "protocol": "prepared"}
    options["scripts"] = [{"path": str(script), "weight": 4}]
    args = {**postgres_server.conninfo, **options, "log_dir": str(tmp_path / "logs")}
    module = run_module("sre.platform.pg_bench", args, check=True)
    assert not module.get("failed"), module.get("msg")

    pgbench, prefix = module["command"][0], str(tmp_path / "logs" / "pgbench-XXXXXXXX" / "pgbench_log")
    filtered = debug_msg(f"{options!r} | sre.platform.pgbench_command(pgbench={pgbench!r}, log_prefix={prefix!r})")
    assert filtered["msg"] == module["command"]
    assert module["command"][-2:] == ["-f", f"{script}@4"]
