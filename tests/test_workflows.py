"""The GitHub Actions workflows keep their supply chain in hand (no runner here: the
files are read). Every workflow: actions pinned by a full commit SHA with the version in
a comment, a read-only token at the top, each write permission only on a job that runs
the step needing it, a concurrency group and job timeouts, no event text spliced into
shell. images.yml: one matrix entry per service directory, every platform built, push
only from a v* tag after the scan, and the pushed digest signed and its SBOM attested."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
IMAGES = REPO_ROOT / ".github" / "workflows" / "images.yml"
SERVICE_NAMES = sorted(path.parent.name for path in (REPO_ROOT / "services").glob("*/requirements.txt"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
# Which step each write permission is for; a job holding one must run that step.
WRITE_NEEDS = {
    "packages": "docker/login-action",
    "id-token": "sigstore/cosign-installer",
    "security-events": "github/codeql-action/upload-sarif",
}
# Event fields a pull request's author controls: never expanded inside a run: script.
UNTRUSTED = re.compile(r"\$\{\{[^}]*github\.(event\.|head_ref)")


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _triggers(workflow: dict) -> dict:
    # YAML 1.1 reads an unquoted `on` key as true.
    return workflow.get("on", workflow.get(True))


def _steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def _action(step: dict) -> str:
    return step.get("uses", "").split("@")[0]


def _with_action(job: dict, action: str) -> list[dict]:
    return [step for step in _steps(job) if _action(step) == action]


@pytest.fixture(params=WORKFLOWS, ids=lambda path: path.name)
def workflow_path(request) -> Path:
    return request.param


def test_there_are_workflows():
    assert IMAGES in WORKFLOWS and len(WORKFLOWS) >= 2


def test_every_action_is_pinned_by_commit_sha_with_its_version(workflow_path):
    lines = [line for line in workflow_path.read_text().splitlines() if re.match(r"\s*(- )?uses:", line)]
    assert lines
    for line in lines:
        reference, _, comment = line.split("uses:", 1)[1].partition("#")
        assert PINNED.fullmatch(reference.strip()), f"{workflow_path.name}: not pinned by SHA: {line.strip()}"
        assert re.fullmatch(r"\s*v\d+(\.\d+)*\s*", comment), f"{workflow_path.name}: no version comment: {line.strip()}"


def test_the_token_is_read_only_at_workflow_level(workflow_path):
    assert _load(workflow_path)["permissions"] == {"contents": "read"}


def test_write_permissions_only_where_a_step_needs_them(workflow_path):
    for name, job in _load(workflow_path)["jobs"].items():
        for scope, level in job.get("permissions", {}).items():
            if level != "write":
                continue
            assert scope in WRITE_NEEDS, f"{workflow_path.name}: job {name} writes {scope}, which nothing here needs"
            assert _with_action(job, WRITE_NEEDS[scope]), f"{workflow_path.name}: job {name} writes {scope} unused"


def test_concurrency_and_timeouts(workflow_path):
    workflow = _load(workflow_path)
    assert "${{ github.ref }}" in workflow["concurrency"]["group"]
    for name, job in workflow["jobs"].items():
        assert job.get("timeout-minutes", 0) > 0, f"{workflow_path.name}: job {name} has no timeout-minutes"


def test_no_event_text_is_expanded_in_a_shell(workflow_path):
    for name, job in _load(workflow_path)["jobs"].items():
        for step in _steps(job):
            assert not UNTRUSTED.search(step.get("run", "")), f"{workflow_path.name}: job {name}: {step['run']}"


def test_checkout_keeps_no_credentials(workflow_path):
    for job in _load(workflow_path)["jobs"].values():
        for step in _with_action(job, "actions/checkout"):
            # The token would stay in .git/config for every later step to read.
            assert step.get("with", {}).get("persist-credentials") is False, "checkout: set persist-credentials: false"


# images.yml


def _images() -> dict:
    return _load(IMAGES)


def _builds(job: dict) -> list[dict]:
    return [step["with"] for step in _with_action(job, "docker/build-push-action")]


def _pushes(job: dict) -> bool:
    return any(build.get("push") is True for build in _builds(job))


def test_images_run_on_pull_requests_and_release_tags_only():
    triggers = _triggers(_images())
    assert set(triggers) == {"pull_request", "push"}
    assert triggers["push"] == {"tags": ["v*"]}


@pytest.mark.parametrize("job", ["build", "publish"])
def test_matrix_is_the_service_directories(job):
    assert sorted(_images()["jobs"][job]["strategy"]["matrix"]["service"]) == SERVICE_NAMES


def test_every_build_uses_the_one_dockerfile_for_its_service():
    for job in _images()["jobs"].values():
        for build in _builds(job):
            assert (build["context"], build["file"]) == ("services", "services/Dockerfile")
            assert build["build-args"] == "SERVICE=${{ matrix.service }}"
            assert build["cache-from"] == "type=gha,scope=${{ matrix.service }}"
    assert (REPO_ROOT / "services" / "Dockerfile").exists()


def test_both_platforms_are_built_and_published():
    workflow = _images()
    assert set(workflow["env"]["PLATFORMS"].split(",")) == {"linux/amd64", "linux/arm64"}
    for name in ("build", "publish"):
        job = workflow["jobs"][name]
        assert _with_action(job, "docker/setup-qemu-action") and _with_action(job, "docker/setup-buildx-action")
        assert any(build["platforms"] == "${{ env.PLATFORMS }}" for build in _builds(job))


def test_only_the_tag_job_pushes_and_only_after_the_scan():
    jobs = _images()["jobs"]
    for name, job in jobs.items():
        gated = "startsWith(github.ref, 'refs/tags/v')" in job.get("if", "")
        assert _pushes(job) == gated, f"job {name}: pushes={_pushes(job)}, tag-only={gated}"
        assert gated == bool(_with_action(job, "docker/login-action")), f"job {name} logs in without pushing"
    assert not _pushes(jobs["build"]) and jobs["publish"]["needs"] == "build"


def test_scan_fails_on_fixed_critical_and_high_and_reports_to_code_scanning():
    build = _images()["jobs"]["build"]
    scans = [step["with"] for step in _with_action(build, "aquasecurity/trivy-action")]
    gate = [scan for scan in scans if scan.get("exit-code") == "1"]
    assert gate == [scan for scan in scans if scan.get("ignore-unfixed") is True]
    assert gate and gate[0]["severity"] == "CRITICAL,HIGH"
    sarif = [scan["output"] for scan in scans if scan.get("format") == "sarif"]
    uploads = [step["with"]["sarif_file"] for step in _with_action(build, "github/codeql-action/upload-sarif")]
    assert sarif and uploads == sarif
    loaded = [image["tags"] for image in _builds(build) if image.get("load") is True]
    assert all(scan["image-ref"] in loaded for scan in scans)


def test_release_has_sbom_provenance_signature_and_sbom_attestation():
    publish = _images()["jobs"]["publish"]
    build = next(build for build in _builds(publish) if build.get("push") is True)
    assert build["sbom"] is True and build["provenance"] == "mode=max"
    assert build["tags"] == "${{ steps.meta.outputs.tags }}"
    meta = _with_action(publish, "docker/metadata-action")[0]["with"]
    assert "type=semver" in meta["tags"] and "type=sha" in meta["tags"]
    assert meta["images"] == "${{ steps.image.outputs.name }}"
    image = next(step for step in _steps(publish) if step.get("id") == "image")
    assert image["env"]["IMAGE"] == "ghcr.io/${{ github.repository }}/${{ matrix.service }}"
    runs = " ".join(step.get("run", "") for step in _steps(publish))
    assert "cosign sign --yes" in runs and "cosign attest --yes --type spdxjson" in runs
    digest = "${{ steps.image.outputs.name }}@${{ steps.push.outputs.digest }}"
    signing = [step for step in _steps(publish) if "cosign " in step.get("run", "")]
    assert signing and all(step["env"]["IMAGE"] == digest for step in signing)
    assert _with_action(publish, "anchore/sbom-action")[0]["with"]["image"] == digest
    installer = _steps(publish).index(_with_action(publish, "sigstore/cosign-installer")[0])
    assert installer < _steps(publish).index(signing[0])
