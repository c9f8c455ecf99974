"""Checks of a rendered GitOps tree (``render.yml`` output, docs/gitops.md).

Each check returns a list of problems (empty when the tree is right), so a
test can assert on a real render and on a copy broken on purpose:

- ``kustomization_errors``: every kustomization.yaml lists exactly the files
  beside it, and the directories it names are kustomizations;
- ``layer_order_errors``: the CRDs of every custom resource a layer creates come
  from an earlier layer (an upstream chart that installs them, or a
  CustomResourceDefinition), judged from the objects each layer builds;
- ``reference_order_errors``: nothing waits for a StorageClass or a MetalLB
  address pool that only a later layer (or a later sync wave) creates;
- ``flux_chain_errors``: the Flux layer Kustomizations form one chain through
  ``dependsOn``, without cycles or dangling references;
- ``project_errors``: each AppProject allows exactly the repositories,
  destination namespaces and cluster-scoped kinds its Applications use;
- ``kustomize_build``: what real kustomize builds from a directory, which also
  checks that it loads files only from below each kustomization;
- ``replica_errors``: with what each tool enforces on every sync
  (``argocd_enforced_replicas``, ``flux_enforced_replicas``), an HPA alone sizes
  every running Deployment it scales, and a parked Deployment stays at 0;
- ``destination_errors``: Argo CD would accept every Application's destination,
  and the namespace of every object it syncs, in its AppProject (Argo CD's glob
  matching, ``argocd_glob``).
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.harness.helm import REPO_ROOT
from tests.harness.manifests import KUSTOMIZE_FILES
from tests.harness.policies import describe
from tests.harness.servers import MissingBinary

WAVE = "argocd.argoproj.io/sync-wave"
# Kinds served by the GitOps tool itself, not by any layer.
TOOL_GROUPS = {"argoproj.io", "source.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io"}
# API groups of the CRDs each upstream chart installs (those the rendered objects use), by chart.
CHART_CRD_GROUPS = {
    "cert-manager": {"cert-manager.io", "acme.cert-manager.io"},
    "cloudnative-pg": {"postgresql.cnpg.io"},
    "plugin-barman-cloud": {"barmancloud.cnpg.io"},
    "kube-prometheus-stack": {"monitoring.coreos.com"},
    "metallb": {"metallb.io"},
}
# Keys that name a StorageClass, in objects and in chart values alike.
STORAGE_CLASS_KEYS = {"storageClassName", "storageClass"}
# A LoadBalancer Service waits for an address from any auto-assigning pool.
ANY_POOL = ("IPAddressPool", "*")


@dataclass
class Layer:
    """A layer as a GitOps tool sees it: its position in the sync order and what it builds."""

    name: str
    order: int
    objects: list[dict]


def _kustomization(directory: Path) -> dict:
    return yaml.safe_load((directory / "kustomization.yaml").read_text())


def build(directory: Path) -> list[dict]:
    """The objects `kustomize build directory` would emit (resources only, as rendered)."""
    objects = []
    for resource in _kustomization(directory)["resources"]:
        path = (directory / resource).resolve()
        if path.is_dir():
            objects += build(path)
        else:
            objects += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return objects


def kustomization_errors(root: Path) -> list[str]:
    """Every directory with manifests has a kustomization.yaml that lists exactly its files."""
    problems = []
    directories = {path.parent for path in root.rglob("*.yaml")}
    for directory in sorted(directories):
        relative = directory.relative_to(root)
        if not (directory / "kustomization.yaml").exists():
            problems.append(f"{relative}: no kustomization.yaml")
            continue
        resources = _kustomization(directory).get("resources", [])
        files = {path.name for path in directory.glob("*.yaml") if path.name not in KUSTOMIZE_FILES}
        listed = {r for r in resources if not (directory / r).is_dir()}
        for missing in sorted(files - listed):
            problems.append(f"{relative}: {missing} is not listed in kustomization.yaml")
        for extra in sorted(listed - files):
            problems.append(f"{relative}: kustomization.yaml lists {extra}, which is not there")
        for sub in sorted(set(resources) - listed):
            if not (directory / sub / "kustomization.yaml").exists():
                problems.append(f"{relative}: {sub} is not a kustomization directory")
    return problems


def _group(obj: dict) -> str:
    return obj["apiVersion"].rpartition("/")[0]


def _wave(obj: dict) -> int:
    return int((obj["metadata"].get("annotations") or {}).get(WAVE, 0))


def _is_custom(obj: dict) -> bool:
    group = _group(obj)
    return "." in group and not group.endswith(".k8s.io") and group not in TOOL_GROUPS


def _chart(obj: dict) -> str | None:
    """The upstream chart an Argo CD Application or a Flux HelmRelease installs."""
    if obj["kind"] == "Application":
        return obj.get("spec", {}).get("source", {}).get("chart")
    if obj["kind"] == "HelmRelease":
        return obj["spec"]["chart"]["spec"]["chart"]
    return None


def _crd_groups(obj: dict) -> set[str]:
    if obj["kind"] == "CustomResourceDefinition":
        return {obj["spec"]["group"]}
    return CHART_CRD_GROUPS.get(_chart(obj) or "", set())


def layer_order_errors(layers: list[Layer]) -> list[str]:
    """A layer creating custom resources comes after every layer that brings their CRDs."""
    providers: dict[str, list[Layer]] = {}
    for layer in layers:
        for group in {group for obj in layer.objects for group in _crd_groups(obj)}:
            providers.setdefault(group, []).append(layer)
    problems = []
    for layer in layers:
        for kind in sorted({f"{_group(obj)}/{obj['kind']}" for obj in layer.objects if _is_custom(obj)}):
            group = kind.rpartition("/")[0]
            if group not in providers:
                problems.append(f"layer {layer.name} creates {kind} but no layer brings its CRDs")
            problems += [
                f"layer {layer.name} (order {layer.order}) creates {kind} but layer {provider.name}, which brings "
                f"its CRDs, has order {provider.order}"
                for provider in providers.get(group, [])
                if provider.order >= layer.order
            ]
    return problems


def _needs(node: object) -> set[tuple[str, str]]:
    """What an object (chart values included) waits for: StorageClasses it names, a pool for a LoadBalancer."""
    if isinstance(node, list):
        return {need for item in node for need in _needs(item)}
    if not isinstance(node, dict):
        return set()
    found = {("StorageClass", v) for k, v in node.items() if k in STORAGE_CLASS_KEYS and isinstance(v, str) and v}
    if node.get("type") == "LoadBalancer":
        found.add(ANY_POOL)
    return found | {need for value in node.values() for need in _needs(value)}


def _provides(obj: dict) -> set[tuple[str, str]]:
    if obj["kind"] == "StorageClass":
        return {("StorageClass", obj["metadata"]["name"])}
    return {ANY_POOL} if obj["kind"] == "IPAddressPool" else set()


def reference_order_errors(layers: list[Layer]) -> list[str]:
    """Nothing waits for a StorageClass or an address pool that only a later layer or sync wave creates.

    A PersistentVolumeClaim of an absent class stays Pending, a LoadBalancer Service
    without a pool gets no address: helm --wait (Flux) and Argo CD's health checks then
    wait for ever, and the later layer never starts. Position = (layer order, sync wave).
    What no layer creates (a cloud's load balancer, a class the cluster has) is not checked.
    """
    first: dict[tuple[str, str], tuple[tuple[int, int], str]] = {}
    for layer in layers:
        for obj in layer.objects:
            created = ((layer.order, _wave(obj)), layer.name)
            for provided in _provides(obj):
                first[provided] = min(first.get(provided, created), created)
    problems = []
    for layer in layers:
        for obj in layer.objects:
            for need in sorted(_needs(obj) & first.keys()):
                position, provider = first[need]
                if (layer.order, _wave(obj)) < position:
                    problems.append(
                        f"layer {layer.name}: {describe(obj)} needs {need[0]} {need[1]}, which only layer {provider} "
                        f"creates, at (order, wave) {position}"
                    )
    return problems


def _relative(path: str, prefix: str) -> str:
    if not path.lstrip("./").startswith(f"{prefix}/"):
        raise AssertionError(f"{path} is outside the environment's repository path {prefix}")
    return path.lstrip("./")[len(prefix) + 1 :]


def argocd_layers(root: Path, prefix: str) -> list[Layer]:
    """The Applications of argocd/ that deliver a layer, ordered by sync wave."""
    layers = []
    for obj in build(root / "argocd"):
        path = obj["spec"].get("source", {}).get("path", "") if obj["kind"] == "Application" else ""
        if "/argocd/layers/" in path:
            wave = int(obj["metadata"]["annotations"][WAVE])
            layers.append(Layer(obj["metadata"]["name"], wave, build(root / _relative(path, prefix))))
    return sorted(layers, key=lambda layer: layer.order)


def flux_chain_errors(kustomizations: list[dict]) -> list[str]:
    """The layer Kustomizations (those with dependsOn or depended on) form one acyclic chain."""
    names = {k["metadata"]["name"] for k in kustomizations}
    parents = {k["metadata"]["name"]: [d["name"] for d in k["spec"].get("dependsOn", [])] for k in kustomizations}
    problems = [
        f"{child} depends on {p}, which does not exist" for child, ps in parents.items() for p in ps if p not in names
    ]
    problems += [
        f"{child} depends on {len(ps)} Kustomizations, not one" for child, ps in parents.items() if len(ps) > 1
    ]
    chained = {child for child, ps in parents.items() if ps} | {p for ps in parents.values() for p in ps}
    heads = [name for name in chained if not parents[name]] if not problems else []
    if not problems and len(heads) != 1:
        problems.append(f"the layers do not start from one Kustomization: {sorted(heads)}")
    for start in chained if not problems else []:
        seen, current = set(), start
        while parents.get(current):
            if current in seen:
                problems.append(f"dependsOn cycle through {current}")
                break
            seen.add(current)
            current = parents[current][0]
    return sorted(set(problems))


def flux_layers(root: Path, prefix: str) -> list[Layer]:
    """The Flux layer Kustomizations, ordered along their dependsOn chain."""
    kustomizations = [obj for obj in build(root / "flux") if obj["kind"] == "Kustomization"]
    depth: dict[str, int] = {}
    by_name = {k["metadata"]["name"]: k for k in kustomizations}

    def order(name: str) -> int:
        if name not in depth:
            parents = by_name[name]["spec"].get("dependsOn", [])
            depth[name] = order(parents[0]["name"]) + 1 if parents else 0
        return depth[name]

    layers = [
        Layer(k["metadata"]["name"], order(k["metadata"]["name"]), build(root / _relative(k["spec"]["path"], prefix)))
        for k in kustomizations
        if "/flux/layers/" in k["spec"]["path"]
    ]
    return sorted(layers, key=lambda layer: layer.order)


def project_errors(projects: list[dict], applications: list[dict], delivered: dict[str, list[dict]]) -> list[str]:
    """Each AppProject allows exactly what its Applications use.

    ``delivered`` maps an Application name to the objects it syncs from Git
    (charts are not expanded: their destination namespace stands for them).
    """
    problems = []
    for project in projects:
        name, spec = project["metadata"]["name"], project["spec"]
        members = [app for app in applications if app["spec"]["project"] == name]
        repos = {app["spec"]["source"]["repoURL"] for app in members}
        namespaces = {app["spec"]["destination"].get("namespace") for app in members} - {None}
        synced = [obj for app in members for obj in delivered.get(app["metadata"]["name"], [])]
        namespaces |= {obj["metadata"]["namespace"] for obj in synced if obj["metadata"].get("namespace")}
        allowed = {d["namespace"] for d in spec["destinations"]}
        if set(spec["sourceRepos"]) != repos:
            problems.append(f"AppProject {name}: sourceRepos {sorted(spec['sourceRepos'])}, used {sorted(repos)}")
        if allowed != namespaces:
            problems.append(f"AppProject {name}: destinations {sorted(allowed)}, used {sorted(namespaces)}")
        if "*" in allowed or any(d["server"] == "*" for d in spec["destinations"]):
            problems.append(f"AppProject {name}: a wildcard destination")
        cluster_kinds = {(_group(obj), obj["kind"]) for obj in synced if not obj["metadata"].get("namespace")}
        whitelist = {(entry["group"], entry["kind"]) for entry in spec.get("clusterResourceWhitelist", [])}
        if synced and whitelist != cluster_kinds:
            problems.append(f"AppProject {name}: cluster kinds {sorted(whitelist)}, used {sorted(cluster_kinds)}")
    for app in applications:
        if app["spec"]["project"] not in {p["metadata"]["name"] for p in projects}:
            problems.append(f"{describe(app)}: project {app['spec']['project']} is not one of the rendered AppProjects")
    return problems


@functools.cache
def _glob_regex(pattern: str) -> re.Pattern:
    """A gobwas/glob pattern (Argo CD's util/glob, no separators) as a regular expression."""
    parts, depth, index = [], 0, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            index += 1
            parts.append(re.escape(pattern[index]))
        elif char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        elif char == "[" and "]" in pattern[index + 1 :]:
            end = pattern.index("]", index + 1)
            body = pattern[index + 1 : end]
            parts.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
            index = end
        elif char in "{}" or (char == "," and depth):
            depth += 1 if char == "{" else -1 if char == "}" else 0
            parts.append({"{": "(?:", "}": ")", ",": "|"}[char])
        else:
            parts.append(re.escape(char))
        index += 1
    return re.compile("".join(parts), re.DOTALL)


def argocd_glob(pattern: str, value: str) -> bool:
    """Argo CD's globMatch with negation: ``*`` matches anything (even nothing), ``!p`` what ``p`` does not."""
    if pattern.startswith("!"):
        return not argocd_glob(pattern[1:], value)
    return pattern == "*" or _glob_regex(pattern).fullmatch(value) is not None


def _denies(pattern: str, matched: bool) -> bool:
    """A deny entry (``!p``) that did not match: the value is one it excludes."""
    return pattern.startswith("!") and not matched


def destination_permitted(project: dict, destination: dict) -> bool:
    """Argo CD's AppProject check of a destination: an entry matches it and no deny entry (``!``) excludes it.

    An entry matches when its server (or name) and its namespace both match; an
    empty destination namespace matches only ``*`` or a deny pattern.
    """
    matched, denied = False, False
    for entry in project["spec"].get("destinations", []):
        server, name, namespace = (entry.get(key, "") for key in ("server", "name", "namespace"))
        server_ok = bool(destination.get("server")) and argocd_glob(server, destination["server"])
        name_ok = bool(destination.get("name")) and argocd_glob(name, destination["name"])
        namespace_ok = argocd_glob(namespace, destination.get("namespace", ""))
        if (server_ok or name_ok) and namespace_ok:
            matched = True
        elif _denies(server, server_ok) or _denies(name, name_ok) or _denies(namespace, namespace_ok):
            denied = True
    return matched and not denied


def destination_errors(projects: list[dict], applications: list[dict], delivered: dict[str, list[dict]]) -> list[str]:
    """Destinations Argo CD refuses: the Application's own, and the namespace of each object it syncs."""
    by_name = {project["metadata"]["name"]: project for project in projects}
    problems = []
    for app in applications:
        project, destination = by_name.get(app["spec"]["project"]), app["spec"]["destination"]
        if project is None:
            continue  # project_errors names it
        if not destination_permitted(project, destination):
            problems.append(
                f"{describe(app)}: destination {destination.get('server') or destination.get('name')} namespace "
                f"'{destination.get('namespace', '')}' is not permitted in AppProject {app['spec']['project']}"
            )
        for obj in delivered.get(app["metadata"]["name"], []):
            namespace = obj["metadata"].get("namespace")
            if namespace and not destination_permitted(project, {**destination, "namespace": namespace}):
                problems.append(f"{describe(app)}: syncs {describe(obj)}, a namespace AppProject does not permit")
    return problems


def kubectl_binary() -> str:
    """The kubectl of the project's virtualenv, else the one on PATH."""
    local = REPO_ROOT / ".venv" / "bin" / "kubectl"
    found = str(local) if local.exists() else shutil.which("kubectl")
    if not found:
        raise MissingBinary(
            "'kubectl' is not installed: run ./scripts/test (it installs it), or "
            ".venv/bin/python scripts/install_kube_tools.py .venv after pip install -r requirements-dev.txt"
        )
    return found


def kustomize_build(directory: Path) -> list[dict]:
    """What `kubectl kustomize directory` emits: real kustomize, with its rule that files load only from below."""
    run = subprocess.run(
        [kubectl_binary(), "kustomize", str(directory)], capture_output=True, text=True, timeout=60, check=False
    )
    if run.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory} failed: {run.stderr}")
    return [doc for doc in yaml.safe_load_all(run.stdout) if doc]


# Argo CD keeps the live value of an ignored field on sync only with this option.
RESPECT_IGNORE = "RespectIgnoreDifferences=true"
REPLICAS = "/spec/replicas"


def _key(obj: dict) -> tuple[str, str]:
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def _argocd_ignores(app: dict, obj: dict, pointer: str) -> bool:
    """Argo CD leaves the field as it is live when it syncs obj: a rule of the Application covers it."""
    if RESPECT_IGNORE not in app["spec"].get("syncPolicy", {}).get("syncOptions", []):
        return False
    namespace, name = _key(obj)
    return any(
        rule["kind"] == obj["kind"]
        and rule.get("group", "") == _group(obj)
        and rule.get("name", name) == name
        and rule.get("namespace", namespace) == namespace
        and pointer in rule.get("jsonPointers", [])
        for rule in app["spec"].get("ignoreDifferences", [])
    )


def argocd_enforced_replicas(delivered: list[tuple[dict, list[dict]]]) -> dict[tuple[str, str], int | None]:
    """(namespace, name) -> the replicas Argo CD sets on each sync (selfHeal), None where it keeps the live value.

    ``delivered``: each Application with the objects it syncs from Git.
    """
    return {
        _key(obj): None if _argocd_ignores(app, obj, REPLICAS) else obj["spec"].get("replicas")
        for app, objects in delivered
        for obj in objects
        if obj["kind"] == "Deployment"
    }


def flux_enforced_replicas(built: list[dict]) -> dict[tuple[str, str], int | None]:
    """(namespace, name) -> the replicas Flux applies on each reconcile, None where the object omits them.

    ``built``: what kustomize builds for the layers (patches applied), as Flux applies it.
    """
    return {_key(obj): obj["spec"].get("replicas") for obj in built if obj["kind"] == "Deployment"}


def replica_errors(rendered: list[dict], enforced: dict[tuple[str, str], int | None]) -> list[str]:
    """Who sets each rendered Deployment's replicas: the HPA when it runs, Git when parked or without an HPA.

    The HPA does not scale a Deployment at 0, so a parked slot's 0 must stay enforced.
    """
    scaled = {
        (obj["metadata"].get("namespace", ""), obj["spec"]["scaleTargetRef"]["name"])
        for obj in rendered
        if obj["kind"] == "HorizontalPodAutoscaler" and obj["spec"]["scaleTargetRef"]["kind"] == "Deployment"
    }
    problems = []
    for obj in (obj for obj in rendered if obj["kind"] == "Deployment"):
        wanted, got = obj["spec"].get("replicas", 1), enforced.get(_key(obj), "not delivered")
        if _key(obj) in scaled and wanted > 0 and got is not None:
            problems.append(f"{describe(obj)}: its HPA scales it, but every sync sets it back to {got} replicas")
        elif (_key(obj) not in scaled or wanted == 0) and got != wanted:
            sync = "no sync enforces them" if got is None else f"the sync sets {got}"
            problems.append(f"{describe(obj)}: rendered with {wanted} replicas, but {sync}")
    return problems
