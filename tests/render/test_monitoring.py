"""The rendered monitoring stack: selector values, rules and dashboards from files/, values per target."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.harness.ansible import ROOT

SELECTOR_VALUES = (
    "ruleSelectorNilUsesHelmValues",
    "serviceMonitorSelectorNilUsesHelmValues",
    "podMonitorSelectorNilUsesHelmValues",
    "probeSelectorNilUsesHelmValues",
)
KIND_UNREACHABLE = ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy")
RULES_DIR = ROOT / "files/rules"
NOT_ALERT_AREAS = ("_generated", "tests")


def _application(objects: list[dict], name: str) -> dict:
    matches = [o for o in objects if o["kind"] == "Application" and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one Application {name}, found {len(matches)}"
    return matches[0]


def _values(objects: list[dict], name: str = "kube-prometheus-stack") -> dict:
    return _application(objects, name)["spec"]["source"]["helm"]["valuesObject"]


def _alert_files() -> list[Path]:
    files = [path for path in RULES_DIR.glob("*/*.yml") if path.parent.name not in NOT_ALERT_AREAS]
    assert files, f"no alert file under {RULES_DIR}"
    return files


def _rendered_alerts(objects: list[dict]) -> set[str]:
    return {
        rule["alert"]
        for obj in objects
        if obj["kind"] == "PrometheusRule"
        for group in obj["spec"]["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


def test_prometheus_selects_every_rule_and_monitor(local_objects, cloud_objects):
    for objects in (local_objects, cloud_objects):
        application = _application(objects, "kube-prometheus-stack")
        assert application["metadata"]["namespace"] == "argocd"
        assert application["spec"]["destination"]["namespace"] == "monitoring"
        assert application["spec"]["source"]["repoURL"] == "https://prometheus-community.github.io/helm-charts"
        spec = _values(objects)["prometheus"]["prometheusSpec"]
        assert {key: spec[key] for key in SELECTOR_VALUES} == dict.fromkeys(SELECTOR_VALUES, False)


def test_the_chart_versions_are_pinned(local_objects, cloud_objects):
    for obj in local_objects + cloud_objects:
        if obj["kind"] == "Application" and obj["spec"]["destination"].get("namespace") == "monitoring":
            revision = str(obj["spec"]["source"]["targetRevision"])
            assert revision[0].isdigit() and revision.count(".") == 2, f"{obj['metadata']['name']}: {revision}"


def test_prometheus_and_alertmanager_keep_data_on_the_platform_class(local_objects):
    values = _values(local_objects)
    spec = values["prometheus"]["prometheusSpec"]
    assert spec["retention"] == "30d"
    assert spec["retentionSize"]
    for storage in (spec["storageSpec"], values["alertmanager"]["alertmanagerSpec"]["storage"]):
        claim = storage["volumeClaimTemplate"]["spec"]
        assert claim["storageClassName"] == "platform"
        assert claim["resources"]["requests"]["storage"]


def test_alertmanager_routes_to_the_documented_null_receiver(local_objects):
    config = _values(local_objects)["alertmanager"]["config"]
    assert config["route"]["receiver"] == "null"
    assert {"name": "null"} in config["receivers"]


def test_every_alert_file_is_in_a_prometheus_rule(local_objects):
    alerts = {yaml.safe_load(path.read_text())["alert"]: path for path in _alert_files()}
    missing = sorted(set(alerts) - _rendered_alerts(local_objects))
    assert not missing, f"alert files without a rendered rule: {[str(alerts[name]) for name in missing]}"


def test_every_slo_service_gets_burn_rate_alerts(local_objects):
    rules = {o["metadata"]["name"]: o for o in local_objects if o["kind"] == "PrometheusRule"}
    for path in (ROOT / "files/slos").glob("*.yml"):
        spec = yaml.safe_load(path.read_text())
        if any("sli" in slo for slo in spec["slos"]):
            rule = rules[f"slo-{spec['service']}"]
            assert rule["metadata"]["namespace"] == "monitoring"
            assert "ErrorBudgetBurn" in _rendered_alerts([rule])


def test_every_dashboard_is_a_configmap_the_sidecar_loads(local_objects):
    sidecar = _values(local_objects)["grafana"]["sidecar"]["dashboards"]
    assert sidecar["enabled"] is True
    loaded = {
        name: json.loads(text)["uid"]
        for obj in local_objects
        if obj["kind"] == "ConfigMap" and obj["metadata"]["labels"].get(sidecar["label"]) == sidecar["labelValue"]
        for name, text in obj["data"].items()
    }
    dashboards = {path.name: json.loads(path.read_text())["uid"] for path in (ROOT / "files/dashboards").glob("*.json")}
    assert dashboards, "no dashboard under files/dashboards"
    assert loaded == dashboards


def test_grafana_reads_its_administrator_from_a_secret_never_rendered(local_objects, cloud_objects):
    for objects in (local_objects, cloud_objects):
        grafana = _values(objects)["grafana"]
        assert grafana["admin"]["existingSecret"] == "grafana-admin"
        assert "adminPassword" not in grafana
        assert not [o for o in objects if o["kind"] == "Secret"]


def test_kind_drops_what_it_cannot_scrape(local_objects):
    values = _values(local_objects)
    for component in KIND_UNREACHABLE:
        assert values[component] == {"enabled": False}
    assert values["defaultRules"]["rules"]["kubeProxy"] is False
    assert values["prometheus-node-exporter"]["hostRootFsMount"]["enabled"] is False
    assert "--kubelet-insecure-tls" in _values(local_objects, "metrics-server")["args"]


def test_kind_only_values_are_absent_from_the_cloud(cloud_objects, aws_objects):
    assert "prometheus-node-exporter" not in _values(cloud_objects)
    assert "args" not in _values(aws_objects, "metrics-server")


def test_kube_proxy_is_scraped_only_where_it_runs(aws_objects, azure_objects, cloud_objects):
    """AKS (Cilium eBPF) and GKE (Dataplane V2) run no kube-proxy: scraping it would keep the critical
    KubeProxyDown firing forever. EKS runs it as an add-on."""
    terraform = ROOT / "files/terraform/modules"
    assert re.search(r'ebpf_data_plane\s*=\s*"cilium"', (terraform / "aks/main.tf").read_text())
    assert re.search(r'datapath_provider\s*=\s*"ADVANCED_DATAPATH"', (terraform / "gke/main.tf").read_text())
    assert re.search(r"kube-proxy\s*=\s*\{", (terraform / "eks/main.tf").read_text())
    for objects in (azure_objects, cloud_objects):
        values = _values(objects)
        assert values["kubeProxy"] == {"enabled": False}
        assert values["defaultRules"]["rules"]["kubeProxy"] is False
    values = _values(aws_objects)
    assert "kubeProxy" not in values
    assert "kubeProxy" not in values["defaultRules"]["rules"]


def _application_names(objects: list[dict]) -> set[str]:
    return {o["metadata"]["name"] for o in objects if o["kind"] == "Application"}


def test_metrics_server_is_installed_only_where_no_managed_one_runs(
    local_objects, aws_objects, azure_objects, cloud_objects
):
    """GKE and AKS run their own metrics-server, which owns the APIService v1beta1.metrics.k8s.io: a second one
    would fight it for the API. kind and EKS have none, and the HPAs need one."""
    for objects in (local_objects, aws_objects):
        assert "metrics-server" in _application_names(objects)
    for managed in (azure_objects, cloud_objects):
        assert "metrics-server" not in _application_names(managed)


def test_the_local_target_exposes_the_stack_to_the_host_only(local_objects):
    values = _values(local_objects)
    for component in ("prometheus", "alertmanager", "grafana"):
        service = values[component]["service"]
        assert service["type"] == "LoadBalancer"
        assert service["loadBalancerSourceRanges"]
        assert "0.0.0.0/0" not in service["loadBalancerSourceRanges"]


def test_the_cloud_keeps_the_stack_inside(cloud_objects):
    values = _values(cloud_objects)
    for component in ("prometheus", "alertmanager", "grafana"):
        assert values[component]["service"] == {"type": "ClusterIP"}


def test_logs_are_collected_in_the_cloud_only(local_objects, cloud_objects):
    assert not {"loki", "alloy"} & _application_names(local_objects)
    assert {"loki", "alloy"} <= _application_names(cloud_objects)
    sources = _values(cloud_objects)["grafana"]["additionalDataSources"]
    assert [source["type"] for source in sources] == ["loki"]
