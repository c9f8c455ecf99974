"""playbooks/down.yml on an existing (shared) cluster, against the Kubernetes API emulator.

Helm itself runs: the platform's releases are installed from stand-in charts that
create what the upstream charts create outside their namespaces (ClusterRoles,
ClusterRoleBindings, webhook configurations, an APIService), and down.yml
uninstalls them through kubernetes.core.helm. Helm's Go client speaks protobuf
for Secrets, which the emulator cannot read, so the releases are recorded in a
real PostgreSQL (Helm's SQL storage driver) instead of Secrets; everything else
goes through the emulator. The upstream charts themselves are not installed
(no network, no controllers): which cluster-scoped objects they create is
modelled in STAND_INS.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml
from kubernetes.dynamic.exceptions import NotFoundError

from tests.harness.ansible import ROOT, PlaybookRun, run_playbook
from tests.harness.helm import run_helm
from tests.harness.kube_emulator import KubeEmulatorServer
from tests.harness.servers import PostgresServer

INVENTORY = "inventories/existing"
PLATFORM_NAMESPACES = yaml.safe_load((ROOT / INVENTORY / "group_vars/platform.yml").read_text())["platform_namespaces"]
SHARED_NAMESPACES = ["cert-manager"]
UNINSTALL_TASK = "sre.platform.cluster : Uninstall the Helm releases"


def _cluster_scoped(release: str, webhooks: str = "") -> list[dict]:
    """A ClusterRole and its binding, and the webhook configurations of ``webhooks`` (validating, mutating)."""
    rbac = "rbac.authorization.k8s.io/v1"
    objects = [
        {"apiVersion": rbac, "kind": "ClusterRole", "metadata": {"name": release}, "rules": []},
        {
            "apiVersion": rbac,
            "kind": "ClusterRoleBinding",
            "metadata": {"name": release},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": release},
            "subjects": [],
        },
    ]
    for kind in webhooks.split():
        webhook = {"name": f"{release}.example.org", "sideEffects": "None", "failurePolicy": "Fail"}
        metadata = {"name": f"{release}-{kind.lower()}"}
        objects.append({"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind, "metadata": metadata,
                        "webhooks": [webhook]})  # fmt: skip
    return objects


WEBHOOKS = "ValidatingWebhookConfiguration MutatingWebhookConfiguration"
METRICS_API = {
    "apiVersion": "apiregistration.k8s.io/v1",
    "kind": "APIService",
    "metadata": {"name": "v1beta1.metrics.k8s.io"},
    "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "service": {"name": "metrics-server"}},
}

# Release -> (namespace, cluster-scoped objects its upstream chart creates), as up.yml installs them on an
# existing cluster with backups to MinIO; cert-manager is the shared one, which down.yml must leave alone.
STAND_INS = {
    "metallb": ("metallb-system", _cluster_scoped("metallb", "ValidatingWebhookConfiguration")),
    "cert-manager": ("cert-manager", _cluster_scoped("cert-manager", WEBHOOKS)),
    "cloudnative-pg": ("cnpg-system", _cluster_scoped("cloudnative-pg", WEBHOOKS)),
    "plugin-barman-cloud": ("cnpg-system", _cluster_scoped("plugin-barman-cloud")),
    "minio": ("object-store", []),
    "kube-prometheus-stack": ("monitoring", _cluster_scoped("kube-prometheus-stack", WEBHOOKS)),
    "metrics-server": ("kube-system", [*_cluster_scoped("metrics-server"), METRICS_API]),
    "redis": ("databases", []),
}
PLATFORM_RELEASES = [name for name in STAND_INS if name != "cert-manager"]


ANY_OBJECT = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _crd(group: str, kind: str) -> dict:
    plural = f"{kind.lower()}s"
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": ANY_OBJECT}}],
        },
    }


PLATFORM_CRDS = [
    _crd("postgresql.cnpg.io", "Cluster"),
    _crd("barmancloud.cnpg.io", "ObjectStore"),
    _crd("monitoring.coreos.com", "ServiceMonitor"),
    _crd("metallb.io", "IPAddressPool"),
]
SHARED_CRDS = [_crd("cert-manager.io", "Certificate"), _crd("example.org", "Widget")]

# Objects the roles applied from templates (beside the namespaces), and another team's.
PLATFORM_OBJECTS = [
    {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "platform"},
     "provisioner": "rancher.io/local-path"},
    {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
     "metadata": {"name": "default", "namespace": "metallb-system"},
     "spec": {"addresses": ["192.0.2.240-192.0.2.250"]}},
    {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
     "metadata": {"name": "pg-main", "namespace": "databases"}, "spec": {"instances": 1}},
    {"apiVersion": "v1", "kind": "Pod",
     "metadata": {"name": "pg-main-1", "namespace": "databases", "labels": {"cnpg.io/cluster": "pg-main"}},
     "spec": {"containers": [{"name": "postgres", "image": "postgres"}]}},
]  # fmt: skip
SHARED_OBJECTS = [
    {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "team-ssd"},
     "provisioner": "rancher.io/local-path"},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "team-reader"},
     "rules": []},
]  # fmt: skip


# The cluster's former default class, which up.yml demoted (storage_demote_classes).
DEFAULT_MARK = "storageclass.kubernetes.io/is-default-class"
DEMOTED_CLASS = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": {"name": "team-standard", "annotations": {DEFAULT_MARK: "false"}},
    "provisioner": "rancher.io/local-path",
}


class Helm:
    """helm against the emulator, its releases kept in PostgreSQL (see the module docstring)."""

    def __init__(self, cluster: KubeEmulatorServer, store: PostgresServer) -> None:
        self.env = {
            "KUBECONFIG": str(cluster.kubeconfig),
            "HELM_DRIVER": "sql",
            "HELM_DRIVER_SQL_CONNECTION_STRING": f"{store.dsn()} sslmode=disable",
        }

    def install(self, release: str, namespace: str, objects: list[dict], chart_dir: Path) -> None:
        """A release of a chart whose templates are exactly ``objects`` (plus a ConfigMap of its own)."""
        chart = chart_dir / release
        (chart / "templates").mkdir(parents=True)
        (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: {release}\nversion: 1.0.0\n")
        configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{release}-config"}}
        (chart / "templates" / "objects.yaml").write_text(yaml.safe_dump_all([configmap, *objects]))
        # The emulator serves no OpenAPI document to validate against.
        args = ["install", release, str(chart), "--namespace", namespace, "--disable-openapi-validation"]
        done = run_helm(args, self.env)
        assert done.returncode == 0, done.stderr

    def releases(self) -> list[str]:
        done = run_helm(["list", "--all-namespaces", "--all", "--output", "json"], self.env)
        assert done.returncode == 0, done.stderr
        return sorted(release["name"] for release in json.loads(done.stdout))


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """An existing cluster that up.yml filled, shared with another team, and the Helm that installed it."""
    cluster, store = KubeEmulatorServer(), PostgresServer()
    try:
        cluster.start()
        store.start()
        helm = Helm(cluster, store)
        for name in PLATFORM_NAMESPACES + SHARED_NAMESPACES:
            cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        for obj in PLATFORM_CRDS + SHARED_CRDS + PLATFORM_OBJECTS + SHARED_OBJECTS + [DEMOTED_CLASS]:
            cluster.create(obj)
        charts = tmp_path_factory.mktemp("charts")
        for release, (namespace, objects) in STAND_INS.items():
            helm.install(release, namespace, objects, charts)
        yield cluster, helm
    finally:
        cluster.cleanup()
        store.cleanup()


def down(cluster: KubeEmulatorServer, helm: Helm, **extra_vars) -> PlaybookRun:
    run_tmp = tempfile.mkdtemp(prefix="down-", dir=cluster.workdir)
    variables = {
        "platform_kubeconfig": str(cluster.kubeconfig),
        "platform_state_dir": str(cluster.workdir / "state"),
        # As the inventory of a cluster whose default class up.yml demoted; one of them is gone since.
        "storage_demote_classes": [DEMOTED_CLASS["metadata"]["name"], "deleted-since"],
        **extra_vars,
    }
    return run_playbook(
        "playbooks/down.yml", inventory=INVENTORY, extra_vars=variables, env={**helm.env, "TMPDIR": run_tmp}
    )


def stored(cluster: KubeEmulatorServer, obj: dict) -> bool:
    metadata = obj["metadata"]
    return cluster.get(obj["apiVersion"], obj["kind"], metadata["name"], metadata.get("namespace")) is not None


class PodReaper(threading.Thread):
    """CloudNativePG's part: once the Cluster is deleted, its pods go, while the operator still runs.

    Records whether the operator's webhook was still there when the Cluster went, then deletes the pods a
    moment later, so down.yml has to wait for them.
    """

    def __init__(self, cluster: KubeEmulatorServer) -> None:
        super().__init__(daemon=True)
        self.cluster = cluster
        self.operator_present_when_cluster_went: bool | None = None
        self.done = threading.Event()

    def run(self) -> None:
        operator_webhook = next(obj for obj in STAND_INS["cloudnative-pg"][1] if "Webhook" in obj["kind"])
        while not self.done.is_set():
            if self.cluster.get("postgresql.cnpg.io/v1", "Cluster", "pg-main", "databases") is None:
                self.operator_present_when_cluster_went = stored(self.cluster, operator_webhook)
                time.sleep(2)
                pods = self.cluster.client.resources.get(api_version="v1", kind="Pod")
                with contextlib.suppress(NotFoundError):  # gone with its namespace
                    pods.delete(name="pg-main-1", namespace="databases")
                return
            time.sleep(0.1)


@pytest.fixture(scope="module")
def first_run(platform):
    cluster, helm = platform
    reaper = PodReaper(cluster)
    reaper.start()
    try:
        run = down(cluster, helm)
    finally:
        reaper.done.set()
        reaper.join(10)
    return run, reaper


def test_down_uninstalls_the_platform_releases_and_keeps_the_shared_cert_manager(platform, first_run):
    _, helm = platform
    run, _ = first_run
    assert run.returncode == 0, run.output
    assert helm.releases() == ["cert-manager"]


def test_down_leaves_no_cluster_scoped_object_of_the_platform(platform, first_run):
    cluster, _ = platform
    run, _ = first_run
    assert run.returncode == 0, run.output
    left = [
        f"{obj['kind']}/{obj['metadata']['name']}"
        for release in PLATFORM_RELEASES
        for obj in STAND_INS[release][1]
        if stored(cluster, obj)
    ]
    assert left == [], "webhooks and RBAC pointing at deleted Services break the cluster for everyone"
    assert not stored(cluster, PLATFORM_OBJECTS[0]), "the platform's StorageClass"


def test_down_deletes_the_platform_namespaces_and_nothing_shared(platform, first_run):
    cluster, _ = platform
    run, _ = first_run
    assert run.returncode == 0, run.output
    namespaces = {name: cluster.get("v1", "Namespace", name) is not None for name in PLATFORM_NAMESPACES}
    assert namespaces == dict.fromkeys(PLATFORM_NAMESPACES, False)
    assert all(stored(cluster, obj) for obj in SHARED_OBJECTS)
    assert all(stored(cluster, obj) for release in ["cert-manager"] for obj in STAND_INS[release][1])
    assert all(stored(cluster, crd) for crd in PLATFORM_CRDS + SHARED_CRDS), "CRDs stay unless asked"


def test_down_makes_the_demoted_class_the_default_again(platform, first_run):
    cluster, _ = platform
    run, _ = first_run
    assert run.returncode == 0, run.output
    restored = cluster.get("storage.k8s.io/v1", "StorageClass", DEMOTED_CLASS["metadata"]["name"], None)
    assert restored["metadata"]["annotations"][DEFAULT_MARK] == "true"
    untouched = cluster.get("storage.k8s.io/v1", "StorageClass", "team-ssd", None)
    assert DEFAULT_MARK not in (untouched["metadata"].get("annotations") or {})


def test_down_deletes_the_database_while_its_operator_runs_and_waits_for_its_pods(platform, first_run):
    run, reaper = first_run
    assert run.returncode == 0, run.output
    assert reaper.operator_present_when_cluster_went is True, "the operator must outlive the Cluster"
    uninstalled = [result["item"]["name"] for result in _loop_results(run, UNINSTALL_TASK) if result.get("changed")]
    assert uninstalled.index("redis") < uninstalled.index("kube-prometheus-stack") < uninstalled.index("minio")
    assert uninstalled.index("minio") < uninstalled.index("cloudnative-pg") < uninstalled.index("metallb")


def test_a_second_down_changes_nothing(platform, first_run):
    cluster, helm = platform
    run = down(cluster, helm)
    assert run.returncode == 0, run.output
    assert run.stats()["changed"] == 0, run.output


def test_down_deletes_the_platform_crds_only_when_asked(platform, first_run):
    cluster, helm = platform
    run = down(cluster, helm, cluster_teardown_delete_crds=True)
    assert run.returncode == 0, run.output
    assert [crd["metadata"]["name"] for crd in PLATFORM_CRDS if stored(cluster, crd)] == []
    assert all(stored(cluster, crd) for crd in SHARED_CRDS), "cert-manager's and other teams' CRDs stay"
    again = down(cluster, helm, cluster_teardown_delete_crds=True)
    assert again.returncode == 0, again.output
    assert again.stats()["changed"] == 0, again.output


def _loop_results(run: PlaybookRun, task_name: str) -> list[dict]:
    return [item for result in run.task_results(task_name) for item in result.get("results", [])]


TEARDOWN_ROLES = ["apps", "redis", "monitoring", "cloudnative_pg", "storage", "metallb"]


def test_the_teardown_names_fall_back_to_the_roles_defaults(tmp_path):
    """down.yml never loads the other roles, so the teardown data repeats their default names: they must agree."""
    teardown_vars = str(ROOT / "roles/cluster/vars/main.yml")
    role_defaults = [str(ROOT / f"roles/{role}/defaults/main.yml") for role in TEARDOWN_ROLES]
    plays = [
        {"name": name, "hosts": "localhost", "connection": "local", "gather_facts": False,
         "vars": {"platform_target": "existing"}, "vars_files": files,
         "tasks": [{"name": "Teardown", "ansible.builtin.debug": {"var": "_cluster_teardown"}}]}
        for name, files in (("fallbacks", [teardown_vars]), ("defaults", [teardown_vars, *role_defaults]))
    ]  # fmt: skip
    playbook = tmp_path / "teardown.yml"
    playbook.write_text(yaml.safe_dump(plays))
    run = run_playbook(str(playbook))
    assert run.returncode == 0, run.output
    fallbacks, defaults = (result["_cluster_teardown"] for result in run.task_results("Teardown"))
    assert fallbacks == defaults
    assert fallbacks[0]["component"] == "apps", "the services go first"


def test_down_leaves_what_a_switched_off_role_would_have_installed(tmp_path):
    """With platform_enable_metallb false, a MetalLB on the cluster is not the platform's: down.yml keeps it."""
    switched_off = {"platform_enable_metallb": False, "monitoring_metrics_server_enabled": False}
    play = {
        "name": "switched off", "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars": switched_off, "vars_files": [str(ROOT / "roles/cluster/vars/main.yml")],
        "tasks": [{"name": "Teardown", "ansible.builtin.debug": {"var": "_cluster_teardown"}}],
    }  # fmt: skip
    playbook = tmp_path / "teardown.yml"
    playbook.write_text(yaml.safe_dump([play]))
    run = run_playbook(str(playbook))
    assert run.returncode == 0, run.output
    (result,) = run.task_results("Teardown")
    steps = {step["component"]: step for step in result["_cluster_teardown"]}
    assert steps["metallb"]["enabled"] is False
    assert all(steps[name]["enabled"] is True for name in steps if name != "metallb")
    releases = {release["name"]: release.get("enabled", True) for release in steps["monitoring"]["releases"]}
    assert releases["metrics-server"] is False, "kube-system's metrics-server is someone else's"
    assert releases["kube-prometheus-stack"] is True
