"""scripts/crd_schemas.py reproduces the strict schemas from a CRD."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import yaml

from tests.harness.ansible import ROOT

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.io"},
    "spec": {
        "group": "example.io",
        "names": {"kind": "Widget", "plural": "widgets"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "apiVersion": {"type": "string"},
                            "kind": {"type": "string"},
                            "metadata": {"type": "object", "properties": {"name": {"type": "string"}}},
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "size": {"type": "integer"},
                                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                                },
                            },
                        },
                    }
                },
            }
        ],
    },
}


def test_converted_schema_is_strict_where_upstream_is_closed(tmp_path):
    source = tmp_path / "crd.yaml"
    source.write_text(yaml.safe_dump(CRD))
    subprocess.run(
        [sys.executable, str(ROOT / "scripts/crd_schemas.py"), str(tmp_path / "out"), str(source)], check=True
    )
    schema = json.loads((tmp_path / "out/example.io/widget_v1.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    good = {"apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"name": "w", "labels": {"a": "b"}}}
    good["spec"] = {"size": 3, "extra": {"anything": 1}}
    assert list(validator.iter_errors(good)) == []
    bad = {**good, "spec": {"size": 3, "typo": 1}}
    assert [e.message for e in validator.iter_errors(bad)] == [
        "Additional properties are not allowed ('typo' was unexpected)"
    ]
