"""Rendered manifests of each inventory, shared by the render suites."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness.ansible import run_playbook
from tests.harness.manifests import load_manifests

INVENTORIES = ["local", "aws/prod", "gcp/prod"]


# What an earlier render of the same directory could have left: an object the
# platform no longer has, a whole component gone, and a file that is not a manifest.
LEFTOVERS = {
    ".sre-platform-render": "Written by sre.platform playbooks/render.yml\n",
    "storage/configmap-default-retired.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: retired}\n",
    "retired-component/service-default-gone.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: gone}\n",
    "argocd/layers/retired/kustomization.yaml": "resources: [application-argocd-retired.yaml]\n",
}
KEPT = {"NOTES.txt": "not YAML: render.yml never removes it\n"}
MARK = ".sre-platform-render"


def plant(target: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text(text)


def render(inventory: str, target: Path) -> list[tuple[Path, dict]]:
    plant(target, {**LEFTOVERS, **KEPT})
    run = run_playbook(
        "playbooks/render.yml", inventory=f"inventories/{inventory}", extra_vars={"render_dir": str(target)}
    )
    assert run.returncode == 0, run.output
    objects = load_manifests(target)
    assert objects, f"render.yml -i inventories/{inventory} wrote no manifest into {target}"
    return objects


@pytest.fixture(scope="session")
def render_once(tmp_path_factory):
    """Render each inventory once per session: inventory -> (directory, objects)."""
    cache: dict[str, tuple[Path, list[tuple[Path, dict]]]] = {}

    def get(inventory: str) -> tuple[Path, list[tuple[Path, dict]]]:
        if inventory not in cache:
            target = tmp_path_factory.mktemp(inventory.replace("/", "-"))
            cache[inventory] = (target, render(inventory, target))
        return cache[inventory]

    return get


@pytest.fixture(scope="session", params=INVENTORIES)
def rendered(request, render_once) -> tuple[str, Path, list[tuple[Path, dict]]]:
    directory, objects = render_once(request.param)
    return request.param, directory, objects


@pytest.fixture(scope="session")
def local_objects(render_once) -> list[dict]:
    """Objects of the local (kind) inventory; copy before changing one."""
    return [obj for _, obj in render_once("local")[1]]


@pytest.fixture(scope="session")
def cloud_objects(render_once) -> list[dict]:
    """Objects of the gcp/prod inventory; copy before changing one."""
    return [obj for _, obj in render_once("gcp/prod")[1]]
