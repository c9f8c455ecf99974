"""The pgbench command lines of a benchmark, built in one place.

``sre.platform.pg_bench`` runs them on the host that runs the module; the ``sre.platform.pgbench_command``
filter puts the same argv into the Kubernetes Job of ``playbooks/tasks/pgbench_job.yml``. One builder, so
the Job can never run something other than what the module would run.

``params`` are the module's option names: duration, clients, jobs, rate, protocol, builtin, scripts
(``[{path, weight}]``) and scale, declared once in ``OPTION_SPEC``: the module's argument spec includes
it, and ``command_options`` checks the filter's input against it the way the module checks its own.
Nothing is read or run here.
"""

from __future__ import annotations

import posixpath

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import UnsupportedError

BUILTINS = ("tpcb-like", "simple-update", "select-only")
DEFAULT_BUILTIN = "tpcb-like"
PROTOCOLS = ("simple", "extended", "prepared")
# The benchmark options, in Ansible's argument spec form.
OPTION_SPEC = {
    "duration": {"type": "int", "default": 300},
    "clients": {"type": "int", "default": 10},
    "jobs": {"type": "int", "default": 2},
    "rate": {"type": "int"},
    "protocol": {"type": "str", "default": "simple", "choices": list(PROTOCOLS)},
    "builtin": {"type": "str", "choices": list(BUILTINS)},
    "scripts": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {"path": {"type": "path", "required": True}, "weight": {"type": "int", "default": 1}},
    },
    "scale": {"type": "int", "default": 1},
}
MUTUALLY_EXCLUSIVE = [("builtin", "scripts")]
COUNTS = ("duration", "clients", "jobs", "scale")
INIT_WITH_SCRIPTS = "init creates the pgbench tables of the built-in workloads; it cannot go with scripts"


class PgbenchCommandError(ValueError):
    """The options cannot make a pgbench command line; the message lists every reason."""


def workload(params: dict, script_dir: str | None = None) -> dict:
    """The scripts with their weights, or the builtin (tpcb-like when neither is given).

    With ``script_dir`` each script's directory becomes that one: where the run finds the scripts,
    for example ``/scripts`` in the Job, which mounts them from a ConfigMap by file name.
    """
    if params["scripts"]:
        return {"scripts": [_script(script, script_dir) for script in params["scripts"]]}
    return {"builtin": params["builtin"] or DEFAULT_BUILTIN}


def _script(script: dict, script_dir: str | None) -> dict:
    path = script["path"] if script_dir is None else posixpath.join(script_dir, posixpath.basename(script["path"]))
    return {"path": path, "weight": script["weight"]}


def bench_command(pgbench: str, params: dict, log_prefix: str, script_dir: str | None = None) -> list[str]:
    """The run: per-transaction logs under ``log_prefix`` (one file per thread), throttled when rate is set."""
    command = [pgbench, "-T", str(params["duration"]), "-c", str(params["clients"]), "-j", str(params["jobs"])]
    command += ["-M", params["protocol"], "-l", "--log-prefix", log_prefix]
    if params["rate"]:
        command += ["-R", str(params["rate"])]
    chosen = workload(params, script_dir)
    if "builtin" in chosen:
        return [*command, "-b", chosen["builtin"]]
    # -n: the vacuum pgbench runs first only concerns its own tables, absent from a custom schema.
    command.append("-n")
    for script in chosen["scripts"]:
        command += ["-f", f"{script['path']}@{script['weight']}"]
    return command


def init_command(pgbench: str, params: dict) -> list[str]:
    """Create and load the builtin workloads' tables at the scale factor, quietly."""
    return [pgbench, "-i", "-q", "-s", str(params["scale"])]


def option_errors(params: dict) -> list[str]:
    """Every reason these options, already of the spec's types, cannot make a valid run."""
    # Ansible's int type takes a bool as it is (True is an int in Python): never a count.
    errors = [f"{name} must be an integer, got {params[name]!r}" for name in (*COUNTS, "rate") if params[name] is True]
    if errors:
        return errors
    errors = [f"{name} must be at least 1, got {params[name]}" for name in COUNTS if params[name] < 1]
    if params["rate"] is not None and params["rate"] < 1:
        errors.append(f"rate must be at least 1 transaction per second, got {params['rate']}")
    if params["jobs"] > params["clients"]:
        errors.append(f"jobs ({params['jobs']}) cannot exceed clients ({params['clients']})")
    errors += [
        f"script {script['path']}: weight must be at least 1, got {script['weight']}"
        for script in params["scripts"]
        if script["weight"] < 1
    ]
    return errors


def command_options(options: dict) -> dict:
    """``options`` checked against OPTION_SPEC and completed with its defaults, as the module gets them.

    For callers without the module's argument checking (the filter): anything the module would refuse
    raises PgbenchCommandError with every reason. ``null`` means left out, and a rate of 0 means
    unthrottled, as leaving it out does.
    """
    given = {name: value for name, value in options.items() if value is not None}
    if given.get("rate") == 0:
        del given["rate"]
    result = ArgumentSpecValidator(OPTION_SPEC, mutually_exclusive=MUTUALLY_EXCLUSIVE).validate(given)
    errors = list(dict.fromkeys(_describe(error) for error in result.errors.errors))
    errors = errors or option_errors(result.validated_parameters)
    if errors:
        raise PgbenchCommandError("; ".join(errors))
    return result.validated_parameters


def _describe(error: Exception) -> str:
    # Unsupported names come as "name. Supported parameters include: ...".
    return f"unknown option {error}" if isinstance(error, UnsupportedError) else str(error)
