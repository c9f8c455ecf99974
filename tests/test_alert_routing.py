"""Who hears an alert: the monitoring role's Alertmanager routes, checked by its preflight and by amtool.

The prod profile refuses the "null" default receiver unless told that it is meant, every receiver a route names
must exist, and the Watchdog goes to the heartbeat receiver (a dead man's switch) when there is one. Every case is
one play of a single ansible-playbook run; amtool (Debian package prometheus-alertmanager) then checks each rendered
configuration and says which receiver an alert reaches.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.harness.ansible import preflight_play, run_playbook
from tests.harness.servers import AlertmanagerServer, find_binary

VALUES = "kube-prometheus-stack.yml.j2"
RECEIVERS = [
    {"name": "null"},
    {"name": "oncall", "webhook_configs": [{"url": "http://alert-sink.monitoring.svc:8080/alerts"}]},
    {"name": "heartbeat", "webhook_configs": [{"url": "https://heartbeat.example/ping/0", "send_resolved": False}]},
]
PAGED = {"monitoring_alertmanager_receiver": "oncall", "monitoring_alertmanager_receivers": RECEIVERS}
WITH_HEARTBEAT = {**PAGED, "monitoring_alertmanager_heartbeat_receiver": "heartbeat"}

# (variables, refused by the preflight)
PREFLIGHT_CASES = [
    ({"platform_profile": "dev"}, False),
    ({"platform_profile": "prod"}, True),
    ({"platform_profile": "prod", "monitoring_alertmanager_allow_null": True}, False),
    ({"platform_profile": "prod", "monitoring_alertmanager_allow_null": "maybe"}, True),
    ({"platform_profile": "prod", **PAGED}, False),
    ({"platform_profile": "prod", **WITH_HEARTBEAT}, False),
    ({"monitoring_alertmanager_heartbeat_receiver": "heartbeat"}, True),
    (
        {**PAGED, "monitoring_alertmanager_routes": [{"receiver": "tickets", "matchers": ['severity = "warning"']}]},
        True,
    ),
]
# (name, variables, alert labels -> receiver)
ROUTING_CASES = [
    ("dev default", {"platform_profile": "dev"}, {"alertname=Watchdog": "null", "severity=critical": "null"}),
    (
        "prod with a pager and a heartbeat",
        {"platform_profile": "prod", **WITH_HEARTBEAT},
        {"alertname=Watchdog": "heartbeat", "severity=critical": "oncall", "severity=warning": "oncall"},
    ),
]


@pytest.fixture(scope="module")
def amtool() -> str:
    return find_binary("amtool", "prometheus-alertmanager")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    plays = [preflight_play("monitoring", variables) for variables, _ in PREFLIGHT_CASES]
    plays += [preflight_play("monitoring", variables, VALUES) for _, variables, _ in ROUTING_CASES]
    playbook = tmp_path_factory.mktemp("routing") / "routing.yml"
    playbook.write_text(yaml.safe_dump(plays))
    done = run_playbook(str(playbook))
    assert done.returncode == 0, done.output
    return done


def _failed_checks(play: dict) -> list[str]:
    return [task["task"]["name"] for task in play["tasks"] if task["hosts"]["localhost"].get("failed")]


@pytest.mark.parametrize("index", range(len(PREFLIGHT_CASES)), ids=[str(c[0]) for c in PREFLIGHT_CASES])
def test_the_preflight_refuses_alerts_that_reach_nobody(run, index):
    variables, refused = PREFLIGHT_CASES[index]
    failed = _failed_checks(run.report["plays"][index])
    assert bool(failed) is refused, f"{variables}: failed checks {failed}"


def rendered_alertmanager_config(play: dict) -> str:
    """The Alertmanager configuration of the kube-prometheus-stack values one play rendered."""
    (rendered,) = [
        task["hosts"]["localhost"]["msg"] for task in play["tasks"] if task["task"]["name"] == f"Render {VALUES}"
    ]
    return yaml.safe_dump(yaml.safe_load(rendered)["alertmanager"]["config"])


def _receiver(amtool: str, config: Path, labels: str) -> str:
    done = subprocess.run(
        [amtool, "config", "routes", "test", f"--config.file={config}", labels],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("index", range(len(ROUTING_CASES)), ids=[c[0] for c in ROUTING_CASES])
def test_alertmanager_sends_each_alert_where_the_variables_say(run, amtool, tmp_path, index):
    _, _, expected = ROUTING_CASES[index]
    play = run.report["plays"][len(PREFLIGHT_CASES) + index]
    assert not _failed_checks(play)
    config = tmp_path / "alertmanager.yml"
    config.write_text(rendered_alertmanager_config(play))
    checked = subprocess.run([amtool, "check-config", str(config)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert {labels: _receiver(amtool, config, labels) for labels in expected} == expected


def _burn_alert(service: str) -> dict:
    labels = {"alertname": "ErrorBudgetBurn", "severity": "critical", "routing": "page", "slo_service": service}
    return {"labels": {**labels, "slo_name": "availability", "long_window": "1h", "short_window": "5m"}}


def test_burn_rate_alerts_of_two_services_are_separate_notifications(run, server_factory):
    """Burn-rate alerts carry slo_service, not namespace: grouped by alertname alone, a second service's page
    would wait for the first one's group_interval and arrive inside an unrelated notification."""
    # The dev case: its receiver is "null", so Alertmanager groups the alerts and sends nothing anywhere.
    play = run.report["plays"][len(PREFLIGHT_CASES)]
    alertmanager = server_factory(AlertmanagerServer(rendered_alertmanager_config(play)))
    request = urllib.request.Request(
        f"{alertmanager.url}/api/v2/alerts",
        data=json.dumps([_burn_alert("kv-store"), _burn_alert("user-hasher")]).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).close()
    assert _grouped_services(alertmanager.url) == [["kv-store"], ["user-hasher"]]


def _grouped_services(url: str, timeout: float = 10.0) -> list[list[str]]:
    """slo_service of the alerts of each group, once the dispatcher has grouped both alerts."""
    deadline = time.monotonic() + timeout
    while True:
        with urllib.request.urlopen(f"{url}/api/v2/alerts/groups", timeout=10) as response:
            groups = json.load(response)
        services = sorted(sorted(alert["labels"]["slo_service"] for alert in group["alerts"]) for group in groups)
        if sum(map(len, services)) == 2 or time.monotonic() > deadline:
            return services
        time.sleep(0.1)
