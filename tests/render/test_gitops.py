"""render.yml lays out each environment as a GitOps repository path (docs/gitops.md).

Uses the session's renders of the local and aws/prod inventories and checks
the Argo CD app of apps and the Flux alternative: schemas (through the render
suite's schema check), kustomizations, layer order, the dependsOn chain,
least-privilege AppProjects and destinations Argo CD permits. Each check is also fed a tree broken on purpose.
"""

from __future__ import annotations

import copy
import shutil

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.sre.platform.plugins.filter.gitops import gitops_files

from tests.harness.ansible import run_playbook
from tests.harness.gitops import (
    RESPECT_IGNORE,
    WAVE,
    Layer,
    argocd_enforced_replicas,
    argocd_glob,
    argocd_layers,
    build,
    destination_errors,
    destination_permitted,
    flux_chain_errors,
    flux_enforced_replicas,
    flux_layers,
    kustomization_errors,
    kustomize_build,
    layer_order_errors,
    project_errors,
    reference_order_errors,
    replica_errors,
)
from tests.harness.kube_schemas import schema_errors

# Inventory -> the repository path its render is committed to (gitops_path).
ENVIRONMENTS = {"local": "clusters/kind-dev", "aws/prod": "clusters/aws-prod", "gcp/prod": "clusters/gcp-prod"}
SCALING_KINDS = {"Deployment", "HorizontalPodAutoscaler"}
GITOPS_KINDS = {"Application", "AppProject", "GitRepository", "Kustomization", "HelmRepository", "HelmRelease"}


@pytest.fixture(scope="module", params=sorted(ENVIRONMENTS))
def tree(request, render_once):
    directory, _ = render_once(request.param)
    return request.param, directory, ENVIRONMENTS[request.param]


def _gitops_objects(directory):
    return [obj for sub in ("argocd", "argocd/charts", "flux", "flux/charts") for obj in build(directory / sub)]


def _delivered(directory, prefix):
    """Application name -> the objects it syncs from the GitOps repository."""
    delivered = {}
    for app in build(directory / "argocd"):
        path = app["spec"].get("source", {}).get("path")
        if app["kind"] == "Application" and path:
            delivered[app["metadata"]["name"]] = build(directory / path.removeprefix(f"{prefix}/"))
    return delivered


def test_argocd_and_flux_objects_match_their_schemas(tree):
    _, directory, _ = tree
    objects = _gitops_objects(directory)
    assert {obj["kind"] for obj in objects} == GITOPS_KINDS
    problems = [problem for obj in objects for problem in schema_errors(obj)]
    assert not problems, "\n".join(problems)


def test_every_kustomization_lists_exactly_its_files(tree):
    _, directory, _ = tree
    problems = kustomization_errors(directory)
    assert not problems, "\n".join(problems)


def test_argocd_layers_bring_crds_before_their_custom_resources(tree):
    _, directory, prefix = tree
    layers = argocd_layers(directory, prefix)
    assert len({layer.order for layer in layers}) == len(layers), "two layers share a sync wave"
    problems = layer_order_errors(layers)
    assert not problems, "\n".join(problems)


def test_flux_layers_form_one_chain_in_the_argocd_order(tree):
    _, directory, prefix = tree
    kustomizations = [obj for obj in build(directory / "flux") if obj["kind"] == "Kustomization"]
    assert not flux_chain_errors(kustomizations), flux_chain_errors(kustomizations)
    for kustomization in kustomizations:
        assert kustomization["spec"]["prune"] is True and kustomization["spec"]["wait"] is True
        assert kustomization["spec"]["timeout"] and kustomization["spec"]["interval"]
    layers = flux_layers(directory, prefix)
    assert not layer_order_errors(layers), layer_order_errors(layers)
    assert [layer.name for layer in layers] == [layer.name for layer in argocd_layers(directory, prefix)]
    assert [layer.order for layer in layers] == list(range(len(layers)))


def test_no_layer_waits_for_a_storage_class_or_address_pool_of_a_later_layer(tree):
    _, directory, prefix = tree
    for layers in (argocd_layers(directory, prefix), flux_layers(directory, prefix)):
        problems = reference_order_errors(layers)
        assert not problems, "\n".join(problems)


def test_every_gitops_kustomization_builds_with_kustomize(tree):
    _, directory, _ = tree
    layers = [path.parent for path in sorted(directory.glob("*/layers/*/kustomization.yaml"))]
    for path in [directory / "argocd", directory / "flux", *layers]:
        assert _identities(kustomize_build(path)) == _identities(build(path)), path


def _identities(objects):
    return sorted((obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]) for obj in objects)


def _argocd_delivery(directory, prefix):
    """Each Application of argocd/ with the objects it syncs."""
    delivered = _delivered(directory, prefix)
    return [
        (app, delivered[app["metadata"]["name"]]) for app in build(directory / "argocd") if app["kind"] == "Application"
    ]


def _flux_delivery(directory):
    """What Flux applies: every layer as kustomize builds it, patches included."""
    return [
        obj
        for path in sorted(directory.glob("flux/layers/*/kustomization.yaml"))
        for obj in kustomize_build(path.parent)
    ]


def test_gitops_leaves_the_replicas_of_running_deployments_to_their_hpa(tree):
    _, directory, prefix = tree
    argocd = _argocd_delivery(directory, prefix)
    rendered = [obj for _, objects in argocd for obj in objects if obj["kind"] in SCALING_KINDS]
    assert {obj["kind"] for obj in rendered} == SCALING_KINDS
    for enforced in (argocd_enforced_replicas(argocd), flux_enforced_replicas(_flux_delivery(directory))):
        problems = replica_errors(rendered, enforced)
        assert not problems, "\n".join(problems)


def test_app_projects_allow_only_what_their_applications_use(tree):
    _, directory, prefix = tree
    objects = build(directory / "argocd") + build(directory / "argocd/charts")
    projects = [obj for obj in objects if obj["kind"] == "AppProject"]
    applications = [obj for obj in objects if obj["kind"] == "Application"]
    assert "default" not in {app["spec"]["project"] for app in applications}
    problems = project_errors(projects, applications, _delivered(directory, prefix))
    assert not problems, "\n".join(problems)


def test_argocd_permits_every_application_destination_in_its_project(tree):
    _, directory, prefix = tree
    objects = build(directory / "argocd") + build(directory / "argocd/charts")
    projects = [obj for obj in objects if obj["kind"] == "AppProject"]
    applications = [obj for obj in objects if obj["kind"] == "Application"]
    problems = destination_errors(projects, applications, _delivered(directory, prefix))
    assert not problems, "\n".join(problems)


def test_helm_releases_carry_the_chart_applications(tree):
    _, directory, _ = tree
    applications = {app["metadata"]["name"]: app for app in build(directory / "argocd/charts")}
    releases = {
        obj["metadata"]["name"]: obj for obj in build(directory / "flux/charts") if obj["kind"] == "HelmRelease"
    }
    assert set(releases) == set(applications)
    for name, release in releases.items():
        source = applications[name]["spec"]["source"]
        assert release["spec"]["chart"]["spec"]["version"] == str(source["targetRevision"])
        assert release["spec"]["values"] == source["helm"]["valuesObject"]
        assert release["spec"]["targetNamespace"] == applications[name]["spec"]["destination"]["namespace"]


def test_repository_path_and_source_follow_the_inventory(tree):
    inventory, directory, prefix = tree
    (root,) = [
        o for o in build(directory / "argocd") if o["kind"] == "Application" and o["metadata"]["name"] == "sre-platform"
    ]
    assert root["spec"]["source"]["path"] == f"{prefix}/argocd"
    (repository,) = [obj for obj in build(directory / "flux") if obj["kind"] == "GitRepository"]
    assert repository["spec"]["url"] == root["spec"]["source"]["repoURL"]
    charts = {obj["metadata"]["name"] for obj in build(directory / "argocd/charts")}
    assert ("metallb" in charts) == (inventory == "local")


# The checks must be able to fail: feed them trees broken on purpose.


def test_wave_order_check_rejects_a_layer_before_its_operators(render_once):
    directory, _ = render_once("local")
    layers = argocd_layers(directory, ENVIRONMENTS["local"])
    broken = [
        Layer(layer.name, -1 if layer.name.endswith("-database") else layer.order, layer.objects) for layer in layers
    ]
    problems = layer_order_errors(broken)
    assert any("sre-platform-database" in p and "postgresql.cnpg.io/Cluster" in p for p in problems), problems


def test_wave_order_check_judges_each_crd_group_by_the_chart_that_brings_it(render_once):
    directory, _ = render_once("local")
    layers = argocd_layers(directory, ENVIRONMENTS["local"])
    # The pool comes after MetalLB's chart and before the charts that bring other CRDs: right.
    assert layer_order_errors(layers) == []
    before_metallb = [Layer(layer.name, -layer.order, layer.objects) for layer in layers[:2]] + layers[2:]
    assert layer_order_errors(before_metallb) == [
        f"layer sre-platform-address-pool (order -1) creates metallb.io/{kind} but layer "
        "sre-platform-foundation, which brings its CRDs, has order 0"
        for kind in ("IPAddressPool", "L2Advertisement")
    ]
    assert layer_order_errors(layers[1:]) == [
        f"layer sre-platform-address-pool creates metallb.io/{kind} but no layer brings its CRDs"
        for kind in ("IPAddressPool", "L2Advertisement")
    ]


def test_reference_check_rejects_storage_and_a_pool_created_after_their_users(render_once):
    directory, _ = render_once("local")
    late = {"StorageClass", "IPAddressPool"}
    broken = [
        Layer(layer.name, 99 if any(obj["kind"] in late for obj in layer.objects) else layer.order, layer.objects)
        for layer in argocd_layers(directory, ENVIRONMENTS["local"])
    ]
    problems = reference_order_errors(broken)
    assert any("kube-prometheus-stack needs StorageClass platform" in p for p in problems), problems
    assert any("kube-prometheus-stack needs IPAddressPool *" in p for p in problems), problems
    assert any("Service databases/pg-main-rw-lb needs IPAddressPool *" in p for p in problems), problems


def test_reference_check_orders_by_sync_wave_inside_a_layer():
    storage = {"kind": "StorageClass", "metadata": {"name": "fast", "annotations": {WAVE: "0"}}}
    claim = {"kind": "PersistentVolumeClaim", "metadata": {"name": "data"}, "spec": {"storageClassName": "fast"}}
    chart = {
        "kind": "Application",
        "metadata": {"name": "db", "annotations": {WAVE: "-5"}},
        "spec": {"source": {"chart": "db", "helm": {"valuesObject": {"persistence": {"storageClass": "fast"}}}}},
    }
    assert reference_order_errors([Layer("base", 0, [storage, claim])]) == []
    assert reference_order_errors([Layer("base", 0, [storage, chart])]) == [
        "layer base: Application -/db needs StorageClass fast, which only layer base creates, at (order, wave) (0, 0)"
    ]
    # A class no layer creates (the cluster's own) is not the render's to order.
    assert reference_order_errors([Layer("base", 0, [claim])]) == []


def test_replica_check_rejects_a_sync_that_resets_the_hpa_or_unparks_a_slot(render_once):
    directory, _ = render_once("local")
    rendered = [obj for obj in build(directory / "apps") if obj["metadata"].get("namespace") == "user-hasher"]
    # What a sync of the objects as rendered enforces, and a parked slot left to whoever scales it.
    enforced = {**flux_enforced_replicas(rendered), ("user-hasher", "user-hasher-green"): None}
    assert replica_errors(rendered, enforced) == [
        "Deployment user-hasher/user-hasher-blue: its HPA scales it, but every sync sets it back to 3 replicas",
        "Deployment user-hasher/user-hasher-green: rendered with 0 replicas, but no sync enforces them",
    ]


def test_argocd_keeps_live_replicas_only_with_an_ignore_rule_it_respects():
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"replicas": 3},
    }
    rule = {
        "group": "apps",
        "kind": "Deployment",
        "name": "web",
        "namespace": "shop",
        "jsonPointers": ["/spec/replicas"],
    }
    app = {"spec": {"ignoreDifferences": [rule], "syncPolicy": {"syncOptions": [RESPECT_IGNORE]}}}
    assert argocd_enforced_replicas([(app, [deployment])]) == {("shop", "web"): None}
    # Without RespectIgnoreDifferences the diff is hidden, but a sync still applies Git's 3.
    app["spec"]["syncPolicy"]["syncOptions"] = []
    assert argocd_enforced_replicas([(app, [deployment])]) == {("shop", "web"): 3}
    app["spec"]["syncPolicy"]["syncOptions"] = [RESPECT_IGNORE]
    rule["name"] = "other"
    assert argocd_enforced_replicas([(app, [deployment])]) == {("shop", "web"): 3}


def test_schema_check_rejects_an_application_with_an_unknown_field(render_once):
    directory, _ = render_once("local")
    application = copy.deepcopy(next(o for o in build(directory / "argocd") if o["kind"] == "Application"))
    application["spec"]["syncPolicy"]["automated"]["pruneEverything"] = True
    problems = schema_errors(application)
    assert any("pruneEverything" in p for p in problems), problems


def test_chain_check_rejects_cycles_and_dangling_references():
    def kustomization(name, *parents):
        return {"metadata": {"name": name}, "spec": {"dependsOn": [{"name": p} for p in parents]}}

    assert flux_chain_errors([kustomization("a"), kustomization("b", "a"), kustomization("c", "b")]) == []
    assert flux_chain_errors([kustomization("a", "c"), kustomization("b", "a"), kustomization("c", "b")])
    assert flux_chain_errors([kustomization("a"), kustomization("b", "missing")]) == [
        "b depends on missing, which does not exist"
    ]
    assert flux_chain_errors([kustomization("a"), kustomization("b", "a"), kustomization("c", "a")]) == []
    assert flux_chain_errors([kustomization("a"), kustomization("b", "a"), kustomization("x"), kustomization("y", "x")])


def test_kustomization_check_rejects_unlisted_and_missing_files(render_once, tmp_path):
    directory, _ = render_once("local")
    shutil.copytree(directory / "storage", tmp_path / "storage")
    (tmp_path / "storage" / "configmap-stray.yaml").write_text("kind: ConfigMap\n")
    listing = yaml.safe_load((tmp_path / "storage" / "kustomization.yaml").read_text())
    listing["resources"].append("gone.yaml")
    (tmp_path / "storage" / "kustomization.yaml").write_text(yaml.safe_dump(listing))
    assert kustomization_errors(tmp_path) == [
        "storage: configmap-stray.yaml is not listed in kustomization.yaml",
        "storage: kustomization.yaml lists gone.yaml, which is not there",
    ]


def test_project_check_rejects_an_extra_destination(render_once):
    directory, _ = render_once("local")
    objects = build(directory / "argocd") + build(directory / "argocd/charts")
    projects = copy.deepcopy([obj for obj in objects if obj["kind"] == "AppProject"])
    (own,) = [project for project in projects if project["metadata"]["name"] == "sre-platform"]
    own["spec"]["destinations"].append({"server": "https://kubernetes.default.svc", "namespace": "kube-public"})
    applications = [obj for obj in objects if obj["kind"] == "Application"]
    problems = project_errors(projects, applications, _delivered(directory, ENVIRONMENTS["local"]))
    assert any("AppProject sre-platform: destinations" in p and "kube-public" in p for p in problems), problems


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("argocd", "argocd", True),
        ("argocd", "", False),
        ("*", "", True),
        ("team-*", "team-a", True),
        ("team-?", "team-ab", False),
        ("{argocd,databases}", "databases", True),
        ("db-[0-9]", "db-7", True),
        ("db-[!0-9]", "db-7", False),
        ("!kube-system", "monitoring", True),
        ("!kube-*", "kube-system", False),
    ],
)
def test_argocd_glob_matches_like_argocd(pattern, value, matches):
    assert argocd_glob(pattern, value) is matches


def test_destination_check_rejects_an_empty_namespace_and_a_denied_one():
    server = "https://kubernetes.default.svc"
    project = {"spec": {"destinations": [{"server": server, "namespace": "argocd"}]}}
    assert destination_permitted(project, {"server": server, "namespace": "argocd"})
    # argoproj/argo-cd#11510: no namespace matches no named namespace.
    assert not destination_permitted(project, {"server": server})
    denying = {"spec": {"destinations": [{"server": "*", "namespace": "*"}, {"server": "*", "namespace": "!kube-*"}]}}
    assert destination_permitted(denying, {"server": server, "namespace": "databases"})
    assert not destination_permitted(denying, {"server": server, "namespace": "kube-system"})


def test_destination_check_names_the_application_it_refuses(render_once):
    directory, _ = render_once("local")
    objects = build(directory / "argocd") + build(directory / "argocd/charts")
    projects = [obj for obj in objects if obj["kind"] == "AppProject"]
    applications = copy.deepcopy([obj for obj in objects if obj["kind"] == "Application"])
    (redis,) = [app for app in applications if app["metadata"]["name"] == "redis"]
    redis["spec"]["destination"]["namespace"] = "kube-public"
    problems = destination_errors(projects, applications, {})
    assert problems == [
        "Application argocd/redis: destination https://kubernetes.default.svc namespace 'kube-public' "
        "is not permitted in AppProject sre-platform-charts"
    ]


def test_a_rendered_directory_outside_every_layer_is_refused():
    rendered = {"extra/configmap-demo-x.yaml": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}}
    settings = {"layers": [{"name": "apps", "components": ["apps"]}]}
    with pytest.raises(AnsibleFilterError, match=r"rendered directories in no layer: \['extra'\]"):
        gitops_files(rendered, settings)


SETTINGS = {
    "name": "sre-platform",
    "repo_url": "https://git.platform.test/gitops.git",
    "revision": "main",
    "path": "clusters/test",
    "argocd_namespace": "argocd",
    "destination_server": "https://kubernetes.default.svc",
    "flux_namespace": "flux-system",
    "flux_source_interval": "1m",
    "flux_interval": "10m",
    "flux_retry_interval": "1m",
    "flux_timeout": "10m",
}


def _chart_application(name, wave):
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd", "annotations": {WAVE: str(wave)}},
        "spec": {
            "project": "sre-platform-charts",
            "source": {"repoURL": "https://charts.platform.test", "chart": name, "targetRevision": "1.0.0"},
            "destination": {"server": SETTINGS["destination_server"], "namespace": name},
        },
    }


def _charts(*waves):
    """Rendered chart Applications, one directory each, as render.yml lays them out: (name, sync wave)..."""
    return {f"argocd/charts/{n}/application-argocd-{n}.yaml": _chart_application(n, wave) for n, wave in waves}


def test_a_layer_can_name_one_chart_and_releases_wait_only_inside_their_layer():
    rendered = _charts(("lb", -10), ("crds", -25), ("db", -5))
    layers = [{"name": "first", "components": ["charts/lb"]}, {"name": "rest", "components": ["charts"]}]
    files = gitops_files(rendered, {**SETTINGS, "layers": layers})
    assert files["argocd/layers/first/kustomization.yaml"]["resources"] == ["../../../argocd/charts/lb"]
    assert files["argocd/layers/rest/kustomization.yaml"]["resources"] == [
        "../../../argocd/charts/crds",
        "../../../argocd/charts/db",
    ]
    assert files["flux/layers/first/kustomization.yaml"]["resources"] == ["../../../flux/charts/lb"]
    releases = {path.split("/")[2]: obj for path, obj in files.items() if obj.get("kind") == "HelmRelease"}
    # lb's wave comes after crds', but crds is in a later layer: waiting for it would never end.
    assert "dependsOn" not in releases["lb"]["spec"]
    assert releases["db"]["spec"]["dependsOn"] == [{"name": "crds"}]
    assert files["flux/kustomization.yaml"]["resources"] == [
        "gitrepository-flux-system-sre-platform.yaml",
        "helmrepository-flux-system-charts-platform-test.yaml",
        "kustomization-flux-system-sre-platform-first.yaml",
        "kustomization-flux-system-sre-platform-rest.yaml",
        "kustomization-flux-system-sre-platform.yaml",
    ]


def test_a_chart_in_no_layer_is_refused():
    layers = [{"name": "first", "components": ["charts/lb"]}]
    with pytest.raises(AnsibleFilterError, match=r"rendered directories in no layer: \['charts/db'\]"):
        gitops_files(_charts(("lb", 0), ("db", 0)), {**SETTINGS, "layers": layers})


def test_chart_applications_sharing_a_directory_are_refused():
    rendered = {path.replace("/lb/", "/db/"): obj for path, obj in _charts(("lb", 0)).items()} | _charts(("db", 0))
    with pytest.raises(AnsibleFilterError, match="need a directory of their own"):
        gitops_files(rendered, {**SETTINGS, "layers": [{"name": "all", "components": ["charts"]}]})


def _gitops_role_playbook(tmp_path):
    playbook = tmp_path / "gitops.yml"
    role = {"ansible.builtin.include_role": {"name": "sre.platform.gitops"}, "name": "Lay out"}
    playbook.write_text(yaml.safe_dump([{"hosts": "platform", "gather_facts": False, "tasks": [role]}]))
    return playbook


@pytest.mark.parametrize(("inventory", "path"), sorted(ENVIRONMENTS.items()))
def test_without_render_dir_the_render_is_named_like_its_repository_path(tmp_path, inventory, path):
    playbook = tmp_path / "playbooks" / "where.yml"
    playbook.parent.mkdir()
    choose = {
        "name": "Choose",
        "ansible.builtin.include_role": {"name": "sre.platform.gitops", "tasks_from": "render_dir.yml", "public": True},
    }
    report = {"name": "Report", "ansible.builtin.debug": {"msg": "{{ [render_dir, gitops_path] }}"}}
    playbook.write_text(yaml.safe_dump([{"hosts": "platform", "gather_facts": False, "tasks": [choose, report]}]))
    run = run_playbook(str(playbook), inventory=f"inventories/{inventory}")
    assert run.returncode == 0, run.output
    (result,) = run.task_results("Report")
    # rendered/ beside the playbooks directory, named like the environment's path in the GitOps repository.
    assert result["msg"] == [str(tmp_path / "rendered" / path.removeprefix("clusters/")), path]


def test_publishing_with_the_placeholder_repository_is_refused(tmp_path):
    run = run_playbook(
        str(_gitops_role_playbook(tmp_path)),
        inventory="inventories/local",
        extra_vars={"render_dir": str(tmp_path / "out"), "gitops_require_repo_url": True},
        json_output=False,
    )
    assert run.returncode != 0
    assert "gitops_require_repo_url is true but gitops_repo_url is the placeholder" in run.output


def test_a_real_repository_url_reaches_argocd_and_flux(tmp_path):
    url = "ssh://git@git.platform.test/sre/gitops.git"
    run = run_playbook(
        str(_gitops_role_playbook(tmp_path)),
        inventory="inventories/local",
        extra_vars={"render_dir": str(tmp_path), "gitops_require_repo_url": True, "gitops_repo_url": url},
    )
    assert run.returncode == 0, run.output
    (root,) = [obj for obj in build(tmp_path / "argocd") if obj["kind"] == "Application"]
    (repository,) = [obj for obj in build(tmp_path / "flux") if obj["kind"] == "GitRepository"]
    assert root["spec"]["source"]["repoURL"] == repository["spec"]["url"] == url
