"""Grafana dashboards of the collection (``files/dashboards/*.json``) as Kubernetes objects.

kube-prometheus-stack's Grafana sidecar loads every ConfigMap labelled
``grafana_dashboard: "1"`` (its default ``sidecar.dashboards.label``), so each
dashboard becomes one ConfigMap holding its JSON.

Interface (used by the monitoring role through the ``sre.platform.dashboard_configmaps``
filter, and by the tests):

- ``load_dashboards(dashboards_dir)``: ``{file name: dashboard}``, each with a ``uid``;
- ``dashboard_configmaps(dashboards_dir, namespace)``: one ConfigMap per dashboard.
"""

from __future__ import annotations

import json
from pathlib import Path

SIDECAR_LABEL = {"grafana_dashboard": "1"}
PART_OF_LABEL = {"app.kubernetes.io/part-of": "sre-platform"}
# ConfigMaps are limited to 1 MiB; client-side apply also keeps a copy in an annotation.
MAX_DASHBOARD_BYTES = 512 * 1024


class DashboardError(ValueError):
    """A dashboard file is not usable; the message names the file."""


def load_dashboards(dashboards_dir) -> dict[str, dict]:
    dashboards = {}
    for path in sorted(Path(dashboards_dir).glob("*.json")):
        text = path.read_text(encoding="utf-8")
        if len(text.encode()) > MAX_DASHBOARD_BYTES:
            raise DashboardError(f"{path}: {len(text.encode())} bytes, more than a ConfigMap can safely hold")
        try:
            dashboard = json.loads(text)
        except ValueError as exc:
            raise DashboardError(f"{path}: not valid JSON: {exc}") from exc
        if not isinstance(dashboard, dict) or not dashboard.get("uid"):
            raise DashboardError(f"{path}: a dashboard needs a 'uid' so that Grafana links and updates stay stable")
        dashboards[path.name] = dashboard
    return dashboards


def dashboard_configmaps(dashboards_dir, namespace: str) -> list[dict]:
    """One ConfigMap per dashboard, named after its uid, with the file's JSON as data."""
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": f"dashboard-{dashboard['uid']}",
                "namespace": namespace,
                "labels": {**SIDECAR_LABEL, **PART_OF_LABEL},
            },
            "data": {name: json.dumps(dashboard, indent=2) + "\n"},
        }
        for name, dashboard in load_dashboards(dashboards_dir).items()
    ]
