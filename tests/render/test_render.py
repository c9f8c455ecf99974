"""render.yml writes every manifest the roles would apply; every object is valid.

Renders the local (kind) and cloud inventories without a cluster and checks
each object: strict Kubernetes schemas (1.29 and the newest bundled version),
CRD kinds against the JSON schemas in SRE_PLATFORM_SCHEMAS, no removed API
versions, checkov, and the platform's HA / security policies. Objects that
later roles add are covered without touching this file.
"""

from __future__ import annotations

import copy

import pytest
import yaml

from tests.harness.ansible import run_playbook
from tests.harness.checkov import run_checkov
from tests.harness.kube_schemas import schema_errors
from tests.harness.manifests import KEPT, LEFTOVERS, MARK, plant, removed_api_errors
from tests.harness.policies import check_objects, describe


def test_every_object_matches_its_schema(rendered):
    _, _, objects = rendered
    problems = [problem for _, obj in objects for problem in schema_errors(obj)]
    assert not problems, "\n".join(problems)


def test_no_removed_api_versions(rendered):
    _, _, objects = rendered
    problems = [problem for _, obj in objects for problem in removed_api_errors(obj)]
    assert not problems, "\n".join(problems)


def test_checkov_finds_nothing_outside_the_skip_list(rendered):
    _, directory, _ = rendered
    result = run_checkov(directory)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workloads_meet_the_ha_and_security_policies(rendered):
    _, _, objects = rendered
    problems = check_objects([obj for _, obj in objects])
    assert not problems, "\n".join(problems)


def test_one_file_per_object_with_a_stable_name(rendered):
    _, _, objects = rendered
    paths = [path for path, _ in objects]
    assert len(paths) == len(set(paths)), "a rendered file holds more than one object"
    for path, obj in objects:
        kind = obj["kind"].lower()
        assert path.name.startswith(f"{kind}-"), f"{path.name} does not start with the kind of {describe(obj)}"
        assert path.name.endswith(f"-{obj['metadata']['name'].lower()}.yaml"), path.name


def test_rendering_again_changes_nothing(rendered):
    inventory, directory, _ = rendered
    before = {path: path.read_bytes() for path in directory.rglob("*.yaml")}
    run = run_playbook(
        "playbooks/render.yml", inventory=f"inventories/{inventory}", extra_vars={"render_dir": str(directory)}
    )
    assert run.returncode == 0, run.output
    assert run.stats()["changed"] == 0, "a second render changed files"
    assert {path: path.read_bytes() for path in directory.rglob("*.yaml")} == before


def test_local_target_has_metallb_and_cloud_targets_do_not(rendered):
    inventory, _, objects = rendered
    kinds = {obj["kind"] for _, obj in objects}
    if inventory == "local":
        assert {"IPAddressPool", "L2Advertisement"} <= kinds
    else:
        assert not {"IPAddressPool", "L2Advertisement"} & kinds


def test_storage_class_binds_on_first_consumer(rendered):
    _, _, objects = rendered
    classes = [obj for _, obj in objects if obj["kind"] == "StorageClass"]
    assert len(classes) == 1
    assert classes[0]["volumeBindingMode"] == "WaitForFirstConsumer"
    assert classes[0]["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"


# The checks must be able to fail: feed them objects broken on purpose.


def _first(objects: list[dict], kind: str) -> dict:
    return copy.deepcopy(next(obj for obj in objects if obj["kind"] == kind))


@pytest.mark.parametrize(
    ("field", "value", "reported"),
    [("volumeBindingMode", 42, "volumeBindingMode"), ("unexpectedField", True, "unexpectedField")],
)
def test_schema_check_rejects_a_broken_builtin_object(local_objects, field, value, reported):
    storage_class = _first(local_objects, "StorageClass")
    assert schema_errors(storage_class) == []
    storage_class[field] = value
    problems = schema_errors(storage_class)
    assert len(problems) == 2, problems  # one per Kubernetes version checked
    assert all(reported in p for p in problems), problems


def test_schema_check_rejects_a_broken_custom_resource(local_objects):
    pool = _first(local_objects, "IPAddressPool")
    assert schema_errors(pool) == []
    pool["spec"]["addresses"] = "not-a-list"
    pool["spec"]["bogus"] = 1
    problems = schema_errors(pool)
    assert any("addresses" in p for p in problems), problems
    assert any("bogus" in p for p in problems), problems


def test_removed_api_version_is_reported():
    ingress = {"apiVersion": "extensions/v1beta1", "kind": "Ingress", "metadata": {"name": "old"}}
    assert removed_api_errors(ingress) == [
        "Ingress -/old: extensions/v1beta1 is no longer served since Kubernetes 1.22"
    ]


def test_checkov_reports_an_insecure_pod(tmp_path):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "insecure", "namespace": "demo"},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "securityContext": {"privileged": True}}]},
    }
    (tmp_path / "pod.yaml").write_text(yaml.safe_dump(pod))
    result = run_checkov(tmp_path)
    assert result.returncode == 1
    assert "CKV_K8S_16" in result.stdout, result.stdout  # privileged container


def test_rendering_over_an_earlier_render_removes_what_it_left(rendered):
    _, directory, objects = rendered
    stale = [name for name in LEFTOVERS if name != MARK and (directory / name).exists()]
    assert not stale, "an earlier render's files are still there"
    assert (directory / MARK).exists()
    assert all((directory / name).read_text() == text for name, text in KEPT.items())
    assert all(path.exists() for path, _ in objects)


GITOPS_ALONE = """
- name: Lay out a render directory
  hosts: localhost
  gather_facts: false
  roles:
    - role: sre.platform.gitops
"""


STORAGE_CLASS = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": {"name": "standard"},
    "provisioner": "rancher.io/local-path",
}


@pytest.mark.parametrize("marked", [False, True])
def test_only_a_directory_a_render_marked_loses_files(tmp_path, marked):
    target = tmp_path / "render"
    rendered = target / "storage" / "storageclass-standard.yaml"
    foreign = target / "ci" / "workflow.yml"
    plant(
        target,
        {
            "storage/storageclass-standard.yaml": yaml.safe_dump(STORAGE_CLASS),
            "ci/workflow.yml": "on: push\n",
            **({MARK: "earlier render\n"} if marked else {}),
        },
    )
    playbook = tmp_path / "gitops.yml"
    playbook.write_text(GITOPS_ALONE)
    run = run_playbook(
        str(playbook),
        extra_vars={"gitops_render_dir": str(target), "manifests_rendered": {str(rendered): STORAGE_CLASS}},
    )
    assert run.returncode == 0, run.output
    assert rendered.exists() and (target / MARK).exists()
    # A marked directory is an earlier render: a YAML file this render did not write goes.
    assert foreign.exists() == (not marked), f"marked={marked}: {foreign} exists={foreign.exists()}"
