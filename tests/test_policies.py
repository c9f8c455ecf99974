"""The policy checks of tests/harness/policies.py report what they are meant to catch.

A compliant set of objects (the service chart's rendering) passes; each
deliberate break is reported with a message that names the object and the rule.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable

import pytest

from tests.harness.helm import REPO_ROOT, render_chart
from tests.harness.kube_schemas import schema_errors
from tests.harness.policies import check_objects, prestop_seconds

VALUES = REPO_ROOT / "roles" / "apps" / "files" / "values" / "user-hasher.yml"


@functools.cache
def _compliant() -> tuple[dict, ...]:
    return tuple(render_chart("user-hasher", "user-hasher", values_files=[VALUES]))


@pytest.fixture
def objects() -> list[dict]:
    return copy.deepcopy(list(_compliant()))


def _of_kind(objects: list[dict], kind: str) -> dict:
    return next(obj for obj in objects if obj["kind"] == kind)


def _pod(objects: list[dict]) -> dict:
    return _of_kind(objects, "Deployment")["spec"]["template"]["spec"]


def _container(objects: list[dict]) -> dict:
    return _pod(objects)["containers"][0]


def _remove(objects: list[dict], kind: str) -> None:
    objects.remove(_of_kind(objects, kind))


BREAKS: dict[str, tuple[Callable[[list[dict]], None], str]] = {
    "one replica": (lambda o: _of_kind(o, "Deployment")["spec"].update(replicas=1), "replicas is 1, want >= 3"),
    # The container's own setting wins over the pod's: that is where root must be refused.
    "runs as root": (
        lambda o: _container(o)["securityContext"].update(runAsNonRoot=False),
        "runAsNonRoot must be true",
    ),
    "UID 0": (lambda o: _container(o)["securityContext"].update(runAsUser=0), "runAsUser must be a fixed non-zero UID"),
    "writable root": (
        lambda o: _container(o)["securityContext"].update(readOnlyRootFilesystem=False),
        "readOnlyRootFilesystem must be true",
    ),
    "privilege escalation": (
        lambda o: _container(o)["securityContext"].pop("allowPrivilegeEscalation"),
        "allowPrivilegeEscalation must be false",
    ),
    "keeps capabilities": (
        lambda o: _container(o)["securityContext"]["capabilities"].update(drop=["NET_RAW"]),
        "capabilities.drop must include ALL",
    ),
    "unconfined seccomp": (
        lambda o: [
            ctx.update(seccompProfile={"type": "Unconfined"})
            for ctx in (_pod(o)["securityContext"], _container(o)["securityContext"])
        ],
        "seccompProfile is 'Unconfined'",
    ),
    "mounts the token": (
        lambda o: _pod(o).update(automountServiceAccountToken=True),
        "automountServiceAccountToken must be false",
    ),
    "default account": (lambda o: _pod(o).pop("serviceAccountName"), "dedicated ServiceAccount"),
    "no readiness probe": (lambda o: _container(o).pop("readinessProbe"), "container app has no readinessProbe"),
    "no memory limit": (lambda o: _container(o)["resources"]["limits"].pop("memory"), "has no limits.memory"),
    "unavailable during rollout": (
        lambda o: _of_kind(o, "Deployment")["spec"]["strategy"]["rollingUpdate"].update(maxUnavailable=1),
        "maxUnavailable is 1, want 0",
    ),
    "no node spread": (
        lambda o: _pod(o).update(topologySpreadConstraints=_pod(o)["topologySpreadConstraints"][1:]),
        "no topologySpreadConstraint on kubernetes.io/hostname",
    ),
    "soft node spread": (
        lambda o: _pod(o)["topologySpreadConstraints"][0].update(whenUnsatisfiable="ScheduleAnyway"),
        "spread on kubernetes.io/hostname is ScheduleAnyway",
    ),
    "spread counts other pods": (
        lambda o: _pod(o)["topologySpreadConstraints"][0]["labelSelector"].update(matchLabels={"app": "other"}),
        "does not select the workload's own pods",
    ),
    "no preStop": (lambda o: _container(o).pop("lifecycle"), "has no preStop sleep"),
    "grace shorter than preStop": (
        lambda o: _pod(o).update(terminationGracePeriodSeconds=5),
        "terminationGracePeriodSeconds 5 must exceed the preStop sleep of 10 s",
    ),
    "no PDB": (lambda o: _remove(o, "PodDisruptionBudget"), "no PodDisruptionBudget selects its pods"),
    "PDB blocks drains": (
        lambda o: _of_kind(o, "PodDisruptionBudget")["spec"].update(maxUnavailable=0),
        "maxUnavailable 0: nodes could never be drained",
    ),
    "PDB selects a subset": (
        lambda o: _of_kind(o, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"].update(tier="x"),
        "no PodDisruptionBudget selects its pods",
    ),
    "no HPA": (lambda o: _remove(o, "HorizontalPodAutoscaler"), "no HorizontalPodAutoscaler targets it"),
    "HPA min 1": (
        lambda o: _of_kind(o, "HorizontalPodAutoscaler")["spec"].update(minReplicas=1),
        "minReplicas is 1, want >= 3",
    ),
    "no NetworkPolicy": (
        lambda o: _remove(o, "NetworkPolicy"),
        "no NetworkPolicy restricts its Egress, Ingress traffic",
    ),
    "egress open": (
        lambda o: _of_kind(o, "NetworkPolicy")["spec"].update(policyTypes=["Ingress"]),
        "no NetworkPolicy restricts its Egress traffic",
    ),
}


def test_the_compliant_rendering_passes(objects):
    assert check_objects(objects) == []


@pytest.mark.parametrize("name", BREAKS)
def test_a_break_is_reported(objects, name):
    breaks, expected = BREAKS[name]
    breaks(objects)
    problems = check_objects(objects)
    assert any(expected in problem for problem in problems), problems
    assert all(problem.startswith(("Deployment user-hasher/user-hasher:",)) for problem in problems)


def test_several_breaks_are_all_reported(objects):
    _of_kind(objects, "Deployment")["spec"]["replicas"] = 1
    _pod(objects)["securityContext"]["runAsNonRoot"] = False
    _container(objects)["securityContext"].pop("runAsNonRoot")
    problems = check_objects(objects)
    assert problems == [
        "Deployment user-hasher/user-hasher: replicas is 1, want >= 3",
        "Deployment user-hasher/user-hasher: container app: runAsNonRoot must be true",
    ]


def test_a_parked_slot_needs_a_running_sibling():
    slot = copy.deepcopy(_of_kind(list(_compliant()), "Deployment"))
    slot["spec"]["selector"]["matchLabels"]["slot"] = "green"
    slot["spec"]["replicas"] = 0
    running = copy.deepcopy(slot)
    running["metadata"]["name"] = "user-hasher-blue"
    running["spec"]["selector"]["matchLabels"]["slot"] = "blue"
    running["spec"]["replicas"] = 3
    assert "replicas is 0" not in " ".join(check_objects([slot, running]))
    running["spec"]["replicas"] = 2
    assert "Deployment user-hasher/user-hasher: replicas is 0, want >= 3" in check_objects([slot, running])


@pytest.mark.parametrize(
    ("pre_stop", "seconds"),
    [
        ({"sleep": {"seconds": 7}}, 7),
        ({"exec": {"command": ["sleep", "12"]}}, 12),
        ({"exec": {"command": ["/bin/sh", "-c", "sleep 15 && kill -TERM 1"]}}, 15),
        ({"httpGet": {"path": "/drain", "port": 8080}}, None),
    ],
)
def test_prestop_seconds_reads_every_form(pre_stop, seconds):
    assert prestop_seconds({"lifecycle": {"preStop": pre_stop}}) == seconds


def test_schema_errors_report_unknown_fields_and_removed_api_versions(objects):
    deployment = _of_kind(objects, "Deployment")
    deployment["spec"]["replica"] = 3
    assert any("'replica' was unexpected" in error for error in schema_errors(deployment))
    removed = {"apiVersion": "extensions/v1beta1", "kind": "Deployment", "metadata": {"name": "old"}}
    assert any("Couldn't find schema for kind Deployment" in error for error in schema_errors(removed))


def test_schema_errors_check_custom_resources_against_their_crd(objects):
    monitor = _of_kind(objects, "ServiceMonitor")
    assert schema_errors(monitor) == []
    monitor["spec"]["endpoints"][0]["intervall"] = "15s"
    assert any("intervall" in error for error in schema_errors(monitor))
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert any("no schema for example.com/v1 Widget" in error for error in schema_errors(unknown))
