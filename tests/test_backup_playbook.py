"""playbooks/backup.yml: rehearsals on loopback (syntax: tests/test_playbooks.py).

No CloudNativePG can run here. The Backup the playbook asks for lives in the Kubernetes API emulator, and a
stand-in operator reports its outcome in the Backup's status once it appears, as the operator would once
the Barman Cloud plugin finished (or failed).
"""

from __future__ import annotations

import sys
import threading
import time

from tests.harness.ansible import run_playbook

PLAYBOOK = "playbooks/backup.yml"
NAMESPACE, CLUSTER = "databases", "pg-main"
BACKUP_API = "postgresql.cnpg.io/v1"
VERDICT = "sre.platform.cloudnative_pg : Fail when the operator reports the backup failed"


class StandInOperator(threading.Thread):
    """Waits for the playbook's Backup, remembers it, and reports ``status`` for it."""

    def __init__(self, kube_api, status: dict) -> None:
        super().__init__(daemon=True)
        self.kube_api, self.status = kube_api, status
        self.backup: dict | None = None

    def run(self) -> None:
        backups = self.kube_api.client.resources.get(api_version=BACKUP_API, kind="Backup")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = backups.get(namespace=NAMESPACE).items
            if found:
                self.backup = found[0].to_dict()
                name = self.backup["metadata"]["name"]
                self.kube_api.set_status(BACKUP_API, "Backup", name, NAMESPACE, self.status)
                return
            time.sleep(0.05)


def backup(kube_api, tmp_path, status: dict):
    """Run backup.yml while the stand-in operator reports ``status``; the run and the Backup it created."""
    kube_api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    operator = StandInOperator(kube_api, status)
    operator.start()
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        f"[platform]\nlocalhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    extra_vars = {"platform_kubeconfig": str(kube_api.kubeconfig), "cloudnative_pg_backup_timeout": 30}
    run = run_playbook(PLAYBOOK, inventory=str(inventory), extra_vars=extra_vars, env={"TMPDIR": str(tmp_path)})
    operator.join(10)
    return run, operator.backup


def test_a_backup_is_asked_of_the_operator_and_its_completion_reported(kube_api, tmp_path):
    run, created = backup(kube_api, tmp_path, {"phase": "completed"})
    assert run.returncode == 0, run.output[-4000:]
    assert created is not None, "the playbook created no Backup"
    name = created["metadata"]["name"]
    assert name.startswith(f"{CLUSTER}-") and name[len(CLUSTER) + 1 :].isdigit(), "named after the time it was taken"
    assert created["spec"]["cluster"] == {"name": CLUSTER}
    assert created["spec"]["method"] == "plugin"
    assert created["spec"]["pluginConfiguration"]["name"] == "barman-cloud.cloudnative-pg.io"
    (verdict,) = run.task_results(VERDICT)
    assert verdict["msg"].startswith(f"backup {name} completed in ")


def test_a_failed_backup_fails_the_play_with_the_operators_error(kube_api, tmp_path):
    error = "can't upload: no such bucket"
    run, created = backup(kube_api, tmp_path, {"phase": "failed", "error": error})
    assert run.returncode != 0
    (verdict,) = run.task_results(VERDICT)
    assert verdict["msg"] == f"backup {created['metadata']['name']} failed: {error}"


def test_a_backup_stopped_by_failing_wal_archiving_fails_at_once_naming_the_phase(kube_api, tmp_path):
    # The operator's other terminal phase: the backup never starts, so waiting for completed is waiting in vain.
    run, created = backup(kube_api, tmp_path, {"phase": "walArchivingFailing"})
    assert run.returncode != 0
    (waited,) = run.task_results("sre.platform.cloudnative_pg : Wait until the backup has completed")
    assert not waited.get("failed") and waited["attempts"] <= 2, "no wait for the whole backup timeout"
    (verdict,) = run.task_results(VERDICT)
    assert verdict["msg"].startswith(f"backup {created['metadata']['name']} failed in phase walArchivingFailing")
    assert "PostgresWalArchivingFailing" in verdict["msg"], verdict["msg"]
