"""playbooks/alert_drill.yml and load.yml: the objects they create (syntax: tests/test_playbooks.py).

Neither can run here end to end (they need a cluster with Prometheus, CloudNativePG and the services),
so the tests check what can be checked offline: the playbooks parse, and the Kubernetes objects they
apply (the drill's scratch volume and pod, the load Job) are valid and pass checkov, so they are admitted
in namespaces that enforce the restricted Pod Security Standard.
"""

from __future__ import annotations

import jinja2
import yaml

from tests.harness.ansible import ROOT
from tests.harness.checkov import run_checkov
from tests.harness.kube_schemas import schema_errors

TEMPLATES = ROOT / "playbooks/templates"
# The variables the playbooks set before they render each template.
SCRATCH_VARS = {
    "_drill_scratch": "alert-drill-scratch",
    "drill_disk_namespace": "monitoring",
    "drill_disk_size": "1Gi",
    "drill_disk_image": "busybox:1.36.1",
}
LOAD_VARS = {
    "_load_job": "load-user-hasher",
    "load_namespace": "user-hasher",
    "load_service": "user-hasher",
    "load_path": "/user_hash?user_id=load-test",
    "load_connections": 64,
    "load_duration": 180,
    "load_image": "grafana/k6:1.0.0",
}


def render(template: str, variables: dict) -> list[dict]:
    # YAML, not HTML: nothing to escape (Ansible renders these templates without autoescape too).
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701
    )
    return [doc for doc in yaml.safe_load_all(environment.get_template(template).render(**variables)) if doc]


def test_the_drill_scratch_volume_and_pod_are_valid():
    claim, pod, policy = render("alert-drill-scratch.yml.j2", SCRATCH_VARS)
    assert (claim["kind"], pod["kind"]) == ("PersistentVolumeClaim", "Pod")
    assert claim["spec"]["storageClassName"] == "platform"
    assert pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"] and "egress" not in policy["spec"]
    assert [problem for obj in (claim, pod, policy) for problem in schema_errors(obj)] == []


def test_the_load_job_calls_the_cluster_ip_service_for_the_whole_duration():
    script, job, policy = render("load-job.yml.j2", LOAD_VARS)
    assert "handleSummary" in script["data"]["load.js"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert "--env=TARGET=http://user-hasher.user-hasher.svc/user_hash?user_id=load-test" in container["args"]
    assert {"--vus=64", "--duration=180s"} <= set(container["args"])
    assert container["image"] == "grafana/k6:1.0.0"
    service_pods = policy["spec"]["egress"][0]["to"][0]["podSelector"]["matchLabels"]
    assert service_pods == {"app.kubernetes.io/name": "user-hasher"}
    assert [problem for obj in (script, job, policy) for problem in schema_errors(obj)] == []


def test_checkov_accepts_the_objects_the_playbooks_create(tmp_path):
    for template, variables in (("alert-drill-scratch.yml.j2", SCRATCH_VARS), ("load-job.yml.j2", LOAD_VARS)):
        for index, obj in enumerate(render(template, variables)):
            (tmp_path / f"{template.split('.')[0]}-{index}.yaml").write_text(yaml.safe_dump(obj))
    result = run_checkov(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
