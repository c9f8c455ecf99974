"""sre.platform.prometheus_alert through Ansible, against a real Prometheus and Alertmanager.

A drill stack per test: an exporter serves ``drill_value 1``; Prometheus scrapes it
every second, evaluates ``DrillAlert`` (``drill_value > 0`` for 2 s) every second
and sends it to Alertmanager. Stopping the exporter (by PID) makes the series stale,
which resolves the alert in both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from ansible_collections.sre.platform.plugins.modules.prometheus_alert import parse_time

from tests.harness.ansible import run_module
from tests.harness.exporter import MetricsExporter, scrape_config
from tests.harness.servers import AlertmanagerServer, PrometheusServer, free_port

MODULE = "sre.platform.prometheus_alert"
DRILL_RULES = """\
groups:
  - name: drill
    rules:
      - alert: DrillAlert
        expr: drill_value > 0
        for: 2s
        labels:
          severity: warning
        annotations:
          summary: Drill value is {{ $value }}
          runbook_url: https://example.invalid/DrillAlert.md
"""
FAST = {"interval": 0.3, "timeout": 60}


@dataclass
class DrillStack:
    exporter: MetricsExporter
    prometheus: PrometheusServer
    alertmanager: AlertmanagerServer


@pytest.fixture
def drill(server_factory, tmp_path: Path) -> DrillStack:
    rules = tmp_path / "drill-rules.yml"
    rules.write_text(DRILL_RULES)
    exporter = server_factory(MetricsExporter([{"name": "drill_value", "labels": {"drill": "yes"}, "value": 1}]))
    alertmanager = server_factory(AlertmanagerServer())
    config = scrape_config(exporter.target) + (
        f"rule_files:\n  - {rules}\n"
        f"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{alertmanager.port}']\n"
    )
    prometheus = server_factory(PrometheusServer(config=config))
    return DrillStack(exporter, prometheus, alertmanager)


def wait_for(url: str, state: str, api: str = "prometheus", **args) -> dict:
    return run_module(MODULE, {"url": url, "api": api, "name": "DrillAlert", "state": state, **FAST, **args})


def test_prometheus_alert_goes_pending_firing_then_resolved(drill: DrillStack):
    pending = wait_for(drill.prometheus.url, "pending")
    assert not pending.get("failed"), pending
    assert pending["changed"] is False
    assert pending["state"] in ("pending", "firing") and pending["reached"] is True
    assert pending["endpoint"] == f"{drill.prometheus.url}/api/v1/alerts"

    firing = wait_for(drill.prometheus.url, "firing", labels={"drill": "yes"})
    assert firing["state"] == "firing", firing
    assert firing["labels"] == {"alertname": "DrillAlert", "drill": "yes", "severity": "warning", "job": "exporter",
                                "instance": drill.exporter.target}  # fmt: skip
    assert firing["annotations"]["summary"] == "Drill value is 1"
    assert firing["firing_at"]["iso"].endswith("Z")  # ISO 8601 UTC like every module's times
    # Prometheus' own activeAt is when it went pending; 'for: 2s' separates it from firing.
    assert firing["firing_at"]["epoch"] - firing["active_at"]["epoch"] >= 1.5
    assert firing["pending_at"] is not None and firing["resolved_at"] is None

    drill.exporter.stop()
    resolved = wait_for(drill.prometheus.url, "resolved")
    assert resolved["state"] == "inactive" and resolved["reached"] is True, resolved
    assert resolved["resolved_at"]["epoch"] > firing["firing_at"]["epoch"]
    assert resolved["alerts"] == []


def test_alertmanager_receives_the_alert_and_its_resolution(drill: DrillStack):
    firing = wait_for(drill.alertmanager.url, "firing", api="alertmanager", labels={"severity": "warning"})
    assert firing["state"] == "firing", firing
    assert firing["endpoint"] == f"{drill.alertmanager.url}/api/v2/alerts"
    assert firing["labels"]["drill"] == "yes"
    assert firing["annotations"]["runbook_url"] == "https://example.invalid/DrillAlert.md"
    assert firing["active_at"]["epoch"] <= firing["firing_at"]["epoch"]

    drill.exporter.stop()
    resolved = wait_for(drill.alertmanager.url, "resolved", api="alertmanager")
    assert resolved["state"] == "inactive" and resolved["resolved_at"] is not None, resolved


def test_check_mode_reads_once_without_waiting(drill: DrillStack):
    result = run_module(
        MODULE, {"url": drill.prometheus.url, "name": "DrillAlert", "state": "resolved", "interval": 30}, check=True
    )
    assert not result.get("failed"), result
    assert result["polls"] == 1 and result["elapsed"] < 5
    assert result["changed"] is False

    firing = wait_for(drill.prometheus.url, "firing")
    assert firing["state"] == "firing"
    unmet = run_module(MODULE, {"url": drill.prometheus.url, "name": "DrillAlert", "state": "resolved"}, check=True)
    assert not unmet.get("failed"), "check mode reports, it does not fail"
    assert unmet["reached"] is False and unmet["state"] == "firing"


def test_timeout_names_the_alert_the_state_reached_and_the_url(server_factory):
    prometheus = server_factory(PrometheusServer())
    result = run_module(
        MODULE,
        {
            "url": prometheus.url,
            "name": "NeverFires",
            "labels": {"namespace": "databases"},
            "timeout": 2,
            "interval": 0.5,
        },
    )
    assert result["failed"] is True
    assert 'NeverFires{namespace="databases"}' in result["msg"]
    assert "did not become firing within 2 s" in result["msg"]
    assert f"{prometheus.url}/api/v1/alerts" in result["msg"]
    assert "last state was inactive" in result["msg"]
    assert result["polls"] >= 3


def test_bearer_token_never_appears_in_the_result(server_factory):
    prometheus = server_factory(PrometheusServer())
    secret = "drill-secret-token-42"
    result = run_module(MODULE, {"url": prometheus.url, "name": "X", "bearer_token": secret, "state": "resolved"})
    assert not result.get("failed"), result
    assert secret not in json.dumps(result)


@pytest.mark.parametrize("reachable", [True, False], ids=["timeout", "unreachable"])
def test_credentials_in_the_url_reach_no_message_nor_result(server_factory, reachable):
    host = server_factory(PrometheusServer()).url.split("://")[1] if reachable else f"127.0.0.1:{free_port()}"
    result = run_module(MODULE, {"url": f"http://admin:Secret-pw@{host}", "name": "X", "timeout": 1, "interval": 0.5})
    assert result["failed"] is True
    assert f"http://{host}/api/v1/alerts" in result["msg"]
    assert result["endpoint"] == f"http://{host}/api/v1/alerts"
    assert "Secret-pw" not in json.dumps(result), "masked even in the module's arguments"
    assert "admin" not in result["msg"]


def test_an_unreachable_api_fails_with_the_url_and_the_cause():
    url = f"http://127.0.0.1:{free_port()}"
    result = run_module(MODULE, {"url": url, "name": "X", "timeout": 5, "interval": 1})
    assert result["failed"] is True
    assert f"cannot read {url}/api/v1/alerts" in result["msg"]
    assert "refused" in result["msg"].lower()


def test_pending_cannot_be_awaited_in_alertmanager():
    result = run_module(MODULE, {"url": "http://127.0.0.1:1", "api": "alertmanager", "name": "X", "state": "pending"})
    assert result["failed"] is True
    assert "state=pending needs api=prometheus" in result["msg"]


@pytest.mark.parametrize(
    ("text", "epoch", "iso"),
    [
        # Alertmanager's startsAt: nanoseconds; the result keeps microseconds.
        ("2026-01-01T00:00:30.123456789Z", 1767225630.123456789, "2026-01-01T00:00:30.123457Z"),
        # Prometheus' activeAt on a whole second.
        ("2026-01-01T00:00:00Z", 1767225600.0, "2026-01-01T00:00:00.000000Z"),
        ("", None, None),
    ],
)
def test_api_times_become_epoch_and_iso_utc(text, epoch, iso):
    parsed = parse_time(text)
    if epoch is None:
        assert parsed is None
    else:
        assert parsed["epoch"] == pytest.approx(epoch, abs=1e-6)
        assert parsed["iso"] == iso
