"""High-availability and security policies for rendered Kubernetes objects.

Each check takes one workload (a Deployment) and, where the rule spans objects,
the whole rendered set; it returns readable violations, empty when the rule
holds. ``check_objects`` runs every check on every Deployment of a set, so any
suite that renders manifests (chart tests, the render playbook) can assert
``check_objects(objects) == []``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

MIN_REPLICAS = 3
HOSTNAME_KEY = "kubernetes.io/hostname"
ZONE_KEY = "topology.kubernetes.io/zone"
SLOT_LABEL = "slot"


def describe(obj: dict) -> str:
    """``Kind namespace/name`` for messages."""
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')} {meta.get('namespace', '-')}/{meta.get('name')}"


def _pod_spec(workload: dict) -> dict:
    return workload.get("spec", {}).get("template", {}).get("spec", {})


def _pod_labels(workload: dict) -> dict:
    return workload.get("spec", {}).get("template", {}).get("metadata", {}).get("labels") or {}


def _selector(workload: dict) -> dict:
    return workload.get("spec", {}).get("selector", {}).get("matchLabels") or {}


def _containers(workload: dict) -> list[dict]:
    return _pod_spec(workload).get("containers") or []


def _same_namespace(obj: dict, other: dict) -> bool:
    return (obj.get("metadata") or {}).get("namespace") == (other.get("metadata") or {}).get("namespace")


def _selects(match_labels: dict | None, labels: dict) -> bool:
    """A label selector (matchLabels only) selects ``labels``; an empty one selects everything."""
    return all(labels.get(key) == value for key, value in (match_labels or {}).items())


def _of_kind(objects: Iterable[dict], kind: str, near: dict) -> list[dict]:
    return [obj for obj in objects if obj.get("kind") == kind and _same_namespace(obj, near)]


def _sibling_slots(workload: dict, objects: Iterable[dict]) -> list[dict]:
    """The other blue/green slots of the same application."""
    app = {key: value for key, value in _selector(workload).items() if key != SLOT_LABEL}
    return [
        other
        for other in _of_kind(objects, "Deployment", workload)
        if other is not workload and SLOT_LABEL in _selector(other) and _selects(app, _selector(other))
    ]


def check_replicas(workload: dict, objects: Iterable[dict] = ()) -> list[str]:
    """At least 3 replicas; a blue/green slot may be parked at 0 while a sibling slot runs >= 3."""
    replicas = workload.get("spec", {}).get("replicas", 1)
    if replicas >= MIN_REPLICAS:
        return []
    parked = replicas == 0 and SLOT_LABEL in _selector(workload)
    if parked and any(s.get("spec", {}).get("replicas", 1) >= MIN_REPLICAS for s in _sibling_slots(workload, objects)):
        return []
    return [f"{describe(workload)}: replicas is {replicas}, want >= {MIN_REPLICAS}"]


def check_rolling_update(workload: dict, objects: Iterable[dict] = ()) -> list[str]:
    """RollingUpdate with maxUnavailable 0 and a surge: no ready pod is removed before its replacement."""
    strategy = workload.get("spec", {}).get("strategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    problems = []
    if strategy.get("type") != "RollingUpdate":
        problems.append(f"strategy.type is {strategy.get('type')!r}, want RollingUpdate")
    if str(rolling.get("maxUnavailable")) not in ("0", "0%"):
        problems.append(f"rollingUpdate.maxUnavailable is {rolling.get('maxUnavailable')!r}, want 0")
    if str(rolling.get("maxSurge", "0")) in ("0", "0%"):
        problems.append("rollingUpdate.maxSurge must allow at least one extra pod")
    return [f"{describe(workload)}: {problem}" for problem in problems]


def _spread_problem(workload: dict, key: str, allowed: tuple[str, ...]) -> str | None:
    constraints = _pod_spec(workload).get("topologySpreadConstraints") or []
    found = [c for c in constraints if c.get("topologyKey") == key]
    if not found:
        return f"no topologySpreadConstraint on {key}"
    constraint = found[0]
    if constraint.get("whenUnsatisfiable") not in allowed:
        return f"spread on {key} is {constraint.get('whenUnsatisfiable')}, want one of {allowed}"
    if not (constraint.get("labelSelector") or {}).get("matchLabels") or not _selects(
        constraint["labelSelector"]["matchLabels"], _pod_labels(workload)
    ):
        return f"spread on {key} does not select the workload's own pods"
    return None


def check_spread(workload: dict, objects: Iterable[dict] = ()) -> list[str]:
    """Pods spread over nodes (hard) and zones (hard or soft), counting the workload's own pods."""
    problems = [
        _spread_problem(workload, HOSTNAME_KEY, ("DoNotSchedule",)),
        _spread_problem(workload, ZONE_KEY, ("DoNotSchedule", "ScheduleAnyway")),
    ]
    return [f"{describe(workload)}: {problem}" for problem in problems if problem]


def check_probes(workload: dict, objects: Iterable[dict] = ()) -> list[str]:
    """Every container has readiness, liveness and startup probes."""
    return [
        f"{describe(workload)}: container {container.get('name')} has no {probe}"
        for container in _containers(workload)
        for probe in ("readinessProbe", "livenessProbe", "startupProbe")
        if not container.get(probe)
    ]


def check_resources(workload: dict, objects: Iterable[dict] = ()) -> list[str]:
    """Every container requests and limits CPU and memory."""
    return [
        f"{describe(workload)}: container {container.get('name')} has no {section}.{resource}"
        for container in _containers(workload)
        for section in ("requests", "limits")
        for resource in ("cpu", "memory")
        if not (container.get("resources") or {}).get(section, {}).get(resource)
    ]


def _container_security_problems(pod_context: dict, container: dict) -> list[str]:
    context = container.get("securityContext") or {}
    problems = []
    if context.get("allowPrivilegeEscalation") is not False:
        problems.append("allowPrivilegeEscalation must be false")
    if context.get("readOnlyRootFilesystem") is not True:
        problems.append("readOnlyRootFilesystem must be true")
    if context.get("privileged"):
        problems.append("must not be privileged")
    if "ALL" not in ((context.get("capabilities") or {}).get("drop") or []):
        problems.append("capabilities.drop must include ALL")
    if context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is not True:
        problems.append("runAsNonRoot must be true")
    if not context.get("runAsUser", pod_context.get("runAsUser")):
        problems.append("runAsUser must be a fixed non-zero UID")
    seccomp = (context.get("seccompProfile") or pod_context.get("seccompProfile") or {}).get("type")
    if seccomp not in ("RuntimeDefault", "Localhost"):
        problems.append(f"seccompProfile is {seccomp!r}, want RuntimeDefault")
    return [f"container {container.get('name')}: {problem}" for problem in problems]


def check_security_context(workload: dict, objects: Iterable[dict] = ()) -> list[str]:
    """Non-root fixed UID, read-only root, no escalation, no capabilities, seccomp, no API token."""
    spec = _pod_spec(workload)
    pod_context = spec.get("securityContext") or {}
    problems = [p for c in _containers(workload) for p in _container_security_problems(pod_context, c)]
    if spec.get("automountServiceAccountToken") is not False:
        problems.append("automountServiceAccountToken must be false")
    if spec.get("serviceAccountName", "default") == "default":
        problems.append("must run under a dedicated ServiceAccount, not default")
    if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
        problems.append("must not share the host's network, PID or IPC namespace")
    return [f"{describe(workload)}: {problem}" for problem in problems]


def prestop_seconds(container: dict) -> int | None:
    """Seconds a container's preStop hook waits (sleep action or an exec of ``sleep N``), else None."""
    pre_stop = (container.get("lifecycle") or {}).get("preStop") or {}
    if "sleep" in pre_stop:
        return int(pre_stop["sleep"]["seconds"])
    command = " ".join((pre_stop.get("exec") or {}).get("command") or [])
    match = re.search(r"\bsleep\s+(\d+)", command)
    return int(match.group(1)) if match else None


def check_graceful_shutdown(workload: dict, objects: Iterable[dict] = ()) -> list[str]:
    """A preStop delay keeps pods serving during endpoint removal, within the grace period."""
    grace = _pod_spec(workload).get("terminationGracePeriodSeconds", 30)
    problems = []
    for container in _containers(workload):
        delay = prestop_seconds(container)
        if delay is None:
            problems.append(f"container {container.get('name')} has no preStop sleep")
        elif delay >= grace:
            problems.append(f"terminationGracePeriodSeconds {grace} must exceed the preStop sleep of {delay} s")
    return [f"{describe(workload)}: {problem}" for problem in problems]


def check_disruption_budget(workload: dict, objects: Iterable[dict] = ()) -> list[str]:
    """A PodDisruptionBudget selects exactly the workload's pods and still lets one pod go."""
    budgets = [
        b
        for b in _of_kind(objects, "PodDisruptionBudget", workload)
        if _selects(b["spec"].get("selector", {}).get("matchLabels"), _pod_labels(workload))
    ]
    if not budgets:
        return [f"{describe(workload)}: no PodDisruptionBudget selects its pods"]
    problems = []
    for budget in budgets:
        spec = budget["spec"]
        if spec.get("selector", {}).get("matchLabels") != _selector(workload):
            problems.append(f"{describe(budget)} selector differs from the workload's selector")
        if "maxUnavailable" not in spec and "minAvailable" not in spec:
            problems.append(f"{describe(budget)} sets neither maxUnavailable nor minAvailable")
        if str(spec.get("maxUnavailable", "1")) in ("0", "0%"):
            problems.append(f"{describe(budget)} has maxUnavailable 0: nodes could never be drained")
    return [f"{describe(workload)}: {problem}" for problem in problems]


def check_autoscaler(workload: dict, objects: Iterable[dict] = ()) -> list[str]:
    """An autoscaling/v2 HPA targets the workload with minReplicas >= 3 and a scaling behaviour."""
    name = workload["metadata"]["name"]
    hpas = [
        hpa
        for hpa in _of_kind(objects, "HorizontalPodAutoscaler", workload)
        if hpa["spec"]["scaleTargetRef"].get("kind") == "Deployment"
        and hpa["spec"]["scaleTargetRef"].get("name") == name
    ]
    if not hpas:
        return [f"{describe(workload)}: no HorizontalPodAutoscaler targets it"]
    problems = []
    for hpa in hpas:
        spec = hpa["spec"]
        if hpa.get("apiVersion") != "autoscaling/v2":
            problems.append(f"{describe(hpa)} is {hpa.get('apiVersion')}, want autoscaling/v2")
        if spec.get("minReplicas", 1) < MIN_REPLICAS:
            problems.append(f"{describe(hpa)} minReplicas is {spec.get('minReplicas', 1)}, want >= {MIN_REPLICAS}")
        if spec.get("maxReplicas", 0) < spec.get("minReplicas", 1):
            problems.append(f"{describe(hpa)} maxReplicas is below minReplicas")
        if not spec.get("behavior"):
            problems.append(f"{describe(hpa)} has no scale-up/scale-down behavior")
    return [f"{describe(workload)}: {problem}" for problem in problems]


def check_network_policy(workload: dict, objects: Iterable[dict] = ()) -> list[str]:
    """A NetworkPolicy selects the pods and restricts both ingress and egress."""
    labels = _pod_labels(workload)
    policies = [
        policy
        for policy in _of_kind(objects, "NetworkPolicy", workload)
        if _selects(policy["spec"].get("podSelector", {}).get("matchLabels"), labels)
    ]
    types = {kind for policy in policies for kind in policy["spec"].get("policyTypes") or []}
    missing = {"Ingress", "Egress"} - types
    if missing:
        return [f"{describe(workload)}: no NetworkPolicy restricts its {', '.join(sorted(missing))} traffic"]
    return []


WORKLOAD_CHECKS: tuple[Callable[[dict, Iterable[dict]], list[str]], ...] = (
    check_replicas,
    check_rolling_update,
    check_spread,
    check_probes,
    check_resources,
    check_security_context,
    check_graceful_shutdown,
    check_disruption_budget,
    check_autoscaler,
    check_network_policy,
)


def check_objects(objects: list[dict]) -> list[str]:
    """Every policy on every Deployment of a rendered set."""
    return [
        problem
        for workload in objects
        if workload.get("kind") == "Deployment"
        for check in WORKLOAD_CHECKS
        for problem in check(workload, objects)
    ]
