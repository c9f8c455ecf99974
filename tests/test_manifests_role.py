"""The manifests role: in render mode one file per object, and objects it refuses before writing anything; in
apply mode, against the Kubernetes API emulator, every object in order with as few module runs as waiting allows."""

from __future__ import annotations

import yaml
from ansible_collections.sre.platform.plugins.filter.platform import apply_batches, apply_errors

from tests.harness.ansible import run_playbook


def config_map(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "demo"}, "data": {}}


def render(tmp_path, objects: list[dict]):
    playbook = tmp_path / "render.yml"
    play = {
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "roles": [
            {
                "role": "sre.platform.manifests",
                "manifests_component": "demo",
                "manifests_mode": "render",
                "manifests_render_dir": str(tmp_path / "out"),
                "manifests_objects": objects,
            }
        ],
    }
    playbook.write_text(yaml.safe_dump([play]))
    return run_playbook(str(playbook), inventory=None)


def test_writes_one_file_per_object_and_a_second_render_changes_nothing(tmp_path):
    first = render(tmp_path, [config_map("a"), config_map("b")])
    assert first.returncode == 0, first.output
    files = sorted(path.name for path in (tmp_path / "out" / "demo").iterdir())
    assert files == ["configmap-demo-a.yaml", "configmap-demo-b.yaml"]
    assert yaml.safe_load((tmp_path / "out" / "demo" / "configmap-demo-b.yaml").read_text()) == config_map("b")
    again = render(tmp_path, [config_map("a"), config_map("b")])
    assert again.returncode == 0 and again.stats()["changed"] == 0, again.output


def test_two_objects_that_would_share_a_file_are_refused_by_file_name(tmp_path):
    run = render(tmp_path, [config_map("a_b"), config_map("a-b")])
    assert run.returncode != 0
    assert "several objects would be written to the same file" in run.output and "configmap-demo-a-b.yaml" in run.output
    assert not (tmp_path / "out").exists()


def test_an_object_without_a_kind_is_refused_with_the_object(tmp_path):
    nameless = {"apiVersion": "v1", "metadata": {"name": "orphan"}}
    run = render(tmp_path, [config_map("a"), nameless])
    assert run.returncode != 0
    assert "objects lack apiVersion, kind or metadata.name" in run.output and "orphan" in run.output
    assert not (tmp_path / "out").exists()


WAIT_CONDITIONS = {"Deployment": {}, "Job": {"type": "Complete", "status": "True"}}


def kinds(*names: str) -> list[dict]:
    return [{"kind": kind, "metadata": {"name": f"o{i}", "namespace": "demo"}} for i, kind in enumerate(names)]


def test_objects_waited_for_alike_share_a_batch_in_order():
    objects = kinds("Namespace", "Service", "Deployment", "Job", "Job", "Pod", "ConfigMap")
    batches = apply_batches(objects, WAIT_CONDITIONS)
    assert [(b["wait"], b["condition"], len(b["objects"])) for b in batches] == [
        (True, {}, 3),  # waiting on a Service only reads it back; the Deployment gets the readiness check
        (True, WAIT_CONDITIONS["Job"], 2),
        (False, {}, 1),  # the module would wait for the Pod to be ready, which nothing asked for
        (True, {}, 1),
    ]
    assert [obj for batch in batches for obj in batch["objects"]] == objects
    assert batches[0]["label"] == "Namespace/demo/o0, Service/demo/o1, Deployment/demo/o2"


def test_diff_mode_gets_one_batch_per_object():
    objects = kinds("Service", "Service", "Deployment")
    batches = apply_batches(objects, WAIT_CONDITIONS, one_each=True)
    assert [b["objects"] for b in batches] == [[obj] for obj in objects]
    assert [b["wait"] for b in batches] == [True, True, True]


def test_apply_errors_name_each_object_that_failed_with_the_api_message():
    one, three = kinds("Service"), kinds("Service", "ConfigMap", "Secret")
    status = '{"kind": "Status", "code": 422, "message": "ConfigMap \\"o1\\" is invalid"}'
    applied = [
        {"item": {"objects": one, "label": "Service/demo/o0"}, "changed": True, "result": {}},
        {
            "item": {"objects": three, "label": "..."},
            "result": {
                "results": [
                    {"changed": False, "result": {}},
                    {"changed": False, "result": {}, "error": {"msg": f"Failed to apply object: {status}"}},
                    {"changed": False, "result": {}, "error": {"msg": "Failed to get client due to timeout"}},
                ]
            },
        },
        {"item": {"objects": one, "label": "Service/demo/o0"}, "error": {"msg": "wait timed out"}, "result": {}},
        {"item": {"objects": one, "label": "Service/demo/o0"}, "failed": True, "msg": "no kubeconfig"},
    ]
    assert apply_errors(applied) == [
        'ConfigMap/demo/o1: ConfigMap "o1" is invalid',
        "Secret/demo/o2: Failed to get client due to timeout",
        "Service/demo/o0: wait timed out",
        "Service/demo/o0: no kubeconfig",
    ]
    assert apply_errors(applied[:1]) == []


def apply_play(kubeconfig, objects: list[dict]) -> str:
    role = {
        "role": "sre.platform.manifests",
        "manifests_component": "demo",
        "manifests_mode": "apply",
        "manifests_kubeconfig": str(kubeconfig),
        "manifests_objects": objects,
        "manifests_wait_timeout": 60,
    }
    return yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "roles": [role]}])


def applied(run) -> list[dict]:
    """Per module run of the apply task: its item (the batch) and result."""
    (task,) = [
        t
        for play in run.report["plays"]
        for t in play["tasks"]
        if t["task"]["name"].endswith("Apply the objects to the cluster")
    ]
    return task["hosts"]["localhost"]["results"]


def deployment(name: str) -> dict:
    labels = {"app": name}
    container = {"name": name, "image": "example/app:1"}
    spec = {
        "replicas": 2,
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "demo"},
        "spec": spec,
    }


def test_apply_mode_applies_every_object_in_one_run_then_changes_nothing(tmp_path, server_factory):
    from tests.harness.kube_emulator import KubeEmulatorServer

    cluster = server_factory(KubeEmulatorServer(auto_status=True))
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}}
    objects = [namespace, config_map("a"), deployment("web"), config_map("b")]
    first = cluster.playbook(apply_play(cluster.kubeconfig, objects), tmp_path / "first")
    assert first.returncode == 0, first.output
    (batch,) = applied(first)
    assert batch["changed"] and len(batch["result"]["results"]) == 4
    assert cluster.get("v1", "ConfigMap", "b", "demo") is not None
    assert cluster.get("apps/v1", "Deployment", "web", "demo")["status"]["availableReplicas"] == 2

    again = cluster.playbook(apply_play(cluster.kubeconfig, objects), tmp_path / "again")
    assert again.returncode == 0 and again.stats()["changed"] == 0, again.output

    changed = [namespace, config_map("a"), deployment("web"), {**config_map("b"), "data": {"key": "new"}}]
    diff = cluster.playbook(apply_play(cluster.kubeconfig, changed), tmp_path / "diff", check=True, diff=True)
    assert diff.returncode == 0, diff.output
    results = applied(diff)
    assert [r["changed"] for r in results] == [False, False, False, True], "diff mode: one run per object"
    assert results[3]["diff"]["after"]["data"] == {"key": "new"}
    assert cluster.get("v1", "ConfigMap", "b", "demo")["data"] == {}, "check mode changed the cluster"


def test_an_object_that_fails_is_named_and_the_others_are_still_applied(tmp_path, server_factory):
    from tests.harness.kube_emulator import KubeEmulatorServer

    cluster = server_factory(KubeEmulatorServer(auto_status=True))
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}}
    homeless = {**config_map("x"), "metadata": {"name": "x", "namespace": "nowhere"}}
    run = cluster.playbook(apply_play(cluster.kubeconfig, [namespace, homeless, config_map("b")]), tmp_path)
    assert run.returncode != 0
    assert (
        'demo: 1 object(s) could not be applied: ConfigMap/nowhere/x: namespaces \\"nowhere\\" not found' in run.output
    )
    assert cluster.get("v1", "ConfigMap", "b", "demo") is not None, "the objects after a failed one are applied too"
