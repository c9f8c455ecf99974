"""sre.platform.terraform_plan_guard run through Ansible on recorded plans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness.ansible import run_module

MODULE = "sre.platform.terraform_plan_guard"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "terraform"


def guard(fixture: str, check: bool = False, **options) -> dict:
    return run_module(MODULE, {"plan_path": str(FIXTURES / fixture), **options}, check=check)


@pytest.mark.parametrize("check", [False, True], ids=["apply", "check_mode"])
def test_node_pool_replacement_fails_naming_the_pool(check):
    result = guard("gke_node_pool_replace.json", check=check)

    assert result["failed"] is True
    assert result["changed"] is False
    assert 'google_container_node_pool.pools["general"]' in result["msg"]
    assert "node_config.0.machine_type" in result["msg"]
    assert [item["kind"] for item in result["refused"]] == ["replace"]


def test_node_pool_replacement_passes_with_allow_replace():
    result = guard("gke_node_pool_replace.json", allow_replace=True)

    assert result.get("failed") is not True, result.get("msg")
    assert result["ok"] is True
    assert [item["type"] for item in result["allowed"]] == ["google_container_node_pool"]
    assert result["counts"] == {"no-op": 2, "replace": 1, "update": 1}


def test_in_place_update_passes():
    result = guard("aks_in_place_update.json")

    assert result.get("failed") is not True, result.get("msg")
    assert result["refused"] == []
    assert result["changed"] is False


def test_cluster_deletion_fails_even_with_allow_replace():
    result = guard("eks_cluster_delete.json", allow_replace=True)

    assert result["failed"] is True
    assert "aws_eks_cluster.this[0]" in result["msg"]
    assert "terraform destroy" in result["msg"]


def test_plan_given_inline_is_checked_like_a_file():
    plan = json.loads((FIXTURES / "eks_cluster_delete.json").read_text())

    result = run_module(MODULE, {"plan": plan, "protected_types": ["aws_s3_bucket"]})

    assert result.get("failed") is not True, result.get("msg")
    assert result["counts"] == {"delete": 1, "no-op": 1, "update": 1}


def test_unreadable_plan_fails_saying_which_file(tmp_path):
    broken = tmp_path / "plan.json"
    broken.write_text("Error: no saved plan")

    result = run_module(MODULE, {"plan_path": str(broken)})

    assert result["failed"] is True
    assert f"Cannot read the Terraform JSON plan {broken}" in result["msg"]


def test_document_that_is_not_a_plan_fails_saying_why(tmp_path):
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"version": 4, "resources": []}))

    result = run_module(MODULE, {"plan_path": str(state)})

    assert result["failed"] is True
    assert "format_version" in result["msg"]
