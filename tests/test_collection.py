"""The collection builds, installs offline, and its playbooks run from the installed copy."""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from tests.harness.ansible import BIN, ROOT, ansible_doc, ansible_env


def installed_env(work: Path) -> dict[str, str]:
    """Ansible sees only the installed copy, never the clone (which would shadow it)."""
    env = ansible_env({"ANSIBLE_COLLECTIONS_PATH": str(work / "dest")}, json_output=False)
    env.pop("ANSIBLE_CONFIG")
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("collection")
    build = subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(work), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        env=ansible_env(json_output=False),
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (tarball,) = work.glob("sre-platform-*.tar.gz")
    install = subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "install", str(tarball), "--offline", "-p", str(work / "dest")],
        capture_output=True,
        text=True,
        check=False,
        cwd=work,
        env=installed_env(work),
    )
    assert install.returncode == 0, install.stdout + install.stderr
    return work


def test_tarball_leaves_out_local_state(installed):
    (tarball,) = installed.glob("sre-platform-*.tar.gz")
    with tarfile.open(tarball) as archive:
        top = {name.split("/")[0] for name in archive.getnames()}
    assert {"playbooks", "roles", "plugins", "inventories", "MANIFEST.json"} <= top
    assert not top & {".venv", ".venv-checkov", ".git", ".state", "collections"}


def test_manifest_declares_the_dependencies(installed):
    manifest = yaml.safe_load((installed / "dest/ansible_collections/sre/platform/MANIFEST.json").read_text())
    assert set(manifest["collection_info"]["dependencies"]) == {"kubernetes.core", "community.general"}


def test_render_playbook_runs_from_the_installed_copy(installed):
    collection = installed / "dest/ansible_collections/sre/platform"
    out = installed / "rendered"
    run = subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "sre.platform.render",
            "-i",
            str(collection / "inventories/local"),
            "-e",
            f"render_dir={out}",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=installed,
        env=installed_env(installed),
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert (out / "storage/storageclass-platform.yaml").exists()
    assert (out / "metallb/ipaddresspool-metallb-system-default.yaml").exists()


class _AnsibleYamlLoader(yaml.SafeLoader):
    """YAML as playbooks write it: ``!unsafe`` marks a string Ansible must not template."""


_AnsibleYamlLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


@pytest.mark.parametrize("module", sorted(path.stem for path in (ROOT / "plugins" / "modules").glob("[!_]*.py")))
def test_every_module_documents_its_options_examples_and_return_values(module):
    documented = ansible_doc(f"sre.platform.{module}")
    assert documented["doc"]["short_description"] and documented["doc"]["options"]
    assert yaml.load(documented["examples"], _AnsibleYamlLoader), f"{module}: EXAMPLES is empty"  # noqa: S506
    assert documented["return"], f"{module}: RETURN is empty"


@pytest.mark.parametrize("module", sorted(path.stem for path in (ROOT / "plugins" / "modules").glob("[!_]*.py")))
def test_every_collection_file_a_module_example_names_exists(module):
    """An example is copied as it stands: a script or SLO file it names must be one the collection ships."""
    examples = ansible_doc(f"sre.platform.{module}")["examples"]
    named = re.findall(r"\{\{ playbook_dir \}\}/\.\./(files/[\w./-]+)", examples)
    assert [path for path in named if not (ROOT / path).exists()] == []


def _jinja_plugins() -> dict[tuple[str, str], object]:
    """Every filter and test the collection exposes: (type, name) -> function, from each plugin file."""
    functions = {}
    for plugin_type, entry in (("filter", "FilterModule"), ("test", "TestModule")):
        for path in sorted((ROOT / "plugins" / plugin_type).glob("[!_]*.py")):
            plugin = importlib.import_module(f"ansible_collections.sre.platform.plugins.{plugin_type}.{path.stem}")
            found = getattr(plugin, entry)()
            named = found.filters() if plugin_type == "filter" else found.tests()
            functions.update({(plugin_type, name): function for name, function in named.items()})
    return functions


JINJA_PLUGINS = _jinja_plugins()


@pytest.mark.parametrize(("plugin_type", "name"), sorted(JINJA_PLUGINS))
def test_every_filter_and_test_documents_its_arguments_examples_and_return_value(plugin_type, name):
    """ansible-doc -t filter|test finds the documentation (in the plugin, or a <name>.yml beside a multi-plugin
    file); its options are the function's arguments, the input first."""
    documented = ansible_doc(f"sre.platform.{name}", plugin_type)
    arguments = ["_input", *list(inspect.signature(JINJA_PLUGINS[plugin_type, name]).parameters)[1:]]
    assert sorted(documented["doc"]["options"]) == sorted(arguments)
    assert documented["doc"]["short_description"]
    assert f"sre.platform.{name}" in documented["examples"], f"{name}: no example uses it"
    assert yaml.load(documented["examples"], _AnsibleYamlLoader), f"{name}: EXAMPLES is empty"  # noqa: S506
    assert documented["return"]["_value"]["description"]
