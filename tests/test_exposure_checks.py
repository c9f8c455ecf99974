"""What the roles expose to the network, and their switches: each role's preflight refuses an exposure it
should not make and a switch that is not a boolean; the templates read a switch given as text right.

Every case is one play of a single ansible-playbook run (a run per case would take a minute here): the
play sets the case's variables and runs the role's preflight with errors ignored, so each case's verdict
is the result of its checking task in its own play.
"""

from __future__ import annotations

import yaml

from tests.harness.ansible import preflight_play, run_playbook

# (role, checking task, variables, refused)
CASES = [
    ("cloudnative_pg", "Check the exposure", {}, False),
    ("cloudnative_pg", "Check the exposure", {"platform_target": "eks"}, False),
    ("cloudnative_pg", "Check the exposure", {"cloudnative_pg_expose": "false", "platform_target": "gke"}, False),
    ("cloudnative_pg", "Check the exposure", {"cloudnative_pg_expose": True, "platform_target": "aks"}, True),
    ("cloudnative_pg", "Check the switches", {"cloudnative_pg_expose": "ture"}, True),
    ("cloudnative_pg", "Check the switches", {"cloudnative_pg_backup_enabled": "nope"}, True),
    ("cloudnative_pg", "Check the switches", {"cloudnative_pg_restore_cleanup": "off"}, False),
    ("cloudnative_pg", "Check the exposure", {"cloudnative_pg_expose_source_ranges": []}, True),
    ("cloudnative_pg", "Check the exposure", {"cloudnative_pg_expose_source_ranges": ["0.0.0.0/0"]}, True),
    ("cloudnative_pg", "Check the exposure", {"cloudnative_pg_expose_source_ranges": ["10.0.0.1/8"]}, True),
    ("monitoring", "Check the exposure", {"monitoring_expose_source_ranges": ["2001:db8::/32"]}, False),
    ("monitoring", "Check the exposure", {"monitoring_expose_source_ranges": ["10.0.0.0/8", "::/0"]}, True),
    ("monitoring", "Check the switches", {"monitoring_expose": "maybe"}, True),
    ("monitoring", "Check the switches", {"monitoring_logs_enabled": "0"}, False),
    ("monitoring", "Check the switches", {"monitoring_metrics_server_insecure_tls": "insecure"}, True),
    ("apps", "Check the inputs", {"apps_lb_source_ranges": ["172.16.0.0/12"]}, False),
    ("apps", "Check the inputs", {"apps_lb_source_ranges": ["0.0.0.0/0"]}, True),
]


def test_each_role_refuses_exactly_what_it_should(tmp_path):
    playbook = tmp_path / "preflights.yml"
    playbook.write_text(yaml.safe_dump([preflight_play(role, variables) for role, _, variables, _ in CASES]))
    run = run_playbook(str(playbook))
    assert run.returncode == 0, run.output
    for play, (role, task, variables, refused) in zip(run.report["plays"], CASES, strict=True):
        (result,) = [
            t["hosts"]["localhost"] for t in play["tasks"] if t["task"]["name"] == f"sre.platform.{role} : {task}"
        ]
        assert bool(result.get("failed")) is refused, f"{role} with {variables}: {result}"


def test_switches_given_as_text_false_are_off(tmp_path):
    """-e cloudnative_pg_expose=false arrives as the text 'false', which the templates used to read as true."""
    off = {"cloudnative_pg_expose", "cloudnative_pg_backup_enabled", "monitoring_expose", "monitoring_logs_enabled"}
    variables = dict.fromkeys(off, "false")
    plays = [
        preflight_play("cloudnative_pg", variables, "exposure.yml.j2", "objectstore.yml.j2"),
        preflight_play("monitoring", variables, "kube-prometheus-stack.yml.j2"),
    ]
    playbook = tmp_path / "switches.yml"
    playbook.write_text(yaml.safe_dump(plays))
    run = run_playbook(str(playbook))
    assert run.returncode == 0, run.output

    assert run.rendered("exposure.yml.j2")["kind"] == "NetworkPolicy"
    assert run.rendered("objectstore.yml.j2") is None, "no backup store without backups"
    monitoring = run.rendered("kube-prometheus-stack.yml.j2")
    services = [monitoring[component]["service"] for component in ("prometheus", "alertmanager", "grafana")]
    assert {service["type"] for service in services} == {"ClusterIP"}, services
    assert not [service for service in services if "loadBalancerSourceRanges" in service]
    assert "additionalDataSources" not in monitoring["grafana"], "no Loki data source without logs"
