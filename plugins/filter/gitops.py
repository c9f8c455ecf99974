"""The GitOps layout of a rendered environment: Argo CD and Flux objects, kustomizations.

``render.yml`` writes one file per object into ``<render_dir>/<component>/`` and
each chart Application into ``<render_dir>/argocd/charts/<chart>/``. ``gitops_files``
turns that tree into a GitOps repository path for one environment:

- a ``kustomization.yaml`` in every directory of objects, listing exactly its files,
  and in ``argocd/charts/`` and ``flux/charts/``, listing every chart;
- layers (``settings.layers``, in sync order), each a ``kustomization.yaml`` per tool
  under ``argocd/layers/<layer>/`` and ``flux/layers/<layer>/`` that names the
  directories of the layer. The pseudo component ``charts/<chart>`` stands for one
  upstream chart, ``charts`` for every chart no layer names (Argo CD Applications
  for Argo CD, HelmReleases for Flux): kustomize loads files only from below a
  kustomization, so each chart has a directory a layer can name;
- Argo CD: the AppProjects, one Application per layer with a sync wave, and the
  root Application (app of apps) that manages ``argocd/`` itself;
- Flux: a GitRepository and a HelmRepository per chart repository (the sources,
  applied by the root Kustomization for ``flux/`` itself), one Kustomization per
  layer chained with ``dependsOn``, and a HelmRelease per chart Application,
  values carried over;
- the replicas of every running Deployment an HPA scales are the HPA's: Argo CD
  ignores them and keeps the live value when it syncs, Flux's layer build leaves
  them out. A parked Deployment's 0 stays enforced.

The result maps a path relative to the render directory to the object to write.

``gitops_synced`` reads the other side: which live objects Argo CD or Flux syncs, by
the marks they leave, so a play that changes the cluster directly can refuse them.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from itertools import pairwise
from pathlib import PurePosixPath

from ansible.errors import AnsibleFilterError

CHARTS = "charts"
ARGOCD_DIR = "argocd"
FLUX_DIR = "flux"
KUSTOMIZATION = "kustomization.yaml"
WAVE_ANNOTATION = "argocd.argoproj.io/sync-wave"
PART_OF = {"app.kubernetes.io/part-of": "sre-platform", "app.kubernetes.io/component": "gitops"}
SYNC_RETRY = {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "3m"}}
REPLICAS = "/spec/replicas"


def _file_name(obj: dict) -> str:
    """Same naming as every rendered object: <kind>-<namespace>-<name>.yaml."""
    parts = [obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]]
    return re.sub(r"[^a-z0-9.-]", "-", "-".join(p for p in parts if p).lower()) + ".yaml"


def _slug(text: str) -> str:
    """A DNS-1123 name from free text (a chart repository URL)."""
    stem = re.sub(r"^[a-z]+://", "", text.lower())
    return re.sub(r"[^a-z0-9]+", "-", stem).strip("-")[:63].rstrip("-")


def _kustomization(resources: list[str]) -> dict:
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources}


def _is_chart(obj: dict) -> bool:
    return obj.get("kind") == "Application" and "chart" in obj.get("spec", {}).get("source", {})


def _wave(obj: dict) -> int:
    return int(obj["metadata"].get("annotations", {}).get(WAVE_ANNOTATION, 0))


def _is_owned(path: str, obj: dict) -> bool:
    """Files this filter writes itself: under argocd/ and flux/, except the rendered chart Applications."""
    return PurePosixPath(path).parts[0] in (ARGOCD_DIR, FLUX_DIR) and not _is_chart(obj)


def _directories(rendered: dict[str, dict]) -> dict[str, list[str]]:
    """Directory -> sorted file names of the rendered objects (files written here excluded)."""
    directories: dict[str, list[str]] = defaultdict(list)
    for path, obj in rendered.items():
        if not _is_owned(path, obj):
            directories[str(PurePosixPath(path).parent)].append(PurePosixPath(path).name)
    return {directory: sorted(names) for directory, names in sorted(directories.items())}


def _chart_units(dirs: dict[str, list[dict]]) -> tuple[str, dict[str, dict]]:
    """The directory of the chart Applications and chart name -> Application, from the directories holding them.

    Each chart needs a directory of its own, named after it, so that a layer can name it;
    all of them under one parent and in one project.
    """
    apps = [objs[0] for objs in dirs.values()]
    parents = {str(PurePosixPath(d).parent) for d in dirs}
    misplaced = [
        d for d, objs in dirs.items() if len(objs) != 1 or PurePosixPath(d).name != objs[0]["metadata"]["name"]
    ]
    if misplaced or len(parents) > 1 or len(_projects(apps)) > 1:
        raise AnsibleFilterError(
            "gitops: chart Applications need a directory of their own, named after them, all under one parent "
            f"and in one project: {sorted(dirs)}"
        )
    return next(iter(parents), ""), {app["metadata"]["name"]: app for app in apps}


def _projects(apps: list[dict]) -> set[str]:
    return {app["spec"]["project"] for app in apps}


def _layer_members(layers: list[dict], plain_dirs: list[str], chart_names: list[str]) -> dict[str, list[str]]:
    """Layer -> what it delivers: component directories and ``charts/<chart>``, each in exactly one layer."""
    owner: dict[str, str] = {}
    for layer in layers:
        for component in layer["components"]:
            if component in owner:
                raise AnsibleFilterError(f"gitops: '{component}' is in layers {owner[component]} and {layer['name']}")
            owner[component] = layer["name"]
    unnamed = [f"{CHARTS}/{name}" for name in chart_names if f"{CHARTS}/{name}" not in owner]
    orphans = [d for d in plain_dirs if d not in owner] + (unnamed if CHARTS not in owner else [])
    if orphans:
        raise AnsibleFilterError(f"gitops: rendered directories in no layer: {orphans}; add them to gitops_layers")
    present = set(plain_dirs) | {f"{CHARTS}/{name}" for name in chart_names}
    members = {
        layer["name"]: [
            unit for c in layer["components"] for unit in (unnamed if c == CHARTS else [c]) if unit in present
        ]
        for layer in layers
    }
    return {name: units for name, units in members.items() if units}


def _chart_name(unit: str) -> str | None:
    """The chart a layer unit stands for (``charts/<chart>``), None for a component directory."""
    return unit.removeprefix(f"{CHARTS}/") if unit.startswith(f"{CHARTS}/") else None


def _layer_resources(units: list[str], chart_dir: str) -> list[str]:
    """The kustomization directories of a layer's units, from ``<tool>/layers/<layer>/``."""
    return [f"../../../{chart_dir}/{chart}" if (chart := _chart_name(u)) else f"../../../{u}" for u in units]


def _autoscaled(objects: list[dict]) -> list[tuple[str, str]]:
    """(namespace, name) of each running Deployment an HPA sizes: Argo CD and Flux must leave its replicas alone.

    A parked Deployment (0 replicas, blue/green's idle slot) is not one: the HPA does not
    scale a Deployment at 0, so its 0 stays enforced from Git.
    """
    scaled = {
        (hpa["metadata"].get("namespace", ""), hpa["spec"]["scaleTargetRef"]["name"])
        for hpa in objects
        if hpa["kind"] == "HorizontalPodAutoscaler" and hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
    }
    deployments = [obj for obj in objects if obj["kind"] == "Deployment" and obj["spec"].get("replicas", 1) > 0]
    return sorted({(d["metadata"].get("namespace", ""), d["metadata"]["name"]) for d in deployments} & scaled)


def _keep_live_replicas(app: dict, deployments: list[tuple[str, str]]) -> dict:
    """Argo CD: ignore these Deployments' replicas, and keep the live value when syncing (selfHeal would not)."""
    if deployments:
        app["spec"]["ignoreDifferences"] = [
            {"group": "apps", "kind": "Deployment", "namespace": namespace, "name": name, "jsonPointers": [REPLICAS]}
            for namespace, name in deployments
        ]
        app["spec"]["syncPolicy"]["syncOptions"].append("RespectIgnoreDifferences=true")
    return app


def _omit_replicas(kustomization: dict, deployments: list[tuple[str, str]]) -> dict:
    """Flux has no ignore rule and applies what it builds: the build leaves these Deployments' replicas out."""
    if deployments:
        kustomization["patches"] = [
            {
                "target": {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": ns, "name": name},
                "patch": json.dumps([{"op": "remove", "path": REPLICAS}]),
            }
            for ns, name in deployments
        ]
    return kustomization


def _namespaces(objects: list[dict]) -> set[str]:
    return {obj["metadata"]["namespace"] for obj in objects if obj["metadata"].get("namespace")}


def _cluster_kinds(objects: list[dict]) -> list[dict]:
    kinds = {
        (obj["apiVersion"].rpartition("/")[0], obj["kind"]) for obj in objects if not obj["metadata"].get("namespace")
    }
    return [{"group": group, "kind": kind} for group, kind in sorted(kinds)]


def _metadata(name: str, namespace: str, wave: int | None = None) -> dict:
    metadata = {"name": name, "namespace": namespace, "labels": dict(PART_OF)}
    if wave is not None:
        metadata["annotations"] = {WAVE_ANNOTATION: str(wave)}
    return metadata


def _argocd_application(settings: dict, name: str, path: str, wave: int) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            **_metadata(name, settings["argocd_namespace"], wave),
            "finalizers": ["resources-finalizer.argocd.argoproj.io"],
        },
        "spec": {
            "project": settings["name"],
            "source": {"repoURL": settings["repo_url"], "targetRevision": settings["revision"], "path": path},
            # Argo CD matches the namespace against the AppProject's destinations: an empty one matches none
            # of them (argoproj/argo-cd#11510). These Applications create Applications in Argo CD's namespace.
            "destination": {"server": settings["destination_server"], "namespace": settings["argocd_namespace"]},
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                "syncOptions": ["ServerSideApply=true", "PruneLast=true"],
                "retry": SYNC_RETRY,
            },
        },
    }


def _app_project(settings: dict, name: str, description: str, repos: list[str], namespaces: set[str], kinds) -> dict:
    server = settings["destination_server"]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": _metadata(name, settings["argocd_namespace"], -1),
        "spec": {
            "description": description,
            "sourceRepos": sorted(set(repos)),
            "destinations": [{"server": server, "namespace": ns} for ns in sorted(namespaces)],
            "clusterResourceWhitelist": kinds,
        },
    }


def _argocd_files(
    settings: dict, members: dict, plain: list[dict], charts: dict[str, dict], autoscaled: dict
) -> dict[str, dict]:
    """AppProjects, the layer Applications and the root Application, with their layer kustomizations."""
    files: dict[str, dict] = {}
    name, base = settings["name"], settings["path"]
    for wave, (layer, units) in enumerate(members.items()):
        files[f"{ARGOCD_DIR}/layers/{layer}/{KUSTOMIZATION}"] = _kustomization(
            _layer_resources(units, settings["chart_dir"])
        )
        app = _keep_live_replicas(
            _argocd_application(settings, f"{name}-{layer}", f"{base}/{ARGOCD_DIR}/layers/{layer}", wave),
            autoscaled[layer],
        )
        files[f"{ARGOCD_DIR}/{_file_name(app)}"] = app
    root = _argocd_application(settings, name, f"{base}/{ARGOCD_DIR}", -2)
    files[f"{ARGOCD_DIR}/{_file_name(root)}"] = root
    projects = [
        _app_project(
            settings,
            name,
            "Manifests rendered by sre.platform",
            [settings["repo_url"]],
            _namespaces(plain) | {settings["argocd_namespace"]},
            _cluster_kinds(plain),
        ),
    ]
    if charts:
        apps = list(charts.values())
        projects.append(
            _app_project(
                settings,
                next(iter(_projects(apps))),
                "Upstream charts of sre.platform (operators install CRDs, RBAC and webhooks cluster-wide)",
                [app["spec"]["source"]["repoURL"] for app in apps],
                {app["spec"]["destination"]["namespace"] for app in apps},
                [{"group": "*", "kind": "*"}],
            )
        )
        files[f"{settings['chart_dir']}/{KUSTOMIZATION}"] = _kustomization(sorted(charts))
    for project in projects:
        files[f"{ARGOCD_DIR}/{_file_name(project)}"] = project
    return files


def _flux_ref(revision: str) -> dict:
    """A 40-hex revision pins a commit; anything else names a branch."""
    return {"commit": revision} if re.fullmatch(r"[0-9a-f]{40}", revision) else {"branch": revision}


def _flux_kustomization(settings: dict, name: str, path: str, depends_on: str | None) -> dict:
    spec = {
        "interval": settings["flux_interval"],
        "retryInterval": settings["flux_retry_interval"],
        "timeout": settings["flux_timeout"],
        "path": f"./{path}",
        "prune": True,
        "wait": True,
        "sourceRef": {"kind": "GitRepository", "name": settings["name"]},
    }
    if depends_on:
        spec["dependsOn"] = [{"name": depends_on}]
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": _metadata(name, settings["flux_namespace"]),
        "spec": spec,
    }


def _helm_repository(settings: dict, url: str) -> dict:
    spec = {"url": url, "interval": settings["flux_interval"]}
    if url.startswith("oci://"):
        spec["type"] = "oci"
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmRepository",
        "metadata": _metadata(_slug(url), settings["flux_namespace"]),
        "spec": spec,
    }


def _helm_release(settings: dict, app: dict, depends_on: list[str]) -> dict:
    """The Flux equivalent of a chart Application: same chart, version, namespace, release name and values."""
    source, namespace = app["spec"]["source"], settings["flux_namespace"]
    remediation = {"retries": SYNC_RETRY["limit"]}
    spec = {
        "interval": settings["flux_interval"],
        "timeout": settings["flux_timeout"],
        "releaseName": source.get("helm", {}).get("releaseName", app["metadata"]["name"]),
        "targetNamespace": app["spec"]["destination"]["namespace"],
        "chart": {
            "spec": {
                "chart": source["chart"],
                "version": str(source["targetRevision"]),
                "sourceRef": {"kind": "HelmRepository", "name": _slug(source["repoURL"]), "namespace": namespace},
            }
        },
        "install": {"createNamespace": True, "crds": "CreateReplace", "remediation": remediation},
        "upgrade": {"crds": "CreateReplace", "cleanupOnFail": True, "remediation": remediation},
        "values": source.get("helm", {}).get("valuesObject", {}),
    }
    if depends_on:
        spec["dependsOn"] = [{"name": name} for name in depends_on]
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": _metadata(app["metadata"]["name"], namespace),
        "spec": spec,
    }


def _chart_releases(settings: dict, charts: list[dict]) -> list[dict]:
    """The HelmReleases of one layer's charts; each waits for the layer's charts of the previous sync wave.

    Earlier layers are ready before this one starts (the Kustomizations' dependsOn), and a
    release must never wait for one of a later layer, which would only start after it.
    """
    waves = sorted({_wave(app) for app in charts})
    earlier = {wave: [a["metadata"]["name"] for a in charts if _wave(a) == prev] for prev, wave in pairwise(waves)}
    return [_helm_release(settings, app, sorted(earlier.get(_wave(app), []))) for app in charts]


def _flux_files(settings: dict, members: dict, charts: dict[str, dict], autoscaled: dict) -> dict[str, dict]:
    """GitRepository and HelmRepositories, root and layer Kustomizations, the charts as HelmReleases."""
    files: dict[str, dict] = {}
    name, base = settings["name"], settings["path"]
    chart_dir = f"{FLUX_DIR}/{CHARTS}"
    previous = None
    for layer, units in members.items():
        for release in _chart_releases(settings, [charts[c] for c in map(_chart_name, units) if c]):
            files[f"{chart_dir}/{release['metadata']['name']}/{_file_name(release)}"] = release
            files[f"{chart_dir}/{release['metadata']['name']}/{KUSTOMIZATION}"] = _kustomization([_file_name(release)])
        files[f"{FLUX_DIR}/layers/{layer}/{KUSTOMIZATION}"] = _omit_replicas(
            _kustomization(_layer_resources(units, chart_dir)), autoscaled[layer]
        )
        kustomization = _flux_kustomization(settings, f"{name}-{layer}", f"{base}/{FLUX_DIR}/layers/{layer}", previous)
        files[f"{FLUX_DIR}/{_file_name(kustomization)}"] = kustomization
        previous = f"{name}-{layer}"
    if charts:
        files[f"{chart_dir}/{KUSTOMIZATION}"] = _kustomization(sorted(charts))
    # Sources with the GitRepository, applied by the root Kustomization: every layer's releases find them.
    repositories = sorted({app["spec"]["source"]["repoURL"] for app in charts.values()})
    root = _flux_kustomization(settings, name, f"{base}/{FLUX_DIR}", None)
    repository = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": _metadata(name, settings["flux_namespace"]),
        "spec": {
            "interval": settings["flux_source_interval"],
            "url": settings["repo_url"],
            "ref": _flux_ref(settings["revision"]),
        },
    }
    for obj in [root, repository, *(_helm_repository(settings, url) for url in repositories)]:
        files[f"{FLUX_DIR}/{_file_name(obj)}"] = obj
    return files


def _top_kustomization(files: dict[str, dict], directory: str) -> dict:
    """The kustomization of argocd/ or flux/: the objects written directly in it."""
    return _kustomization(sorted(PurePosixPath(p).name for p in files if str(PurePosixPath(p).parent) == directory))


def gitops_files(rendered: dict[str, dict], settings: dict) -> dict[str, dict]:
    """Path (relative to the render directory) -> object, for every GitOps file of the environment."""
    directories = _directories(rendered)
    objects_by_dir = {d: [rendered[f"{d}/{n}"] for n in names] for d, names in directories.items()}
    chart_dirs = {d: objs for d, objs in objects_by_dir.items() if any(_is_chart(obj) for obj in objs)}
    chart_dir, charts = _chart_units(chart_dirs)
    plain_dirs = [d for d in objects_by_dir if d not in chart_dirs]
    settings = {**settings, "chart_dir": chart_dir}
    members = _layer_members(settings["layers"], plain_dirs, sorted(charts))
    files = {f"{d}/{KUSTOMIZATION}": _kustomization(names) for d, names in directories.items()}
    plain = [obj for d in plain_dirs for obj in objects_by_dir[d]]
    autoscaled = {
        layer: _autoscaled([obj for unit in units if not _chart_name(unit) for obj in objects_by_dir[unit]])
        for layer, units in members.items()
    }
    files.update(_argocd_files(settings, members, plain, charts, autoscaled))
    files.update(_flux_files(settings, members, charts, autoscaled))
    for directory in (ARGOCD_DIR, FLUX_DIR):
        files[f"{directory}/{KUSTOMIZATION}"] = _top_kustomization(files, directory)
    return dict(sorted(files.items()))


# The marks Argo CD and Flux leave on what they sync: (controller, metadata field, key). Not
# app.kubernetes.io/instance: Helm and the service chart set it on every object, so it is a mark only
# where it differs from what the chart sets (see gitops_synced's release).
GITOPS_MARKS = (
    ("Argo CD", "annotations", "argocd.argoproj.io/tracking-id"),  # annotation tracking, the default since Argo CD 3.0
    ("Argo CD", "labels", "argocd.argoproj.io/instance"),  # label tracking under the key Argo CD's docs suggest
    ("Flux", "labels", "kustomize.toolkit.fluxcd.io/name"),  # kustomize-controller
    ("Flux", "labels", "helm.toolkit.fluxcd.io/name"),  # helm-controller
)


INSTANCE_LABEL = "app.kubernetes.io/instance"


def _gitops_mark(metadata: dict, release: str | None) -> str | None:
    """'<controller> (<label or annotation> key=value)' for the first GitOps mark found, else None."""
    for controller, field, key in GITOPS_MARKS:
        value = (metadata.get(field) or {}).get(key)
        if value is not None:
            return f"{controller} ({field.removesuffix('s')} {key}={value})"
    # Argo CD's label tracking under its old default key writes the Application's name over the chart's.
    value = (metadata.get("labels") or {}).get(INSTANCE_LABEL)
    if release is not None and value is not None and value != release:
        return f"Argo CD (label {INSTANCE_LABEL}={value}, not {release} as the chart sets it: label tracking)"
    return None


def gitops_synced(objects: list[dict], release: str | None = None) -> list[str]:
    """'<Kind> <namespace>/<name> is synced by <controller> (<mark>)' for each live object Argo CD or Flux syncs.

    release: the Helm release name, which the chart gives app.kubernetes.io/instance; any other value there is
    Argo CD's.
    """
    synced = []
    for obj in objects:
        metadata = obj.get("metadata") or {}
        if mark := _gitops_mark(metadata, release):
            name = "/".join(part for part in (metadata.get("namespace"), metadata.get("name")) if part)
            synced.append(f"{obj.get('kind')} {name} is synced by {mark}")
    return synced


class FilterModule:
    """sre.platform GitOps filters."""

    def filters(self) -> dict:
        return {"gitops_files": gitops_files, "gitops_synced": gitops_synced}
