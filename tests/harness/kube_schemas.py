"""Validate Kubernetes objects against real schemas, offline.

Built-in kinds go through the OpenAPI schemas bundled with kubernetes-validate
(strict: unknown fields are errors), for the oldest Kubernetes the project
supports and the newest bundled one. Custom resources go through the CRD JSON
Schemas in $SRE_PLATFORM_SCHEMAS (see ../shared/schemas/SOURCES.md). An object
that neither knows is an error, so a removed apiVersion cannot pass silently.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import jsonschema
import kubernetes_validate
from kubernetes_validate.utils import latest_version

from tests.harness.helm import REPO_ROOT
from tests.harness.policies import describe

OLDEST_KUBERNETES = "1.29.0"
# Schemas of kinds the shared catalogue lacks (files/schemas/README.md).
PROJECT_SCHEMAS = REPO_ROOT / "files" / "schemas"
KUBERNETES_VERSIONS = (OLDEST_KUBERNETES, latest_version())


class MissingSchemas(RuntimeError):
    """The CRD schema directory is not there."""


def crd_schemas_dir() -> Path:
    """$SRE_PLATFORM_SCHEMAS, else ../shared/schemas beside the clone."""
    directory = Path(os.environ.get("SRE_PLATFORM_SCHEMAS") or REPO_ROOT.parent / "shared" / "schemas")
    if not directory.is_dir():
        raise MissingSchemas(
            f"CRD schemas not found at {directory}: set SRE_PLATFORM_SCHEMAS to a directory laid out as "
            "<group>/<kind>_<version>.json (datreeio/CRDs-catalog layout)"
        )
    return directory


def crd_schema_path(api_version: str, kind: str) -> Path | None:
    """Path of the CRD schema for ``api_version``/``kind``, or None for core groups."""
    if "/" not in api_version:
        return None
    group, version = api_version.split("/", 1)
    if "." not in group or group.endswith(".k8s.io"):
        return None
    name = f"{group}/{kind.lower()}_{version}.json"
    shared = crd_schemas_dir() / name
    project = PROJECT_SCHEMAS / name
    return project if not shared.exists() and project.exists() else shared


@functools.cache
def _crd_validator(path: Path) -> jsonschema.protocols.Validator:
    schema = json.loads(path.read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def _crd_errors(obj: dict, path: Path) -> list[str]:
    if not path.exists():
        return [f"{describe(obj)}: no schema for {obj['apiVersion']} {obj['kind']} (looked for {path})"]
    return [
        f"{describe(obj)}: {'.'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in _crd_validator(path).iter_errors(obj)
    ]


def _builtin_errors(obj: dict, versions: tuple[str, ...]) -> list[str]:
    errors = []
    for version in versions:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError as exc:
            errors.append(f"{describe(obj)}: {exc.message}")
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(map(str, exc.absolute_path)) or "<root>"
            errors.append(f"{describe(obj)}: Kubernetes {version}: {where}: {exc.message}")
    return errors


def schema_errors(obj: dict, versions: tuple[str, ...] = KUBERNETES_VERSIONS) -> list[str]:
    """Every schema violation of ``obj`` as a readable line; empty when it is valid."""
    if not obj.get("apiVersion") or not obj.get("kind"):
        return [f"{describe(obj)}: apiVersion and kind are required"]
    path = crd_schema_path(obj["apiVersion"], obj["kind"])
    if path is not None:
        return _crd_errors(obj, path)
    return _builtin_errors(obj, versions)
