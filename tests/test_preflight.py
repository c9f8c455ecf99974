"""up.yml stops in preflight, within seconds, naming what the machine lacks."""

from __future__ import annotations

import time

from tests.harness.ansible import path_without, run_playbook


def test_up_without_docker_stops_in_preflight_naming_docker(tmp_path):
    started = time.monotonic()
    run = run_playbook(
        "playbooks/up.yml",
        inventory="inventories/local",
        env={"PATH": path_without("docker", tmp_path / "bin")},
        json_output=False,
    )
    elapsed = time.monotonic() - started
    assert run.returncode != 0
    assert "cluster preflight failed for target 'kind'" in run.output
    assert "'docker' is not installed: install Docker Engine" in run.output
    assert elapsed < 30, f"preflight took {elapsed:.1f} s"


def test_existing_target_without_kubeconfig_names_the_variable(tmp_path):
    run = run_playbook(
        "playbooks/up.yml",
        inventory="inventories/existing",
        extra_vars={"platform_kubeconfig": str(tmp_path / "missing-kubeconfig")},
        json_output=False,
    )
    assert run.returncode != 0
    assert "missing-kubeconfig' does not exist; set platform_kubeconfig" in run.output


def test_unknown_target_is_refused():
    run = run_playbook(
        "playbooks/up.yml", inventory="inventories/local", extra_vars={"platform_target": "minikube"}, json_output=False
    )
    assert run.returncode != 0
    assert "platform_target must be kind, existing, eks, aks or gke (got 'minikube')" in run.output


def test_down_on_an_existing_target_refuses_a_teardown_timeout_of_zero(tmp_path):
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    # A kubeconfig that does not exist: no cluster of the user's can be reached.
    variables = {"cluster_teardown_timeout": 0, "platform_state_dir": str(state_dir)}
    run = run_playbook(
        "playbooks/down.yml",
        inventory="inventories/existing",
        extra_vars={**variables, "platform_kubeconfig": str(tmp_path / "no-cluster")},
        json_output=False,
    )
    assert run.returncode != 0
    assert "cluster_teardown_timeout a number of seconds above 0 (got '0')" in run.output
    assert state_dir.exists(), "nothing is removed after a refusal"
