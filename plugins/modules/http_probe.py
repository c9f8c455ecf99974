#!/usr/bin/python
"""Ansible module: send HTTP requests at a fixed rate and report what a client saw."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: http_probe
short_description: Send HTTP requests at a fixed rate for a duration; report failures, gaps and latency
version_added: "0.1.0"
description:
  - Sends O(rate) requests per second to O(url) for O(duration) seconds, each on its own connection, the
    way clients arriving during a release or a failover see the service.
  - With O(stop_file), the play that makes the change ends the probe when the change is done, by creating
    that file; the probe goes on for O(stop_delay) seconds more, and O(duration) is the upper bound.
  - Requests leave on schedule even when earlier ones are slow or hang, from a bounded pool of
    O(concurrency) threads, so every request of an outage is counted.
  - A request succeeds when its status is in O(expected_status). A failure is counted under one reason
    C(connection_refused), C(timeout) (no answer within O(timeout)), C(unexpected_status) or
    C(connection_error) (reset, TLS or other network error).
  - Returns successes and failures (by reason and by status code), the longest run of consecutive failures
    (RV(longest_failure_gap)), the longest time between two successes (RV(longest_gap)), latency p50, p95,
    p99 and max of the successful requests (nearest rank) and the measured window.
  - Uses only the Python standard library, so it runs on any controller.
extends_documentation_fragment:
  - sre.platform.probe_stop
options:
  url:
    description:
      - The http:// or https:// URL to probe.
    type: str
    required: true
  method:
    description:
      - HTTP method.
    type: str
    default: GET
  headers:
    description:
      - Request headers. Never logged (they may carry credentials).
    type: dict
    default: {}
  body:
    description:
      - Request body, sent as UTF-8.
    type: str
  expected_status:
    description:
      - Status codes that count as a success.
    type: list
    elements: int
    default: [200]
  timeout:
    description:
      - Seconds a request may take to connect, and then between two reads, before it counts as a timeout.
    type: float
    default: 2
  rate:
    description:
      - Requests per second. Request C(i) is scheduled C(i / rate) seconds after the start;
        C(floor(duration * rate)) requests are scheduled in all (RV(scheduled)).
    type: float
    default: 10
  duration:
    description:
      - Seconds of probing; with O(stop_file), the most seconds the probe may run.
    type: float
    default: 30
  concurrency:
    description:
      - Most requests in flight at once. Keep it above O(rate) x O(timeout), or requests start late when
        the target hangs (reported as RV(max_start_delay_ms)).
    type: int
    default: 32
  validate_certs:
    description:
      - Verify the server certificate for https URLs.
    type: bool
    default: true
  fail_on_error:
    description:
      - Fail the task when any request failed (after probing for the whole duration, with the full report).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: GET, HEAD and OPTIONS probes run as usual (they change nothing); other methods send nothing
      and report what would be sent.
  diff_mode:
    support: none
notes:
  - C(changed) is false for GET, HEAD and OPTIONS, true for methods that may change the target.
  - Redirects are not followed; a 3xx is a success only when listed in O(expected_status).
  - Proxy environment variables are ignored; the probe connects to the URL's host directly.
seealso:
  - module: sre.platform.pg_write_probe
author:
  - sre.platform maintainers
"""

EXAMPLES = r"""
- name: Probe user-hasher at 20 requests/s during a release
  sre.platform.http_probe:
    url: "http://{{ user_hasher_host }}/user_hash?user_id=probe"
    rate: 20
    duration: 120
    timeout: 1
  async: 300
  poll: 0
  register: probe_job

- name: Writes to kv-store must not fail at all
  sre.platform.http_probe:
    url: "http://{{ kv_store_host }}/write"
    method: POST
    headers:
      Content-Type: application/json
    body: '{"key": "probe", "value": "1"}'
    expected_status: [200, 201]
    rate: 5
    duration: 60
    fail_on_error: true
"""

RETURN = r"""
scheduled:
  description: Requests scheduled (C(floor(duration * rate)), fewer when O(stop_file) ended the probe early);
    RV(successes) + RV(failures) equals it.
  returned: success, unless check mode skipped the requests
  type: int
  sample: 600
successes:
  description: Requests answered with an expected status.
  returned: success, unless check mode skipped the requests
  type: int
  sample: 590
failures:
  description: Requests that failed, for any reason.
  returned: success, unless check mode skipped the requests
  type: int
  sample: 10
failures_by_reason:
  description: Failures per reason (C(connection_refused), C(timeout), C(unexpected_status),
    C(connection_error)); every reason is present.
  returned: success, unless check mode skipped the requests
  type: dict
  sample: {connection_refused: 10, timeout: 0, unexpected_status: 0, connection_error: 0}
status_codes:
  description: Answers per status code.
  returned: success, unless check mode skipped the requests
  type: dict
  sample: {"200": 590}
errors:
  description: How often each network error message occurred (the most frequent ones).
  returned: success, unless check mode skipped the requests
  type: dict
  sample: {"[Errno 111] Connection refused": 10}
longest_failure_gap:
  description: The longest run of consecutive failed requests (by schedule) with C(attempts), and
    C(seconds) from the first failure of the run to the next success (or the end of the window), with
    C(start), C(end) (ISO 8601 UTC), C(start_epoch) and C(end_epoch). Zero and null when nothing failed.
  returned: success, unless check mode skipped the requests
  type: dict
  sample: {attempts: 10, seconds: 0.5, start: "2025-01-01T00:00:10.000000Z", end: "2025-01-01T00:00:10.500000Z"}
longest_gap:
  description: The longest stretch of the window without a successful answer (between two successes, or
    from an edge of the window), same keys as RV(window).
  returned: success, unless check mode skipped the requests
  type: dict
latency_avg_ms:
  description: Mean latency of the successful requests, ms (null when none succeeded). RV(latency_p50_ms),
    RV(latency_p95_ms), RV(latency_p99_ms) and RV(latency_max_ms) likewise, by nearest rank.
  returned: success, unless check mode skipped the requests
  type: float
  sample: 3.1
latency_p50_ms:
  description: Median latency of the successful requests, ms.
  returned: success, unless check mode skipped the requests
  type: float
  sample: 2.4
latency_p95_ms:
  description: 95th percentile latency of the successful requests, ms.
  returned: success, unless check mode skipped the requests
  type: float
  sample: 6.9
latency_p99_ms:
  description: 99th percentile latency of the successful requests, ms.
  returned: success, unless check mode skipped the requests
  type: float
  sample: 12.0
latency_max_ms:
  description: Slowest successful request, ms.
  returned: success, unless check mode skipped the requests
  type: float
  sample: 20.5
max_start_delay_ms:
  description: Longest delay between a request's scheduled time and its start (pool saturation shows here).
  returned: success, unless check mode skipped the requests
  type: float
  sample: 1.2
window:
  description: The measured window with C(seconds), C(start), C(end) (ISO 8601 UTC), C(start_epoch) and
    C(end_epoch); request C(i) was scheduled at C(start_epoch + i / rate).
  returned: success, unless check mode skipped the requests
  type: dict
stopped_by:
  description: What ended the probe, C(duration) or C(stop_file).
  returned: success, unless check mode skipped the requests
  type: str
  sample: stop_file
parameters:
  description: The probe's parameters (url, method, rate, duration, timeout, expected_status, concurrency,
    stop_file, stop_delay).
  returned: always
  type: dict
msg:
  description: In check mode with a method that is not safe to repeat, what the run would send instead.
  returned: in check mode, when nothing was sent
  type: str
  sample: "would send up to 600 POST requests to http://10.0.0.7/kv (check mode: nothing sent)"
"""

import http.client
import ssl
import traceback
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sre.platform.plugins.module_utils.probe import (
    STOP_FILE_ARGUMENT_SPEC,
    Pacer,
    StopFile,
    longest_failure_run,
    longest_gap,
    span,
    stop_file_errors,
    tally,
)
from ansible_collections.sre.platform.plugins.module_utils.stats import latency_summary_ms

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
REASONS = ("connection_refused", "timeout", "unexpected_status", "connection_error")
LATENCY_KEYS = ("latency_avg_ms", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "latency_max_ms")


@dataclass
class Outcome:
    """One request: when it was due, when it started and ended, and how it went."""

    scheduled: float
    started: float
    ended: float
    status: int | None = None
    reason: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


def argument_spec() -> dict:
    return {
        "url": {"type": "str", "required": True},
        "method": {"type": "str", "default": "GET"},
        "headers": {"type": "dict", "default": {}, "no_log": True},
        "body": {"type": "str"},
        "expected_status": {"type": "list", "elements": "int", "default": [200]},
        "timeout": {"type": "float", "default": 2},
        "rate": {"type": "float", "default": 10},
        "duration": {"type": "float", "default": 30},
        "concurrency": {"type": "int", "default": 32},
        "validate_certs": {"type": "bool", "default": True},
        "fail_on_error": {"type": "bool", "default": False},
        **STOP_FILE_ARGUMENT_SPEC,
    }


def validation_errors(params: dict) -> list[str]:
    """Everything wrong with the options, so one run reports all of it."""
    errors = [
        f"{name} must be positive, got {params[name]}" for name in ("timeout", "rate", "duration") if params[name] <= 0
    ]
    errors += stop_file_errors(params)
    if params["concurrency"] < 1:
        errors.append(f"concurrency must be at least 1, got {params['concurrency']}")
    if params["rate"] > 0 and params["duration"] * params["rate"] < 1:
        errors.append(f"duration x rate must allow at least one request, got {params['duration']} x {params['rate']}")
    target = urllib.parse.urlsplit(params["url"])
    if target.scheme not in ("http", "https") or not target.hostname:
        errors.append(f"url must be an http:// or https:// URL with a host, got '{params['url']}'")
    if not params["expected_status"]:
        errors.append("expected_status must list at least one status code")
    return errors


def open_connection(params: dict) -> tuple[http.client.HTTPConnection, str]:
    """A new connection to the URL's host (no proxy) and the path to request."""
    target = urllib.parse.urlsplit(params["url"])
    path = urllib.parse.urlunsplit(("", "", target.path or "/", target.query, ""))
    if target.scheme == "http":
        return http.client.HTTPConnection(target.hostname, target.port, timeout=params["timeout"]), path
    context = ssl.create_default_context()
    if not params["validate_certs"]:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return http.client.HTTPSConnection(target.hostname, target.port, timeout=params["timeout"], context=context), path


def failure_reason(error: Exception) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection_refused"
    if isinstance(error, TimeoutError):
        return "timeout"
    return "connection_error"


def send(params: dict, pacer: Pacer, scheduled: float) -> Outcome:
    """One request on its own connection; every error is an outcome, never an exception."""
    started = pacer.now()
    body = params["body"].encode("utf-8") if params["body"] is not None else None
    conn, path = open_connection(params)
    try:
        conn.request(params["method"], path, body=body, headers=params["headers"])
        response = conn.getresponse()
        response.read()
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(scheduled, started, pacer.now(), reason=failure_reason(exc), error=str(exc) or repr(exc))
    finally:
        conn.close()
    reason = None if response.status in params["expected_status"] else "unexpected_status"
    return Outcome(scheduled, started, pacer.now(), status=response.status, reason=reason)


def probe(params: dict) -> tuple[Pacer, list[Outcome]]:
    """Send every scheduled request on time from a bounded pool; wait for the last answers."""
    with ThreadPoolExecutor(max_workers=params["concurrency"], thread_name_prefix="http-probe") as pool:
        pacer = Pacer(1 / params["rate"], params["duration"], StopFile.from_params(params))
        futures = []
        slot = 0
        while pacer.reached(slot):
            futures.append(pool.submit(send, params, pacer, pacer.due(slot)))
            slot += 1
        return pacer, [future.result() for future in futures]


def latency_figures(outcomes: list[Outcome]) -> dict:
    latencies_us = sorted(round((o.ended - o.started) * 1_000_000) for o in outcomes if o.ok)
    if not latencies_us:
        return dict.fromkeys(LATENCY_KEYS)
    return latency_summary_ms(latencies_us)


def report(pacer: Pacer, outcomes: list[Outcome]) -> dict:
    failed = [o for o in outcomes if not o.ok]
    return {
        "scheduled": pacer.slots,
        "successes": len(outcomes) - len(failed),
        "failures": len(failed),
        "failures_by_reason": {reason: sum(1 for o in failed if o.reason == reason) for reason in REASONS},
        "status_codes": dict(Counter(str(o.status) for o in outcomes if o.status is not None)),
        "errors": tally([o.error for o in failed if o.error]),
        "longest_failure_gap": longest_failure_run([(o.scheduled, o.ok) for o in outcomes], pacer.end),
        "longest_gap": longest_gap([o.ended for o in outcomes if o.ok], pacer.start, pacer.end),
        "max_start_delay_ms": max((o.started - o.scheduled) * 1000 for o in outcomes),
        "window": span(pacer.start, pacer.end),
        "stopped_by": pacer.stop.stopped_by,
        **latency_figures(outcomes),
    }


def parameters(params: dict) -> dict:
    keys = ("url", "method", "rate", "duration", "timeout", "expected_status", "concurrency", "stop_file", "stop_delay")
    return {key: params[key] for key in keys}


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    params["method"] = params["method"].upper()
    errors = validation_errors(params)
    if errors:
        module.fail_json(msg="Invalid http_probe options: " + "; ".join(errors))
    safe = params["method"] in SAFE_METHODS
    result = {"changed": not safe, "parameters": parameters(params)}
    if module.check_mode and not safe:
        slots = Pacer(1 / params["rate"], params["duration"]).slots
        module.exit_json(
            msg=f"would send {'up to ' if params['stop_file'] else ''}{slots} {params['method']} requests to "
            f"{params['url']} (check mode: nothing sent)",
            **result,
        )
    try:
        pacer, outcomes = probe(params)
    except (ValueError, ssl.SSLError) as exc:
        module.fail_json(msg=f"http_probe could not probe {params['url']}: {exc}", exception=traceback.format_exc())
    result.update(report(pacer, outcomes))
    if params["fail_on_error"] and result["failures"]:
        reasons = ", ".join(f"{count} {reason}" for reason, count in result["failures_by_reason"].items() if count)
        module.fail_json(
            msg=f"{result['failures']} of {result['scheduled']} requests to {params['url']} failed ({reasons}); "
            f"longest failure gap {result['longest_failure_gap']['seconds']:.3f} s",
            **result,
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
