#!/usr/bin/python
"""Ansible module sre.platform.prometheus_alert: wait for an alert state in Prometheus or Alertmanager."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: prometheus_alert
short_description: Wait until a Prometheus alert is pending, firing or resolved
version_added: 0.1.0
description:
  - Polls the alerts API of Prometheus (C(/api/v1/alerts)) or Alertmanager (C(/api/v2/alerts))
    until an alert with the given name, and optionally the given labels, reaches the wanted state.
  - Returns when the alert was first seen pending, firing and resolved (ISO 8601 and epoch
    seconds), with its labels and annotations; this is the evidence of an alert drill.
  - The module only reads; it never reports a change.
options:
  url:
    description:
      - Base URL of Prometheus or Alertmanager, for example C(http://127.0.0.1:9090).
    type: str
    required: true
  api:
    description:
      - Which alerts API O(url) serves. Alertmanager only knows firing alerts (Prometheus
        sends no pending ones), so O(state=pending) needs C(prometheus).
    type: str
    choices: [prometheus, alertmanager]
    default: prometheus
  name:
    description:
      - The alert name (the C(alertname) label).
    type: str
    required: true
  labels:
    description:
      - "Labels the alert must carry with exactly these values, for example C({namespace: databases})."
    type: dict
    default: {}
  state:
    description:
      - The state to wait for. V(pending) is also reached by an alert that is already firing.
        V(resolved) means no matching alert is pending or firing.
    type: str
    choices: [pending, firing, resolved]
    default: firing
  timeout:
    description:
      - Seconds to wait for O(state) before failing.
    type: float
    default: 300
  interval:
    description:
      - Seconds between two polls.
    type: float
    default: 5
  bearer_token:
    description:
      - "Token sent in the C(Authorization) header as C(Bearer <token>) (for example behind an authenticating proxy)."
    type: str
  validate_certs:
    description:
      - Verify the TLS certificate of an C(https) URL.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Reads the alerts once and returns the current state without waiting; fails only when the
      alerts API cannot be read.
author:
  - sre.platform maintainers
seealso:
  - name: Prometheus alerts API
    description: The C(/api/v1/alerts) endpoint.
    link: https://prometheus.io/docs/prometheus/latest/querying/api/#alerts
  - name: Alertmanager API v2
    description: The C(/api/v2/alerts) endpoint.
    link: https://github.com/prometheus/alertmanager/blob/main/api/v2/openapi.yaml
"""

EXAMPLES = r"""
- name: Wait until the replication lag alert fires
  sre.platform.prometheus_alert:
    url: http://127.0.0.1:9090
    name: PostgresReplicationLagHigh
    labels:
      namespace: databases
    state: firing
    timeout: 600
  register: lag_alert

- name: Wait until Alertmanager has received it
  sre.platform.prometheus_alert:
    url: http://127.0.0.1:9093
    api: alertmanager
    name: PostgresReplicationLagHigh
    bearer_token: "{{ alertmanager_token }}"

- name: Wait until it resolves after the drill
  sre.platform.prometheus_alert:
    url: http://127.0.0.1:9090
    name: PostgresReplicationLagHigh
    state: resolved
"""

RETURN = r"""
alert:
  description: The alert name waited for.
  returned: always
  type: str
  sample: PostgresReplicationLagHigh
state:
  description: The state seen by the last poll, V(pending), V(firing) or V(inactive).
  returned: always
  type: str
  sample: firing
reached:
  description: Whether the last poll saw the wanted state. Always true when the module succeeds outside check
    mode; false in the failure after O(timeout).
  returned: always
  type: bool
  sample: true
pending_at:
  description: When a poll first saw the alert pending. When the polls only ever saw it firing, Prometheus'
    C(activeAt) (when it went pending). Null if neither, and always with O(api=alertmanager), which only
    receives firing alerts.
  returned: always
  type: dict
  sample: {"epoch": 1767225600.5, "iso": "2026-01-01T00:00:00.500000Z"}
firing_at:
  description: When a poll first saw the alert firing (null if never).
  returned: always
  type: dict
  sample: {"epoch": 1767225630.5, "iso": "2026-01-01T00:00:30.500000Z"}
resolved_at:
  description:
    - When a poll first saw no matching alert pending or firing, after it had been seen active
      (or at the first poll when waiting for V(resolved)); null otherwise.
  returned: always
  type: dict
  sample: null
active_at:
  description: When the source says the alert became active (Prometheus C(activeAt), Alertmanager C(startsAt)).
  returned: always
  type: dict
  sample: {"epoch": 1767225600.0, "iso": "2026-01-01T00:00:00.000000Z"}
labels:
  description: Labels of the matching alert last seen (empty if none was seen).
  returned: always
  type: dict
  sample: {"alertname": "PostgresReplicationLagHigh", "namespace": "databases", "severity": "warning"}
annotations:
  description: Annotations of the matching alert last seen (empty if none was seen).
  returned: always
  type: dict
  sample: {"summary": "PostgreSQL standby databases/pg-main-2 lags the primary by more than 5 s."}
alerts:
  description: Every matching alert of the last poll, as C(labels), C(annotations), C(state), C(active_at).
  returned: always
  type: list
  elements: dict
polls:
  description: Number of requests made to the alerts API.
  returned: always
  type: int
  sample: 7
elapsed:
  description: Seconds spent waiting.
  returned: always
  type: float
  sample: 31.2
endpoint:
  description: The alerts API URL that was polled.
  returned: always
  type: str
  sample: http://127.0.0.1:9090/api/v1/alerts
"""

import json
import time
import traceback
from datetime import UTC, datetime

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url
from ansible_collections.sre.platform.plugins.module_utils.prometheus_query import mask_url_password, redact_url
from ansible_collections.sre.platform.plugins.module_utils.timestamps import iso_utc

API_PATHS = {"prometheus": "/api/v1/alerts", "alertmanager": "/api/v2/alerts"}
# What each wanted state accepts as reached: an alert already firing has passed pending.
REACHED_BY = {"pending": {"pending", "firing"}, "firing": {"firing"}, "resolved": {"inactive"}}
REQUEST_TIMEOUT = 10


class AlertsApiError(RuntimeError):
    """The alerts API could not be read or answered something unexpected."""


def timestamp(epoch: float) -> dict:
    return {"epoch": epoch, "iso": iso_utc(epoch)}


def parse_time(text: str | None) -> dict | None:
    """An RFC 3339 time from the API (nanoseconds and a trailing Z included) as a timestamp."""
    if not text:
        return None
    head, _, fraction = text.rstrip("Z").partition(".")
    epoch = datetime.fromisoformat(head).replace(tzinfo=UTC).timestamp()
    digits = "".join(ch for ch in fraction if ch.isdigit())
    return timestamp(epoch + (float(f"0.{digits}") if digits else 0.0))


def normalise(raw: dict, api: str) -> dict:
    """One alert in the same shape whatever the API: labels, annotations, state, active_at."""
    if api == "prometheus":
        return {
            "labels": raw.get("labels", {}),
            "annotations": raw.get("annotations", {}),
            "state": raw.get("state"),
            "active_at": parse_time(raw.get("activeAt")),
        }
    # Prometheus only sends firing alerts to Alertmanager; silenced ones are still firing.
    return {
        "labels": raw.get("labels", {}),
        "annotations": raw.get("annotations", {}),
        "state": "firing",
        "active_at": parse_time(raw.get("startsAt")),
    }


def fetch_alerts(module: AnsibleModule, endpoint: str) -> list[dict]:
    params = module.params
    headers = {"Accept": "application/json"}
    if params["bearer_token"]:
        headers["Authorization"] = f"Bearer {params['bearer_token']}"
    # open_url sends a user and password in the URL as basic auth; messages name the endpoint without them.
    shown = redact_url(endpoint)
    try:
        response = open_url(endpoint, headers=headers, validate_certs=params["validate_certs"], timeout=REQUEST_TIMEOUT)
        body = json.loads(response.read())
    except ValueError as exc:
        raise AlertsApiError(f"{shown} did not answer JSON: {exc}") from exc
    except Exception as exc:  # urllib raises several unrelated types (HTTPError, URLError, socket errors)
        raise AlertsApiError(f"cannot read {shown}: {exc}") from exc
    raw = body.get("data", {}).get("alerts") if params["api"] == "prometheus" else body
    if not isinstance(raw, list):
        raise AlertsApiError(f"{shown} answered no alert list: {str(body)[:300]}")
    return [normalise(alert, params["api"]) for alert in raw]


def matching(alerts: list[dict], name: str, labels: dict) -> list[dict]:
    wanted = {"alertname": name, **{key: str(value) for key, value in labels.items()}}
    return [a for a in alerts if all(a["labels"].get(key) == value for key, value in wanted.items())]


def current_state(alerts: list[dict]) -> str:
    states = {alert["state"] for alert in alerts}
    for state in ("firing", "pending"):
        if state in states:
            return state
    return "inactive"


def describe(name: str, labels: dict) -> str:
    matchers = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    return f"{name}{{{matchers}}}" if matchers else name


class AlertWatch:
    """Polls the alerts API and remembers when each state was first seen."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.params = module.params
        self.url = self.params["url"].rstrip("/") + API_PATHS[self.params["api"]]
        self.endpoint = redact_url(self.url)  # what results and messages show
        self.first_seen = {"pending": None, "firing": None, "inactive": None}
        self.last = {"labels": {}, "annotations": {}, "active_at": None}
        self.alerts: list[dict] = []
        self.state = "inactive"
        self.polls = 0
        self.started = time.monotonic()

    def poll(self) -> str:
        self.polls += 1
        self.alerts = matching(fetch_alerts(self.module, self.url), self.params["name"], self.params["labels"])
        self.state = current_state(self.alerts)
        if self.first_seen[self.state] is None and self._counts_as_seen():
            self.first_seen[self.state] = timestamp(time.time())
        if self.state == "firing" and self.first_seen["pending"] is None and self.params["api"] == "prometheus":
            # Missed between two polls: Prometheus' activeAt is when it went pending.
            self.first_seen["pending"] = self.alerts[0]["active_at"]
        if self.alerts:
            newest = self.alerts[0]
            self.last = {key: newest[key] for key in ("labels", "annotations", "active_at")}
        return self.state

    def _counts_as_seen(self) -> bool:
        """Inactive before the alert ever fired is not a resolution, unless resolution is what we wait for."""
        if self.state != "inactive":
            return True
        was_active = self.first_seen["pending"] or self.first_seen["firing"]
        return bool(was_active) or self.params["state"] == "resolved"

    def reached(self) -> bool:
        return self.state in REACHED_BY[self.params["state"]]

    def wait(self) -> bool:
        deadline = self.started + self.params["timeout"]
        while self.poll() not in REACHED_BY[self.params["state"]]:
            if time.monotonic() + self.params["interval"] > deadline:
                return False
            time.sleep(self.params["interval"])
        return True

    def result(self) -> dict:
        return {
            "changed": False,
            "alert": self.params["name"],
            "state": self.state,
            "reached": self.reached(),
            "pending_at": self.first_seen["pending"],
            "firing_at": self.first_seen["firing"],
            "resolved_at": self.first_seen["inactive"],
            "active_at": self.last["active_at"],
            "labels": self.last["labels"],
            "annotations": self.last["annotations"],
            "alerts": self.alerts,
            "polls": self.polls,
            "elapsed": round(time.monotonic() - self.started, 3),
            "endpoint": self.endpoint,
        }


def argument_spec() -> dict:
    return {
        "url": {"type": "str", "required": True},
        "api": {"type": "str", "choices": list(API_PATHS), "default": "prometheus"},
        "name": {"type": "str", "required": True},
        "labels": {"type": "dict", "default": {}},
        "state": {"type": "str", "choices": list(REACHED_BY), "default": "firing"},
        "timeout": {"type": "float", "default": 300},
        "interval": {"type": "float", "default": 5},
        "bearer_token": {"type": "str", "no_log": True},
        "validate_certs": {"type": "bool", "default": True},
    }


def check_params(module: AnsibleModule) -> None:
    params = module.params
    if params["api"] == "alertmanager" and params["state"] == "pending":
        module.fail_json(msg="state=pending needs api=prometheus: Alertmanager only receives firing alerts")
    if params["timeout"] <= 0 or params["interval"] <= 0:
        module.fail_json(msg=f"timeout ({params['timeout']}) and interval ({params['interval']}) must be positive")


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    mask_url_password(module, module.params["url"])
    check_params(module)
    watch = AlertWatch(module)
    try:
        if module.check_mode:
            watch.poll()
            module.exit_json(**watch.result())
        reached = watch.wait()
    except AlertsApiError as exc:
        module.fail_json(msg=f"reading alerts failed: {exc}", exception=traceback.format_exc(), **watch.result())
    if not reached:
        params = module.params
        module.fail_json(
            msg=(
                f"alert {describe(params['name'], params['labels'])} did not become {params['state']} "
                f"within {params['timeout']:g} s at {watch.endpoint}: its last state was {watch.state}"
            ),
            **watch.result(),
        )
    module.exit_json(**watch.result())


if __name__ == "__main__":
    main()
