"""Reading rendered manifests, and the one check the schema validators miss.

Schema validation lives in ``tests.harness.kube_schemas``, checkov in
``tests.harness.checkov`` and the HA / security policies in
``tests.harness.policies``; this module loads a render directory, plants what an
earlier render would have left in one, and reports
apiVersions that a Kubernetes release stopped serving.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.harness.policies import describe

# The mark render.yml leaves in a directory it wrote (roles/gitops/vars/main.yml).
MARK = ".sre-platform-render"

# What an earlier render of the same directory could have left: an object the
# platform no longer has, a whole component gone, and a file that is not a manifest.
LEFTOVERS = {
    MARK: "Written by sre.platform playbooks/render.yml\n",
    "storage/configmap-default-retired.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: retired}\n",
    "retired-component/service-default-gone.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: gone}\n",
    "argocd/layers/retired/kustomization.yaml": "resources: [application-argocd-retired.yaml]\n",
}
KEPT = {"NOTES.txt": "not YAML: render.yml never removes it\n"}


def plant(target: Path, files: dict[str, str]) -> None:
    """Write files (path relative to target -> text) into a render directory."""
    for name, text in files.items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text(text)


# apiVersion -> Kubernetes release that stopped serving it (kind-independent).
REMOVED_API_VERSIONS = {
    "extensions/v1beta1": "1.22",
    "apps/v1beta1": "1.16",
    "apps/v1beta2": "1.16",
    "networking.k8s.io/v1beta1": "1.22",
    "policy/v1beta1": "1.25",
    "batch/v1beta1": "1.25",
    "autoscaling/v2beta1": "1.25",
    "autoscaling/v2beta2": "1.26",
    "rbac.authorization.k8s.io/v1beta1": "1.22",
    "admissionregistration.k8s.io/v1beta1": "1.22",
    "apiextensions.k8s.io/v1beta1": "1.22",
    "storage.k8s.io/v1beta1": "1.27",
    "discovery.k8s.io/v1beta1": "1.25",
    "flowcontrol.apiserver.k8s.io/v1beta1": "1.26",
    "flowcontrol.apiserver.k8s.io/v1beta2": "1.29",
    "scheduling.k8s.io/v1beta1": "1.22",
    "coordination.k8s.io/v1beta1": "1.22",
    "certificates.k8s.io/v1beta1": "1.22",
}


# kustomize build instructions: part of a rendered tree, never sent to a cluster.
KUSTOMIZE_FILES = {"kustomization.yaml", "kustomization.yml"}


def load_manifests(directory: Path) -> list[tuple[Path, dict]]:
    """Every Kubernetes object of every YAML file below ``directory``, with its file."""
    objects = []
    for path in sorted(directory.rglob("*.yaml")) + sorted(directory.rglob("*.yml")):
        if path.name in KUSTOMIZE_FILES:
            continue
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                objects.append((path, document))
    return objects


def removed_api_errors(obj: dict) -> list[str]:
    """The apiVersion of ``obj`` is no longer served by current Kubernetes."""
    removed_in = REMOVED_API_VERSIONS.get(obj.get("apiVersion", ""))
    if removed_in:
        return [f"{describe(obj)}: {obj['apiVersion']} is no longer served since Kubernetes {removed_in}"]
    return []
