"""checkov on rendered Kubernetes manifests, offline, with one justified skip list.

checkov pins its own dependencies, so it lives in .venv-checkov; scripts/test
exports its path as $CHECKOV_BIN.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.harness.helm import REPO_ROOT
from tests.harness.servers import MissingBinary

# Every check skipped for the platform's Kubernetes manifests, with the reason.
KUBERNETES_SKIPS = {
    # Local images are built and loaded into kind, where they have no registry digest;
    # the chart takes image.digest (and a digest per blue/green slot) for registries.
    "CKV_K8S_43": "Image should use digest",
    # IfNotPresent is right for kind-loaded images and for immutable tags or digests;
    # Always would make every pod start depend on the registry.
    "CKV_K8S_15": "Image Pull Policy should be Always",
    # The service contract passes USER_SALT and REDIS_PASSWORD as env from secretKeyRef;
    # files would need a change in every service for no gain against this threat model.
    "CKV_K8S_35": "Prefer using secrets as files over secrets as environment variables",
}


def checkov_binary() -> str:
    """$CHECKOV_BIN, else the project's .venv-checkov."""
    path = os.environ.get("CHECKOV_BIN") or str(REPO_ROOT / ".venv-checkov" / "bin" / "checkov")
    if not Path(path).exists():
        raise MissingBinary(
            f"checkov not found at {path}: run ./scripts/test (it builds .venv-checkov), or "
            "python3 -m venv .venv-checkov && .venv-checkov/bin/pip install -r requirements-checkov.txt"
        )
    return path


def run_checkov(
    directory: Path, skips: dict[str, str] = KUBERNETES_SKIPS, extra_args: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Scan ``directory`` with the Kubernetes framework only (others would reach for the network)."""
    args = [checkov_binary(), "-d", str(directory), "--framework", "kubernetes", "--skip-download"]
    args += ["--compact", "--quiet", "--skip-check", ",".join(sorted(skips)), *extra_args]
    return subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)


def failed_checks(directory: Path, skips: dict[str, str] = KUBERNETES_SKIPS) -> list[tuple[str, str]]:
    """(check id, file path relative to ``directory``) of every failed check, from one scan.

    One scan can hold both compliant files and deliberately broken ones in
    separate subdirectories: checkov takes seconds per run on this machine.
    """
    result = run_checkov(directory, skips, ("--output", "json"))
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"checkov gave no JSON report (exit {result.returncode}): {result.stderr[-2000:]}") from exc
    if report.get("summary", {}).get("parsing_errors"):
        raise RuntimeError(f"checkov could not parse some files in {directory}: {report['summary']}")
    return [(check["check_id"], check["file_path"].lstrip("/")) for check in report["results"]["failed_checks"]]
