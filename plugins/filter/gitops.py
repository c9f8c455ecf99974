"""The GitOps layout of a rendered environment: Argo CD and Flux objects, kustomizations.

``render.yml`` writes one file per object into ``<render_dir>/<component>/`` and
the chart Applications into ``<render_dir>/argocd/charts/``. ``gitops_files``
turns that tree into a GitOps repository path for one environment:

- a ``kustomization.yaml`` in every directory of objects, listing exactly its files;
- layers (``settings.layers``, in sync order), each a ``kustomization.yaml`` per tool
  under ``argocd/layers/<layer>/`` and ``flux/layers/<layer>/`` that names the
  directories of the layer (the pseudo component ``charts`` stands for the upstream
  charts: Argo CD Applications for Argo CD, HelmReleases for Flux);
- Argo CD: the AppProjects, one Application per layer with a sync wave, and the
  root Application (app of apps) that manages ``argocd/`` itself;
- Flux: a GitRepository, one Kustomization per layer chained with ``dependsOn``,
  a root Kustomization for ``flux/`` itself, a HelmRepository per chart
  repository and a HelmRelease per chart Application, values carried over.

The result maps a path relative to the render directory to the object to write.
"""

from __future__ import annotations

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


def _layer_members(layers: list[dict], directories: dict[str, list[str]], chart_dirs: set[str]) -> dict[str, list]:
    """Layer -> the components it delivers; every rendered directory belongs to exactly one layer."""
    owner: dict[str, str] = {}
    for layer in layers:
        for component in layer["components"]:
            if component in owner:
                raise AnsibleFilterError(f"gitops: '{component}' is in layers {owner[component]} and {layer['name']}")
            owner[component] = layer["name"]
    plain = [d for d in directories if d not in chart_dirs]
    orphans = [d for d in plain if d not in owner] + ([CHARTS] if chart_dirs and CHARTS not in owner else [])
    if orphans:
        raise AnsibleFilterError(f"gitops: rendered directories in no layer: {orphans}; add them to gitops_layers")
    present = set(plain) | ({CHARTS} if chart_dirs else set())
    members = {layer["name"]: [c for c in layer["components"] if c in present] for layer in layers}
    return {name: components for name, components in members.items() if components}


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


def _argocd_files(settings: dict, members: dict, objects_by_dir: dict, charts: list[dict]) -> dict[str, dict]:
    """AppProjects, the layer Applications and the root Application, with their layer kustomizations."""
    files: dict[str, dict] = {}
    name, base = settings["name"], settings["path"]
    chart_dir = settings["chart_dir"]
    for wave, (layer, components) in enumerate(members.items()):
        resources = [f"../../../{c}" if c != CHARTS else f"../../../{chart_dir}" for c in components]
        files[f"{ARGOCD_DIR}/layers/{layer}/{KUSTOMIZATION}"] = _kustomization(resources)
        app = _argocd_application(settings, f"{name}-{layer}", f"{base}/{ARGOCD_DIR}/layers/{layer}", wave)
        files[f"{ARGOCD_DIR}/{_file_name(app)}"] = app
    root = _argocd_application(settings, name, f"{base}/{ARGOCD_DIR}", -2)
    files[f"{ARGOCD_DIR}/{_file_name(root)}"] = root
    plain = [obj for directory, objs in objects_by_dir.items() if directory != chart_dir for obj in objs]
    own_namespaces = _namespaces(plain) | {settings["argocd_namespace"]}
    projects = [
        _app_project(
            settings,
            name,
            "Manifests rendered by sre.platform",
            [settings["repo_url"]],
            own_namespaces,
            _cluster_kinds(plain),
        ),
    ]
    if charts:
        chart_project = charts[0]["spec"]["project"]
        projects.append(
            _app_project(
                settings,
                chart_project,
                "Upstream charts of sre.platform (operators install CRDs, RBAC and webhooks cluster-wide)",
                [app["spec"]["source"]["repoURL"] for app in charts],
                {app["spec"]["destination"]["namespace"] for app in charts},
                [{"group": "*", "kind": "*"}],
            )
        )
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
    """HelmRepositories and HelmReleases; each release waits for the charts of the previous sync wave."""
    waves = sorted({_wave(app) for app in charts})
    earlier = {wave: [a["metadata"]["name"] for a in charts if _wave(a) == prev] for prev, wave in pairwise(waves)}
    repositories = {
        url: _helm_repository(settings, url) for url in sorted({a["spec"]["source"]["repoURL"] for a in charts})
    }
    releases = [_helm_release(settings, app, sorted(earlier.get(_wave(app), []))) for app in charts]
    return [*repositories.values(), *releases]


def _flux_files(settings: dict, members: dict, charts: list[dict]) -> dict[str, dict]:
    """GitRepository, root and layer Kustomizations, and the charts as HelmReleases."""
    files: dict[str, dict] = {}
    name, base = settings["name"], settings["path"]
    chart_objects = _chart_releases(settings, charts)
    for obj in chart_objects:
        files[f"{FLUX_DIR}/{CHARTS}/{_file_name(obj)}"] = obj
    if chart_objects:
        files[f"{FLUX_DIR}/{CHARTS}/{KUSTOMIZATION}"] = _kustomization(sorted(_file_name(o) for o in chart_objects))
    previous = None
    for layer, components in members.items():
        resources = [f"../../../{c}" if c != CHARTS else f"../../{CHARTS}" for c in components]
        files[f"{FLUX_DIR}/layers/{layer}/{KUSTOMIZATION}"] = _kustomization(resources)
        kustomization = _flux_kustomization(settings, f"{name}-{layer}", f"{base}/{FLUX_DIR}/layers/{layer}", previous)
        files[f"{FLUX_DIR}/{_file_name(kustomization)}"] = kustomization
        previous = f"{name}-{layer}"
    files[f"{FLUX_DIR}/{_file_name(_flux_kustomization(settings, name, f'{base}/{FLUX_DIR}', None))}"] = (
        _flux_kustomization(settings, name, f"{base}/{FLUX_DIR}", None)
    )
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
    files[f"{FLUX_DIR}/{_file_name(repository)}"] = repository
    return files


def _top_kustomization(files: dict[str, dict], directory: str) -> dict:
    """The kustomization of argocd/ or flux/: the objects written directly in it."""
    return _kustomization(sorted(PurePosixPath(p).name for p in files if str(PurePosixPath(p).parent) == directory))


def gitops_files(rendered: dict[str, dict], settings: dict) -> dict[str, dict]:
    """Path (relative to the render directory) -> object, for every GitOps file of the environment."""
    directories = _directories(rendered)
    objects_by_dir = {d: [rendered[f"{d}/{n}"] for n in names] for d, names in directories.items()}
    charts = [obj for objs in objects_by_dir.values() for obj in objs if _is_chart(obj)]
    chart_dirs = {d for d, objs in objects_by_dir.items() if any(_is_chart(o) for o in objs)}
    if len(chart_dirs) > 1 or len({app["spec"]["project"] for app in charts}) > 1:
        raise AnsibleFilterError(
            f"gitops: chart Applications must share one directory and project: {sorted(chart_dirs)}"
        )
    settings = {**settings, "chart_dir": next(iter(chart_dirs), "")}
    members = _layer_members(settings["layers"], directories, chart_dirs)
    files = {f"{d}/{KUSTOMIZATION}": _kustomization(names) for d, names in directories.items()}
    files.update(_argocd_files(settings, members, objects_by_dir, charts))
    files.update(_flux_files(settings, members, charts))
    for directory in (ARGOCD_DIR, FLUX_DIR):
        files[f"{directory}/{KUSTOMIZATION}"] = _top_kustomization(files, directory)
    return dict(sorted(files.items()))


class FilterModule:
    """sre.platform GitOps filters."""

    def filters(self) -> dict:
        return {"gitops_files": gitops_files}
