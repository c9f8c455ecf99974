"""The rendered services: each highly available and observable, on the local and a cloud target.

The render suite (test_render.py) already validates every object against the
schemas, checkov and the policies; these tests show, service by service, what
the apps role promises, on the objects render.yml actually wrote.
"""

from __future__ import annotations

import pytest

from tests.harness.ansible import run_playbook
from tests.harness.kube_schemas import schema_errors
from tests.harness.manifests import load_manifests
from tests.harness.policies import check_objects

SERVICES = ["password-generator", "user-hasher", "kv-store"]
TARGETS = ["local_objects", "cloud_objects"]


@pytest.fixture(params=TARGETS)
def objects(request) -> list[dict]:
    return request.getfixturevalue(request.param)


def _of(objects: list[dict], kind: str, namespace: str) -> dict[str, dict]:
    return {
        o["metadata"]["name"]: o for o in objects if o["kind"] == kind and o["metadata"].get("namespace") == namespace
    }


def _active(objects: list[dict], service: str) -> dict:
    """The Deployment of the slot the active Service selects."""
    selector = _of(objects, "Service", service)[service]["spec"]["selector"]
    return _of(objects, "Deployment", service)[f"{service}-{selector['slot']}"]


@pytest.mark.parametrize("service", SERVICES)
def test_three_replicas_spread_over_nodes_and_zones(objects, service):
    deployment = _active(objects, service)
    assert deployment["spec"]["replicas"] == 3
    spread = {c["topologyKey"]: c for c in deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]}
    assert spread["kubernetes.io/hostname"]["whenUnsatisfiable"] == "DoNotSchedule"
    assert spread["topology.kubernetes.io/zone"]["whenUnsatisfiable"] == "ScheduleAnyway"
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    for constraint in spread.values():
        assert constraint["labelSelector"]["matchLabels"].items() <= pod_labels.items()


@pytest.mark.parametrize("service", SERVICES)
def test_disruption_budget_and_autoscaler_cover_the_active_slot(objects, service):
    deployment = _active(objects, service)
    name = deployment["metadata"]["name"]
    budget = _of(objects, "PodDisruptionBudget", service)[name]
    assert budget["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert budget["spec"]["maxUnavailable"] == 1
    hpa = _of(objects, "HorizontalPodAutoscaler", service)[name]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    assert hpa["spec"]["minReplicas"] == 3


@pytest.mark.parametrize("service", SERVICES)
def test_probes_on_the_health_endpoints(objects, service):
    (container,) = _active(objects, service)["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"


@pytest.mark.parametrize("service", SERVICES)
def test_network_policy_denies_all_but_the_listed_peers(objects, service):
    policy = _of(objects, "NetworkPolicy", service)[service]
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == service
    peers = policy["spec"]["ingress"][0]["from"]
    monitoring = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    assert monitoring in peers


@pytest.mark.parametrize("service", SERVICES)
def test_service_monitor_scrapes_metrics(objects, service):
    monitor = _of(objects, "ServiceMonitor", service)[service]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("http", "/metrics")
    assert monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] == service


def test_user_hasher_reads_its_salt_from_the_secret(objects):
    (container,) = _active(objects, "user-hasher")["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item for item in container["env"]}
    assert env["USER_SALT"]["valueFrom"]["secretKeyRef"] == {"name": "user-salt", "key": "USER_SALT", "optional": False}
    assert "value" not in env["USER_SALT"]


def test_kv_store_finds_redis_through_sentinel(objects):
    config = _of(objects, "ConfigMap", "kv-store")["kv-store-config"]["data"]
    assert config["REDIS_SENTINELS"] == "redis.databases.svc.cluster.local:26379"
    (container,) = _active(objects, "kv-store")["spec"]["template"]["spec"]["containers"]
    from_secrets = [item for item in container["env"] if "secretKeyRef" in item.get("valueFrom", {})]
    secrets = {item["name"]: item["valueFrom"]["secretKeyRef"]["name"] for item in from_secrets}
    assert secrets["REDIS_PASSWORD"] == secrets["REDIS_SENTINEL_PASSWORD"] == "redis-auth"


@pytest.mark.parametrize("service", SERVICES)
def test_blue_is_active_and_green_parked_until_a_release(objects, service):
    deployments = _of(objects, "Deployment", service)
    assert deployments[f"{service}-blue"]["spec"]["replicas"] == 3
    assert deployments[f"{service}-green"]["spec"]["replicas"] == 0
    assert _of(objects, "Service", service)[f"{service}-preview"]["spec"]["selector"]["slot"] == "green"


def test_images_come_from_kind_locally_and_from_the_registry_in_the_cloud(local_objects, cloud_objects):
    local = _active(local_objects, "user-hasher")["spec"]["template"]["spec"]["containers"][0]["image"]
    cloud = _active(cloud_objects, "user-hasher")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert local == "user-hasher:dev"
    assert cloud == "europe-west1-docker.pkg.dev/example-project/sre-platform/user-hasher:1.0.0"


def test_local_services_are_load_balanced_and_cloud_services_are_not(local_objects, cloud_objects):
    for service in SERVICES:
        assert _of(local_objects, "Service", service)[service]["spec"]["type"] == "LoadBalancer"
        assert _of(cloud_objects, "Service", service)[service]["spec"]["type"] == "ClusterIP"
    local_peers = _of(local_objects, "NetworkPolicy", "user-hasher")["user-hasher"]["spec"]["ingress"][0]["from"]
    assert {"ipBlock": {"cidr": "172.16.0.0/12"}} in local_peers


def test_namespaces_are_restricted(objects):
    namespaces = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Namespace"}
    for service in SERVICES:
        assert namespaces[service]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_no_ingress_unless_asked(objects):
    assert [o for o in objects if o["kind"] == "Ingress"] == []
    for service in SERVICES:
        peers = _of(objects, "NetworkPolicy", service)[service]["spec"]["ingress"][0]["from"]
        namespaces = [p["namespaceSelector"]["matchLabels"] for p in peers if "namespaceSelector" in p]
        assert namespaces == [{"kubernetes.io/metadata.name": "monitoring"}]


def test_an_ingress_publishes_the_active_service_and_its_controller_is_admitted(tmp_path):
    ingress_vars = {
        "apps_ingress_hosts": {"user-hasher": "hasher.example.com"},
        "apps_ingress_class_name": "nginx",
        "apps_ingress_controller_pod_labels": {"app.kubernetes.io/name": "ingress-nginx"},
    }
    others_off = {f"platform_enable_{role}": False for role in ("storage", "monitoring", "cloudnative_pg", "redis")}
    run = run_playbook(
        "playbooks/render.yml",
        inventory="inventories/gcp/prod",
        extra_vars={"render_dir": str(tmp_path), **others_off, **ingress_vars},
    )
    assert run.returncode == 0, run.output
    objects = [obj for _, obj in load_manifests(tmp_path)]

    (ingress,) = [o for o in objects if o["kind"] == "Ingress"]
    assert ingress["metadata"]["namespace"] == "user-hasher"
    assert schema_errors(ingress) == []
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "hasher.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"]["name"] == "user-hasher"  # the active Service
    assert ingress["spec"]["tls"] == [{"hosts": ["hasher.example.com"], "secretName": "user-hasher-tls"}]
    assert ingress["spec"]["ingressClassName"] == "nginx"

    (rule,) = _of(objects, "NetworkPolicy", "user-hasher")["user-hasher"]["spec"]["ingress"]
    controller = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}},
    }
    assert controller in rule["from"] and rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    # Services without a host stay unpublished.
    for service in ("password-generator", "kv-store"):
        assert controller not in _of(objects, "NetworkPolicy", service)[service]["spec"]["ingress"][0]["from"]
    assert check_objects(objects) == []
