"""Every role keeps the collection's conventions: its interface is documented and checked."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.harness.ansible import ROOT

ROLES = sorted(path.parent for path in (ROOT / "roles").glob("*/meta"))


def _defaults(role: Path) -> dict:
    path = role / "defaults/main.yml"
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def _specs(role: Path) -> dict:
    """Entry point (main, or a tasks file the role is included by) -> its argument spec."""
    return yaml.safe_load((role / "meta/argument_specs.yml").read_text())["argument_specs"]


def _options(role: Path) -> dict:
    """The options of every entry point."""
    return {name: spec for entry in _specs(role).values() for name, spec in (entry.get("options") or {}).items()}


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.name)
def test_role_has_the_documented_interface(role):
    for required in ("meta/main.yml", "meta/argument_specs.yml", "README.md"):
        assert (role / required).exists(), f"{role.name}: {required} is missing"
    specs = _specs(role)
    entry_points = {path.stem for path in (role / "tasks").glob("*.yml")}
    missing = set(specs) - entry_points
    assert not missing, f"{role.name}: argument_specs for tasks files that do not exist: {missing}"
    if "main" in specs:  # a role run whole checks its inputs first
        assert (role / "tasks/preflight.yml").exists(), f"{role.name}: tasks/preflight.yml is missing"


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.name)
def test_every_default_is_prefixed_and_specified(role):
    defaults = _defaults(role)
    unprefixed = [name for name in defaults if not name.startswith(f"{role.name}_")]
    assert not unprefixed, f"{role.name}: defaults without the role prefix: {unprefixed}"
    options = _options(role)
    # Options without a default are the ones a caller must give.
    unset = sorted(name for name in set(options) - set(defaults) if not options[name].get("required"))
    assert set(defaults) <= set(options) and not unset, (
        f"{role.name}: argument_specs and defaults differ: only in specs and not required {unset}, "
        f"only in defaults {sorted(set(defaults) - set(options))}"
    )
    undescribed = [name for name, spec in options.items() if not spec.get("description")]
    assert not undescribed, f"{role.name}: options without a description: {undescribed}"


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.name)
def test_readme_names_every_variable(role):
    readme = (role / "README.md").read_text()
    missing = [name for name in _defaults(role) if f"`{name}`" not in readme]
    assert not missing, f"{role.name}: README does not document {missing}"


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.name)
def test_specified_defaults_are_the_real_ones(role):
    """ansible-doc shows the spec's default: it must be the one defaults/main.yml sets. A default computed from
    other variables has none in the spec (its description names what it follows)."""
    options = _options(role)
    wrong = {}
    for name, value in _defaults(role).items():
        computed = isinstance(value, str) and "{{" in value
        spec = options[name]
        if spec.get("required"):  # its default is a placeholder the preflight refuses
            continue
        if computed and "default" in spec:
            wrong[name] = f"computed ({value}), the spec says {spec['default']!r}"
        elif not computed and spec.get("default") != value:
            wrong[name] = f"{value!r}, the spec says {spec.get('default', 'nothing')!r}"
    assert not wrong, f"{role.name}: defaults/main.yml and argument_specs differ: {wrong}"
