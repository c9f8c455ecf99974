"""Drills, releases and backups refuse check mode before they read or change anything.

They act on the live platform and judge how it responds; check mode can do neither, and used to fail
half-way with a misleading error (a release's smoke test "failed" because uri skips in check mode).
Without --check the refusal passes: the release, rollout and drill tests run these playbooks for real.
"""

from __future__ import annotations

import pytest

from tests.harness.ansible import run_playbook

LIVE_PLAYBOOKS = ["release", "rollout", "failover_drill", "alert_drill", "restore", "backup", "load"]


@pytest.mark.parametrize("name", LIVE_PLAYBOOKS)
def test_check_mode_is_refused_first(tmp_path, name):
    # A kubeconfig that does not exist: nothing may need a cluster before the refusal.
    extra_vars = {"platform_kubeconfig": str(tmp_path / "no-cluster"), "service": "user-hasher", "image_tag": "1.1.0"}
    run = run_playbook(f"playbooks/{name}.yml", inventory="inventories/local", extra_vars=extra_vars, check=True)
    assert run.returncode != 0
    tasks = [task["task"]["name"] for play in run.report["plays"] for task in play["tasks"]]
    assert tasks == ["Refuse check mode", "Refuse check mode"], "the include, then its assert, and nothing else"
    (refusal,) = [result for result in run.task_results("Refuse check mode") if result.get("failed")]
    assert refusal["msg"].startswith("Check mode cannot run this playbook: it ")
    assert "Run it without --check" in refusal["msg"]
