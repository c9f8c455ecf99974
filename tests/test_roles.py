"""Every role keeps the collection's conventions: its interface is documented and checked."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.harness.ansible import ROOT

ROLES = sorted(path.parent.parent for path in (ROOT / "roles").glob("*/tasks/main.yml"))


def _defaults(role: Path) -> dict:
    path = role / "defaults/main.yml"
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def _options(role: Path) -> dict:
    specs = yaml.safe_load((role / "meta/argument_specs.yml").read_text())["argument_specs"]
    return specs["main"].get("options") or {}


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.name)
def test_role_has_the_documented_interface(role):
    for required in ("meta/main.yml", "meta/argument_specs.yml", "tasks/preflight.yml", "README.md"):
        assert (role / required).exists(), f"{role.name}: {required} is missing"


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.name)
def test_every_default_is_prefixed_and_specified(role):
    defaults = _defaults(role)
    unprefixed = [name for name in defaults if not name.startswith(f"{role.name}_")]
    assert not unprefixed, f"{role.name}: defaults without the role prefix: {unprefixed}"
    options = _options(role)
    assert set(options) == set(defaults), (
        f"{role.name}: argument_specs and defaults differ: only in specs {sorted(set(options) - set(defaults))}, "
        f"only in defaults {sorted(set(defaults) - set(options))}"
    )
    undescribed = [name for name, spec in options.items() if not spec.get("description")]
    assert not undescribed, f"{role.name}: options without a description: {undescribed}"


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.name)
def test_readme_names_every_variable(role):
    readme = (role / "README.md").read_text()
    missing = [name for name in _defaults(role) if f"`{name}`" not in readme]
    assert not missing, f"{role.name}: README does not document {missing}"
