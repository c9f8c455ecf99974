"""playbooks/alert_drill.yml: a rehearsal of the replication lag drill on loopback (syntax: tests/test_playbooks.py).

No CloudNativePG can run here, but everything the drill watches is real: a primary and a hot standby
streaming from it, an exporter reading the standby's lag with the query behind CloudNativePG's
``cnpg_pg_replication_lag``, Prometheus evaluating the project's PostgresReplicationLagHigh rule and
Alertmanager receiving it. The instances' Pods live in the Kubernetes API emulator, which runs the drill's
psql "in" the replica against the standby. Only the rule's ``for:`` is shortened, from minutes to seconds.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.harness.ansible import ROOT, run_playbook
from tests.harness.exporter import MetricsExporter, scrape_config
from tests.harness.kube_emulator import KubeEmulatorServer
from tests.harness.servers import AlertmanagerServer, PostgresServer, PostgresStandby, PrometheusServer

PLAYBOOK = "playbooks/alert_drill.yml"
ALERT = "PostgresReplicationLagHigh"
NAMESPACE, CLUSTER = "databases", "pg-main"
REPLICA = f"{CLUSTER}-2"
FOR = 2  # seconds; the rule's own for: is 2m
THRESHOLD = 5  # seconds of lag, the rule's expression
# cnpg_pg_replication_lag as CloudNativePG's default monitoring queries define it: 0 on a primary and on a
# standby that has replayed all it received, else the age of the last transaction it replayed.
LAG_SQL = (
    "SELECT CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
    " ELSE GREATEST(0, EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())) END"
)


@dataclass
class Platform:
    kube_api: KubeEmulatorServer
    primary: PostgresServer
    standby: PostgresStandby
    prometheus: PrometheusServer
    alertmanager: AlertmanagerServer
    inventory: Path


def lag_rule(directory: Path) -> Path:
    """The project's rule with a ``for:`` of seconds, as a rule file Prometheus loads."""
    rule = yaml.safe_load((ROOT / "files/rules/postgres" / f"{ALERT}.yml").read_text())
    assert rule["expr"].endswith(f"> {THRESHOLD}"), "the test's timings follow the rule's threshold"
    path = directory / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "postgres", "rules": [{**rule, "for": f"{FOR}s"}]}]}))
    return path


@pytest.fixture
def platform(kube_api, server_factory, tmp_path) -> Platform:
    primary = server_factory(PostgresServer())
    standby = server_factory(PostgresStandby(primary))
    lag = {"name": "cnpg_pg_replication_lag", "labels": {"namespace": NAMESPACE, "pod": REPLICA}}
    exporter = server_factory(MetricsExporter([{**lag, "sql": LAG_SQL, "dsn": standby.dsn()}]))
    alertmanager = server_factory(AlertmanagerServer())
    config = scrape_config(exporter.target) + (
        f"rule_files:\n  - {lag_rule(tmp_path)}\n"
        f"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{alertmanager.url[7:]}']\n"
    )
    prometheus = server_factory(PrometheusServer(config=config))
    kube_api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    for pod, server, role in ((f"{CLUSTER}-1", primary, "primary"), (REPLICA, standby, "replica")):
        labels = {"cnpg.io/cluster": CLUSTER, "cnpg.io/instanceRole": role}
        kube_api.create_postgres_pod(pod, NAMESPACE, server, labels)
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        f"[platform]\nlocalhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    return Platform(kube_api, primary, standby, prometheus, alertmanager, inventory)


def drill(platform: Platform, tmp_path: Path, **extra_vars):
    variables = {
        "platform_kubeconfig": str(platform.kube_api.kubeconfig),
        "pg_dsn": platform.primary.dsn(),
        "prometheus_url": platform.prometheus.url,
        "alertmanager_url": platform.alertmanager.url,
        "drill_fire_timeout": 90,
        "drill_resolve_timeout": 60,
        "drill_write_duration": 120,
        "drill_report_dir": str(tmp_path / "reports"),
        **extra_vars,
    }
    env = {"TMPDIR": str(tmp_path), "ANSIBLE_ASYNC_DIR": str(tmp_path / "async")}
    return run_playbook(PLAYBOOK, inventory=str(platform.inventory), extra_vars=variables, env=env)


def test_paused_replay_fires_the_lag_alert_and_resuming_resolves_it(platform, tmp_path):
    run = drill(platform, tmp_path)

    assert run.returncode == 0, run.output[-4000:]
    assert not platform.standby.replay_paused(), "the drill resumes the replay it paused"
    report = json.loads((tmp_path / "reports" / "alert-drill.json").read_text())
    assert (report["alert"], report["condition"], report["target"]) == (ALERT, "replication_lag", REPLICA)
    assert report["labels"] == {"alertname": ALERT, "namespace": NAMESPACE, "pod": REPLICA, "severity": "warning"}
    summary = f"PostgreSQL standby {NAMESPACE}/{REPLICA} lags the primary by more than 5 s."
    assert report["annotations"]["summary"] == summary
    epochs = {event: report["timeline"][event]["epoch"] for event in ("injected", "pending", "firing", "notified")}
    assert epochs["injected"] < epochs["pending"] <= epochs["firing"] <= epochs["notified"], report["timeline"]
    # The lag grows from the pause on: no alert before the threshold and the for: have passed.
    assert report["seconds"]["inject_to_firing"] >= THRESHOLD + FOR - 1, report["seconds"]
    assert report["timeline"]["removed"]["epoch"] < report["timeline"]["resolved"]["epoch"]
    (ready,) = run.task_results("Wait until the condition can be injected")
    assert ready["rc"] == 0 and ready["changed"] is False, ready
    probe = report["probe"]
    assert probe["lost"] == 0 and probe["committed"] > 0 and probe["stopped_by"] == "stop_file", probe
    markdown = (tmp_path / "reports" / "alert-drill.md").read_text()
    assert f"pg_wal_replay_pause() on replica `{REPLICA}` while the probe writes" in markdown
    assert f"`pod={REPLICA}`" in markdown and "0 lost" in markdown
    assert platform.primary.password not in run.output


def test_an_alert_that_does_not_fire_in_time_fails_the_drill_and_still_resumes_replay(platform, tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    for name in ("alert-drill.json", "alert-drill.md"):
        (reports / name).write_text("{}\n")  # an earlier run's
    # Fewer seconds than the lag needs to pass the threshold: the alert cannot fire in time.
    run = drill(platform, tmp_path, drill_fire_timeout=THRESHOLD - 2)

    assert run.returncode != 0
    (wait,) = run.task_results("Wait until the alert fires in Prometheus (pending first, for its `for:`)")
    assert wait.get("failed") and ALERT in wait["msg"], wait
    (removal,) = run.task_results("Remove the condition")
    assert removal.get("changed") and not removal.get("failed"), removal
    assert not platform.standby.replay_paused(), "a failed drill leaves no paused replica behind"
    assert list(reports.iterdir()) == [], "no report claims a drill that failed, not even an earlier run's"


def test_a_probe_writing_elsewhere_stops_the_drill_before_the_replica_is_paused(platform, server_factory, tmp_path):
    # pg_dsn names a server the replica does not follow: the pause would show no lag, so it never happens.
    elsewhere = server_factory(PostgresServer())
    run = drill(platform, tmp_path, pg_dsn=elsewhere.dsn(), drill_ready_timeout=3)

    assert run.returncode != 0
    (ready,) = run.task_results("Wait until the condition can be injected")
    assert ready["rc"] != 0, ready
    assert "the replica replayed no write of the probe within 3 s" in ready["stderr"], ready
    assert run.task_results("Inject the condition") == [], "nothing is injected"
    assert run.task_results("Remove the condition")[0].get("skipped"), "nor removed"
    assert not platform.standby.replay_paused()
    (collected,) = run.task_results("sre.platform.background_probe : Wait for the probe to finish")
    assert collected["stopped_by"] == "stop_file" and collected["lost"] == 0, collected


class ScratchPodStarter(threading.Thread):
    """Reports the disk drill's scratch pod running once it is created, as the kubelet would."""

    def __init__(self, kube_api: KubeEmulatorServer) -> None:
        super().__init__(daemon=True)
        self.kube_api = kube_api

    def run(self) -> None:
        deadline = time.monotonic() + 120
        while self.kube_api.get("v1", "Pod", SCRATCH, "monitoring") is None:
            if time.monotonic() > deadline:
                return
            time.sleep(0.1)
        ready = {"type": "Ready", "status": "True"}
        running = {"name": "fill", "ready": True, "restartCount": 0, "image": "busybox", "imageID": "", "state": {}}
        status = {"phase": "Running", "conditions": [ready], "containerStatuses": [running]}
        self.kube_api.set_status("v1", "Pod", SCRATCH, "monitoring", status)


SCRATCH = "alert-drill-scratch"


def test_a_disk_drill_that_stops_before_the_fill_deletes_its_scratch_volume(server_factory, tmp_path):
    """The volume's capacity is the node's filesystem (kind's local-path): the drill refuses to fill it, and
    the claim and pod it created for the drill must not stay behind."""
    kube_api = server_factory(KubeEmulatorServer(auto_status=True))
    kube_api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}})
    volume = {"namespace": "monitoring", "persistentvolumeclaim": SCRATCH}
    node_disk = 500 * 2**30
    exporter = server_factory(
        MetricsExporter(
            [
                {"name": "kubelet_volume_stats_capacity_bytes", "labels": volume, "value": node_disk},
                {"name": "kubelet_volume_stats_available_bytes", "labels": volume, "value": node_disk},
            ]
        )
    )
    prometheus = server_factory(PrometheusServer(config=scrape_config(exporter.target)))
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        f"[platform]\nlocalhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    ScratchPodStarter(kube_api).start()
    variables = {
        "platform_kubeconfig": str(kube_api.kubeconfig),
        "drill_alert": "disk",
        "prometheus_url": prometheus.url,
        "alertmanager_url": "http://127.0.0.1:9",  # never reached: the drill stops before the alert
        "drill_report_dir": str(tmp_path / "reports"),
    }
    run = run_playbook(PLAYBOOK, inventory=str(inventory), extra_vars=variables, env={"TMPDIR": str(tmp_path)})

    assert run.returncode != 0
    (refusal,) = run.task_results("Refuse to write more than the scratch volume should hold")
    assert refusal.get("failed") and "would fill the node" in refusal["msg"], refusal
    assert kube_api.get("v1", "Pod", SCRATCH, "monitoring") is None, "the scratch pod is deleted"
    assert kube_api.get("v1", "PersistentVolumeClaim", SCRATCH, "monitoring") is None, "the scratch claim too"
