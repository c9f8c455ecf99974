"""The pgbench command lines of a benchmark, built in one place.

``sre.platform.pg_bench`` runs them on the host that runs the module; the ``sre.platform.pgbench_command``
filter puts the same argv into the Kubernetes Job of ``playbooks/tasks/pgbench_job.yml``. One builder, so
the Job can never run something other than what the module would run.

``params`` are the module's option names: duration, clients, jobs, rate, protocol, builtin, scripts
(``[{path, weight}]``) and scale. Pure functions: no Ansible import, nothing is read or run.
"""

from __future__ import annotations

import posixpath

BUILTINS = ("tpcb-like", "simple-update", "select-only")
DEFAULT_BUILTIN = "tpcb-like"
PROTOCOLS = ("simple", "extended", "prepared")
DEFAULTS = {
    "duration": 300,
    "clients": 10,
    "jobs": 2,
    "rate": None,
    "protocol": "simple",
    "builtin": None,
    "scripts": [],
    "scale": 1,
}
COUNTS = ("duration", "clients", "jobs", "scale")


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
    """Every reason these options cannot make a valid run, so one call reports all of them."""
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
    """The module's defaults completed by ``options``, types checked, as the builders expect them.

    For callers without the module's argument checking (the filter): an unknown name, a wrong type or
    an invalid value raises PgbenchCommandError. A rate of 0 means unthrottled, as omitting it does.
    """
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise PgbenchCommandError(f"unknown options {unknown}; known: {sorted(DEFAULTS)}")
    merged = {**DEFAULTS, **{name: value for name, value in options.items() if value is not None}}
    errors: list[str] = []
    params = {name: _integer(merged[name], name, errors) for name in COUNTS}
    rate = _integer(merged["rate"], "rate", errors) if merged["rate"] is not None else 0
    params["rate"] = rate or None
    params["protocol"] = _choice(merged["protocol"], "protocol", PROTOCOLS, errors)
    params["builtin"] = _choice(merged["builtin"], "builtin", BUILTINS, errors) if merged["builtin"] else None
    params["scripts"] = _scripts_option(merged["scripts"], errors)
    if params["builtin"] and params["scripts"]:
        errors.append("builtin and scripts are mutually exclusive")
    if not errors:
        errors = option_errors(params)
    if errors:
        raise PgbenchCommandError("; ".join(errors))
    return params


def _integer(value, name: str, errors: list[str]) -> int:
    # bool is an int in Python, never a count.
    if isinstance(value, bool):
        errors.append(f"{name} must be an integer, got {value!r}")
        return 0
    try:
        return int(value)
    except (TypeError, ValueError):
        errors.append(f"{name} must be an integer, got {value!r}")
        return 0


def _choice(value, name: str, choices: tuple[str, ...], errors: list[str]) -> str:
    if value not in choices:
        errors.append(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _scripts_option(scripts, errors: list[str]) -> list[dict]:
    if not isinstance(scripts, list):
        errors.append(f"scripts must be a list of {{path, weight}}, got {scripts!r}")
        return []
    return [_script_option(script, index, errors) for index, script in enumerate(scripts)]


def _script_option(script, index: int, errors: list[str]) -> dict:
    if not isinstance(script, dict) or not script.get("path"):
        errors.append(f"scripts[{index}] must be a mapping with a path (and a weight), got {script!r}")
        return {"path": "", "weight": 1}
    unknown = sorted(set(script) - {"path", "weight"})
    if unknown:
        errors.append(f"scripts[{index}]: unknown keys {unknown}; known: ['path', 'weight']")
    weight = script.get("weight")
    return {"path": str(script["path"]), "weight": _integer(1 if weight is None else weight, "weight", errors)}
