"""Runbook commands name what the platform creates and use it as it is set up: a wrong command fails at 3 a.m.,
not here."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
import yaml

from tests.harness.helm import render_chart

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS_DIR = ROOT / "docs" / "runbooks"
APPS_ROLE = ROOT / "roles" / "apps"
CNPG_ROLE = ROOT / "roles" / "cloudnative_pg"
# `kubectl ... -n <namespace> ... deploy/<name>` on one line, in either order.
NAMESPACE = re.compile(r"(?:-n|--namespace)[ =]([a-z0-9-]+)")
DEPLOYMENT = re.compile(r"\bdeploy(?:ment)?/([a-z0-9-]+)")
VARIABLE = re.compile(r"\{\{\s*(\w+)\s*\}\}")
# `kubectl cnpg backup ...` up to the closing backtick or the end of the line.
CNPG_BACKUP = re.compile(r"kubectl cnpg backup[^`\n]*")


def helm_fullname(release: str, chart: str) -> str:
    """The name Helm's standard `fullname` helper gives a chart's objects (no fullnameOverride)."""
    return release if chart in release else f"{release}-{chart}"


def operator_deployments() -> set[tuple[str, str]]:
    """(namespace, name) of every Deployment the charts of roles/cloudnative_pg install."""
    defaults = yaml.safe_load((CNPG_ROLE / "defaults" / "main.yml").read_text())
    found = set()
    for task in yaml.safe_load((CNPG_ROLE / "tasks" / "operator.yml").read_text()):
        chart = task.get("vars", {}).get("manifests_chart")
        if chart:
            namespace = VARIABLE.sub(lambda match: defaults[match.group(1)], chart["namespace"])
            found.add((namespace, helm_fullname(chart["name"], chart["chart"])))
    return found


def service_deployments() -> set[tuple[str, str]]:
    """(namespace, name) of every service Deployment, rendered with the apps role's default strategy."""
    defaults = yaml.safe_load((APPS_ROLE / "defaults" / "main.yml").read_text())
    found = set()
    for service in defaults["apps_services"]:
        objects = render_chart(
            service,
            service,
            values_files=[APPS_ROLE / "files" / "values" / f"{service}.yml"],
            set_values={"strategy": defaults["apps_strategy"]},
        )
        found |= {(service, o["metadata"]["name"]) for o in objects if o["kind"] == "Deployment"}
    return found


@functools.cache
def platform_deployments() -> frozenset[tuple[str, str]]:
    return frozenset(operator_deployments() | service_deployments())


def named_deployments(path: Path) -> list[tuple[str, str]]:
    """(namespace, name) of every concrete Deployment a runbook's commands name (placeholders skipped)."""
    found = []
    for line in path.read_text().splitlines():
        namespace, deployment = NAMESPACE.search(line), DEPLOYMENT.search(line)
        if namespace and deployment:
            found.append((namespace.group(1), deployment.group(1)))
    return found


def test_the_known_deployments_include_the_operator_and_the_services():
    namespaces = {namespace for namespace, _ in platform_deployments()}
    assert {"cnpg-system", "password-generator", "user-hasher", "kv-store"} <= namespaces


@pytest.mark.parametrize("path", sorted(RUNBOOKS_DIR.glob("*.md")), ids=lambda p: p.stem)
def test_runbook_commands_name_deployments_that_exist(path: Path):
    unknown = [pair for pair in named_deployments(path) if pair not in platform_deployments()]
    assert unknown == [], f"{path.name} names Deployments the platform does not create: {unknown}"


def scheduled_backup_method() -> str:
    """The kubectl-cnpg flags that request a backup the way the role's ScheduledBackup does."""
    template = (CNPG_ROLE / "templates" / "scheduledbackup.yml.j2").read_text()
    variables = yaml.safe_load((CNPG_ROLE / "vars" / "main.yml").read_text())
    # Only the method and the plugin matter here: other variables become placeholders.
    text = VARIABLE.sub(lambda match: str(variables.get(match.group(1), "x")), re.sub(r"\{%.*?%\}", "", template))
    spec = yaml.safe_load(text)["spec"]
    return f"--method {spec['method']} --plugin-name {spec['pluginConfiguration']['name']}"


@pytest.mark.parametrize("path", sorted(RUNBOOKS_DIR.glob("*.md")), ids=lambda p: p.stem)
def test_on_demand_backups_use_the_scheduled_backup_method(path: Path):
    """Without the plugin method kubectl-cnpg asks for the in-tree barmanObjectStore, which the Cluster has not."""
    method = scheduled_backup_method()
    wrong = [command for command in CNPG_BACKUP.findall(path.read_text()) if method not in command]
    assert wrong == [], f"{path.name}: add '{method}' to {wrong}"
