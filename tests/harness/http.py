"""Small HTTP helpers for tests against real servers (standard library only)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None, timeout: float = 10):
    """(status, headers, body) of one request; HTTP errors are answers too."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def get_json(url: str, timeout: float = 10):
    status, _, body = http("GET", url, timeout=timeout)
    return status, json.loads(body)


def metric_samples(text: str, name: str) -> dict[frozenset, float]:
    """Samples of one metric from Prometheus text: {frozenset(label pairs): value}."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                samples[frozenset(sample.labels.items())] = sample.value
    return samples
