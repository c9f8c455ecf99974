"""Grafana dashboards: valid JSON, portable datasource, unique ids, and PromQL that a real Prometheus parses."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from ansible_collections.sre.platform.plugins.module_utils import alert_rules, dashboards

from tests.harness.ansible import run_module
from tests.harness.kube_schemas import schema_errors
from tests.harness.servers import PrometheusServer

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS_DIR = ROOT / "files" / "dashboards"
DASHBOARD_FILES = sorted(DASHBOARDS_DIR.glob("*.json"))
DATASOURCE_REF = {"type": "prometheus", "uid": "${datasource}"}
# Grafana fills these in before sending a query; any valid duration or label value parses the same.
GRAFANA_MACROS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}
VARIABLE = re.compile(r"\$\{?(\w+)\}?")


def all_panels(panels: list[dict]) -> Iterator[dict]:
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def expressions() -> list[tuple[str, str]]:
    return [
        (f"{path.stem}: {panel['title']} [{target['refId']}]", target["expr"])
        for path in DASHBOARD_FILES
        for panel in all_panels(load(path)["panels"])
        for target in panel.get("targets", [])
    ]


def concrete(expr: str) -> str:
    """The query Grafana would send: macros and dashboard variables replaced."""
    return VARIABLE.sub(lambda match: GRAFANA_MACROS.get(match.group(1), "x"), expr)


@pytest.fixture(scope="module")
def prometheus() -> Iterator[PrometheusServer]:
    server = PrometheusServer()
    try:
        yield server.start()
    finally:
        server.cleanup()


def test_the_four_dashboards_exist():
    assert {p.stem for p in DASHBOARD_FILES} == {"platform", "postgresql", "services", "slos"}


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.stem)
def test_dashboard_is_valid_with_a_uid_a_title_and_unique_panel_ids(path: Path):
    dashboard = load(path)
    assert re.fullmatch(r"[a-z0-9-]{1,40}", dashboard["uid"]), "a uid Grafana accepts (at most 40 characters)"
    assert dashboard["title"] and dashboard["schemaVersion"] >= 36
    ids = [panel["id"] for panel in all_panels(dashboard["panels"])]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {path.name}"


def test_uids_and_titles_are_unique_across_dashboards():
    boards = [load(path) for path in DASHBOARD_FILES]
    assert len({b["uid"] for b in boards}) == len({b["title"] for b in boards}) == len(boards)


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.stem)
def test_every_query_uses_the_datasource_variable(path: Path):
    dashboard = load(path)
    variables = dashboard["templating"]["list"]
    datasource = [v for v in variables if v["type"] == "datasource"]
    assert datasource == [v for v in variables if v["name"] == "datasource"], "one variable named 'datasource'"
    assert datasource[0]["query"] == "prometheus"
    for panel in all_panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE_REF, panel["title"]
        assert panel["targets"], f"panel '{panel['title']}' has no query"
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE_REF, panel["title"]
    for variable in variables:
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE_REF, variable["name"]


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.stem)
def test_no_datasource_uid_of_another_installation(path: Path):
    uids = set(re.findall(r'"uid":\s*"([^"]*)"', path.read_text()))
    assert uids == {"${datasource}", load(path)["uid"]}, uids


@pytest.mark.parametrize(("panel", "expr"), expressions(), ids=[name for name, _ in expressions()])
def test_every_expression_parses_in_prometheus(prometheus: PrometheusServer, panel: str, expr: str):
    url = f"{prometheus.url}/api/v1/query?" + urllib.parse.urlencode({"query": concrete(expr)})
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            assert json.load(response)["status"] == "success"
    except urllib.error.HTTPError as error:
        pytest.fail(f"{panel}: Prometheus refused {concrete(expr)!r}: {error.read().decode()}")


def test_a_broken_expression_is_caught(prometheus: PrometheusServer):
    url = f"{prometheus.url}/api/v1/query?" + urllib.parse.urlencode(
        {"query": concrete("sum(rate(x[$__rate_interval])")}
    )
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(url, timeout=10)
    assert error.value.code == 400


def test_slo_dashboard_reads_only_series_the_generated_rules_record():
    built = alert_rules.build_rule_files(ROOT / "files" / "rules", ROOT / "files" / "slos")
    recorded = {rule["record"] for f in built.values() for g in f["groups"] for rule in g["rules"] if "record" in rule}
    used = {name for _, expr in expressions() for name in re.findall(r"\bslo:[a-z0-9_:]+", expr)}
    assert used, "the SLO dashboard reads the recording rules"
    assert used <= recorded, sorted(used - recorded)


def test_service_dashboard_uses_the_contract_metric_names():
    exprs = " ".join(expr for name, expr in expressions() if name.startswith("services:"))
    for metric in (
        "http_request_duration_seconds_bucket",
        "http_responses_total",
        "passwords_generated_total",
        "user_hashes_generated_total",
        "kv_operations_total",
    ):
        assert metric in exprs, metric


def test_dashboard_configmaps_are_valid_and_carry_the_sidecar_label():
    configmaps = dashboards.dashboard_configmaps(DASHBOARDS_DIR, "monitoring")
    assert len(configmaps) == len(DASHBOARD_FILES)
    for configmap in configmaps:
        assert schema_errors(configmap) == []
        assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
        (name, text), *_ = configmap["data"].items()
        assert json.loads(text) == load(DASHBOARDS_DIR / name)


def test_prometheus_rule_manifests_match_the_crd_schema():
    for manifest in alert_rules.prometheus_rule_manifests(
        ROOT / "files" / "rules", ROOT / "files" / "slos", "monitoring"
    ):
        assert schema_errors(manifest) == [], manifest["metadata"]["name"]


def test_a_dashboard_without_uid_is_refused(tmp_path: Path):
    (tmp_path / "bad.json").write_text(json.dumps({"title": "no uid"}))
    with pytest.raises(dashboards.DashboardError, match=r"bad\.json: a dashboard needs a 'uid'"):
        dashboards.dashboard_configmaps(tmp_path, "monitoring")


def test_the_filters_build_the_same_objects_from_yaml():
    files = ROOT / "files"
    expression = (
        f"{{{{ ('{files}/rules' | sre.platform.prometheus_rule_manifests('{files}/slos', 'monitoring')"
        f" + ('{files}/dashboards' | sre.platform.dashboard_configmaps('monitoring'))) | map(attribute='kind') }}}}"
    )
    result = run_module("ansible.builtin.debug", {"msg": expression})
    assert not result.get("failed"), result
    rules = alert_rules.prometheus_rule_manifests(files / "rules", files / "slos", "monitoring")
    assert result["msg"] == ["PrometheusRule"] * len(rules) + ["ConfigMap"] * len(DASHBOARD_FILES)
