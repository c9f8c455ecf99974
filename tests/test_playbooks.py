"""Every playbook parses, with every role, module and filter it names resolvable from the clone."""

from __future__ import annotations

import subprocess

import pytest

from tests.harness.ansible import BIN, ROOT, ansible_env

PLAYBOOKS = sorted(path.relative_to(ROOT) for path in (ROOT / "playbooks").glob("*.yml"))


@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=lambda path: path.stem)
def test_playbook_passes_the_syntax_check(playbook):
    run = subprocess.run(
        [str(BIN / "ansible-playbook"), "--syntax-check", "-i", "inventories/local", str(playbook)],
        cwd=ROOT,
        env=ansible_env(json_output=False),
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_syntax_check_can_fail(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "- name: Broken\n  hosts: localhost\n  tasks:\n    - name: No such module\n      sre.platform.nope: {}\n"
    )
    run = subprocess.run(
        [str(BIN / "ansible-playbook"), "--syntax-check", str(broken)],
        cwd=ROOT,
        env=ansible_env(json_output=False),
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode != 0
    assert "sre.platform.nope" in run.stdout + run.stderr
