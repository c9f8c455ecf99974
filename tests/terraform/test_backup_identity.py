"""Who may use each module's backup identities, and what each may do with the backups.

CloudNativePG runs a Cluster's pods as a service account named after the Cluster, so the restore drill's
Cluster (restore.yml.j2) reads the backups as another service account than the Cluster that wrote them. Each
module gives the two an identity of their own: the Cluster's writes (and, by its retention policy, deletes)
the backups; the drill's only reads them, so neither the drill nor anything that takes over the restored copy
can change or delete a production backup.
"""

from __future__ import annotations

import re

import jinja2
import pytest
import yaml

from tests.terraform.hcl import ENVS, MODULES, ROOT, load, module_dirs, parse

ROLE = ROOT / "roles" / "cloudnative_pg"
CLOUDS = {"eks": "aws", "aks": "azure", "gke": "gcp"}
# What each module's restore identity may do on the backups: read and list them, and on AWS decrypt them
# (SSE-KMS with the bucket's own key); on Google Cloud, Barman Cloud checks the bucket exists (buckets.get).
READ_ONLY = {
    "eks": {"s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation", "kms:Decrypt"},
    "aks": {"Storage Blob Data Reader"},
    "gke": {"roles/storage.objectViewer", "roles/storage.legacyBucketReader"},
}
# The output of each module that names the restore identity, and what it names.
RESTORE_OUTPUTS = {
    "eks": ("restore_role_arn", '${aws_iam_role.irsa["restore"].arn}'),
    "aks": ("restore_client_id", "${azurerm_user_assigned_identity.restore.client_id}"),
    "gke": ("restore_service_account_email", "${google_service_account.restore.email}"),
}
# Where the Cluster's pods find their identity: the annotation of their service account.
ANNOTATIONS = {
    "eks": "eks.amazonaws.com/role-arn",
    "aks": "azure.workload.identity/client-id",
    "gke": "iam.gke.io/gcp-service-account",
}


def role_default(expression: str, defaults: dict) -> str:
    """A template of the role evaluated with the role's defaults, which may be templates themselves."""
    while "{{" in expression:
        expression = jinja2.Template(expression).render(defaults)
    return expression


def role_service_accounts() -> dict[str, tuple[str, str]]:
    """Template -> (namespace, service account) of every Cluster the role's templates create, with its defaults."""
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    accounts = {}
    for template in sorted((ROLE / "templates").glob("*.j2")):
        text = template.read_text()
        if re.search(r"^kind: Cluster$", text, re.MULTILINE):
            metadata = text.split("\nspec:")[0]
            name = re.search(r"^  name: (.+)$", metadata, re.MULTILINE)[1]
            namespace = re.search(r"^  namespace: (.+)$", metadata, re.MULTILINE)[1]
            accounts[template.name] = (role_default(namespace, defaults), role_default(name, defaults))
    return accounts


def expected_trust() -> dict[str, set[tuple[str, str]]]:
    accounts = role_service_accounts()
    return {"backups": {accounts["cluster.yml.j2"]}, "restore": {accounts["restore.yml.j2"]}}


def defaults_of(module: str) -> dict[str, str]:
    values = {f"var.{name}": spec.get("default") for name, spec in load(MODULES / module).variables.items()}
    return {**values, "var.project_id": "example"}


def interpolate(template: str, values: dict[str, str]) -> str:
    """A Terraform string template with its references (`${var.x}`, `${each.value.y}`) replaced by values."""
    return re.sub(r"\$\{([\w.]+)\}", lambda reference: values[reference[1]], template)


def reference(expression: str, pattern: str) -> str:
    """The name a reference expression such as `${aws_iam_role.irsa["restore"].id}` points at."""
    match = re.fullmatch(rf"\$\{{{pattern}\}}", expression)
    assert match, f"{expression} is not a reference of the form {pattern}"
    return match[1]


def of_type(module: str, kind: str) -> list[dict]:
    return [body for address, body in load(MODULES / module).resources.items() if address.startswith(f"{kind}.")]


def eks_trust() -> dict[str, set[tuple[str, str]]]:
    config, values = load(MODULES / "eks"), defaults_of("eks")
    (statement,) = config.resources["data.aws_iam_policy_document.irsa_trust"]["statement"]
    (subject,) = [condition for condition in statement["condition"] if condition["variable"].endswith(":sub")]
    (template,) = subject["values"]
    trusted = {}
    for role, account in config.locals["irsa_service_accounts"].items():
        each = {f"each.value.{key}": interpolate(value, values) for key, value in account.items()}
        namespace, name = interpolate(template, each).removeprefix("system:serviceaccount:").split(":")
        trusted[role] = {(namespace, name)}
    return trusted


def aks_trust() -> dict[str, set[tuple[str, str]]]:
    trusted: dict[str, set[tuple[str, str]]] = {}
    for credential in of_type("aks", "azurerm_federated_identity_credential"):
        identity = reference(credential["parent_id"], r"azurerm_user_assigned_identity\.(\w+)\.id")
        subject = interpolate(credential["subject"], defaults_of("aks"))
        namespace, name = subject.removeprefix("system:serviceaccount:").split(":")
        trusted.setdefault(identity, set()).add((namespace, name))
    return trusted


def gke_trust() -> dict[str, set[tuple[str, str]]]:
    trusted: dict[str, set[tuple[str, str]]] = {}
    for binding in of_type("gke", "google_service_account_iam_member"):
        assert binding["role"] == "roles/iam.workloadIdentityUser", binding
        account = reference(binding["service_account_id"], r"google_service_account\.(\w+)\.name")
        member = interpolate(binding["member"], defaults_of("gke"))
        member = re.fullmatch(r"serviceAccount:example\.svc\.id\.goog\[(.+)/(.+)\]", member)
        trusted.setdefault(account, set()).add((member[1], member[2]))
    return trusted


def policy_actions(config, document: str) -> set[str]:
    """Every action a policy document allows, with the documents it is built on."""
    body = config.resources[f"data.aws_iam_policy_document.{document}"]
    actions = set()
    for source in body.get("source_policy_documents", []):
        actions |= policy_actions(config, reference(source, r"data\.aws_iam_policy_document\.(\w+)\.json"))
    for statement in body["statement"]:
        assert statement.get("effect", "Allow") == "Allow", statement
        listed = statement["actions"]
        actions |= set(config.locals[reference(listed, r"local\.(\w+)")] if isinstance(listed, str) else listed)
    return actions


def key_policy_actions(config) -> dict[str, set[str]]:
    """Role -> the actions the backup key's policy allows it (the policy is a jsonencode() of HCL)."""
    policy = config.resources["aws_kms_key.backups"]["policy"]
    allowed: dict[str, set[str]] = {}
    pattern = r'Principal = \{AWS = aws_iam_role\.irsa\["([\w-]+)"\]\.arn\}, Action = (\[[^\]]*\]|local\.\w+)'
    for role, action in re.findall(pattern, policy):
        if action.startswith("local."):
            listed = config.locals[action.removeprefix("local.")]
        else:
            listed = re.findall(r'"([^"]+)"', action)
        allowed.setdefault(role, set()).update(listed)
    return allowed


def eks_grants() -> dict[str, set[str]]:
    config = load(MODULES / "eks")
    grants = key_policy_actions(config)
    for policy in of_type("eks", "aws_iam_role_policy"):
        role = reference(policy["role"], r'aws_iam_role\.irsa\["([\w-]+)"\]\.id')
        document = reference(policy["policy"], r"data\.aws_iam_policy_document\.(\w+)\.json")
        grants.setdefault(role, set()).update(policy_actions(config, document))
    for attachment in of_type("eks", "aws_iam_role_policy_attachment"):
        role = reference(attachment["role"], r'aws_iam_role\.irsa\["([\w-]+)"\]\.name')
        grants.setdefault(role, set()).add(attachment["policy_arn"])
    return grants


def aks_grants() -> dict[str, set[str]]:
    grants: dict[str, set[str]] = {}
    for assignment in of_type("aks", "azurerm_role_assignment"):
        principal = assignment["principal_id"]
        identity = re.fullmatch(r"\$\{azurerm_user_assigned_identity\.(\w+)\.principal_id\}", principal)
        if identity and identity[1] in ("backups", "restore"):
            assert assignment["scope"] == "${azurerm_storage_container.backups.id}", assignment
            grants.setdefault(identity[1], set()).add(assignment["role_definition_name"])
    return grants


def gke_grants() -> dict[str, set[str]]:
    grants: dict[str, set[str]] = {}
    for member in of_type("gke", "google_storage_bucket_iam_member"):
        account = reference(member["member"], r"google_service_account\.(\w+)\.member")
        assert member["bucket"] == "${google_storage_bucket.backups.name}", member
        grants.setdefault(account, set()).add(member["role"])
    return grants


TRUST = {"eks": eks_trust, "aks": aks_trust, "gke": gke_trust}
GRANTS = {"eks": eks_grants, "aks": aks_grants, "gke": gke_grants}


def test_the_role_runs_the_cluster_and_the_restore_drill_as_their_own_service_accounts():
    assert role_service_accounts() == {
        "cluster.yml.j2": ("databases", "pg-main"),
        "restore.yml.j2": ("databases", "pg-main-restore"),
    }


@pytest.mark.parametrize("module", [p.name for p in module_dirs()])
def test_each_backup_identity_trusts_exactly_one_service_account(module):
    # The Cluster's identity writes the backups; the drill's Cluster must not be able to use it.
    trusted = TRUST[module]()
    assert {identity: trusted[identity] for identity in ("backups", "restore")} == expected_trust()


@pytest.mark.parametrize("module", [p.name for p in module_dirs()])
def test_the_restore_identity_only_reads_the_backups(module):
    assert GRANTS[module]()["restore"] == READ_ONLY[module]


@pytest.mark.parametrize("module", [p.name for p in module_dirs()])
def test_the_backup_identity_still_writes_the_backups(module):
    grants = GRANTS[module]()["backups"]
    assert grants - READ_ONLY[module], f"the Cluster's identity of {module} lost its write access: {grants}"


def test_the_eks_roles_trust_one_exact_subject_each():
    (statement,) = load(MODULES / "eks").resources["data.aws_iam_policy_document.irsa_trust"]["statement"]
    (subject,) = [condition for condition in statement["condition"] if condition["variable"].endswith(":sub")]
    # StringEquals on a single value: no StringLike, no wildcard, no alternative.
    assert subject["test"] == "StringEquals"
    assert subject["values"] == ["system:serviceaccount:${each.value.namespace}:${each.value.name}"]


@pytest.mark.parametrize("module", sorted(RESTORE_OUTPUTS))
def test_module_and_root_output_the_restore_identity(module):
    name, value = RESTORE_OUTPUTS[module]
    module_outputs = {k: v for block in parse(MODULES / module / "outputs.tf")["output"] for k, v in block.items()}
    assert module_outputs[name]["value"] == value
    assert ANNOTATIONS[module] in module_outputs[name]["description"]
    root = ENVS / CLOUDS[module] / "outputs.tf"
    root_outputs = {k: v for block in parse(root)["output"] for k, v in block.items()}
    assert root_outputs[name]["value"] == f"${{module.cluster.{name}}}"


def cloud_inventories() -> list:
    """Each cloud inventory with its settings, as pytest parameters named <cloud>/<environment>."""
    inventories = []
    for path in sorted(ROOT.glob("inventories/*/*/group_vars/platform.yml")):
        settings = yaml.safe_load(path.read_text())
        if settings.get("platform_target") in ANNOTATIONS:
            inventories.append(pytest.param(path, settings, id="/".join(path.parts[-4:-2])))
    return inventories


def test_every_cloud_has_inventories():
    assert {settings["platform_target"] for _, settings in (p.values for p in cloud_inventories())} == set(ANNOTATIONS)


@pytest.mark.parametrize(("inventory", "settings"), cloud_inventories())
def test_cloud_inventories_give_the_restore_drill_its_own_identity(inventory, settings):
    backup = settings["cloudnative_pg_service_account_annotations"]
    restore = settings["cloudnative_pg_restore_service_account_annotations"]
    key = ANNOTATIONS[settings["platform_target"]]
    assert set(backup) == set(restore) == {key}
    assert restore[key] != backup[key]


def test_both_gke_identities_may_check_that_the_bucket_exists():
    # Barman Cloud's connectivity check on Google Cloud is bucket.exists() (storage.buckets.get), which
    # neither objectUser nor objectViewer grants: without it WAL archiving and backups fail with a 403.
    grants = gke_grants()
    assert {identity for identity, roles in grants.items() if "roles/storage.legacyBucketReader" in roles} == {
        "backups",
        "restore",
    }


def test_the_longest_gke_name_fits_every_service_account_id():
    # A Google service account id is 6 to 30 characters; the module's name prefixes each one.
    config = load(MODULES / "gke")
    (validation,) = config.variables["name"]["validation"]
    lengths = re.search(r"\{(\d+),(\d+)\}", validation["condition"])
    shortest, longest = "a" * (int(lengths[1]) + 1), "a" * (int(lengths[2]) + 1)
    for account in of_type("gke", "google_service_account"):
        for name in (shortest, longest):
            account_id = interpolate(account["account_id"], {"var.name": name})
            assert 6 <= len(account_id) <= 30, f"{account['account_id']} with name {name!r}: {account_id}"


def terraform_identities(module: str, tfvars: dict) -> dict[str, str]:
    """The tail of what Terraform names the backup and restore identities, with an environment's tfvars.

    EKS: the IAM role, after the ARN's account (the user's); GKE: the service account's email. AKS client ids are
    generated, so its inventories can only carry them from `terraform output`.
    """
    if module == "eks":
        return {key: f":role/{tfvars['name']}-{key}" for key in ("backups", "restore")}
    emails = {}
    for address, body in load(MODULES / "gke").resources.items():
        if address.startswith("google_service_account."):
            account = interpolate(body["account_id"], {"var.name": tfvars["name"]})
            emails[address.removeprefix("google_service_account.")] = (
                f"{account}@{tfvars['project_id']}.iam.gserviceaccount.com"
            )
    return emails


@pytest.mark.parametrize(
    ("inventory", "settings"), [p for p in cloud_inventories() if p.values[1]["platform_target"] in ("eks", "gke")]
)
def test_cloud_inventories_name_the_identities_terraform_creates(inventory, settings):
    # The examples are meant to be filled in from `terraform output`; where the names follow from the
    # environment's tfvars, they must be the ones Terraform creates, so that the values work as they are.
    module = settings["platform_target"]
    cloud, environment = inventory.parts[-4:-2]
    expected = terraform_identities(module, parse(ENVS / cloud / environment / "terraform.tfvars"))
    key = ANNOTATIONS[module]
    values = {
        "backups": settings["cloudnative_pg_service_account_annotations"][key],
        "restore": settings["cloudnative_pg_restore_service_account_annotations"][key],
    }
    for identity, value in values.items():
        assert value.endswith(expected[identity]), (
            f"{inventory}: {identity} is {value}, Terraform creates {expected[identity]}"
        )
