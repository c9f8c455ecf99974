"""The plan guard's pure function against recorded `terraform show -json` plans."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from ansible_collections.sre.platform.plugins.module_utils.plan_guard import (
    DEFAULT_PROTECTED_TYPES,
    PlanFormatError,
    change_kind,
    check_plan,
    refusal_message,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "terraform"
NODE_POOL = 'module.gke.module.cluster.google_container_node_pool.pools["general"]'
EKS_CLUSTER = "module.eks.module.cluster.aws_eks_cluster.this[0]"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_node_pool_replacement_is_refused_with_its_address_and_cause():
    check = check_plan(load("gke_node_pool_replace.json"), DEFAULT_PROTECTED_TYPES, allow_replace=False)

    assert not check.ok
    assert [finding.address for finding in check.refused] == [NODE_POOL]
    finding = check.refused[0]
    assert finding.kind == "replace"
    assert finding.actions == ["create", "delete"]
    assert "replace_because_cannot_update" in finding.reason
    assert "node_config.0.machine_type" in finding.reason
    message = refusal_message(check)
    assert NODE_POOL in message
    assert "allow_replace=true" in message


def test_node_pool_replacement_passes_when_replacements_are_allowed():
    check = check_plan(load("gke_node_pool_replace.json"), DEFAULT_PROTECTED_TYPES, allow_replace=True)

    assert check.ok
    assert check.refused == []
    assert [finding.address for finding in check.allowed] == [NODE_POOL]


def test_in_place_updates_of_cluster_and_pool_are_allowed():
    check = check_plan(load("aks_in_place_update.json"), DEFAULT_PROTECTED_TYPES, allow_replace=False)

    assert check.ok
    assert check.allowed == []
    assert check.counts == {"create": 1, "read": 1, "update": 2}


@pytest.mark.parametrize("allow_replace", [False, True])
def test_cluster_deletion_is_refused_even_when_replacements_are_allowed(allow_replace):
    check = check_plan(load("eks_cluster_delete.json"), DEFAULT_PROTECTED_TYPES, allow_replace=allow_replace)

    assert not check.ok
    assert [(finding.address, finding.kind) for finding in check.refused] == [(EKS_CLUSTER, "delete")]
    assert "delete_because_count_index" in check.refused[0].reason
    assert "terraform destroy" in refusal_message(check)


def test_only_protected_types_are_refused():
    plan = load("gke_node_pool_replace.json")
    bucket = next(change for change in plan["resource_changes"] if change["type"] == "google_storage_bucket")
    bucket["change"]["actions"] = ["delete", "create"]

    default = check_plan(plan, DEFAULT_PROTECTED_TYPES, allow_replace=True)
    strict = check_plan(plan, [*DEFAULT_PROTECTED_TYPES, "google_storage_bucket"], allow_replace=False)

    assert default.ok
    assert default.counts["replace"] == 2
    assert {finding.type for finding in strict.refused} == {"google_container_node_pool", "google_storage_bucket"}


def test_mixed_refusals_give_both_hints():
    plan = load("eks_cluster_delete.json")
    pool = copy.deepcopy(plan["resource_changes"][1])
    pool["change"]["actions"] = ["delete", "create"]
    plan["resource_changes"].append(pool)

    message = refusal_message(check_plan(plan, DEFAULT_PROTECTED_TYPES, allow_replace=False))

    assert "allow_replace=true" in message
    assert "terraform destroy" in message
    assert message.startswith("Terraform plan refused: 2 protected resource(s)")


def test_plan_without_changes_is_ok():
    check = check_plan({"format_version": "1.2"}, DEFAULT_PROTECTED_TYPES, allow_replace=False)

    assert check.ok
    assert check.counts == {}


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ([], "format_version"),
        ({"resource_changes": []}, "format_version"),
        ({"format_version": "1.2", "resource_changes": [{"address": "a", "type": "t"}]}, r"resource_changes\[0\]"),
        ({"format_version": "1.2", "resource_changes": [{"change": {"actions": ["delete"]}}]}, "'address'"),
    ],
)
def test_documents_that_are_not_json_plans_are_rejected(document, error):
    with pytest.raises(PlanFormatError, match=error):
        check_plan(document, DEFAULT_PROTECTED_TYPES, allow_replace=False)


@pytest.mark.parametrize(
    ("actions", "kind"),
    [
        (["create"], "create"),
        (["update"], "update"),
        (["delete"], "delete"),
        (["read"], "read"),
        (["no-op"], "no-op"),
        (["delete", "create"], "replace"),
        (["create", "delete"], "replace"),
    ],
)
def test_change_kind_names_actions_like_terraform(actions, kind):
    assert change_kind(actions) == kind
