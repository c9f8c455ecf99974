"""Offline validation of Kubernetes manifests: the checks the render suite runs.

- ``schema_errors``: strict Kubernetes OpenAPI validation (kubernetes-validate)
  for built-in kinds, JSON Schema from the CRD catalogue for custom kinds;
- ``removed_api_errors``: apiVersions the validators only warn about;
- ``run_checkov``: checkov's Kubernetes checks with an explicit skip list.

Each returns a list of human-readable problems (empty when the object is fine)
so a test can show every problem at once.
"""

from __future__ import annotations

import json
import os
import subprocess
from functools import cache
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]

# Oldest supported and newest bundled Kubernetes versions.
K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())

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

# checkov Kubernetes checks the platform skips on purpose; each says why.
CHECKOV_SKIPS = {
    # Images are pinned by tag in values and by digest at release time; the
    # local kind target loads images built on the laptop, which have no digest.
    "CKV_K8S_43": "image digests are set at release time, not in rendered defaults",
    # Upstream charts (MetalLB, CloudNativePG, kube-prometheus-stack) live in
    # their own namespaces by design; an Argo CD Application's own namespace is argocd.
    "CKV_K8S_21": "the default namespace is never used; checkov flags objects whose namespace comes from the chart",
}


class SchemasNotFound(RuntimeError):
    """The CRD JSON schemas are not where SRE_PLATFORM_SCHEMAS says."""


def schemas_dir() -> Path:
    """``$SRE_PLATFORM_SCHEMAS`` or ``../shared/schemas`` beside the clone."""
    configured = os.environ.get("SRE_PLATFORM_SCHEMAS")
    path = Path(configured) if configured else ROOT.parent / "shared" / "schemas"
    if not path.is_dir():
        raise SchemasNotFound(
            f"CRD schemas not found at {path}: set SRE_PLATFORM_SCHEMAS to a directory of "
            "<group>/<kind>_<version>.json files (scripts/crd_schemas.py makes them from upstream CRD YAML)"
        )
    return path


def load_manifests(directory: Path) -> list[tuple[Path, dict]]:
    """Every object of every YAML file below ``directory``, with its file."""
    objects = []
    for path in sorted(directory.rglob("*.yaml")) + sorted(directory.rglob("*.yml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                objects.append((path, document))
    return objects


def describe(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace", "-")
    return f"{obj.get('apiVersion')}/{obj.get('kind')} {namespace}/{meta.get('name')}"


@cache
def _crd_schema(group: str, kind: str, version: str) -> dict | None:
    path = schemas_dir() / group / f"{kind.lower()}_{version}.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())


def _crd_errors(obj: dict) -> list[str]:
    group, _, version = obj["apiVersion"].rpartition("/")
    schema = _crd_schema(group, obj["kind"], version)
    if schema is None:
        return [f"{describe(obj)}: no schema for this kind in {schemas_dir()} or in Kubernetes {K8S_VERSIONS}"]
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{describe(obj)}: {'.'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in validator.iter_errors(obj)
    ]


def schema_errors(obj: dict) -> list[str]:
    """Strict schema problems of one object, for every Kubernetes version in K8S_VERSIONS."""
    if "apiVersion" not in obj or "kind" not in obj:
        return [f"{describe(obj)}: apiVersion and kind are required"]
    problems = []
    for version in K8S_VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            if "/" not in obj["apiVersion"]:
                problems.append(f"{describe(obj)}: unknown core kind in Kubernetes {version}")
                continue
            return problems + _crd_errors(obj)
        except kubernetes_validate.ValidationError as exc:
            # kubernetes-validate stops at the first problem of each version.
            path = ".".join(str(p) for p in exc.path) or "<root>"
            problems.append(f"{describe(obj)} (Kubernetes {version}): {path}: {exc.message}")
    return problems


def removed_api_errors(obj: dict) -> list[str]:
    removed_in = REMOVED_API_VERSIONS.get(obj.get("apiVersion", ""))
    if removed_in:
        return [f"{describe(obj)}: {obj['apiVersion']} is no longer served since Kubernetes {removed_in}"]
    return []


def run_checkov(directory: Path) -> list[str]:
    """Failed checkov Kubernetes checks below ``directory`` (skips in CHECKOV_SKIPS)."""
    checkov = os.environ.get("CHECKOV_BIN") or str(ROOT / ".venv-checkov" / "bin" / "checkov")
    if not Path(checkov).exists():
        raise FileNotFoundError(f"checkov not found at {checkov}: run ./scripts/test (it builds .venv-checkov)")
    completed = subprocess.run(
        [
            checkov,
            "-d",
            str(directory),
            "--framework",
            "kubernetes",
            "--skip-download",
            "--compact",
            "--quiet",
            "--output",
            "json",
            "--skip-check",
            ",".join(CHECKOV_SKIPS),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if completed.returncode not in (0, 1):
        raise RuntimeError(f"checkov failed to run ({completed.returncode}): {completed.stderr[-2000:]}")
    if not completed.stdout.strip():
        return []
    reports = json.loads(completed.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    return [
        f"{check['check_id']} {check['check_name']}: {check['file_path']} ({check['resource']})"
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    ]
