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
    ("apps", "Check the Ingresses", {}, False),
    ("apps", "Check the Ingresses", {"apps_ingress_hosts": {"user-hasher": "hasher.example.com"}}, False),
    ("apps", "Check the Ingresses", {"apps_ingress_hosts": {"user-hasher": ""}}, True),
    ("apps", "Check the Ingresses", {"apps_ingress_hosts": {"user-hasher": None}}, True),
    ("apps", "Check the Ingresses", {"apps_ingress_hosts": {"user-hasher": "Hasher_1.example.com"}}, True),
    ("apps", "Check the Ingresses", {"apps_ingress_hosts": {"user-hahser": "hasher.example.com"}}, True),
    ("apps", "Check the Ingresses", {"apps_ingress_hosts": ["hasher.example.com"]}, True),
    (
        "apps",
        "Check the Ingresses",
        {"apps_ingress_hosts": {"user-hasher": "a.example.com", "kv-store": "a.example.com"}},
        True,
    ),
    ("apps", "Check the Ingresses", {"apps_ingress_tls": "ture"}, True),
    ("apps", "Check the Ingresses", {"apps_ingress_controller_namespace": "Ingress_Nginx"}, True),
    ("apps", "Check the Service URLs", {"apps_service_urls": {"user-hasher-preview": "http://127.0.0.1:8080"}}, False),
    ("apps", "Check the Service URLs", {"apps_service_urls": {"user-hasher": "127.0.0.1:8080"}}, True),
    ("apps", "Check the Service URLs", {"apps_service_urls": {"user-hasher": None}}, True),
    ("apps", "Check the Service URLs", {"apps_service_urls": {"user-hahser": "http://127.0.0.1:8080"}}, True),
    ("apps", "Check the Service URLs", {"apps_service_urls": ["http://127.0.0.1:8080"]}, True),
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


def test_apps_names_the_bad_ingress_host_and_reaches_a_published_service_through_it(tmp_path):
    refused = preflight_play("apps", {"apps_ingress_hosts": {"user-hasher": "", "kv-store": "KV.example.com"}})
    published = {
        "name": "base url",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": {"apps_ingress_hosts": {"user-hasher": "hasher.example.com"}, "_apps_service": "user-hasher"},
        "tasks": [
            {
                "name": f"Base URL of {target}",
                "ansible.builtin.include_role": {"name": "sre.platform.apps", "tasks_from": "base_url.yml"},
                "vars": {"_apps_target": target, "apps_service_urls": urls},
            }
            for target, urls in [("user-hasher", {}), ("user-hasher", {"user-hasher": "http://127.0.0.1:8080"})]
        ],
    }
    playbook = tmp_path / "ingress.yml"
    playbook.write_text(yaml.safe_dump([refused, published]))
    run = run_playbook(str(playbook))
    assert run.returncode == 0, run.output
    checks, base_urls = run.report["plays"]
    (verdict,) = [t["hosts"]["localhost"] for t in checks["tasks"] if t["task"]["name"].endswith("Check the Ingresses")]
    assert verdict["failed"]
    not_dns_names = verdict["msg"].split("not a DNS name: ", 1)[1].split("}", 1)[0]
    assert '"user-hasher": ""' in not_dns_names and '"kv-store": "KV.example.com"' in not_dns_names
    urls = [
        t["hosts"]["localhost"]["ansible_facts"]["_apps_base_url"]
        for t in base_urls["tasks"]
        if t["task"]["name"].startswith("sre.platform.apps : Record how to reach")
    ]
    # The Ingress when apps_service_urls names nothing; apps_service_urls wins.
    assert urls == ["https://hasher.example.com", "http://127.0.0.1:8080"]
