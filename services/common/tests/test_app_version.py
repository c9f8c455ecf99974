"""The app_version label says which build answers: APP_VERSION (the image tag the chart
sets), so blue and green slots of one release can be told apart in every series."""

from __future__ import annotations

import pytest
from service_common.env import identity_from_env

from tests.harness.http import http, metric_samples


def test_app_version_from_the_environment_wins(monkeypatch):
    monkeypatch.setenv("APP_VERSION", "2.0.0-green")
    assert identity_from_env("svc", "1.0.0").app_version == "2.0.0-green"


@pytest.mark.parametrize("value", [None, ""])
def test_package_version_when_app_version_is_unset_or_empty(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("APP_VERSION", raising=False)
    else:
        monkeypatch.setenv("APP_VERSION", value)
    assert identity_from_env("svc", "1.0.0").app_version == "1.0.0"


@pytest.mark.parametrize("service", ["password-generator", "user-hasher", "kv-store"])
def test_every_series_carries_the_deployed_version(service, start_service, redis_server):
    app = start_service(service, APP_VERSION="2.0.0-green", REDIS_URL=redis_server.url)
    assert http("GET", f"{app.url}/healthz")[0] == 200
    text = http("GET", f"{app.url}/metrics")[2].decode()
    samples = metric_samples(text, "http_responses_total")
    assert samples
    assert {dict(labels)["app_version"] for labels in samples} == {"2.0.0-green"}
