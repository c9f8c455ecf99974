"""The rendered database: HA CloudNativePG, backups, monitoring, and exposure per target."""

from __future__ import annotations

import yaml

from tests.harness.ansible import preflight_play, run_playbook


def _one(objects: list[dict], kind: str, name: str | None = None) -> dict:
    matches = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def test_cluster_has_three_instances_spread_across_nodes(local_objects):
    cluster = _one(local_objects, "Cluster", "pg-main")
    assert cluster["metadata"]["namespace"] == "databases"
    assert cluster["spec"]["instances"] == 3
    assert cluster["spec"]["affinity"] == {
        "enablePodAntiAffinity": True,
        "podAntiAffinityType": "required",
        "topologyKey": "kubernetes.io/hostname",
    }
    assert cluster["spec"]["storage"]["storageClass"] == "platform"
    assert cluster["spec"]["walStorage"]["storageClass"] == "platform"
    assert cluster["spec"]["resources"]["requests"]["memory"] == cluster["spec"]["resources"]["limits"]["memory"]


def test_the_zone_spread_is_a_preference(cloud_objects):
    """Required, it would keep a replacement instance Pending while a zone is out (docs/cloud.md)."""
    (spread,) = _one(cloud_objects, "Cluster", "pg-main")["spec"]["topologySpreadConstraints"]
    assert (spread["topologyKey"], spread["maxSkew"]) == ("topology.kubernetes.io/zone", 1)
    assert spread["whenUnsatisfiable"] == "ScheduleAnyway"


def test_wal_is_archived_through_the_barman_cloud_plugin(local_objects):
    cluster = _one(local_objects, "Cluster", "pg-main")
    (plugin,) = cluster["spec"]["plugins"]
    assert plugin["name"] == "barman-cloud.cloudnative-pg.io"
    assert plugin["isWALArchiver"] is True
    store = _one(local_objects, "ObjectStore", plugin["parameters"]["barmanObjectName"])
    assert store["spec"]["configuration"]["endpointURL"] == "http://minio.object-store.svc:9000"
    backup = _one(local_objects, "ScheduledBackup")
    assert backup["spec"]["cluster"]["name"] == "pg-main"
    assert backup["spec"]["method"] == "plugin"
    assert len(backup["spec"]["schedule"].split()) == 6


def test_pod_monitor_is_created_explicitly(local_objects):
    monitor = _one(local_objects, "PodMonitor", "pg-main")
    assert monitor["spec"]["selector"]["matchLabels"] == {"cnpg.io/cluster": "pg-main"}
    assert "enablePodMonitor" not in str(_one(local_objects, "Cluster", "pg-main")["spec"])


def test_local_target_exposes_the_primary_through_a_restricted_load_balancer(local_objects):
    service = _one(local_objects, "Service", "pg-main-rw-lb")
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["loadBalancerSourceRanges"]
    assert "0.0.0.0/0" not in service["spec"]["loadBalancerSourceRanges"]
    assert service["spec"]["selector"] == {"cnpg.io/cluster": "pg-main", "cnpg.io/instanceRole": "primary"}


def test_cloud_target_never_exposes_the_database(cloud_objects):
    database = [o for o in cloud_objects if o["metadata"].get("namespace") == "databases"]
    assert not [o for o in database if o["kind"] == "Service" and o["spec"].get("type") == "LoadBalancer"]
    policy = _one(cloud_objects, "NetworkPolicy", "pg-main-clients")
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    allowed = policy["spec"]["ingress"][0]["from"][1]["namespaceSelector"]["matchExpressions"][0]["values"]
    assert set(allowed) == {"password-generator", "user-hasher", "kv-store", "cnpg-system", "monitoring"}


def test_cloud_backups_use_workload_identity_not_keys(cloud_objects):
    store = _one(cloud_objects, "ObjectStore")
    configuration = store["spec"]["configuration"]
    assert configuration["destinationPath"].startswith("gs://")
    assert configuration["googleCredentials"] == {"gkeEnvironment": True}
    assert "s3Credentials" not in configuration
    cluster = _one(cloud_objects, "Cluster", "pg-main")
    assert "iam.gke.io/gcp-service-account" in cluster["spec"]["serviceAccountTemplate"]["metadata"]["annotations"]


def test_aks_instances_opt_in_to_the_workload_identity_webhook(azure_objects):
    """The webhook injects the federated token only into pods labelled azure.workload.identity/use: without the
    label inheritFromAzureAD finds no credentials and WAL archiving and backups fail."""
    store = _one(azure_objects, "ObjectStore")
    assert store["spec"]["configuration"]["azureCredentials"] == {"inheritFromAzureAD": True}
    cluster = _one(azure_objects, "Cluster", "pg-main")
    assert "azure.workload.identity/client-id" in cluster["spec"]["serviceAccountTemplate"]["metadata"]["annotations"]
    assert cluster["spec"]["inheritedMetadata"] == {"labels": {"azure.workload.identity/use": "true"}}


def test_other_stores_need_no_pod_labels(local_objects, aws_objects, cloud_objects):
    for objects in (local_objects, aws_objects, cloud_objects):
        assert "inheritedMetadata" not in _one(objects, "Cluster", "pg-main")["spec"]


# Each cloud target's backup destination and the workload identity annotations of the Cluster's and the restore
# drill's service accounts (Terraform outputs in an inventory: backup_* and restore_*).
CLOUD_IDENTITIES = {
    "eks": (
        "s3://bucket/pg-main",
        {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/example-backups"},
        {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/example-restore"},
    ),
    "gke": (
        "gs://bucket/pg-main",
        {"iam.gke.io/gcp-service-account": "pg-backups@example.iam.gserviceaccount.com"},
        {"iam.gke.io/gcp-service-account": "pg-restore@example.iam.gserviceaccount.com"},
    ),
    "aks": (
        "https://acct.blob.core.windows.net/c/p",
        {"azure.workload.identity/client-id": "0000-0000"},
        {"azure.workload.identity/client-id": "1111-1111"},
    ),
}


def _identity_play(target: str, backup: dict, restore: dict) -> dict:
    variables = {
        "platform_target": target,
        "cloudnative_pg_backup_destination": CLOUD_IDENTITIES[target][0],
        "cloudnative_pg_service_account_annotations": backup,
        "cloudnative_pg_restore_service_account_annotations": restore,
    }
    return preflight_play("cloudnative_pg", variables, "cluster.yml.j2", "restore.yml.j2")


def test_the_restore_drill_reads_the_store_with_its_own_identity(tmp_path):
    """The drill's Cluster runs as a service account of its own (named after it, federated by the Terraform
    modules' restore_service_account with a read-only identity): it carries that identity, never the one that
    writes the backups, and the Cluster's pod labels, which the store's credentials need."""
    plays = [_identity_play(target, backup, restore) for target, (_, backup, restore) in CLOUD_IDENTITIES.items()]
    playbook = tmp_path / "restore.yml"
    playbook.write_text(yaml.safe_dump(plays))
    run = run_playbook(str(playbook))
    assert run.returncode == 0, run.output
    clusters, copies = (
        [yaml.safe_load(result["msg"])["spec"] for result in run.task_results(f"Render {template}")]
        for template in ("cluster.yml.j2", "restore.yml.j2")
    )
    for target, cluster, copy in zip(CLOUD_IDENTITIES, clusters, copies, strict=True):
        _, backup, restore = CLOUD_IDENTITIES[target]
        assert cluster["serviceAccountTemplate"]["metadata"]["annotations"] == backup, target
        assert copy["serviceAccountTemplate"]["metadata"]["annotations"] == restore, target
        assert copy.get("inheritedMetadata") == cluster.get("inheritedMetadata"), target
    assert copies[-1]["inheritedMetadata"] == {"labels": {"azure.workload.identity/use": "true"}}


RESTORE_IDENTITY_CASES = [
    # (target, backup annotations, restore annotations, refused)
    ("eks", *CLOUD_IDENTITIES["eks"][1:], False),
    ("gke", CLOUD_IDENTITIES["gke"][1], {}, True),
    ("aks", CLOUD_IDENTITIES["aks"][1], CLOUD_IDENTITIES["aks"][1], True),
    ("eks", CLOUD_IDENTITIES["eks"][1], {**CLOUD_IDENTITIES["eks"][1], "extra": "x"}, True),
    ("gke", {}, {}, False),
]


def test_preflight_refuses_a_restore_drill_without_an_identity_of_its_own(tmp_path):
    plays = [_identity_play(target, backup, restore) for target, backup, restore, _ in RESTORE_IDENTITY_CASES]
    playbook = tmp_path / "identities.yml"
    playbook.write_text(yaml.safe_dump(plays))
    run = run_playbook(str(playbook))
    assert run.returncode == 0, run.output
    results = run.task_results("sre.platform.cloudnative_pg : Check the restore drill's identity")
    for result, case in zip(results, RESTORE_IDENTITY_CASES, strict=True):
        assert bool(result.get("failed")) is case[-1], f"{case}: {result}"
        if case[-1]:
            assert "cloudnative_pg_restore_service_account_annotations" in result["msg"], result


def test_no_secret_is_ever_rendered(local_objects, cloud_objects):
    assert not [o for o in local_objects + cloud_objects if o["kind"] == "Secret"]
