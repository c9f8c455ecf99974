"""The rendered Redis: the pinned redis-ha chart as an Argo CD Application, HA, persistent, observable, fenced."""

from __future__ import annotations

import pytest

TARGETS = ["local_objects", "cloud_objects"]


@pytest.fixture(params=TARGETS)
def redis(request) -> dict:
    objects = request.getfixturevalue(request.param)
    (application,) = [o for o in objects if o["kind"] == "Application" and o["metadata"]["name"] == "redis"]
    return application


def _values(application: dict) -> dict:
    return application["spec"]["source"]["helm"]["valuesObject"]


def test_chart_is_pinned_and_lands_in_the_data_namespace(redis):
    source = redis["spec"]["source"]
    assert (source["chart"], source["targetRevision"]) == ("redis-ha", "4.33.8")
    assert redis["spec"]["destination"]["namespace"] == "databases"
    assert _values(redis)["fullnameOverride"] == "redis"


def test_three_nodes_with_sentinel_never_on_one_node(redis):
    values = _values(redis)
    assert values["replicas"] == 3
    assert values["sentinel"]["quorum"] == 2
    assert values["hardAntiAffinity"] is True
    assert values["topologySpreadConstraints"]["topologyKey"] == "topology.kubernetes.io/zone"
    # A preference: required, it would keep a replacement node Pending while a zone is out (docs/cloud.md).
    assert values["topologySpreadConstraints"]["whenUnsatisfiable"] == "ScheduleAnyway"
    assert values["podDisruptionBudget"] == {"maxUnavailable": 1}
    assert values["redis"]["masterGroupName"] == "mymaster"


def test_data_persists_on_the_platform_class(redis):
    volume = _values(redis)["persistentVolume"]
    assert (volume["enabled"], volume["storageClass"]) == (True, "platform")
    assert _values(redis)["redis"]["config"]["appendonly"] == "yes"


def test_password_comes_from_the_secret_for_redis_and_sentinel(redis):
    values = _values(redis)
    assert (values["auth"], values["existingSecret"], values["authKey"]) == (True, "redis-auth", "REDIS_PASSWORD")
    sentinel = values["sentinel"]
    assert (sentinel["auth"], sentinel["existingSecret"], sentinel["authKey"]) == (True, "redis-auth", "REDIS_PASSWORD")


def test_metrics_are_exported_and_scraped(redis):
    exporter = _values(redis)["exporter"]
    assert exporter["enabled"] is True
    assert exporter["serviceMonitor"]["enabled"] is True


def test_only_kv_store_and_monitoring_get_in(redis):
    policy = _values(redis)["networkPolicy"]
    assert policy["enabled"] is True
    admitted = {
        selector["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]: sorted(
            p["port"] for p in rule["ports"]
        )
        for rule in policy["ingressRules"]
        for selector in rule["selectors"]
    }
    assert admitted == {"kv-store": [6379, 26379], "monitoring": [9121]}


def test_pods_carry_the_label_kv_store_may_reach(redis, local_objects):
    labels = _values(redis)["labels"]
    kv_store = next(o for o in local_objects if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "kv-store")
    (to_redis,) = [rule for rule in kv_store["spec"]["egress"] if any(p["port"] == 26379 for p in rule["ports"])]
    (peer,) = to_redis["to"]
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "databases"}
    assert peer["podSelector"]["matchLabels"].items() <= labels.items()


def test_containers_meet_the_restricted_pod_security_standard(redis):
    context = _values(redis)["containerSecurityContext"]
    assert context["runAsNonRoot"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
