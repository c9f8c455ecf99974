#!/usr/bin/python
"""Ansible module: refuse a Terraform plan that replaces or deletes the cluster or a node pool."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: terraform_plan_guard
short_description: Refuse Terraform plans that replace or delete the Kubernetes cluster or a node pool
version_added: "0.1.0"
description:
  - Reads the JSON form of a saved Terraform plan (C(terraform show -json PLANFILE)) and lists every
    resource change of a protected type whose actions contain both C(delete) and C(create) (a replacement)
    or C(delete) alone.
  - Fails, naming each resource address and the reason Terraform recorded, unless every finding is a
    replacement and O(allow_replace) is true. Deletions of a protected type are always refused.
  - Only reads the plan; it never runs Terraform and never contacts a cloud.
options:
  plan_path:
    description:
      - Path to a file holding the output of C(terraform show -json PLANFILE).
      - Exactly one of O(plan_path) and O(plan) is required.
    type: path
  plan:
    description:
      - The plan document itself, already parsed (for example C(lookup('file', ...) | from_json)).
    type: dict
  protected_types:
    description:
      - Terraform resource types whose replacement or deletion is refused.
    type: list
    elements: str
    default:
      - aws_eks_cluster
      - aws_eks_node_group
      - azurerm_kubernetes_cluster
      - azurerm_kubernetes_cluster_node_pool
      - google_container_cluster
      - google_container_node_pool
  allow_replace:
    description:
      - Accept replacements of protected resources (they are then returned in RV(allowed)).
      - Use it for a planned change such as a new node pool machine type, after checking that the
        workloads can move.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: The module only reads the plan, so check mode behaves exactly like a normal run.
  diff_mode:
    support: none
seealso:
  - name: Terraform JSON output format
    description: The C(resource_changes) structure this module reads.
    link: https://developer.hashicorp.com/terraform/internals/json-format
author:
  - sre.platform maintainers
"""

EXAMPLES = r"""
- name: Save the plan in JSON
  ansible.builtin.command:
    cmd: terraform show -json tfplan
    chdir: "{{ playbook_dir }}/../files/terraform/envs/gcp"
  register: plan_show
  changed_when: false

- name: Refuse to replace the cluster or a node pool
  sre.platform.terraform_plan_guard:
    plan: "{{ plan_show.stdout | from_json }}"

- name: Accept the node pool replacement this change needs
  sre.platform.terraform_plan_guard:
    plan_path: /tmp/tfplan.json
    allow_replace: true

- name: Protect the backup bucket too
  sre.platform.terraform_plan_guard:
    plan_path: /tmp/tfplan.json
    protected_types:
      - google_container_cluster
      - google_container_node_pool
      - google_storage_bucket
"""

RETURN = r"""
ok:
  description: True when nothing protected would be replaced or deleted (apart from allowed replacements).
  returned: always
  type: bool
  sample: true
refused:
  description: Replacements or deletions of protected resources that make the module fail.
  returned: always
  type: list
  elements: dict
  sample:
    - address: module.gke.google_container_node_pool.pools["system"]
      type: google_container_node_pool
      actions: [delete, create]
      kind: replace
      reason: plan would replace this google_container_node_pool (replace_because_cannot_update)
allowed:
  description: Replacements of protected resources accepted because O(allow_replace) is true.
  returned: always
  type: list
  elements: dict
  sample: []
counts:
  description: Number of resource changes in the plan by kind (create, update, replace, delete, read, no-op).
  returned: always
  type: dict
  sample: {"create": 2, "no-op": 41, "update": 1}
"""

import json
import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sre.platform.plugins.module_utils.plan_guard import (
    DEFAULT_PROTECTED_TYPES,
    PlanFormatError,
    check_plan,
    refusal_message,
)


def argument_spec() -> dict:
    return {
        "plan_path": {"type": "path"},
        "plan": {"type": "dict"},
        "protected_types": {"type": "list", "elements": "str", "default": list(DEFAULT_PROTECTED_TYPES)},
        "allow_replace": {"type": "bool", "default": False},
    }


def load_plan(module: AnsibleModule) -> dict:
    if module.params["plan"] is not None:
        return module.params["plan"]
    path = module.params["plan_path"]
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        module.fail_json(
            msg=f"Cannot read the Terraform JSON plan {path}: {exc}",
            exception=traceback.format_exc(),
        )


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[("plan_path", "plan")],
        required_one_of=[("plan_path", "plan")],
        supports_check_mode=True,
    )
    plan = load_plan(module)
    try:
        check = check_plan(plan, module.params["protected_types"], module.params["allow_replace"])
    except PlanFormatError as exc:
        module.fail_json(msg=f"The Terraform plan is not usable: {exc}", exception=traceback.format_exc())
    result = check.as_dict()
    if not check.ok:
        module.fail_json(msg=refusal_message(check), changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
