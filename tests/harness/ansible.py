"""Run sre.platform modules and playbooks through the real Ansible CLI, from tests.

Use these to test a module end to end (argument parsing, no_log, check mode,
the JSON it returns) instead of calling its Python functions:

    from tests.harness.ansible import run_module, run_playbook

    result = run_module("sre.platform.pg_seed", {**postgres_server.conninfo, "rows": 1000})
    assert result["changed"] is True
    failed = run_module("sre.platform.pg_seed", {...}, check=True)   # check mode
    run = run_playbook("playbooks/seed.yml", inventory="inventories/postgres", extra_vars={"seed_rows": 1000})
    assert run.returncode == 0, run.output

Modules run on localhost with the local connection and this interpreter
(``sys.executable``, the project's virtualenv), from the repository root so
``ansible.cfg`` and the collection symlink apply. ``BackgroundModule`` runs a module in a
thread while the test breaks its target. ``path_without`` hides one tool
from a run (``env={"PATH": path_without("docker", tmp_path / "bin")}``). ``start_module`` returns the
running process so a test can SIGKILL it with every process it started
(``kill_tree``) to simulate an interrupted run, or act on it and then read its result
(``module_outcome``). ``preflight_play`` builds a play that runs a role's preflight and renders some
of its templates; ``PlaybookRun.rendered`` reads a rendering back.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def ansible_env(extra: dict[str, str] | None = None, json_output: bool = True) -> dict[str, str]:
    """The current environment plus what makes the clone's collection and config apply."""
    env = dict(os.environ)
    env.update(
        {
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_COLLECTIONS_PATH": str(ROOT / "collections"),
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    if json_output:
        env.update({"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"})
    env.update(extra or {})
    return env


def path_without(tool: str, directory: Path) -> str:
    """A PATH on which ``tool`` cannot be found but everything else (this virtualenv's bin first) still is.

    ``directory`` is filled with links to every other executable, for ``env={"PATH": ...}``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for source in [str(BIN), *os.environ.get("PATH", "").split(os.pathsep)]:
        for entry in Path(source).iterdir() if Path(source).is_dir() else []:
            link = directory / entry.name
            if entry.name != tool and not link.is_symlink():
                link.symlink_to(entry)
    return str(directory)


def module_command(name: str, args: dict, check: bool = False) -> list[str]:
    """``ansible localhost -m NAME -a JSON`` with the local connection."""
    command = [str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local", "-m", name, "-a", json.dumps(args)]
    return [*command, "--check"] if check else command


def _module_result(stdout: str, command_error: str) -> dict:
    try:
        report = json.loads(stdout)
        return report["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError) as exc:
        raise AssertionError(
            f"no JSON module result from ansible: {exc}\nstdout:\n{stdout}\nstderr:\n{command_error}"
        ) from exc


def run_module(
    name: str, args: dict, check: bool = False, timeout: float = 300, env: dict[str, str] | None = None
) -> dict:
    """Run one module on localhost and return its result (``failed``/``msg`` on failure)."""
    completed = subprocess.run(
        module_command(name, args, check),
        cwd=ROOT,
        env=ansible_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return _module_result(completed.stdout, completed.stderr)


class BackgroundModule(threading.Thread):
    """Run a module while the test acts on its target (stops a server mid-run); ``join()``, then ``result``."""

    def __init__(self, name: str, args: dict, timeout: float = 300, env: dict[str, str] | None = None) -> None:
        super().__init__(daemon=True)
        self.module, self.args, self.timeout, self.env = name, args, timeout, env
        self.result: dict | None = None

    def run(self) -> None:
        self.result = run_module(self.module, self.args, timeout=self.timeout, env=self.env)

    def outcome(self, timeout: float) -> dict:
        """Wait for the module and return its result; fail the test if it is still running."""
        self.join(timeout)
        if self.result is None:
            raise AssertionError(f"{self.module} gave no result within {timeout} s")
        return self.result


def start_module(name: str, args: dict, env: dict[str, str] | None = None, capture: bool = False) -> subprocess.Popen:
    """Start a module run in the background (see ``kill_tree``); with ``capture``, ``module_outcome`` reads its
    result."""
    output = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen(
        module_command(name, args),
        cwd=ROOT,
        env=ansible_env(env),
        stdout=output,
        stderr=output,
        text=True,
    )


def module_outcome(proc: subprocess.Popen, timeout: float) -> dict:
    """The result of a module started with ``start_module(..., capture=True)``; a run still going after ``timeout``
    seconds is killed with everything it started, and the test fails (a hang must not hang the suite)."""
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(proc)
        raise AssertionError(f"the module gave no result within {timeout} s (killed)") from None
    return _module_result(stdout, stderr)


def _children() -> dict[int, list[int]]:
    """Parent PID -> child PIDs, from /proc."""
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(parent, []).append(int(stat.parent.name))
    return tree


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid``."""
    tree, found, pending = _children(), [], [pid]
    while pending:
        children = tree.get(pending.pop(), [])
        found += children
        pending += children
    return found


def kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL ansible and every process below it, as a crash or an OOM kill would.

    Ansible's workers start their own session, so killing the process group is not enough.
    """
    for pid in [proc.pid, *descendants(proc.pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()


@dataclass
class PlaybookRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """Everything ansible-playbook printed, for assertion messages."""
        return f"{self.stdout}\n{self.stderr}"

    @property
    def report(self) -> dict:
        """The json callback's report: ``plays`` and per-host ``stats``.

        ``ansible.builtin.pause`` prints its own lines ahead of it ("Pausing for 2 seconds").
        """
        return json.loads(self.stdout[self.stdout.index("{\n") :])

    def stats(self, host: str = "localhost") -> dict:
        return self.report["stats"][host]

    def task_results(self, task_name: str, host: str = "localhost") -> list[dict]:
        """Results of every task with this name, in play order."""
        return [
            task["hosts"][host]
            for play in self.report["plays"]
            for task in play["tasks"]
            if task["task"]["name"] == task_name and host in task["hosts"]
        ]

    def rendered(self, template: str) -> object:
        """What ``preflight_play`` rendered of ``template``, parsed as YAML (None when it rendered nothing)."""
        (result,) = self.task_results(f"Render {template}")
        assert not result.get("failed"), result
        return yaml.safe_load(result["msg"] or "")  # debug reports an empty rendering as no msg

    def refused_parameters(self) -> dict[str, str]:
        """The variables playbooks/tasks/check_parameters.yml refused, each with its message, in check order."""
        (check,) = self.task_results("Check the parameters")
        return {item["item"]["name"]: item["msg"] for item in check["results"] if item.get("failed")}


def run_playbook(
    playbook: str,
    inventory: str | None = None,
    extra_vars: dict | None = None,
    check: bool = False,
    timeout: float = 600,
    env: dict[str, str] | None = None,
    json_output: bool = True,
    cwd: Path | None = None,
) -> PlaybookRun:
    """Run a playbook (path relative to the repository root, or absolute) from the repository root, or from
    ``cwd`` (the clone's ansible.cfg still applies)."""
    command = [str(BIN / "ansible-playbook"), str(ROOT / playbook)]
    if inventory:
        command += ["-i", str(ROOT / inventory)]
    if extra_vars:
        command += ["-e", json.dumps(extra_vars)]
    if check:
        command.append("--check")
    completed = subprocess.run(
        command,
        cwd=cwd or ROOT,
        env=ansible_env(env, json_output=json_output),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return PlaybookRun(completed.returncode, completed.stdout, completed.stderr)


def ansible_doc(name: str, plugin_type: str = "module") -> dict:
    """What ``ansible-doc --json`` reads from a plugin's DOCUMENTATION / EXAMPLES / RETURN (``doc``, ``examples``,
    ``return``); fails the test with ansible-doc's error when it cannot."""
    done = subprocess.run(
        [str(BIN / "ansible-doc"), "-t", plugin_type, "--json", name],
        cwd=ROOT,
        env=ansible_env(json_output=False),
        capture_output=True,
        text=True,
        check=False,
    )
    documented = json.loads(done.stdout) if done.returncode == 0 else {}
    # An unknown name is no error to ansible-doc: it warns and prints {}.
    assert name in documented, f"ansible-doc found no {plugin_type} {name}: {done.stderr.strip()}"
    return documented[name]


def preflight_play(role: str, variables: dict, *templates: str) -> dict:
    """A play that runs the role's preflight with errors ignored, then renders its ``templates`` ("Render X").

    The preflight is included with ``public: true``, so the role's defaults and vars reach the templates; each
    case is one play, so a whole table of cases costs one ansible-playbook run.
    """
    tasks = [
        {
            "name": "Preflight",
            "ansible.builtin.include_role": {
                "name": f"sre.platform.{role}",
                "tasks_from": "preflight.yml",
                "public": True,
                "apply": {"ignore_errors": True},
            },
        }
    ]
    for template in templates:
        path = ROOT / "roles" / role / "templates" / template
        lookup = f"{{{{ lookup('ansible.builtin.template', '{path}') }}}}"
        tasks.append({"name": f"Render {template}", "ansible.builtin.debug": {"msg": lookup}})
    return {
        "name": role,
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": variables,
        "tasks": tasks,
    }
