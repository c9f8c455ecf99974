"""Structural checks of files/terraform: what `terraform validate` would catch, done offline with python-hcl2."""

from __future__ import annotations

import re
from pathlib import Path

import hcl2
import pytest

from tests.terraform.hcl import (
    ENVS,
    META_ARGUMENTS,
    OPTIONS,
    TERRAFORM,
    cloud_roots,
    env_dirs,
    hcl_files,
    is_literal,
    load,
    module_dirs,
    parse,
    walk_attributes,
)

# Backend type of each cloud root, and what each environment's backend.hcl fills in
# (the last one names the state object, distinct per environment).
BACKENDS = {
    "aws": ("s3", ["bucket", "region", "dynamodb_table", "key"]),
    "azure": ("azurerm", ["resource_group_name", "storage_account_name", "container_name", "key"]),
    "gcp": ("gcs", ["bucket", "prefix"]),
}
ENVIRONMENTS = ("dev", "prod")
ENVIRONMENT_FILES = ["backend.hcl", "terraform.tfvars"]
# The tfvars setting of each cloud that keeps the prod API server off the internet.
PRIVATE_API = {
    "aws": ("api_public_access", False),
    "azure": ("private_cluster", True),
    "gcp": ("private_endpoint", True),
}
SECRET_NAME = re.compile(
    r"(^|_)(password|secret|token|access_key|secret_key|private_key|api_key|connection_string)(_|$)", re.IGNORECASE
)
SECRET_VALUE = re.compile(r"AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----")
ALL_DIRS = module_dirs() + cloud_roots()


def rel(path: Path) -> str:
    return str(path.relative_to(TERRAFORM))


def the_module_call(root: Path) -> tuple[str, dict]:
    modules = load(root).modules
    assert len(modules) == 1, f"{rel(root)}: a cloud root calls exactly one cluster module, found {sorted(modules)}"
    return next(iter(modules.items()))


def tfvars(env: Path) -> dict:
    return parse(env / "terraform.tfvars")


def test_layout_has_three_modules_one_root_per_cloud_and_dev_prod_per_root():
    assert [p.name for p in module_dirs()] == ["aks", "eks", "gke"]
    assert [rel(p) for p in cloud_roots()] == [f"envs/{cloud}" for cloud in BACKENDS]
    assert [rel(p) for p in env_dirs()] == [f"envs/{cloud}/{env}" for cloud in BACKENDS for env in ENVIRONMENTS]


@pytest.mark.parametrize("env", env_dirs(), ids=rel)
def test_environments_hold_values_only(env):
    # Terraform code lives once, in the cloud root: an environment that grows
    # a .tf file has started to diverge from its sibling.
    assert sorted(p.name for p in env.iterdir()) == ENVIRONMENT_FILES


@pytest.mark.parametrize("path", hcl_files(), ids=rel)
def test_every_file_parses(path):
    assert isinstance(parse(path), dict)


@pytest.mark.parametrize("directory", ALL_DIRS, ids=rel)
def test_every_variable_has_a_description_and_a_type(directory):
    config = load(directory)
    assert config.variables, f"{rel(directory)} declares no variables"
    missing = [name for name, spec in config.variables.items() if not spec.get("description") or "type" not in spec]
    assert missing == [], f"{rel(directory)}: variables without description or type: {missing}"


@pytest.mark.parametrize("directory", ALL_DIRS, ids=rel)
def test_every_variable_is_used(directory):
    config = load(directory)
    unused = [name for name in config.variables if not config.references(name)]
    assert unused == [], f"{rel(directory)}: variables never referenced: {unused}"


@pytest.mark.parametrize("directory", ALL_DIRS, ids=rel)
def test_terraform_and_providers_are_pinned(directory):
    settings = load(directory).terraform
    assert any(block.get("required_version") for block in settings), f"{rel(directory)}: no required_version"
    providers = {
        name: spec
        for block in settings
        for group in block.get("required_providers", [])
        for name, spec in group.items()
    }
    assert providers, f"{rel(directory)}: no required_providers"
    unpinned = [name for name, spec in providers.items() if not spec.get("version") or not spec.get("source")]
    assert unpinned == [], f"{rel(directory)}: providers without source and version: {unpinned}"


@pytest.mark.parametrize("directory", ALL_DIRS, ids=rel)
def test_module_sources_are_pinned_or_local(directory):
    for name, call in load(directory).modules.items():
        source = call["source"]
        if source.startswith(("./", "../")):
            assert (directory / source).resolve().is_dir(), f"{rel(directory)}: module {name} source {source} missing"
        else:
            assert re.fullmatch(r"[\w-]+/[\w-]+/[\w-]+(//[\w/-]+)?", source), f"{name}: not a registry source: {source}"
            assert call.get("version"), f"{rel(directory)}: module {name} ({source}) has no version pin"


@pytest.mark.parametrize("root", cloud_roots(), ids=rel)
def test_root_passes_every_required_variable_and_nothing_unknown(root):
    name, call = the_module_call(root)
    module = load((root / call["source"]).resolve())
    arguments = set(call) - META_ARGUMENTS
    missing = module.required_variables - arguments
    unknown = arguments - set(module.variables)
    assert missing == set(), f"{rel(root)}: module {name} lacks required variables {sorted(missing)}"
    assert unknown == set(), f"{rel(root)}: module {name} gets arguments it does not declare {sorted(unknown)}"


@pytest.mark.parametrize("env", env_dirs(), ids=rel)
def test_tfvars_set_only_declared_variables_and_every_required_one(env):
    root = load(env.parent)
    assigned = set(tfvars(env))
    undeclared = assigned - set(root.variables)
    unset = root.required_variables - assigned
    assert undeclared == set(), (
        f"{rel(env)}: tfvars sets variables {rel(env.parent)} does not declare {sorted(undeclared)}"
    )
    assert unset == set(), f"{rel(env)}: tfvars leaves required variables of {rel(env.parent)} unset {sorted(unset)}"


@pytest.mark.parametrize("root", cloud_roots(), ids=rel)
def test_root_declares_a_partial_backend_of_its_cloud(root):
    backend_type, per_environment = BACKENDS[root.name]
    backends = [backend for block in load(root).terraform for backend in block.get("backend", [])]
    assert [next(iter(backend)) for backend in backends] == [backend_type]
    fixed = set(backends[0][backend_type]) & set(per_environment)
    assert fixed == set(), f"{rel(root)}: backend fixes {sorted(fixed)}, which each environment must set"


@pytest.mark.parametrize("env", env_dirs(), ids=rel)
def test_backend_config_names_this_environment_state(env):
    cloud, stage = env.parent.name, env.name
    _, per_environment = BACKENDS[cloud]
    settings = parse(env / "backend.hcl")
    assert sorted(settings) == sorted(per_environment)
    state_name = settings[per_environment[-1]]
    assert f"{cloud}/{stage}" in state_name, f"{rel(env)}: state {state_name} does not name {cloud}/{stage}"


@pytest.mark.parametrize("cloud", sorted(BACKENDS))
def test_environments_of_a_cloud_keep_separate_state(cloud):
    state_key = BACKENDS[cloud][1][-1]
    names = [parse(ENVS / cloud / env / "backend.hcl")[state_key] for env in ENVIRONMENTS]
    assert len(set(names)) == len(ENVIRONMENTS), f"{cloud}: environments share a state object {names}"


@pytest.mark.parametrize("cloud", sorted(BACKENDS))
def test_dev_and_prod_set_the_same_variables(cloud):
    dev, prod = (set(tfvars(ENVS / cloud / env)) for env in ENVIRONMENTS)
    assert dev == prod, f"{cloud}: dev and prod differ in what they set {sorted(dev ^ prod)}"


@pytest.mark.parametrize("cloud", sorted(PRIVATE_API))
def test_prod_keeps_the_api_server_private(cloud):
    setting, private = PRIVATE_API[cloud]
    assert tfvars(ENVS / cloud / "prod")[setting] is private


def test_prod_aks_runs_on_a_tier_with_an_uptime_sla():
    assert tfvars(ENVS / "azure" / "prod")["sku_tier"] in {"Standard", "Premium"}


def secret_leaks(document: dict, text: str) -> list[str]:
    """Secret-looking attributes set to literal strings, and credential-shaped strings anywhere."""
    leaks = [where for where, key, value in walk_attributes(document) if SECRET_NAME.search(key) and is_literal(value)]
    return leaks + SECRET_VALUE.findall(text)


@pytest.mark.parametrize("path", hcl_files(), ids=rel)
def test_no_hard_coded_secrets(path):
    assert secret_leaks(parse(path), path.read_text()) == [], f"{rel(path)}: hard-coded secret"


def test_secret_detector_finds_literal_secrets(tmp_path):
    snippet = tmp_path / "leak.tf"
    snippet.write_text(
        'provider "azurerm" {\n  client_secret = "s3cr3t"\n  client_id = var.client_id\n}\n'
        'locals {\n  db = { admin_password = "hunter2", password_length = 16 }\n'
        '  aws = "AKIAABCDEFGHIJKLMNOP"\n  http_tokens = "required"\n}\n'
    )
    leaks = secret_leaks(hcl2.loads(snippet.read_text(), serialization_options=OPTIONS), snippet.read_text())
    assert leaks == ["provider[0].azurerm.client_secret", "locals[0].db.admin_password", "AKIAABCDEFGHIJKLMNOP"]


def test_control_planes_use_the_highly_available_tiers():
    aks = load(TERRAFORM / "modules" / "aks").modules["aks"]
    gke = load(TERRAFORM / "modules" / "gke").modules["gke"]
    assert aks["sku_tier"] == "${var.sku_tier}"
    assert aks["only_critical_addons_enabled"] is True
    assert gke["regional"] is True
    assert gke["deletion_protection"] == "${var.deletion_protection}"


@pytest.mark.parametrize("directory", module_dirs(), ids=rel)
def test_modules_require_three_distinct_zones(directory):
    zones = {name: spec for name, spec in load(directory).variables.items() if "zones" in name}
    assert len(zones) == 1, f"{rel(directory)}: expected one zones variable, found {sorted(zones)}"
    conditions = " ".join(rule["condition"] for spec in zones.values() for rule in spec.get("validation", []))
    assert "== 3" in conditions and "distinct" in conditions
