"""Rendered manifests of each inventory, shared by the render suites."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness.ansible import run_playbook
from tests.harness.manifests import KEPT, LEFTOVERS, load_manifests, plant

INVENTORIES = ["local", "aws/prod", "azure/prod", "gcp/prod"]


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


def _objects(render_once, inventory: str) -> list[dict]:
    return [obj for _, obj in render_once(inventory)[1]]


@pytest.fixture(scope="session")
def local_objects(render_once) -> list[dict]:
    """Objects of the local (kind) inventory; copy before changing one."""
    return _objects(render_once, "local")


@pytest.fixture(scope="session")
def cloud_objects(render_once) -> list[dict]:
    """Objects of the gcp/prod inventory; copy before changing one."""
    return _objects(render_once, "gcp/prod")


@pytest.fixture(scope="session")
def aws_objects(render_once) -> list[dict]:
    """Objects of the aws/prod (EKS) inventory; copy before changing one."""
    return _objects(render_once, "aws/prod")


@pytest.fixture(scope="session")
def azure_objects(render_once) -> list[dict]:
    """Objects of the azure/prod (AKS) inventory; copy before changing one."""
    return _objects(render_once, "azure/prod")
