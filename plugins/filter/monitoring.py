"""Filters that turn the collection's rules and dashboards into Kubernetes objects.

From a role, with paths to the collection's files directory:
``rules_dir | sre.platform.prometheus_rule_manifests(slos_dir, 'monitoring')`` gives the
PrometheusRule objects, ``dashboards_dir | sre.platform.dashboard_configmaps('monitoring')``
the Grafana dashboard ConfigMaps.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.sre.platform.plugins.module_utils import alert_rules, dashboards
from ansible_collections.sre.platform.plugins.module_utils.slo_spec import SloSpecError


def prometheus_rule_manifests(rules_dir: str, slos_dir: str, namespace: str) -> list[dict]:
    """PrometheusRule objects for every alert area and every service SLO file."""
    try:
        return alert_rules.prometheus_rule_manifests(rules_dir, slos_dir, namespace)
    except (alert_rules.AlertRuleError, SloSpecError, OSError) as exc:
        raise AnsibleFilterError(f"prometheus_rule_manifests: {exc}") from exc


def dashboard_configmaps(dashboards_dir: str, namespace: str) -> list[dict]:
    """ConfigMaps the Grafana sidecar loads, one per dashboard JSON file."""
    try:
        return dashboards.dashboard_configmaps(dashboards_dir, namespace)
    except (dashboards.DashboardError, OSError) as exc:
        raise AnsibleFilterError(f"dashboard_configmaps: {exc}") from exc


class FilterModule:
    """sre.platform monitoring filters."""

    def filters(self) -> dict:
        return {"prometheus_rule_manifests": prometheus_rule_manifests, "dashboard_configmaps": dashboard_configmaps}
