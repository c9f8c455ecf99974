"""The cloud_cluster role up to where Terraform and a cloud account are needed.

Terraform is hidden from every run here: a run that got past preflight would
otherwise initialise a real remote backend.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import yaml

from tests.harness.ansible import path_without, run_playbook
from tests.terraform.hcl import ENVS, ROOT, env_dirs, parse

FIXTURES = ROOT / "tests" / "fixtures" / "terraform"
CLOUD_INVENTORIES = ["inventories/aws/prod", "inventories/azure/prod", "inventories/gcp/prod"]
TARGETS = {"aws": "eks", "azure": "aks", "gcp": "gke"}
REGION_VARIABLE = {"aws": "region", "azure": "location", "gcp": "region"}
# Every role after the cluster, switched off: what is left of up.yml is the cluster step.
ONLY_THE_CLUSTER = {
    f"platform_enable_{role}": False for role in ("metallb", "storage", "monitoring", "cloudnative_pg", "redis", "apps")
}


@pytest.mark.parametrize("env", env_dirs(), ids=lambda env: str(env.relative_to(ENVS)))
def test_each_terraform_environment_has_an_inventory_that_matches_it(env):
    cloud, stage = env.parent.name, env.name
    group_vars = ROOT / "inventories" / cloud / stage / "group_vars" / "platform.yml"
    assert group_vars.is_file(), f"no inventory for files/terraform/envs/{cloud}/{stage}"
    settings = yaml.safe_load(group_vars.read_text())
    assert settings["platform_target"] == TARGETS[cloud]
    assert (settings["platform_cloud"], settings["platform_environment"]) == (cloud, stage)
    assert settings["platform_region"] == parse(env / "terraform.tfvars")[REGION_VARIABLE[cloud]]


def without_terraform(tmp_path: Path) -> dict[str, str]:
    return {"PATH": path_without("terraform", tmp_path / "bin")}


def test_up_on_a_cloud_inventory_stops_in_preflight_naming_terraform(tmp_path):
    started = time.monotonic()
    run = run_playbook(
        "playbooks/up.yml", inventory="inventories/gcp/dev", env=without_terraform(tmp_path), json_output=False
    )
    assert run.returncode != 0
    assert "cloud_cluster preflight failed for gcp/dev: 'terraform' is not installed: install Terraform" in run.output
    assert time.monotonic() - started < 60


@pytest.mark.parametrize(
    ("extra_vars", "message"),
    [
        (
            {"cloud_cluster_cloud": "openstack"},
            "cloud_cluster_cloud must be one of aws, azure, gcp (got 'openstack')",
        ),
        (
            {"cloud_cluster_environment": "staging"},
            "no environment 'staging' for aws: {root}/files/terraform/envs/aws/staging must hold terraform.tfvars"
            " and backend.hcl (environments of aws: dev, prod)",
        ),
        ({"cloud_action": "upgrade"}, "cloud_action must be plan, apply or destroy (got 'upgrade')"),
    ],
    ids=["cloud", "environment", "action"],
)
def test_cloud_playbook_rejects_bad_input_saying_what_is_valid(tmp_path, extra_vars, message):
    run = run_playbook(
        "playbooks/cloud.yml",
        inventory="inventories/aws/dev",
        extra_vars=extra_vars,
        env=without_terraform(tmp_path),
        json_output=False,
    )
    assert run.returncode != 0
    assert message.format(root=ROOT) in " ".join(run.output.split())


def test_destroying_prod_needs_explicit_consent(tmp_path):
    run = run_playbook(
        "playbooks/down.yml", inventory="inventories/aws/prod", env=without_terraform(tmp_path), json_output=False
    )
    assert run.returncode != 0
    assert "run again with -e cloud_cluster_confirm_destroy=true" in " ".join(run.output.split())


def test_destroying_dev_goes_on_to_the_tool_check(tmp_path):
    run = run_playbook(
        "playbooks/cloud.yml",
        inventory="inventories/azure/dev",
        extra_vars={"cloud_action": "destroy"},
        env=without_terraform(tmp_path),
        json_output=False,
    )
    assert run.returncode != 0
    assert "confirm_destroy" not in run.output
    assert "cloud_cluster preflight failed for azure/dev: 'terraform' is not installed" in run.output


@pytest.mark.parametrize("inventory", CLOUD_INVENTORIES)
def test_render_of_a_cloud_inventory_runs_no_cluster_step(tmp_path, inventory):
    run = run_playbook(
        "playbooks/render.yml",
        inventory=inventory,
        extra_vars={"render_dir": str(tmp_path / "rendered"), **ONLY_THE_CLUSTER},
        env=without_terraform(tmp_path),
    )
    assert run.returncode == 0, run.output
    cluster_step = [name for name in _task_names(run.report) if name.startswith("Cluster")]
    assert cluster_step, "up.yml has no cluster step any more: update this test"
    assert [run.task_results(name)[0].get("skipped") for name in cluster_step] == [True]
    assert not [name for name in _task_names(run.report) if "cloud_cluster" in name]


def _task_names(report: dict) -> list[str]:
    return [task["task"]["name"] for play in report["plays"] for task in play["tasks"]]


def guard(tmp_path: Path, fixture: str, **extra_vars) -> object:
    """Run the role's guard step on a recorded plan placed where its plan step writes the JSON."""
    state_dir = tmp_path / "state"
    work_dir = state_dir / "terraform" / "gcp-prod"
    work_dir.mkdir(parents=True)
    shutil.copy(FIXTURES / fixture, work_dir / "tfplan.json")
    playbook = tmp_path / "guard.yml"
    playbook.write_text(
        "- name: Guard step of cloud_cluster\n  hosts: localhost\n  connection: local\n  gather_facts: false\n"
        "  tasks:\n    - name: Check the plan\n      ansible.builtin.include_role:\n"
        "        name: sre.platform.cloud_cluster\n        tasks_from: guard.yml\n"
    )
    variables = {"cloud_cluster_cloud": "gcp", "cloud_cluster_environment": "prod"}
    return run_playbook(
        str(playbook), extra_vars={**variables, "cloud_cluster_state_dir": str(state_dir), **extra_vars}
    )


def _guard_result(run) -> dict:
    return run.task_results("sre.platform.cloud_cluster : Refuse to replace or delete the cluster or a node pool")[0]


def test_guard_step_refuses_a_node_pool_replacement(tmp_path):
    run = guard(tmp_path, "gke_node_pool_replace.json")
    assert run.returncode != 0
    result = _guard_result(run)
    assert result["failed"] is True
    assert 'google_container_node_pool.pools["general"]' in result["msg"]


def test_guard_step_lets_an_allowed_replacement_through(tmp_path):
    run = guard(tmp_path, "gke_node_pool_replace.json", cloud_cluster_allow_replace=True)
    assert run.returncode == 0, run.output
    assert [item["type"] for item in _guard_result(run)["allowed"]] == ["google_container_node_pool"]


def test_guard_step_passes_an_in_place_update(tmp_path):
    run = guard(tmp_path, "aks_in_place_update.json")
    assert run.returncode == 0, run.output
    assert _guard_result(run)["refused"] == []
