#!/usr/bin/env python3
"""Convert CustomResourceDefinition YAML files into the strict JSON schemas the tests use.

The render suite validates custom resources against `<group>/<kind>_<version>.json`
files found in $SRE_PLATFORM_SCHEMAS. To produce them from upstream CRDs (for
example the pinned CloudNativePG, MetalLB, prometheus-operator, Argo CD and Flux
releases):

    scripts/crd_schemas.py OUT_DIR crd1.yaml [crd2.yaml ...]
    export SRE_PLATFORM_SCHEMAS=OUT_DIR

The rule is kubeconform's: each served version's openAPIV3Schema, with
`additionalProperties: false` on every object that declares `properties`
(except those marked x-kubernetes-preserve-unknown-fields), `metadata` relaxed to
a plain object, and the root left open.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml


def python_pattern(pattern: str) -> str:
    """Go accepts `^(?i)x`; Python wants global flags first: `(?i)^x` means the same."""
    if pattern.startswith("^(?i)"):
        return "(?i)^" + pattern[len("^(?i)") :]
    return pattern


def strict(node: object) -> object:
    """Close every object schema that lists its properties."""
    if isinstance(node, dict):
        closed = {key: strict(value) for key, value in node.items()}
        if isinstance(closed.get("pattern"), str):
            closed["pattern"] = python_pattern(closed["pattern"])
        if "properties" in closed and not closed.get("x-kubernetes-preserve-unknown-fields"):
            closed.setdefault("additionalProperties", False)
        return closed
    if isinstance(node, list):
        return [strict(item) for item in node]
    return node


def convert(crd: dict) -> dict[str, dict]:
    """File name -> schema for every version of one CRD."""
    group = crd["spec"]["group"]
    kind = crd["spec"]["names"]["kind"].lower()
    schemas = {}
    for version in crd["spec"]["versions"]:
        schema = strict(version["schema"]["openAPIV3Schema"])
        schema["properties"]["metadata"] = {"type": "object"}
        schema.pop("additionalProperties", None)
        schemas[f"{group}/{kind}_{version['name']}.json"] = schema
    return schemas


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[1])
    for source in argv[2:]:
        for document in yaml.safe_load_all(Path(source).read_text()):
            if not document or document.get("kind") != "CustomResourceDefinition":
                continue
            for name, schema in convert(document).items():
                target = out / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(schema, indent=2) + "\n")
                print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
