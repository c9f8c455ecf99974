"""playbooks/load.yml: a rehearsal on loopback (objects it creates: tests/test_alert_drill_and_load_playbooks.py).

No k6 can run here. The service's Service and HorizontalPodAutoscaler live in the Kubernetes API emulator,
and a stand-in Job controller reports the load Job's outcome once the playbook creates it.
"""

from __future__ import annotations

import sys
import threading
import time

from tests.harness.ansible import run_playbook

PLAYBOOK = "playbooks/load.yml"
SERVICE = NAMESPACE = "user-hasher"
JOB = f"load-{SERVICE}"


class StandInJobController(threading.Thread):
    """Reports the load Job failed once it appears, as the Job controller does when k6 exits non-zero."""

    def __init__(self, kube_api) -> None:
        super().__init__(daemon=True)
        self.kube_api = kube_api

    def run(self) -> None:
        deadline = time.monotonic() + 120
        while self.kube_api.get("batch/v1", "Job", JOB, NAMESPACE) is None:
            if time.monotonic() > deadline:
                return
            time.sleep(0.1)
        failed = {
            "type": "Failed",
            "status": "True",
            "reason": "BackoffLimitExceeded",
            "message": "Job has reached the specified backoff limit",
        }
        self.kube_api.set_status("batch/v1", "Job", JOB, NAMESPACE, {"failed": 1, "conditions": [failed]})


def a_service_with_an_autoscaler(kube_api) -> None:
    kube_api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    metadata = {"name": SERVICE, "namespace": NAMESPACE}
    service = {"selector": {"app.kubernetes.io/name": SERVICE}, "ports": [{"port": 80}]}
    kube_api.create({"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": service})
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": SERVICE}
    hpa = {"scaleTargetRef": target, "minReplicas": 2, "maxReplicas": 6}
    kube_api.create(
        {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": metadata, "spec": hpa}
    )


def test_a_failed_load_job_fails_the_run_at_once_and_leaves_no_earlier_report(kube_api, tmp_path):
    a_service_with_an_autoscaler(kube_api)
    reports = tmp_path / "reports"
    reports.mkdir()
    for name in (f"load-{SERVICE}.json", f"load-{SERVICE}.md"):
        (reports / name).write_text("{}\n")  # an earlier run's
    StandInJobController(kube_api).start()
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        f"[platform]\nlocalhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    variables = {
        "platform_kubeconfig": str(kube_api.kubeconfig),
        "load_service": SERVICE,
        "load_duration": 1,
        "load_cooldown": 0,
        "load_sample_interval": 1,
        "load_report_dir": str(reports),
    }
    started = time.monotonic()
    run = run_playbook(PLAYBOOK, inventory=str(inventory), extra_vars=variables, env={"TMPDIR": str(tmp_path)})

    assert run.returncode != 0
    assert time.monotonic() - started < 120, "a failed Job is not waited on as if it could still complete"
    (verdict,) = run.task_results("Fail when the load Job failed")
    assert verdict.get("failed") and "BackoffLimitExceeded" in verdict["msg"], verdict
    assert list(reports.iterdir()) == [], "an earlier run's report would stand for this one"
