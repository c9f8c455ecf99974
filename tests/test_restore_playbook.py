"""playbooks/restore.yml: rehearsals on loopback (parameter checks: tests/modules/test_playbook_parameters.py).

No CloudNativePG can run here. The API emulator's stand-in controller reports the restored Cluster Ready, as
the operator would once recovery finished, with its first instance as primary. The drill then runs psql "in"
each primary: the emulator runs it on this host against a PostgreSQL of the test, one for the source and one
for the copy, both seeded by pg_seed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.harness.ansible import run_module, run_playbook
from tests.harness.kube_emulator import KubeEmulatorServer
from tests.harness.servers import PostgresServer

PLAYBOOK = "playbooks/restore.yml"
NAMESPACE, CLUSTER, COPY = "databases", "pg-main", "pg-main-restore"
DATABASE = "app"  # cloudnative_pg_database
CLUSTER_API = "postgresql.cnpg.io/v1"
VERDICT = "sre.platform.cloudnative_pg : Fail when a checksum differs"


def _seeded(server_factory) -> PostgresServer:
    server = server_factory(PostgresServer())
    server.createdb(DATABASE)
    seeded = run_module("sre.platform.pg_seed", {**server.conninfo, "login_db": DATABASE, "rows": 2000, "seed": 7})
    assert seeded["changed"] is True, seeded
    return server


def local_inventory(tmp_path) -> Path:
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        f"[platform]\nlocalhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    return inventory


@pytest.fixture
def platform(server_factory, tmp_path):
    """The emulated platform: a source Cluster whose primary is one PostgreSQL, a copy's primary another."""
    kube_api = server_factory(KubeEmulatorServer(auto_status=True))
    kube_api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    cluster = {"metadata": {"name": CLUSTER, "namespace": NAMESPACE}, "spec": {}}
    kube_api.create({"apiVersion": CLUSTER_API, "kind": "Cluster", **cluster})
    source, copy = _seeded(server_factory), _seeded(server_factory)
    kube_api.create_postgres_pod(f"{CLUSTER}-1", NAMESPACE, source)
    kube_api.create_postgres_pod(f"{COPY}-1", NAMESPACE, copy)
    return kube_api, copy, local_inventory(tmp_path)


def restore(platform, tmp_path, **extra_vars):
    kube_api, _, inventory = platform
    variables = {
        "platform_kubeconfig": str(kube_api.kubeconfig),
        "cloudnative_pg_report_dir": str(tmp_path / "reports"),
        "cloudnative_pg_wait_timeout": 60,
        **extra_vars,
    }
    run = run_playbook(PLAYBOOK, inventory=str(inventory), extra_vars=variables, env={"TMPDIR": str(tmp_path)})
    path = tmp_path / "reports" / "restore.json"
    return run, json.loads(path.read_text()) if path.exists() else None


def test_a_faithful_copy_passes_and_is_deleted(platform, tmp_path):
    run, report = restore(platform, tmp_path)
    assert run.returncode == 0, run.output[-4000:]
    assert (report["source"], report["restored_into"], report["target_time"]) == (CLUSTER, COPY, "latest")
    assert report["verdict"] == "pass"
    assert len(report["source_checksums"]) >= 10, "every seeded table is compared"
    assert report["restored_checksums"] == report["source_checksums"]
    (verdict,) = run.task_results(VERDICT)
    assert verdict["msg"].startswith("restore drill passed in ")
    kube_api = platform[0]
    assert kube_api.get(CLUSTER_API, "Cluster", COPY, NAMESPACE) is None, "the restored Cluster is cleaned up"


def test_a_copy_that_differs_fails_the_drill_and_names_the_report(platform, tmp_path):
    kube_api, copy, _ = platform
    copy.psql("UPDATE shop.customers SET email = 'changed@example.test' WHERE id = 1", dbname=DATABASE)
    # As the runbook writes it on the command line: text, which Ansible reads as a boolean.
    run, report = restore(platform, tmp_path, cloudnative_pg_restore_cleanup="false")
    assert run.returncode != 0
    assert report["verdict"] == "fail"
    differing = {t for t, s in report["source_checksums"].items() if report["restored_checksums"][t] != s}
    assert differing == {"customers"}
    (verdict,) = run.task_results(VERDICT)
    assert "the copy's tables or checksums differ" in verdict["msg"]
    restored = kube_api.get(CLUSTER_API, "Cluster", COPY, NAMESPACE)
    recovery = restored["spec"]["bootstrap"]["recovery"]
    assert (recovery["source"], recovery["database"]) == ("origin", DATABASE)
    (origin,) = restored["spec"]["externalClusters"]
    assert origin["plugin"]["parameters"] == {"barmanObjectName": f"{CLUSTER}-backups", "serverName": CLUSTER}


def test_a_failing_checksum_query_fails_with_psql_s_error(platform, tmp_path):
    _, copy, _ = platform
    copy.psql("DROP TABLE shop.seed_manifest CASCADE", dbname=DATABASE)
    run, report = restore(platform, tmp_path, cloudnative_pg_restore_cleanup="false")
    assert run.returncode != 0 and report is None, "no report from checksums that were never read"
    (recompute,) = run.task_results("sre.platform.cloudnative_pg : Recompute every seeded table's checksum")
    source, restored = recompute["results"]
    assert source["rc"] == 0 and not source.get("failed"), source
    assert restored["failed"] and 'relation "shop.seed_manifest" does not exist' in restored["stderr"], restored


def test_the_drill_refuses_to_restore_with_the_identity_that_writes_the_backups(server_factory, tmp_path):
    """On a cloud the restored copy would otherwise hold write and delete access to the production backups."""
    kube_api = server_factory(KubeEmulatorServer(auto_status=True))
    backup_role = {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/example-backups"}
    variables = {
        "platform_kubeconfig": str(kube_api.kubeconfig),
        "platform_target": "eks",
        "cloudnative_pg_backup_destination": "s3://bucket/pg-main",
        "cloudnative_pg_service_account_annotations": backup_role,
        "cloudnative_pg_restore_service_account_annotations": backup_role,
    }
    inventory = str(local_inventory(tmp_path))
    run = run_playbook(PLAYBOOK, inventory=inventory, extra_vars=variables, env={"TMPDIR": str(tmp_path)})
    assert run.returncode != 0
    (check,) = run.task_results("sre.platform.cloudnative_pg : Check the restore drill's identity")
    assert check["failed"] and "shares the backup identity" in check["msg"], check
    assert kube_api.get(CLUSTER_API, "Cluster", COPY, NAMESPACE) is None, "no Cluster is created"


def test_a_restore_that_fails_before_its_verdict_deletes_the_copy_and_any_earlier_report(platform, tmp_path):
    """The checksums cannot be read: the copy must not keep running, nor an earlier run's PASS stand."""
    kube_api, copy, _ = platform
    copy.psql("DROP TABLE shop.seed_manifest CASCADE", dbname=DATABASE)
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "restore.json").write_text(json.dumps({"verdict": "pass"}))
    (reports / "restore.md").write_text("pass\n")
    run, report = restore(platform, tmp_path)
    assert run.returncode != 0
    (recompute,) = run.task_results("sre.platform.cloudnative_pg : Recompute every seeded table's checksum")
    assert recompute.get("failed"), recompute
    assert kube_api.get(CLUSTER_API, "Cluster", COPY, NAMESPACE) is None, "the restored Cluster is cleaned up"
    assert report is None and not (reports / "restore.md").exists(), "an earlier run's verdict would stand"
