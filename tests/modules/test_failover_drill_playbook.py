"""playbooks/failover_drill.yml: a rehearsal of the whole drill on loopback (syntax: tests/test_playbooks.py).

No CloudNativePG can run here. The rehearsal plays its part instead: the Cluster and the primary's Pod
live in the Kubernetes API emulator, and when the playbook deletes that Pod the test stops the real
PostgreSQL the probe writes to, starts it again after a known outage and reports the new primary in the
Cluster's status, as the operator would after promoting a replica.
"""

from __future__ import annotations

import json
import sys
import threading
import time

import pytest

from tests.harness.ansible import run_playbook
from tests.harness.servers import PostgresServer

PLAYBOOK = "playbooks/failover_drill.yml"
NAMESPACE, CLUSTER = "databases", "pg-main"
OUTAGE_SECONDS = 2.0
READY = {"type": "Ready", "status": "True", "reason": "ClusterIsReady", "lastTransitionTime": "2025-01-01T00:00:00Z"}
NOT_READY = {**READY, "status": "False", "reason": "FailoverInProgress"}


def healthy_cluster(kube_api) -> None:
    """A Cluster whose primary pg-main-1 runs on node worker-2."""
    kube_api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    cluster = {"metadata": {"name": CLUSTER, "namespace": NAMESPACE}, "spec": {"instances": 3}}
    kube_api.create({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", **cluster})
    kube_api.set_status(
        "postgresql.cnpg.io/v1",
        "Cluster",
        CLUSTER,
        NAMESPACE,
        {"currentPrimary": f"{CLUSTER}-1", "conditions": [READY]},
    )
    pod = {
        "metadata": {"name": f"{CLUSTER}-1", "namespace": NAMESPACE},
        "spec": {"nodeName": "worker-2", "containers": []},
    }
    kube_api.create({"apiVersion": "v1", "kind": "Pod", **pod})


class StandInOperator(threading.Thread):
    """Waits for the primary's Pod to be deleted, then fails over: the database is down for a known time."""

    def __init__(self, kube_api, database: PostgresServer) -> None:
        super().__init__(daemon=True)
        self.kube_api, self.database = kube_api, database
        self.down_at = self.up_at = None

    def run(self) -> None:
        deadline = time.monotonic() + 120
        while self.kube_api.get("v1", "Pod", f"{CLUSTER}-1", NAMESPACE) is not None:
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        self.down_at = time.time()
        self.database.shutdown("fast")
        self.kube_api.set_status("postgresql.cnpg.io/v1", "Cluster", CLUSTER, NAMESPACE, {"conditions": [NOT_READY]})
        time.sleep(OUTAGE_SECONDS)
        self.database.start()
        self.up_at = time.time()
        status = {"currentPrimary": f"{CLUSTER}-2", "conditions": [READY]}
        self.kube_api.set_status("postgresql.cnpg.io/v1", "Cluster", CLUSTER, NAMESPACE, status)


def drill(kube_api, database: PostgresServer, tmp_path, **extra_vars):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        f"[platform]\nlocalhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    variables = {
        "platform_kubeconfig": str(kube_api.kubeconfig),
        # One key=value string, as a DATABASE_URL would give it: the drill reads pg_host, pg_port... from it.
        "pg_dsn": database.dsn("postgres"),
        # An upper bound: the probe stops drill_tail seconds after the Cluster is Ready again.
        "drill_duration": 60,
        "drill_tail": 1,
        "drill_warmup": 2,
        "drill_verify_timeout": 20,
        "drill_report_dir": str(tmp_path / "reports"),
        **extra_vars,
    }
    env = {"TMPDIR": str(tmp_path), "ANSIBLE_ASYNC_DIR": str(tmp_path / "async")}
    return run_playbook(PLAYBOOK, inventory=str(inventory), extra_vars=variables, env=env)


def test_a_rehearsed_failover_is_measured_and_reported(kube_api, server_factory, tmp_path):
    database = server_factory(PostgresServer())
    healthy_cluster(kube_api)
    operator = StandInOperator(kube_api, database)
    operator.start()
    run = drill(kube_api, database, tmp_path)
    operator.join(10)

    assert run.returncode == 0, run.output[-4000:]
    report = json.loads((tmp_path / "reports" / "failover-drill-pod.json").read_text())
    outage = operator.up_at - operator.down_at
    assert (report["primary_before"], report["primary_after"], report["primary_node"]) == (
        "pg-main-1",
        "pg-main-2",
        "worker-2",
    )
    assert report["passed"] is True
    assert report["probe"]["lost"] == 0
    assert report["probe"]["stopped_by"] == "stop_file"
    assert not list(tmp_path.glob("*.probe")), "the stop file's directory must be removed"
    assert report["longest_gap_seconds"] == pytest.approx(outage, abs=1), f"outage {outage:.2f} s: {report}"
    assert operator.down_at - 1 < report["probe"]["longest_gap"]["start_epoch"] <= operator.down_at + 0.5
    timeline = report["timeline"]
    assert (
        timeline["probe_started"]
        < timeline["primary_broken"]
        < timeline["new_primary_seen"]
        <= timeline["cluster_ready"]
    )
    markdown = (tmp_path / "reports" / "failover-drill-pod.md").read_text()
    assert "**PASSED**: 0 committed writes lost" in markdown
    assert "new primary `pg-main-2` seen in the Cluster status" in markdown
    assert database.password not in run.output


def test_a_probe_that_ends_before_the_cluster_recovers_fails_the_drill(kube_api, server_factory, tmp_path):
    """The outage outlasts the probe: a gap cut off by the probe's end is no measure of it."""
    database = server_factory(PostgresServer())
    healthy_cluster(kube_api)
    operator = StandInOperator(kube_api, database)
    operator.start()
    # The probe writes for 3 s; the primary is broken after 2 s and comes back 2 s later at the earliest.
    run = drill(kube_api, database, tmp_path, drill_duration=3)
    operator.join(10)

    assert run.returncode != 0, "a drill whose probe did not see the recovery cannot pass"
    report = json.loads((tmp_path / "reports" / "failover-drill-pod.json").read_text())
    assert report["probe"]["stopped_by"] == "duration", report["probe"]
    assert report["passed"] is False and report["probe_outlasted_drill"] is False, report
    (verdict,) = run.task_results("No committed write lost, and the write outage within budget")
    assert "the write probe ended before the Cluster was Ready again" in verdict["msg"], verdict
    markdown = (tmp_path / "reports" / "failover-drill-pod.md").read_text()
    assert "**FAILED**" in markdown and "raise drill_duration" in markdown


def test_a_drill_that_fails_midway_leaves_no_previous_report_behind(kube_api, server_factory, tmp_path):
    """No operator promotes a new primary: the drill fails, and a report of an earlier run must not stand."""
    database = server_factory(PostgresServer())
    healthy_cluster(kube_api)
    reports = tmp_path / "reports"
    reports.mkdir()
    for name in ("failover-drill-pod.json", "failover-drill-pod.md"):
        (reports / name).write_text("**PASSED**: an earlier run\n")
    run = drill(kube_api, database, tmp_path, drill_failover_timeout=2)

    assert run.returncode != 0
    (promoted,) = run.task_results("Wait for CloudNativePG to promote another instance")
    assert promoted.get("failed"), promoted
    assert sorted(path.name for path in reports.iterdir()) == [], "an earlier run's verdict would pass for this one"
