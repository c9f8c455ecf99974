"""The Ansible runner of the test harness (tests/harness/ansible.py)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from tests.harness.ansible import (
    BackgroundModule,
    descendants,
    kill_tree,
    path_without,
    run_module,
    run_playbook,
    start_module,
)


def test_run_module_returns_the_module_result():
    result = run_module("ansible.builtin.ping", {"data": "pong-42"})
    assert result["ping"] == "pong-42"
    assert result["changed"] is False


def test_run_module_reports_failures_with_their_message():
    result = run_module("ansible.builtin.fail", {"msg": "broken on purpose"})
    assert result["failed"] is True
    assert result["msg"] == "broken on purpose"


def test_background_module_returns_its_result_after_running_alongside_the_test():
    started = time.monotonic()
    module = BackgroundModule("ansible.builtin.command", {"argv": ["sleep", "1"]})
    module.start()
    assert module.result is None, "the module runs in the background"
    result = module.outcome(60)
    assert result["rc"] == 0 and result["cmd"] == ["sleep", "1"]
    assert time.monotonic() - started >= 1


def test_path_without_hides_one_tool_and_keeps_the_others(tmp_path):
    path = path_without("sh", tmp_path / "bin")
    assert shutil.which("sh", path=path) is None
    assert shutil.which("ls", path=path) is not None
    assert shutil.which("ansible-playbook", path=path) is not None, "the virtualenv's tools stay reachable"


def test_run_playbook_returns_stats_and_task_results(tmp_path):
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- name: Probe\n  hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n"
        "    - name: Echo\n      ansible.builtin.debug:\n        msg: '{{ greeting }}'\n"
    )
    run = run_playbook(str(playbook), inventory=None, extra_vars={"greeting": "hello"})
    assert run.returncode == 0, run.output
    assert run.stats()["failures"] == 0
    assert run.task_results("Echo")[0]["msg"] == "hello"


def test_kill_tree_stops_ansible_and_its_module():
    proc = start_module("ansible.builtin.command", {"argv": ["sleep", "60"]})
    deadline = time.monotonic() + 30
    while not _sleeping(descendants(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    sleeper = _sleeping(descendants(proc.pid))
    assert sleeper, "the module never started sleep"
    kill_tree(proc)
    time.sleep(0.2)
    assert not Path(f"/proc/{sleeper[0]}").exists() or "zombie" in _state(sleeper[0])


def _sleeping(pids: list[int]) -> list[int]:
    return [pid for pid in pids if _cmdline(pid).startswith("sleep")]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].splitlines()[0].lower()
    except (OSError, IndexError):
        return "zombie"
