"""Who may use each module's backup identity: every Cluster of the cloudnative_pg role, and nothing else.

CloudNativePG runs a Cluster's pods as a service account named after the Cluster, so the restore drill's
Cluster (restore.yml.j2) reads the backups as another service account than the Cluster that wrote them.
"""

from __future__ import annotations

import re

import jinja2
import pytest
import yaml

from tests.terraform.hcl import MODULES, ROOT, load, module_dirs

ROLE = ROOT / "roles" / "cloudnative_pg"
# The grant of each module whose for_each gives one subject per service account, and the subject's attribute.
GRANTS = {
    "aks": ("azurerm_federated_identity_credential.backups", "subject"),
    "gke": ("google_service_account_iam_member.backups_workload_identity", "member"),
}
SUBJECT_FORMATS = {
    "aks": "system:serviceaccount:{namespace}:{name}",
    "gke": "serviceAccount:example.svc.id.goog[{namespace}/{name}]",
}


def role_default(expression: str, defaults: dict) -> str:
    """A template of the role evaluated with the role's defaults, which may be templates themselves."""
    while "{{" in expression:
        expression = jinja2.Template(expression).render(defaults)
    return expression


def role_service_accounts() -> set[tuple[str, str]]:
    """(namespace, service account) of every Cluster the role's templates create, with the role's defaults."""
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    accounts = set()
    for template in sorted((ROLE / "templates").glob("*.j2")):
        text = template.read_text()
        if re.search(r"^kind: Cluster$", text, re.MULTILINE):
            metadata = text.split("\nspec:")[0]
            name = re.search(r"^  name: (.+)$", metadata, re.MULTILINE)[1]
            namespace = re.search(r"^  namespace: (.+)$", metadata, re.MULTILINE)[1]
            accounts.add((role_default(namespace, defaults), role_default(name, defaults)))
    return accounts


def defaults_of(module: str) -> dict[str, str]:
    return {f"var.{name}": spec.get("default") for name, spec in load(MODULES / module).variables.items()}


def interpolate(template: str, values: dict[str, str]) -> str:
    """A Terraform string template with its references (`${var.x}`, `${each.value}`) replaced by values."""
    return re.sub(r"\$\{([\w.]+)\}", lambda reference: values[reference[1]], template)


def federated(module: str) -> set[tuple[str, str]]:
    """(namespace, service account) the module's backup identity trusts with its variables' defaults."""
    config, defaults = load(MODULES / module), defaults_of(module)
    names = config.locals.get("backup_service_accounts", {}).values()
    return {(defaults["var.backup_namespace"], interpolate(name, defaults)) for name in names}


def test_the_role_runs_the_cluster_and_the_restore_drill_as_their_own_service_accounts():
    assert role_service_accounts() == {("databases", "pg-main"), ("databases", "pg-main-restore")}


@pytest.mark.parametrize("module", [p.name for p in module_dirs()])
def test_backup_identity_trusts_exactly_the_role_clusters(module):
    # Without the drill's service account the restore cannot read the bucket; anything more is more than needed.
    assert federated(module) == role_service_accounts()


@pytest.mark.parametrize("module", sorted(GRANTS))
def test_one_exact_grant_per_trusted_service_account(module):
    address, attribute = GRANTS[module]
    grant = load(MODULES / module).resources[address]
    assert grant["for_each"] == "${local.backup_service_accounts}"
    values = {**defaults_of(module), "var.project_id": "example"}
    subjects = {interpolate(grant[attribute], {**values, "each.value": name}) for _, name in federated(module)}
    expected = {SUBJECT_FORMATS[module].format(namespace=ns, name=name) for ns, name in role_service_accounts()}
    assert subjects == expected


def test_the_eks_backup_role_trusts_exactly_those_service_accounts():
    config = load(MODULES / "eks")
    assert config.locals["irsa_service_accounts"]["backups"] == {
        "namespace": "${var.backup_namespace}",
        "names": "${values(local.backup_service_accounts)}",
    }
    (statement,) = config.resources["data.aws_iam_policy_document.irsa_trust"]["statement"]
    (subject,) = [condition for condition in statement["condition"] if condition["variable"].endswith(":sub")]
    # StringEquals with several values matches any one of them, exactly: no StringLike, no wildcard.
    assert subject["test"] == "StringEquals"
    template = '"system:serviceaccount:${each.value.namespace}:${name}"'
    assert subject["values"] == f"${{[for name in each.value.names : {template}]}}"
