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
    env_dirs,
    hcl_files,
    is_literal,
    load,
    module_dirs,
    parse,
    walk_attributes,
)

BACKENDS = {
    "aws": ("s3", {"bucket", "region", "dynamodb_table"}),
    "azure": ("azurerm", {"resource_group_name", "storage_account_name", "container_name"}),
    "gcp": ("gcs", {"bucket"}),
}
SECRET_NAME = re.compile(
    r"(^|_)(password|secret|token|access_key|secret_key|private_key|api_key|connection_string)(_|$)", re.IGNORECASE
)
SECRET_VALUE = re.compile(r"AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----")
ALL_DIRS = module_dirs() + env_dirs()


def rel(path: Path) -> str:
    return str(path.relative_to(TERRAFORM))


def the_module_call(env: Path) -> tuple[str, dict]:
    modules = load(env).modules
    assert len(modules) == 1, f"{rel(env)}: an environment calls exactly one cluster module, found {sorted(modules)}"
    return next(iter(modules.items()))


def test_layout_has_three_modules_and_dev_prod_per_cloud():
    assert [p.name for p in module_dirs()] == ["aks", "eks", "gke"]
    assert [rel(p) for p in env_dirs()] == [f"envs/{cloud}/{env}" for cloud in BACKENDS for env in ("dev", "prod")]


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


@pytest.mark.parametrize("env", env_dirs(), ids=rel)
def test_environment_passes_every_required_variable_and_nothing_unknown(env):
    name, call = the_module_call(env)
    module = load((env / call["source"]).resolve())
    arguments = set(call) - META_ARGUMENTS
    missing = module.required_variables - arguments
    unknown = arguments - set(module.variables)
    assert missing == set(), f"{rel(env)}: module {name} lacks required variables {sorted(missing)}"
    assert unknown == set(), f"{rel(env)}: module {name} gets arguments it does not declare {sorted(unknown)}"


@pytest.mark.parametrize("env", env_dirs(), ids=rel)
def test_tfvars_set_exactly_the_declared_variables(env):
    declared = load(env).variables
    assigned = set(parse(env / "terraform.tfvars"))
    assert assigned - set(declared) == set(), f"{rel(env)}: tfvars sets undeclared {sorted(assigned - set(declared))}"
    unset = load(env).required_variables - assigned
    assert unset == set(), f"{rel(env)}: tfvars leaves required variables unset {sorted(unset)}"


@pytest.mark.parametrize("env", env_dirs(), ids=rel)
def test_remote_state_backend_matches_the_cloud(env):
    cloud, stage = env.parent.name, env.name
    backend_type, placeholders = BACKENDS[cloud]
    backends = [backend for block in load(env).terraform for backend in block.get("backend", [])]
    assert [next(iter(backend)) for backend in backends] == [backend_type]
    assert stage in str(backends[0][backend_type]), f"{rel(env)}: state key/prefix does not name the environment"
    assert set(parse(env / "backend.hcl")) == placeholders


@pytest.mark.parametrize("cloud", sorted(BACKENDS))
def test_dev_and_prod_differ_only_in_values(cloud):
    dev, prod = load(ENVS / cloud / "dev"), load(ENVS / cloud / "prod")
    assert dev.variables == prod.variables
    assert set(dev.modules["cluster"]) == set(prod.modules["cluster"])
    assert set(parse(ENVS / cloud / "dev" / "terraform.tfvars")) == set(
        parse(ENVS / cloud / "prod" / "terraform.tfvars")
    )


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
    assert aks["sku_tier"] == "Standard"
    assert aks["only_critical_addons_enabled"] is True
    assert gke["regional"] is True
    assert gke["deletion_protection"] == "${var.deletion_protection}"


@pytest.mark.parametrize("directory", module_dirs(), ids=rel)
def test_modules_require_three_distinct_zones(directory):
    zones = {name: spec for name, spec in load(directory).variables.items() if "zones" in name}
    assert len(zones) == 1, f"{rel(directory)}: expected one zones variable, found {sorted(zones)}"
    conditions = " ".join(rule["condition"] for spec in zones.values() for rule in spec.get("validation", []))
    assert "== 3" in conditions and "distinct" in conditions
