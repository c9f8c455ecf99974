"""sre.platform.gitops_synced: which live objects Argo CD or Flux syncs, by the marks they leave."""

from __future__ import annotations

import pytest
from ansible_collections.sre.platform.plugins.filter.gitops import gitops_synced


def service(labels: dict | None = None, annotations: dict | None = None) -> dict:
    metadata = {"name": "kv-store", "namespace": "kv-store", "labels": labels or {}, "annotations": annotations or {}}
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata}


@pytest.mark.parametrize(
    ("obj", "controller", "mark"),
    [
        (
            service(annotations={"argocd.argoproj.io/tracking-id": "app:/Service:kv-store/kv-store"}),
            "Argo CD",
            "annotation argocd.argoproj.io/tracking-id=app:/Service:kv-store/kv-store",
        ),
        (service(labels={"argocd.argoproj.io/instance": "app"}), "Argo CD", "label argocd.argoproj.io/instance=app"),
        (
            service(labels={"kustomize.toolkit.fluxcd.io/name": "apps"}),
            "Flux",
            "label kustomize.toolkit.fluxcd.io/name=apps",
        ),
        (service(labels={"helm.toolkit.fluxcd.io/name": "kv"}), "Flux", "label helm.toolkit.fluxcd.io/name=kv"),
    ],
)
def test_each_mark_names_the_object_and_its_controller(obj, controller, mark):
    assert gitops_synced([obj]) == [f"Service kv-store/kv-store is synced by {controller} ({mark})"]


def test_the_helm_instance_label_alone_is_no_gitops_mark():
    """Helm and the service chart set app.kubernetes.io/instance on every object they make."""
    assert gitops_synced([service(labels={"app.kubernetes.io/instance": "kv-store"}), {"metadata": {}}]) == []


def test_an_instance_label_other_than_the_charts_is_argo_cd_label_tracking():
    """Argo CD's label tracking under its old default key writes the Application's name there."""
    obj = service(labels={"app.kubernetes.io/instance": "sre-platform-apps"})
    assert gitops_synced([obj], release="kv-store") == [
        "Service kv-store/kv-store is synced by Argo CD (label app.kubernetes.io/instance=sre-platform-apps, "
        "not kv-store as the chart sets it: label tracking)"
    ]
    assert gitops_synced([service(labels={"app.kubernetes.io/instance": "kv-store"})], release="kv-store") == []
