"""The service chart, rendered for each service and each strategy, checked offline.

Each case is linted (helm lint --strict), rendered (helm template), validated
against the Kubernetes OpenAPI and CRD schemas, held to the HA/security
policies of tests/harness/policies.py, and scanned with checkov.
"""

from __future__ import annotations

import copy
import functools
import re

import pytest
import yaml

from tests.harness.checkov import failed_checks
from tests.harness.helm import REPO_ROOT, SERVICE_CHART, HelmError, lint_chart, render_chart, template_chart
from tests.harness.kube_schemas import crd_schema_path, schema_errors
from tests.harness.policies import check_objects

SERVICES = ("password-generator", "user-hasher", "kv-store")
VALUES_DIR = REPO_ROOT / "roles" / "apps" / "files" / "values"
SLOTS = ("blue", "green")


def _case(service: str, active_slot: str | None = None) -> tuple[str, dict]:
    """(id, render arguments) of one service rendered rolling, or blue/green with ``active_slot`` active."""
    if active_slot is None:
        return service, {"service": service, "set_values": ()}
    bluegreen = (("strategy", "bluegreen"), ("blueGreen.activeSlot", active_slot))
    return f"{service}-bluegreen-{active_slot}", {"service": service, "set_values": bluegreen}


# An Ingress as roles/apps publishes one: TLS, a class, the controller's pods admitted.
INGRESS_VALUES = (
    ("ingress.enabled", True),
    ("ingress.host", "hasher.example.com"),
    ("ingress.className", "nginx"),
    ("ingress.annotations", {"cert-manager.io/cluster-issuer": "letsencrypt"}),
    ("ingress.controller.podLabels", {"app.kubernetes.io/name": "ingress-nginx"}),
)
INGRESS_CASE = "user-hasher-bluegreen-green-ingress"

CASES = dict([_case(service) for service in SERVICES] + [_case(s, slot) for s in SERVICES for slot in SLOTS])
CASES[INGRESS_CASE] = {
    "service": "user-hasher",
    "set_values": _case("user-hasher", "green")[1]["set_values"] + INGRESS_VALUES,
}
BLUEGREEN_CASES = [case for case in CASES if "-bluegreen-" in case]


def _values_file(service: str):
    return VALUES_DIR / f"{service}.yml"


def render(service: str, set_values: dict | None = None) -> list[dict]:
    return render_chart(service, service, values_files=[_values_file(service)], set_values=set_values)


@functools.cache
def rendered_case(case: str) -> tuple[dict, ...]:
    """Rendered once per session; callers must not mutate the objects."""
    args = CASES[case]
    return tuple(render(args["service"], dict(args["set_values"])))


def of_kind(objects, kind: str) -> list[dict]:
    return [obj for obj in objects if obj["kind"] == kind]


def named(objects, kind: str, name: str) -> dict:
    matches = [obj for obj in of_kind(objects, kind) if obj["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def env_of(deployment: dict) -> dict[str, dict]:
    return {var["name"]: var for var in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}


def active_slot_of(case: str) -> str:
    return dict(CASES[case]["set_values"])["blueGreen.activeSlot"]


# --- every case: lint, schemas, policies -------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_chart_lints_strictly(case):
    args = CASES[case]
    result = lint_chart(values_files=[_values_file(args["service"])], set_values=dict(args["set_values"]))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("case", CASES)
def test_every_object_matches_its_schema(case):
    objects = rendered_case(case)
    assert [error for obj in objects for error in schema_errors(obj)] == []
    # The ServiceMonitor really went through its CRD schema, not around it.
    service_monitor = of_kind(objects, "ServiceMonitor")[0]
    assert crd_schema_path(service_monitor["apiVersion"], "ServiceMonitor").exists()


@pytest.mark.parametrize("case", CASES)
def test_policies_hold(case):
    assert check_objects(list(rendered_case(case))) == []


@pytest.mark.parametrize("case", CASES)
def test_renders_one_set_of_objects_per_slot(case):
    slots = 2 if case in BLUEGREEN_CASES else 1
    kinds = [obj["kind"] for obj in rendered_case(case)]
    expected = {"Deployment": slots, "PodDisruptionBudget": slots, "HorizontalPodAutoscaler": slots, "Service": slots}
    expected |= {"ServiceAccount": 1, "ConfigMap": 1, "NetworkPolicy": 1, "ServiceMonitor": 1}
    expected |= {"Ingress": 1} if case == INGRESS_CASE else {}
    assert {kind: kinds.count(kind) for kind in set(kinds)} == expected


# --- the pod: probes, env, writable paths ------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_probes_use_the_health_endpoints(case):
    for deployment in of_kind(rendered_case(case), "Deployment"):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
        paths = {probe: container[probe]["httpGet"] for probe in ("readinessProbe", "livenessProbe", "startupProbe")}
        assert paths == {
            "readinessProbe": {"path": "/readyz", "port": "http"},
            "livenessProbe": {"path": "/healthz", "port": "http"},
            "startupProbe": {"path": "/healthz", "port": "http"},
        }


@pytest.mark.parametrize("case", CASES)
def test_pods_know_their_ip_node_and_version(case):
    for deployment in of_kind(rendered_case(case), "Deployment"):
        env = env_of(deployment)
        field_paths = {
            name: env[name]["valueFrom"]["fieldRef"]["fieldPath"]
            for name in ("POD_IP", "NODE_IP", "POD_NAME", "POD_NAMESPACE")
        }
        assert field_paths == {
            "POD_IP": "status.podIP",
            "NODE_IP": "status.hostIP",
            "POD_NAME": "metadata.name",
            "POD_NAMESPACE": "metadata.namespace",
        }
        assert env["PORT"]["value"] == "8080"
        assert env["GRACEFUL_TIMEOUT_SECONDS"]["value"] == "15"  # 30 s grace - 10 s preStop - 5 s to exit
        version = deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/version"]
        assert env["APP_VERSION"]["value"] == version == "dev"


@pytest.mark.parametrize("case", CASES)
def test_pods_know_their_memory_limit(case):
    """kv-store sizes its request body budget from it (services/kv-store/README.md)."""
    for deployment in of_kind(rendered_case(case), "Deployment"):
        field = env_of(deployment)["MEMORY_LIMIT_BYTES"]["valueFrom"]["resourceFieldRef"]
        assert field == {"containerName": "app", "resource": "limits.memory", "divisor": "1"}


@pytest.mark.parametrize("case", CASES)
def test_only_tmp_is_writable(case):
    for deployment in of_kind(rendered_case(case), "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["containers"][0]["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
        assert pod["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]
        assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True


@pytest.mark.parametrize("case", CASES)
def test_config_arrives_through_the_configmap(case):
    objects = rendered_case(case)
    config_map = of_kind(objects, "ConfigMap")[0]
    for deployment in of_kind(objects, "Deployment"):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["envFrom"] == [{"configMapRef": {"name": config_map["metadata"]["name"]}}]
        assert "checksum/config" in deployment["spec"]["template"]["metadata"]["annotations"]


@pytest.mark.parametrize("case", [case for case in CASES if CASES[case]["service"] == "user-hasher"])
def test_user_hasher_reads_its_salt_from_the_secret(case):
    objects = rendered_case(case)
    for deployment in of_kind(objects, "Deployment"):
        assert env_of(deployment)["USER_SALT"] == {
            "name": "USER_SALT",
            "valueFrom": {"secretKeyRef": {"name": "user-salt", "key": "USER_SALT", "optional": False}},
        }
    assert "USER_SALT" not in of_kind(objects, "ConfigMap")[0]["data"]


@pytest.mark.parametrize("case", [case for case in CASES if CASES[case]["service"] == "kv-store"])
def test_kv_store_reaches_redis_and_nothing_else(case):
    objects = rendered_case(case)
    config = of_kind(objects, "ConfigMap")[0]["data"]
    # The master is found through Sentinel, so a Redis failover moves kv-store with it.
    assert config["REDIS_SENTINELS"] == "redis.databases.svc.cluster.local:26379"
    assert config["REDIS_SENTINEL_MASTER"] == "mymaster"
    assert "REDIS_URL" not in config
    for deployment in of_kind(objects, "Deployment"):
        env = env_of(deployment)
        for name in ("REDIS_PASSWORD", "REDIS_SENTINEL_PASSWORD"):
            ref = env[name]["valueFrom"]["secretKeyRef"]
            assert (ref["name"], ref["key"]) == ("redis-auth", "REDIS_PASSWORD")
    egress = of_kind(objects, "NetworkPolicy")[0]["spec"]["egress"]
    destinations = [
        (rule["to"][0]["namespaceSelector"]["matchLabels"], [p["port"] for p in rule["ports"]]) for rule in egress
    ]
    assert destinations == [
        ({"kubernetes.io/metadata.name": "kube-system"}, [53, 53]),
        ({"kubernetes.io/metadata.name": "databases"}, [6379, 26379]),
    ]


# --- traffic: NetworkPolicy, ServiceMonitor ----------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_network_policy_admits_monitoring_and_allows_only_dns_out(service):
    policy = of_kind(rendered_case(service), "NetworkPolicy")[0]["spec"]
    # Exactly these callers: no ingress controller unless an Ingress is enabled.
    assert policy["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}},
        {"podSelector": {}},
    ]
    assert policy["ingress"][0]["ports"] == [{"port": "http", "protocol": "TCP"}]
    allowed_ports = {port["port"] for rule in policy["egress"] for port in rule["ports"]}
    assert allowed_ports == ({53, 6379, 26379} if service == "kv-store" else {53})


@pytest.mark.parametrize("case", CASES)
def test_service_monitor_scrapes_every_service_on_the_http_port(case):
    objects = rendered_case(case)
    monitor = of_kind(objects, "ServiceMonitor")[0]["spec"]
    selected = [
        s
        for s in of_kind(objects, "Service")
        if monitor["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()
    ]
    assert len(selected) == len(of_kind(objects, "Service"))
    assert monitor["endpoints"][0]["port"] in {port["name"] for s in selected for port in s["spec"]["ports"]}
    assert monitor["endpoints"][0]["path"] == "/metrics"


# --- blue/green ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", BLUEGREEN_CASES)
def test_active_service_selects_the_active_slot_and_preview_the_idle_one(case):
    service, active = CASES[case]["service"], active_slot_of(case)
    idle = next(slot for slot in SLOTS if slot != active)
    objects = rendered_case(case)
    assert named(objects, "Service", service)["spec"]["selector"]["slot"] == active
    assert named(objects, "Service", f"{service}-preview")["spec"]["selector"]["slot"] == idle
    for slot in SLOTS:
        deployment = named(objects, "Deployment", f"{service}-{slot}")
        assert deployment["spec"]["selector"]["matchLabels"]["slot"] == slot
        assert (
            named(objects, "PodDisruptionBudget", f"{service}-{slot}")["spec"]["selector"]["matchLabels"]["slot"]
            == slot
        )
        assert (
            named(objects, "HorizontalPodAutoscaler", f"{service}-{slot}")["spec"]["scaleTargetRef"]["name"]
            == f"{service}-{slot}"
        )


def test_each_slot_runs_its_own_image():
    objects = render(
        "password-generator",
        {
            "strategy": "bluegreen",
            "blueGreen.slots.green.tag": "2.0.0",
            "blueGreen.slots.blue.digest": "sha256:" + "a" * 64,
        },
    )
    green = named(objects, "Deployment", "password-generator-green")
    blue = named(objects, "Deployment", "password-generator-blue")
    assert green["spec"]["template"]["spec"]["containers"][0]["image"] == "password-generator:2.0.0"
    assert env_of(green)["APP_VERSION"]["value"] == "2.0.0"
    assert blue["spec"]["template"]["spec"]["containers"][0]["image"] == "password-generator@sha256:" + "a" * 64


def test_idle_slot_can_be_parked_at_zero():
    objects = render("password-generator", {"strategy": "bluegreen", "blueGreen.slots.green.replicas": 0})
    assert named(objects, "Deployment", "password-generator-green")["spec"]["replicas"] == 0
    assert check_objects(objects) == []


def test_parking_the_active_slot_is_refused():
    with pytest.raises(HelmError, match="blue is the active slot"):
        render("password-generator", {"strategy": "bluegreen", "blueGreen.slots.blue.replicas": 0})


# --- values that must be refused ----------------------------------------------------------


@pytest.mark.parametrize(
    ("set_values", "message"),
    [
        ({"replicaCount": 1}, "replicaCount: Must be greater than or equal to 3"),
        ({"autoscaling.minReplicas": 2}, "minReplicas: Must be greater than or equal to 3"),
        ({"strategy": "canary"}, "strategy must be one of"),
        ({"rollingUpdate.maxUnavailable": 1}, "maxUnavailable"),
        (
            {"shutdown.terminationGracePeriodSeconds": 15},
            "must exceed shutdown.preStopSleepSeconds (10) by more than 5 s",
        ),
        ({"replicaCont": 3}, "Additional property replicaCont is not allowed"),
        ({"ingress.enabled": True}, "ingress.enabled is true but ingress.host is empty"),
        ({"ingress.enabled": True, "ingress.host": "Hasher_1.example.com"}, "ingress.host: Does not match pattern"),
        (
            {"ingress.enabled": True, "ingress.host": "hasher.example.com", "ingress.controller.namespace": ""},
            "ingress.controller.namespace: Does not match pattern",
        ),
    ],
)
def test_unsafe_values_are_refused(set_values, message):
    with pytest.raises(HelmError, match=re.escape(message)):
        render("password-generator", set_values)


# --- options ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", [case for case in CASES if case != INGRESS_CASE])
def test_ingress_settings_change_nothing_while_it_is_disabled(case):
    args = CASES[case]
    disabled = dict(args["set_values"]) | dict(INGRESS_VALUES) | {"ingress.enabled": False}
    objects = render(args["service"], disabled)
    assert of_kind(objects, "Ingress") == []
    assert objects == list(rendered_case(case))


@pytest.mark.parametrize("active_slot", [None, *SLOTS])
def test_ingress_sends_traffic_to_the_active_service_only(active_slot):
    _, args = _case("user-hasher", active_slot)
    objects = render("user-hasher", dict(args["set_values"]) | dict(INGRESS_VALUES))
    (ingress,) = of_kind(objects, "Ingress")
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert (rule["host"], path["path"], path["pathType"]) == ("hasher.example.com", "/", "Prefix")
    backend = path["backend"]["service"]
    assert backend == {"name": "user-hasher", "port": {"name": "http"}}
    target = named(objects, "Service", backend["name"])
    assert target["spec"]["ports"][0]["name"] == "http"
    assert target["spec"]["selector"].get("slot") == active_slot  # None: the rolling Service, over all pods
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["hasher.example.com"], "secretName": "user-hasher-tls"}]
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt"}
    assert schema_errors(ingress) == []


def test_network_policy_admits_the_ingress_controller_on_the_http_port():
    policy = of_kind(rendered_case(INGRESS_CASE), "NetworkPolicy")[0]["spec"]
    (rule,) = policy["ingress"]
    controller = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}},
    }
    assert controller in rule["from"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]


def test_ingress_without_tls_and_with_its_own_secret():
    base = dict(INGRESS_VALUES)
    plain = of_kind(render("user-hasher", base | {"ingress.tls.enabled": False}), "Ingress")[0]
    assert "tls" not in plain["spec"]
    named_secret = of_kind(render("user-hasher", base | {"ingress.tls.secretName": "wildcard"}), "Ingress")[0]
    assert named_secret["spec"]["tls"][0]["secretName"] == "wildcard"


def test_a_controller_without_pod_labels_is_admitted_by_namespace():
    values = dict(INGRESS_VALUES) | {"ingress.controller.podLabels": {}, "ingress.controller.namespace": "traefik"}
    peers = of_kind(render("user-hasher", values), "NetworkPolicy")[0]["spec"]["ingress"][0]["from"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "traefik"}}} in peers


def test_kubelet_sleep_action_replaces_exec():
    objects = render("password-generator", {"shutdown.preStopAction": "sleep"})
    deployment = of_kind(objects, "Deployment")[0]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["lifecycle"]["preStop"] == {"sleep": {"seconds": 10}}
    assert check_objects(objects) == []
    assert schema_errors(deployment) == []


# --- checkov ------------------------------------------------------------------------------


def test_checkov_passes_every_rendering_and_still_catches_a_privileged_pod(tmp_path):
    (tmp_path / "rendered").mkdir()
    for case, args in CASES.items():
        text = template_chart(
            args["service"],
            args["service"],
            values_files=[_values_file(args["service"])],
            set_values=dict(args["set_values"]),
        )
        (tmp_path / "rendered" / f"{case}.yaml").write_text(text)
    # A broken copy in the same scan shows the skip list does not hide everything.
    broken = copy.deepcopy(of_kind(rendered_case("password-generator"), "Deployment")[0])
    broken["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] = True
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "deployment.yaml").write_text(yaml.safe_dump(broken))
    failed = failed_checks(tmp_path)
    assert [check for check in failed if check[1].startswith("rendered/")] == []
    assert ("CKV_K8S_16", "broken/deployment.yaml") in failed  # "Container should not be privileged"


# --- README -------------------------------------------------------------------------------


def documented_values(values_text: str) -> list[str]:
    """Dotted paths of the values.yaml keys that carry a ``# --`` description."""
    paths, stack, described = [], [], False
    for line in values_text.splitlines():
        if line.strip().startswith("# --"):
            described = True
            continue
        match = re.match(r"^(\s*)([A-Za-z][\w-]*):", line)
        if not match:
            continue
        indent = len(match.group(1))
        stack = [(i, key) for i, key in stack if i < indent] + [(indent, match.group(2))]
        if described:
            paths.append(".".join(key for _, key in stack))
        described = False
    return paths


def leaf_values(values: dict, prefix: str = "") -> list[str]:
    """Dotted paths down to scalars, lists, empty maps and free-form maps (keys that are not identifiers)."""
    leaves = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and all(re.fullmatch(r"[a-z][A-Za-z0-9]*", k) for k in value):
            leaves += leaf_values(value, path + ".")
        else:
            leaves.append(path)
    return leaves


def test_readme_documents_every_value():
    values_text = (SERVICE_CHART / "values.yaml").read_text()
    described = documented_values(values_text)
    undescribed = [
        leaf
        for leaf in leaf_values(yaml.safe_load(values_text))
        if not any(leaf == d or leaf.startswith(d + ".") for d in described)
    ]
    assert undescribed == [], "values without a '# --' description in values.yaml"
    readme = (SERVICE_CHART / "README.md").read_text()
    assert [path for path in described if f"`{path}`" not in readme] == []
