"""Guard a Terraform plan against replacing or deleting the Kubernetes cluster or its node pools.

Replacing a managed cluster or a node pool is never a small change: the cluster
loses its control plane and every workload on the pool is evicted at once,
whatever the PodDisruptionBudgets say. Terraform shows such a replacement only
as one line among many, so the plan is read as data (`terraform show -json`)
and every replacement or deletion of a protected type is refused unless the
operator explicitly allows replacements.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

# Resource types whose replacement or deletion takes the platform down.
DEFAULT_PROTECTED_TYPES = [
    "aws_eks_cluster",
    "aws_eks_node_group",
    "azurerm_kubernetes_cluster",
    "azurerm_kubernetes_cluster_node_pool",
    "google_container_cluster",
    "google_container_node_pool",
]


class PlanFormatError(ValueError):
    """The document is not the JSON that `terraform show -json PLANFILE` writes."""


@dataclass(frozen=True)
class Finding:
    """One planned replacement or deletion of a protected resource."""

    address: str
    type: str
    actions: list[str]
    kind: str  # "replace" or "delete"
    reason: str


@dataclass
class PlanCheck:
    """Outcome of a plan check: what is refused, what was let through, and a summary of all changes."""

    refused: list[Finding] = field(default_factory=list)
    allowed: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.refused

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "refused": [asdict(finding) for finding in self.refused],
            "allowed": [asdict(finding) for finding in self.allowed],
            "counts": dict(self.counts),
        }


def change_kind(actions: list[str]) -> str:
    """Name a change the way Terraform's plan output does: create, update, delete, replace, read or no-op."""
    if "delete" in actions and "create" in actions:
        return "replace"
    if actions in (["create"], ["update"], ["delete"], ["read"]):
        return actions[0]
    return "no-op" if actions == ["no-op"] else "+".join(actions)


def _reason(resource_change: dict, kind: str) -> str:
    """Explain a finding with what Terraform itself recorded about why."""
    parts = [f"plan would {kind} this {resource_change['type']}"]
    action_reason = resource_change.get("action_reason")
    if action_reason:
        parts.append(f"({action_reason})")
    replace_paths = resource_change["change"].get("replace_paths") or []
    if replace_paths:
        attributes = ", ".join(".".join(str(step) for step in path) for path in replace_paths)
        parts.append(f"because of a change to {attributes}")
    return " ".join(parts)


def _resource_changes(plan_json: dict) -> list[dict]:
    if not isinstance(plan_json, dict) or "format_version" not in plan_json:
        raise PlanFormatError(
            "not a Terraform JSON plan: expected an object with 'format_version' (terraform show -json)"
        )
    changes = plan_json.get("resource_changes", [])
    for index, item in enumerate(changes):
        if not isinstance(item, dict) or not isinstance(item.get("change", {}).get("actions"), list):
            raise PlanFormatError(f"resource_changes[{index}] has no change.actions list")
        for key in ("address", "type"):
            if key not in item:
                raise PlanFormatError(f"resource_changes[{index}] has no '{key}'")
    return changes


def check_plan(plan_json: dict, protected_types: list[str], allow_replace: bool) -> PlanCheck:
    """List every replacement or deletion of a protected resource type in a JSON plan.

    Replacements are moved to ``allowed`` when ``allow_replace`` is true;
    deletions of a protected type are always refused (tearing the platform
    down is `terraform destroy`, never a side effect of an apply).
    """
    result = PlanCheck()
    counts: Counter[str] = Counter()
    protected = set(protected_types)
    for resource_change in _resource_changes(plan_json):
        kind = change_kind(resource_change["change"]["actions"])
        counts[kind] += 1
        if resource_change["type"] not in protected or kind not in ("replace", "delete"):
            continue
        finding = Finding(
            address=resource_change["address"],
            type=resource_change["type"],
            actions=list(resource_change["change"]["actions"]),
            kind=kind,
            reason=_reason(resource_change, kind),
        )
        if kind == "replace" and allow_replace:
            result.allowed.append(finding)
        else:
            result.refused.append(finding)
    result.counts = dict(sorted(counts.items()))
    return result


def refusal_message(check: PlanCheck) -> str:
    """One sentence per refused resource, naming its address and why it is refused."""
    lines = [f"{finding.address}: {finding.reason}" for finding in check.refused]
    kinds = {finding.kind for finding in check.refused}
    hints = []
    if "replace" in kinds:
        hints.append("set allow_replace=true to accept a replacement once its workloads can move")
    if "delete" in kinds:
        hints.append("deleting the cluster or a node pool is done by terraform destroy, not by an apply")
    return (
        f"Terraform plan refused: {len(lines)} protected resource(s) would be replaced or deleted: "
        + "; ".join(lines)
        + ". "
        + "; ".join(hints).capitalize()
        + "."
    )
