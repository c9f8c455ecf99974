"""What the roles expose to the network: each role's preflight refuses an exposure it should not make.

Every case is one play of a single ansible-playbook run (a run per case would take a minute here): the
play sets the case's variables and runs the role's preflight with errors ignored, so each case's verdict
is the result of its "Check the exposure" (or "Check the inputs") task, in play order.
"""

from __future__ import annotations

import yaml

from tests.harness.ansible import ROOT, run_playbook

ROLES = ROOT / "roles"

# (role, checking task, variables, refused)
CASES = [
    ("cloudnative_pg", "Check the exposure", {}, False),
    ("cloudnative_pg", "Check the exposure", {"platform_target": "eks"}, False),
    ("cloudnative_pg", "Check the exposure", {"cloudnative_pg_expose": "false", "platform_target": "gke"}, False),
    ("cloudnative_pg", "Check the exposure", {"cloudnative_pg_expose": True, "platform_target": "aks"}, True),
    ("cloudnative_pg", "Check the exposure", {"cloudnative_pg_expose": "ture"}, True),
    ("cloudnative_pg", "Check the exposure", {"cloudnative_pg_expose_source_ranges": []}, True),
    ("cloudnative_pg", "Check the exposure", {"cloudnative_pg_expose_source_ranges": ["0.0.0.0/0"]}, True),
    ("cloudnative_pg", "Check the exposure", {"cloudnative_pg_expose_source_ranges": ["10.0.0.1/8"]}, True),
    ("monitoring", "Check the exposure", {"monitoring_expose_source_ranges": ["2001:db8::/32"]}, False),
    ("monitoring", "Check the exposure", {"monitoring_expose_source_ranges": ["10.0.0.0/8", "::/0"]}, True),
    ("monitoring", "Check the exposure", {"monitoring_expose": "maybe"}, True),
    ("apps", "Check the inputs", {"apps_lb_source_ranges": ["172.16.0.0/12"]}, False),
    ("apps", "Check the inputs", {"apps_lb_source_ranges": ["0.0.0.0/0"]}, True),
]


def _play(role: str, variables: dict, render: str | None = None) -> dict:
    tasks = [
        {
            "name": "Preflight",
            "ansible.builtin.include_role": {
                "name": f"sre.platform.{role}",
                "tasks_from": "preflight.yml",
                "public": True,
                "apply": {"ignore_errors": True},
            },
        }
    ]
    if render:
        tasks.append(
            {
                "name": "Render",
                "ansible.builtin.debug": {"msg": f"{{{{ lookup('ansible.builtin.template', '{render}') }}}}"},
            }
        )
    return {
        "name": role,
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": variables,
        "tasks": tasks,
    }


def test_each_role_refuses_exactly_the_exposures_it_should(tmp_path):
    playbook = tmp_path / "preflights.yml"
    playbook.write_text(yaml.safe_dump([_play(role, variables) for role, _, variables, _ in CASES]))
    run = run_playbook(str(playbook))
    assert run.returncode == 0, run.output
    verdicts = {(role, task): iter(run.task_results(f"sre.platform.{role} : {task}")) for role, task, _, _ in CASES}
    for role, task, variables, refused in CASES:
        result = next(verdicts[role, task])
        assert bool(result.get("failed")) is refused, f"{role} with {variables}: {result}"


def test_expose_given_as_text_false_exposes_nothing(tmp_path):
    """-e cloudnative_pg_expose=false arrives as the text 'false', which used to read as true."""
    variables = {"cloudnative_pg_expose": "false", "monitoring_expose": "false"}
    plays = [
        _play("cloudnative_pg", variables, ROLES / "cloudnative_pg/templates/exposure.yml.j2"),
        _play("monitoring", variables, ROLES / "monitoring/templates/kube-prometheus-stack.yml.j2"),
    ]
    playbook = tmp_path / "exposure.yml"
    playbook.write_text(yaml.safe_dump(plays))
    run = run_playbook(str(playbook))
    assert run.returncode == 0, run.output
    database, monitoring = (yaml.safe_load(result["msg"]) for result in run.task_results("Render"))
    assert database["kind"] == "NetworkPolicy", database
    services = [monitoring[component]["service"] for component in ("prometheus", "alertmanager", "grafana")]
    assert {service["type"] for service in services} == {"ClusterIP"}, services
    assert not [service for service in services if "loadBalancerSourceRanges" in service]
