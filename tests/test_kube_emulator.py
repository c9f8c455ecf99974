"""The Kubernetes API emulator (tests/harness/kube_emulator.py) as kubernetes.core and the Python client see it.

Pins the fixes made to kmock 0.8 so an upgrade that changes them fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from kubernetes.dynamic.exceptions import ConflictError, NotFoundError

from tests.harness.kube_emulator import (
    REPO_ROOT,
    KubeEmulatorServer,
    SchemasNotFound,
    merge_patch,
    parse_k8s_path,
    plural_of,
    schema_resources,
    schemas_dir,
)
from tests.harness.servers import stop_pid

PLAY_HEADER = "- name: Drive the emulator\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}}
DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "demo", "labels": {"app": "web"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
        },
    },
}
CNPG_CLUSTER = {
    "apiVersion": "postgresql.cnpg.io/v1",
    "kind": "Cluster",
    "metadata": {"name": "pg-main", "namespace": "demo"},
    "spec": {"instances": 3, "storage": {"size": "1Gi"}},
}


def task(name: str, module: str, **args) -> str:
    """One task of a play, as YAML (JSON is YAML)."""
    return f"    - name: {name}\n      {module}: {json.dumps(args)}\n"


def apply_task(name: str, definition: dict, **extra) -> str:
    return task(name, "kubernetes.core.k8s", definition=definition, **extra)


def ssa_task(name: str, definition: dict, **extra) -> str:
    return apply_task(name, definition, apply=True, server_side_apply={"field_manager": "sre-platform"}, **extra)


def configmap(name: str, data: dict) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "demo"}, "data": data}


# --- pure functions ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/namespaces", ("", "v1", "namespaces", None, None, None)),
        ("/api/v1/namespaces/demo", ("", "v1", "namespaces", None, "demo", None)),
        ("/api/v1/namespaces/demo/status", ("", "v1", "namespaces", None, "demo", "status")),
        ("/api/v1/namespaces/demo/configmaps", ("", "v1", "configmaps", "demo", None, None)),
        (
            "/apis/apps/v1/namespaces/demo/deployments/web/status",
            ("apps", "v1", "deployments", "demo", "web", "status"),
        ),
        ("/apis/metallb.io/v1beta1/ipaddresspools", ("metallb.io", "v1beta1", "ipaddresspools", None, None, None)),
        ("/apis/apps", ("apps", None, None, None, None, None)),
        ("/version", (None, None, None, None, None, None)),
    ],
)
def test_paths_are_parsed_like_the_api_server_does(path, expected):
    parsed = parse_k8s_path(path)
    assert (parsed.group, parsed.version, parsed.plural, parsed.namespace, parsed.name, parsed.subresource) == expected


def test_merge_patch_merges_maps_replaces_lists_and_removes_nulls():
    target = {"a": {"b": 1, "c": 2}, "l": [1, 2], "gone": True}
    assert merge_patch(target, {"a": {"c": 3}, "l": [3], "gone": None}) == {"a": {"b": 1, "c": 3}, "l": [3]}


@pytest.mark.parametrize(
    ("kind", "plural"),
    [("IPAddressPool", "ipaddresspools"), ("GitRepository", "gitrepositories"), ("Ingress", "ingresses")],
)
def test_plurals_follow_kubernetes(kind, plural):
    assert plural_of(kind) == plural


def test_every_schema_kind_is_served_with_its_spelling():
    served = {(r.group, r.version, info.kind) for r, info in schema_resources(schemas_dir()).items()}
    expected = {
        ("postgresql.cnpg.io", "v1", "Cluster"),
        ("postgresql.cnpg.io", "v1", "ScheduledBackup"),
        ("postgresql.cnpg.io", "v1", "Backup"),
        ("metallb.io", "v1beta1", "IPAddressPool"),
        ("metallb.io", "v1beta1", "L2Advertisement"),
        ("monitoring.coreos.com", "v1", "ServiceMonitor"),
        ("monitoring.coreos.com", "v1", "PodMonitor"),
        ("monitoring.coreos.com", "v1", "PrometheusRule"),
        ("argoproj.io", "v1alpha1", "Application"),
        ("source.toolkit.fluxcd.io", "v1", "GitRepository"),
        ("kustomize.toolkit.fluxcd.io", "v1", "Kustomization"),
    }
    assert expected <= served


def test_a_missing_schemas_directory_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("SRE_PLATFORM_SCHEMAS", str(tmp_path / "absent"))
    with pytest.raises(SchemasNotFound, match="SRE_PLATFORM_SCHEMAS"):
        schemas_dir()


# --- the API through the Python client -----------------------------------------


def test_discovery_and_the_namespace_collection(kube_api):
    with urllib.request.urlopen(f"{kube_api.url}/api/v1", timeout=5) as response:
        assert json.load(response)["groupVersion"] == "v1"
    with urllib.request.urlopen(f"{kube_api.url}/api/v1/namespaces", timeout=5) as response:
        listing = json.load(response)
    assert (listing["apiVersion"], listing["kind"]) == ("v1", "NamespaceList")
    assert {"default", "kube-system"} <= {item["metadata"]["name"] for item in listing["items"]}


def test_server_owned_metadata_changes_only_with_the_object(kube_api):
    kube_api.create(NAMESPACE)
    created = kube_api.create(DEPLOYMENT)
    meta = created["metadata"]
    assert meta["uid"] and meta["creationTimestamp"] and meta["generation"] == 1
    deployments = kube_api.client.resources.get(api_version="apps/v1", kind="Deployment")

    def patch(body: dict) -> dict:
        return deployments.patch(
            body=body, name="web", namespace="demo", content_type="application/merge-patch+json"
        ).to_dict()["metadata"]

    assert patch({"spec": {"replicas": 2}})["resourceVersion"] == meta["resourceVersion"]
    relabelled = patch({"metadata": {"labels": {"tier": "front"}}})
    assert int(relabelled["resourceVersion"]) > int(meta["resourceVersion"])
    assert relabelled["generation"] == 1
    assert patch({"spec": {"replicas": 3}})["generation"] == 2
    assert relabelled["uid"] == meta["uid"]


def test_put_and_server_side_apply_create_missing_objects(kube_api):
    configmaps = kube_api.client.resources.get(api_version="v1", kind="ConfigMap")
    configmaps.replace(body=configmap("put", {"a": "1"}) | {"metadata": {"name": "put"}}, namespace="default")
    configmaps.server_side_apply(
        body=configmap("ssa", {"b": "2"}) | {"metadata": {"name": "ssa"}},
        namespace="default",
        field_manager="sre-platform",
    )
    assert kube_api.get("v1", "ConfigMap", "put", "default")["data"] == {"a": "1"}
    assert kube_api.get("v1", "ConfigMap", "ssa", "default")["data"] == {"b": "2"}
    with pytest.raises(ConflictError):
        configmaps.create(body=configmap("put", {}) | {"metadata": {"name": "put"}}, namespace="default")


def test_objects_need_their_namespace(kube_api):
    with pytest.raises(NotFoundError, match='namespaces \\\\"demo\\\\" not found'):
        kube_api.create(configmap("orphan", {}))


def test_server_side_dry_run_stores_nothing(kube_api):
    configmaps = kube_api.client.resources.get(api_version="v1", kind="ConfigMap")
    answer = configmaps.create(body=configmap("dry", {"a": "1"}), namespace="default", dry_run="All")
    assert answer.data.a == "1"
    assert kube_api.get("v1", "ConfigMap", "dry", "default") is None


def test_status_subresource_is_separate_from_the_object(kube_api):
    kube_api.create(NAMESPACE)
    kube_api.create(DEPLOYMENT)
    kube_api.set_status("apps/v1", "Deployment", "web", "demo", {"readyReplicas": 2})
    deployments = kube_api.client.resources.get(api_version="apps/v1", kind="Deployment")
    changed = deployments.patch(
        body={"spec": {"replicas": 5}, "status": {"readyReplicas": 0}},
        name="web",
        namespace="demo",
        content_type="application/merge-patch+json",
    ).to_dict()
    assert changed["status"] == {"readyReplicas": 2}
    assert changed["spec"]["replicas"] == 5


def test_posting_a_crd_serves_its_kind(kube_api):
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.test"},
        "spec": {
            "group": "example.test",
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}}}],
        },
    }
    stored = kube_api.create(crd)
    assert {c["type"]: c["status"] for c in stored["status"]["conditions"]}["Established"] == "True"
    kube_api.create(
        {"apiVersion": "example.test/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "default"}}
    )
    assert kube_api.get("example.test/v1", "Widget", "w", "default")["kind"] == "Widget"


def test_a_pod_log_is_what_the_test_wrote_for_it(kube_api, tmp_path):
    kube_api.create(NAMESPACE)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "runner-x1", "namespace": "demo"}}
    pod["metadata"]["labels"] = {"job-name": "runner"}
    pod["spec"] = {"containers": [{"name": "main", "image": "busybox:1.36.1"}]}
    kube_api.create(pod)
    logs = kube_api.client.resources.get(api_version="v1", kind="Pod").log
    assert logs.get(name="runner-x1", namespace="demo", serialize=False).data == b""
    kube_api.set_pod_log("runner-x1", "demo", "first\nsecond\nthird\n")
    assert logs.get(name="runner-x1", namespace="demo", serialize=False).data == b"first\nsecond\nthird\n"
    with pytest.raises(NotFoundError):
        logs.get(name="absent", namespace="demo", serialize=False)
    read = task(
        "Read the log by the job's label",
        "kubernetes.core.k8s_log",
        namespace="demo",
        label_selectors=["job-name=runner"],
        tail_lines=2,
    )
    run = kube_api.playbook(PLAY_HEADER + read, tmp_path)
    assert run.returncode == 0, run.output
    assert run.task_results("Read the log by the job's label")[0]["log"] == "second\nthird\n"


def test_deleting_a_namespace_deletes_its_objects(kube_api):
    kube_api.create(NAMESPACE)
    kube_api.create(configmap("inside", {}))
    kube_api.client.resources.get(api_version="v1", kind="Namespace").delete(name="demo")
    assert kube_api.get("v1", "ConfigMap", "inside", "demo") is None


def test_without_auto_status_nothing_writes_status(kube_api):
    kube_api.create(NAMESPACE)
    assert "status" not in kube_api.create(DEPLOYMENT)


def test_auto_status_reports_workloads_and_load_balancers_healthy(server_factory):
    kube = server_factory(KubeEmulatorServer(auto_status=True))
    kube.create(NAMESPACE)
    deployment = kube.create(DEPLOYMENT)["status"]
    assert deployment["availableReplicas"] == 2 and deployment["observedGeneration"] == 1
    cluster = kube.create(CNPG_CLUSTER)["status"]
    assert cluster["readyInstances"] == 3 and cluster["phase"] == "Cluster in healthy state"
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "db", "namespace": "demo"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 5432}]},
    }
    ip = kube.create(service)["status"]["loadBalancer"]["ingress"][0]["ip"]
    services = kube.client.resources.get(api_version="v1", kind="Service")
    relabelled = services.patch(
        body={"metadata": {"labels": {"a": "b"}}},
        name="db",
        namespace="demo",
        content_type="application/merge-patch+json",
    )
    assert relabelled.status.loadBalancer.ingress[0].ip == ip


# --- the API through kubernetes.core ------------------------------------------


def flow_play() -> str:
    """Every way the platform's roles write objects, then a typed list read."""
    return (
        PLAY_HEADER
        + apply_task("Create the namespace", NAMESPACE)
        + apply_task("Create a ConfigMap", configmap("plain", {"a": "1"}))
        + apply_task("Apply a ConfigMap", configmap("applied", {"a": "1"}), apply=True)
        + ssa_task("Server-side apply a Deployment", DEPLOYMENT)
        + ssa_task("Server-side apply a CNPG Cluster", CNPG_CLUSTER)
        + task("List the ConfigMaps", "kubernetes.core.k8s_info", kind="ConfigMap", namespace="demo")
        + "      register: listed\n"
        + task("Check the list", "ansible.builtin.assert", that=["listed.resources | length == 2"])
    )


@pytest.mark.slow
def test_kubernetes_core_writes_are_idempotent(kube_api, tmp_path):
    first = kube_api.playbook(flow_play(), tmp_path / "first")
    assert first.returncode == 0, first.output
    assert first.stats()["changed"] == 5
    second = kube_api.playbook(flow_play(), tmp_path / "second")
    assert second.returncode == 0, second.output
    assert second.stats()["changed"] == 0, second.output
    assert kube_api.get("postgresql.cnpg.io/v1", "Cluster", "pg-main", "demo")["spec"]["instances"] == 3


@pytest.mark.slow
def test_check_mode_changes_nothing(kube_api, tmp_path):
    kube_api.create(NAMESPACE)
    kube_api.create(configmap("applied", {"a": "1"}))
    play = (
        PLAY_HEADER
        + ssa_task("Change a ConfigMap", configmap("applied", {"a": "2"}))
        + ssa_task("Create a Deployment", DEPLOYMENT)
    )
    run = kube_api.playbook(play, tmp_path, check=True)
    assert run.returncode == 0, run.output
    assert run.stats()["changed"] == 2
    assert kube_api.get("v1", "ConfigMap", "applied", "demo")["data"] == {"a": "1"}
    assert kube_api.get("apps/v1", "Deployment", "web", "demo") is None


@pytest.mark.slow
def test_state_absent_deletes(kube_api, tmp_path):
    kube_api.create(NAMESPACE)
    kube_api.create(configmap("doomed", {}))
    play = PLAY_HEADER + apply_task("Delete", configmap("doomed", {}), state="absent", wait=True)
    run = kube_api.playbook(play, tmp_path)
    assert run.returncode == 0, run.output
    assert run.task_results("Delete")[0]["changed"] is True
    assert kube_api.get("v1", "ConfigMap", "doomed", "demo") is None


def wait_play(timeout: int) -> str:
    ready = {"type": "Ready", "status": "True"}
    return PLAY_HEADER + ssa_task(
        "Apply and wait", CNPG_CLUSTER, wait=True, wait_condition=ready, wait_timeout=timeout, wait_sleep=1
    )


@pytest.mark.slow
def test_wait_condition_succeeds_once_the_status_is_set(kube_api, tmp_path):
    kube_api.create(NAMESPACE)
    runs = []
    waiting = threading.Thread(target=lambda: runs.append(kube_api.playbook(wait_play(60), tmp_path)))
    waiting.start()
    deadline = time.monotonic() + 60
    while kube_api.get("postgresql.cnpg.io/v1", "Cluster", "pg-main", "demo") is None:
        assert time.monotonic() < deadline, "the playbook never created the Cluster"
        time.sleep(0.2)
    ready = {"type": "Ready", "status": "True", "reason": "ClusterIsReady"}
    kube_api.set_status("postgresql.cnpg.io/v1", "Cluster", "pg-main", "demo", {"conditions": [ready]})
    waiting.join(timeout=90)
    assert runs and runs[0].returncode == 0, runs[0].output if runs else "the playbook did not finish"


@pytest.mark.slow
def test_wait_condition_times_out_with_a_clear_message(kube_api, tmp_path):
    kube_api.create(NAMESPACE)
    run = kube_api.playbook(wait_play(2), tmp_path)
    assert run.returncode != 0
    result = run.task_results("Apply and wait")[0]
    assert result["failed"] is True
    assert result["msg"] == '"Cluster" "pg-main": Timed out waiting on resource', result["msg"]


@pytest.mark.slow
def test_auto_status_satisfies_the_waits_of_the_apply_path(server_factory, tmp_path):
    kube = server_factory(KubeEmulatorServer(auto_status=True))
    play = (
        PLAY_HEADER
        + apply_task("Create the namespace", NAMESPACE)
        + ssa_task("Deployment", DEPLOYMENT, wait=True, wait_timeout=10)
        + ssa_task(
            "Cluster", CNPG_CLUSTER, wait=True, wait_condition={"type": "Ready", "status": "True"}, wait_timeout=10
        )
    )
    run = kube.playbook(play, tmp_path)
    assert run.returncode == 0, run.output


# --- the process ----------------------------------------------------------


def test_background_start_writes_pid_and_kubeconfig_and_stops_on_sigterm(tmp_path):
    pidfile, kubeconfig = tmp_path / "emulator.pid", tmp_path / "kubeconfig"
    command = [sys.executable, "-m", "tests.harness.kube_emulator", "--background", "--auto-status"]
    command += ["--kubeconfig", str(kubeconfig), "--pidfile", str(pidfile)]
    started = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert started.returncode == 0, started.stderr
    report = json.loads(started.stdout)
    assert int(pidfile.read_text()) == report["pid"]
    assert report["url"] in kubeconfig.read_text()
    with urllib.request.urlopen(f"{report['url']}/version", timeout=5) as response:
        assert response.status == 200
    stop_pid(report["pid"])
    assert not pidfile.exists(), "the emulator removes its pidfile when it stops"


def test_a_missing_schemas_directory_stops_the_cli(tmp_path):
    command = [sys.executable, "-m", "tests.harness.kube_emulator", "--kubeconfig", str(tmp_path / "k")]
    env = {"PATH": "/usr/bin:/bin", "SRE_PLATFORM_SCHEMAS": str(tmp_path / "absent")}
    run = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert run.returncode == 2
    assert "SRE_PLATFORM_SCHEMAS" in run.stderr
    assert not Path(tmp_path / "k").exists()


def test_a_command_runs_in_a_pod_in_the_environment_the_test_gave_it(kube_api, tmp_path):
    kube_api.create(NAMESPACE)
    for name in ("shell", "silent"):
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "demo"}}
        pod["spec"] = {"containers": [{"name": "main", "image": "busybox:1.36.1"}]}
        kube_api.create(pod)
    kube_api.set_pod_exec("shell", "demo", {"GREETING": "hello from the pod"})
    script = 'echo "$GREETING"; echo to-stderr >&2; exit 3'
    runs = [
        task(
            "Run in the shell pod",
            "kubernetes.core.k8s_exec",
            namespace="demo",
            pod="shell",
            command=f"sh -c '{script}'",
        ),
        task("Run in the silent pod", "kubernetes.core.k8s_exec", namespace="demo", pod="silent", command="true"),
        task("Run in no pod", "kubernetes.core.k8s_exec", namespace="demo", pod="absent", command="true"),
    ]
    run = kube_api.playbook(PLAY_HEADER + "".join(run + "      ignore_errors: true\n" for run in runs), tmp_path)
    (shell,) = run.task_results("Run in the shell pod")
    assert (shell["stdout"], shell["stderr"], shell["rc"]) == ("hello from the pod\n", "to-stderr\n", 3)
    (silent,) = run.task_results("Run in the silent pod")
    assert silent["rc"] == 127 and "no command runs in pod silent" in silent["stderr"]
    (absent,) = run.task_results("Run in no pod")
    assert absent["failed"] is True
