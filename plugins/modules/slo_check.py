#!/usr/bin/python
"""Ansible module: judge service level objectives against a benchmark result and/or Prometheus."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: slo_check
short_description: Verdicts and error budget left for SLOs, from a pg_bench result and Prometheus
version_added: "0.1.0"
description:
  - Reads objectives from SLO files (O(slo_files), format in C(files/slos/README.md)) and/or inline specs of
    the same structure (O(slo_specs)), and judges every one of them.
  - C(bench) indicators are read from a M(sre.platform.pg_bench) result (O(bench_result)); with C(script) they
    are read from that script's figures (the result's C(by_script)), so one script of a mixed workload can
    have its own objective. A script the run did not have, or that finished no transaction in the window,
    cannot be judged, and that fails.
  - C(promql) indicators and ratio objectives (C(sli.errors) / C(sli.total)) are evaluated in Prometheus over
    exactly the benchmark window. C({{window}}) is replaced by the window length, exact to the millisecond,
    and each expression is evaluated as an B(instant query at the window end). An instant query at the end
    with a range of exactly the window covers the same samples a range query over the window would, and
    gives one number per expression with no re-aggregation of per-step values (averaging per-step rates or
    quantiles would weight the steps, not the events).
  - Returns each verdict with the measured value, target, comparison, pass/fail and the error budget left;
    writes them as JSON (O(output)) and JUnit XML (O(junit_path), one test case per objective).
  - Fails on a breach unless O(fail_on_breach=false). An objective that cannot be judged (Prometheus
    unreachable, no data, NaN, a bench field that is missing, null or not a number, no events) always fails
    the task, never passes silently; its verdict (C(status=error)) names the reason and is written to the
    reports like the others.
options:
  slo_files:
    description:
      - SLO files to judge, for example C(files/slos/postgres.yml).
      - At least one of O(slo_files) and O(slo_specs) is required.
    type: list
    elements: path
    default: []
  slo_specs:
    description:
      - Inline SLO specs, each with the structure of a file (C(service) and C(slos)).
    type: list
    elements: dict
    default: []
  bench_result:
    description:
      - The registered result of M(sre.platform.pg_bench) (or its JSON O(sre.platform.pg_bench#module:output)).
      - Required by C(bench) indicators; its C(window_start_epoch) and C(window_end_epoch) give the window
        for Prometheus unless O(window_start) and O(window_end) are set.
    type: dict
  window_start:
    description:
      - Start of the window for Prometheus objectives, Unix time (seconds, fractions allowed).
    type: float
  window_end:
    description:
      - End of the window for Prometheus objectives, Unix time.
    type: float
  prometheus_url:
    description:
      - Base URL of the Prometheus HTTP API, for example C(http://127.0.0.1:9090).
      - Required by C(promql) indicators and ratio objectives.
      - A user and password in the URL (C(https://user:password@host)) are sent as basic auth. Messages,
        verdicts and reports name the URL without them, and the password is masked like a C(no_log) value
        wherever Ansible shows the module's arguments or result.
    type: str
  prometheus_token:
    description:
      - Bearer token sent to Prometheus. Never logged nor returned.
    type: str
  validate_certs:
    description:
      - Verify Prometheus' TLS certificate.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for each Prometheus answer.
    type: int
    default: 10
  fail_on_breach:
    description:
      - Fail the task when an objective is breached. Objectives that cannot be judged fail it regardless.
    type: bool
    default: true
  output:
    description:
      - Write the verdicts as JSON to this path (parent directories are created).
    type: path
  junit_path:
    description:
      - Write the verdicts as JUnit XML to this path, one C(testcase) per objective (C(failure) when breached,
        C(error) when it could not be judged).
    type: path
attributes:
  check_mode:
    support: full
    description: Judges the objectives (read only) but writes neither O(output) nor O(junit_path).
  diff_mode:
    support: none
notes:
  - "Error budget left: for ratio objectives C(1 - (errors/total) / (1 - objective/100)), in percent. For
    threshold objectives with an upper bound C((target - measured) / target), the share of the allowed value
    still unused (an error rate of 0.025 % against C(< 0.1) leaves 75 %); with a lower bound
    C((measured - target) / target). Both divide by the absolute value of the target, so the sign holds for
    a negative target (9.9 against C(< -5) leaves -298 %). Negative when breached; null when the target is 0."
  - C(changed) is true when O(output) or O(junit_path) was written with new content.
  - In O(slo_specs) written in a playbook, mark PromQL with C(!unsafe) so Ansible does not template C({{window}}).
seealso:
  - module: sre.platform.pg_bench
  - name: Prometheus instant queries
    description: The C(/api/v1/query) endpoint used for every Prometheus objective.
    link: https://prometheus.io/docs/prometheus/latest/querying/api/#instant-queries
author:
  - sre.platform maintainers
"""

EXAMPLES = r"""
- name: Judge the benchmark objectives
  sre.platform.slo_check:
    slo_files:
      - "{{ playbook_dir }}/../files/slos/postgres.yml"
    bench_result: "{{ bench }}"
    output: reports/slo-verdicts.json
    junit_path: reports/slo-verdicts.xml

- name: Judge the service objectives in Prometheus over the benchmark window, without failing the play
  sre.platform.slo_check:
    slo_files:
      - "{{ playbook_dir }}/../files/slos/user-hasher.yml"
    bench_result: "{{ bench }}"
    prometheus_url: https://prometheus.example.internal
    prometheus_token: "{{ vault_prometheus_token }}"
    fail_on_breach: false
  register: verdicts

# Inline PromQL is marked !unsafe so that Ansible leaves {{window}} for the module.
- name: Inline objective over an explicit window
  sre.platform.slo_check:
    slo_specs:
      - service: kv-store
        slos:
          - name: latency-p99
            indicator:
              promql: !unsafe histogram_quantile(0.99, sum by (le) (rate(request_seconds_bucket[{{window}}])))
            comparison: "<"
            target: 0.05
            unit: s
    window_start: 1735689600
    window_end: 1735689900
    prometheus_url: http://127.0.0.1:9090
"""

RETURN = r"""
passed:
  description: True when every objective was judged and met.
  returned: always
  type: bool
verdicts:
  description:
    - One entry per objective, in file order, with C(service), C(name), C(description), C(kind)
      (ratio or threshold), C(source) (bench or prometheus), C(measured), C(target), C(comparison), C(unit),
      C(passed), C(status) (pass, fail or error), C(error_budget_left_percent), C(queries) (PromQL as sent)
      and C(message).
    - Ratio objectives also have C(errors) and C(total) (the two rates) and C(errors_series_absent) (true when
      the errors query returned no series, counted as no error), and measure the good-event percentage.
    - An objective that could not be judged (C(status=error)) has only C(service), C(name), C(description),
      C(kind), C(unit), C(source), C(queries), C(passed), C(status) and C(message) (the reason).
  returned: always
  type: list
  elements: dict
  sample:
    - service: postgres
      name: latency-p99
      kind: threshold
      source: bench
      measured: 12.4
      target: 200.0
      comparison: "<"
      unit: ms
      passed: true
      status: pass
      error_budget_left_percent: 93.8
      message: "postgres/latency-p99: 12.4 ms < 200 ms: pass (error budget left 93.8 %)"
breached:
  description: Names (C(service/name)) of the objectives that were judged and missed.
  returned: always
  type: list
  elements: str
errors:
  description: Names and reasons of the objectives that could not be judged.
  returned: always
  type: list
  elements: str
window:
  description: The window used for Prometheus objectives (C(start), C(end), epoch seconds, and C(range),
    the duration substituted for C({{window}})); null when no objective needed Prometheus.
  returned: always
  type: dict
  sample: {start: 1735689600.123456, end: 1735689900.129876, range: 300006ms}
msg:
  description: How many objectives were met; on failure, what could not be judged or was breached.
  returned: always
  type: str
  sample: 2/2 objectives met
"""

import json
import traceback
import xml.etree.ElementTree as ET
from pathlib import Path

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sre.platform.plugins.module_utils.prometheus_query import (
    PrometheusError,
    mask_url_password,
    query_number,
)
from ansible_collections.sre.platform.plugins.module_utils.slo_spec import (
    SloSpecError,
    format_duration,
    load_slo_file,
    ratio_verdict,
    render_window,
    threshold_verdict,
    validate_slo_spec,
)

ARGUMENT_SPEC = {
    "slo_files": {"type": "list", "elements": "path", "default": []},
    "slo_specs": {"type": "list", "elements": "dict", "default": []},
    "bench_result": {"type": "dict"},
    "window_start": {"type": "float"},
    "window_end": {"type": "float"},
    "prometheus_url": {"type": "str"},
    "prometheus_token": {"type": "str", "no_log": True},
    "validate_certs": {"type": "bool", "default": True},
    "timeout": {"type": "int", "default": 10},
    "fail_on_breach": {"type": "bool", "default": True},
    "output": {"type": "path"},
    "junit_path": {"type": "path"},
}


class CannotJudge(Exception):
    """An objective's indicator could not be measured; the message says why."""


def load_specs(params: dict) -> list[dict]:
    specs = [load_slo_file(path) for path in params["slo_files"]]
    specs += [validate_slo_spec(spec, f"slo_specs[{index}]") for index, spec in enumerate(params["slo_specs"])]
    return specs


def needs_prometheus(slo: dict) -> bool:
    return slo["kind"] == "ratio" or "promql" in slo["indicator"]


def prometheus_window(params: dict) -> dict:
    """Start, end and PromQL range of the window: explicit options first, else the bench result's."""
    bench = params["bench_result"] or {}
    start = params["window_start"] if params["window_start"] is not None else bench.get("window_start_epoch")
    end = params["window_end"] if params["window_end"] is not None else bench.get("window_end_epoch")
    if start is None or end is None:
        raise CannotJudge("no window: give bench_result (a pg_bench result) or window_start and window_end")
    if end <= start:
        raise CannotJudge(f"the window ends ({end}) before it starts ({start})")
    return {"start": float(start), "end": float(end), "range": format_duration(float(end) - float(start))}


class Judge:
    """Measures indicators from the bench result and Prometheus and turns them into verdicts."""

    def __init__(self, params: dict) -> None:
        self.params = params
        self.window: dict | None = None

    def _window(self) -> dict:
        if self.window is None:
            self.window = prometheus_window(self.params)
        return self.window

    def _query(self, expr: str, allow_empty: bool = False) -> float | None:
        if not self.params["prometheus_url"]:
            raise CannotJudge("it needs Prometheus: set prometheus_url")
        window = self._window()
        http = {
            "token": self.params["prometheus_token"],
            "validate_certs": self.params["validate_certs"],
            "timeout": self.params["timeout"],
        }
        return query_number(self.params["prometheus_url"], expr, window["end"], allow_empty=allow_empty, **http)

    def _bench_value(self, indicator: dict) -> float:
        field = indicator["bench"]
        figures = self.params["bench_result"]
        if figures is None:
            raise CannotJudge(f"its indicator is the bench field '{field}' but no bench_result was given")
        if "script" in indicator:
            figures = self._script_figures(figures, indicator["script"])
        if field not in figures:
            raise CannotJudge(f"the bench result has no field '{field}' (numeric fields: {_numeric_fields(figures)})")
        value = figures[field]
        if value is None:
            raise CannotJudge(self._null_reason(indicator))
        if not _is_number(value):
            raise CannotJudge(
                f"the bench field '{field}' is a {type(value).__name__}, not a number "
                f"(numeric fields: {_numeric_fields(figures)})"
            )
        return value

    @staticmethod
    def _null_reason(indicator: dict) -> str:
        field = indicator["bench"]
        if "script" in indicator:
            return f"script {indicator['script']} finished no transaction in the window: no '{field}'"
        # Latencies are null when no transaction succeeded; pgbench_tps without pgbench's output.
        return f"the bench result has no value for '{field}' (null)"

    @staticmethod
    def _script_figures(bench: dict, script: str) -> dict:
        """The figures of one script of the run (pg_bench's by_script)."""
        scripts = {entry["script"]: entry for entry in bench.get("by_script") or []}
        if script not in scripts:
            raise CannotJudge(f"the bench result has no script '{script}' (scripts: {', '.join(scripts) or 'none'})")
        return scripts[script]

    def ratio(self, slo: dict) -> dict:
        window = self._window()
        queries = {key: render_window(expr, window["range"]) for key, expr in slo["sli"].items()}
        total = self._query(queries["total"])
        # No error series at all while total has data means no error was counted.
        errors = self._query(queries["errors"], allow_empty=True)
        verdict = ratio_verdict(slo, 0.0 if errors is None else errors, total)
        return {**verdict, "source": "prometheus", "queries": queries, "errors_series_absent": errors is None}

    def threshold(self, slo: dict) -> dict:
        if "bench" in slo["indicator"]:
            return {**threshold_verdict(slo, self._bench_value(slo["indicator"])), "source": "bench"}
        query = render_window(slo["indicator"]["promql"], self._window()["range"])
        verdict = threshold_verdict(slo, self._query(query))
        return {**verdict, "source": "prometheus", "queries": {"indicator": query}}

    def verdict(self, service: str, slo: dict) -> dict:
        entry = {
            "service": service,
            "name": slo["name"],
            "description": slo["description"],
            "kind": slo["kind"],
            "unit": "%" if slo["kind"] == "ratio" else slo["unit"],
            "source": "prometheus" if needs_prometheus(slo) else "bench",
            "queries": {},
        }
        try:
            entry.update(self.ratio(slo) if slo["kind"] == "ratio" else self.threshold(slo))
        except (CannotJudge, PrometheusError, SloSpecError) as exc:
            entry.update(status="error", passed=False, message=f"{service}/{slo['name']}: cannot judge it: {exc}")
            return entry
        entry["status"] = "pass" if entry["passed"] else "fail"
        entry["message"] = describe(entry)
        return entry


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numeric_fields(figures: dict) -> str:
    return ", ".join(sorted(key for key, value in figures.items() if _is_number(value)))


def _number(value) -> str:
    return f"{value:.6g}"


def describe(verdict: dict) -> str:
    unit = f" {verdict['unit']}" if verdict["unit"] else ""
    budget = verdict["error_budget_left_percent"]
    budget_text = "undefined for a target of 0" if budget is None else f"{_number(budget)} %"
    return (
        f"{verdict['service']}/{verdict['name']}: {_number(verdict['measured'])}{unit} {verdict['comparison']} "
        f"{_number(verdict['target'])}{unit}: {verdict['status']} (error budget left {budget_text})"
    )


def junit_xml(verdicts: list[dict], window: dict | None) -> bytes:
    """One testcase per objective: failure when breached, error when it could not be judged."""
    suite = ET.Element(
        "testsuite",
        name="slo_check",
        tests=str(len(verdicts)),
        failures=str(sum(v["status"] == "fail" for v in verdicts)),
        errors=str(sum(v["status"] == "error" for v in verdicts)),
    )
    if window:
        properties = ET.SubElement(suite, "properties")
        for key in ("start", "end", "range"):
            ET.SubElement(properties, "property", name=f"window_{key}", value=str(window[key]))
    for verdict in verdicts:
        case = ET.SubElement(suite, "testcase", classname=verdict["service"], name=verdict["name"], time="0")
        if verdict["status"] == "fail":
            ET.SubElement(case, "failure", message=verdict["message"], type="SLOBreached").text = verdict["message"]
        elif verdict["status"] == "error":
            ET.SubElement(case, "error", message=verdict["message"], type="CannotJudge").text = verdict["message"]
        ET.SubElement(case, "system-out").text = verdict["message"]
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_if_changed(path: str, content: bytes) -> bool:
    target = Path(path)
    if target.exists() and target.read_bytes() == content:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    return True


def write_reports(module: AnsibleModule, result: dict) -> bool:
    """Write the JSON and JUnit reports (not in check mode); True when a file changed."""
    if module.check_mode:
        return False
    changed = False
    try:
        if module.params["output"]:
            content = json.dumps(result, indent=2, sort_keys=True).encode() + b"\n"
            changed |= write_if_changed(module.params["output"], content)
        if module.params["junit_path"]:
            changed |= write_if_changed(module.params["junit_path"], junit_xml(result["verdicts"], result["window"]))
    except OSError as exc:
        module.fail_json(msg=f"slo_check could not write its reports: {exc}", exception=traceback.format_exc())
    return changed


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        required_one_of=[("slo_files", "slo_specs")],
        required_together=[("window_start", "window_end")],
        supports_check_mode=True,
    )
    mask_url_password(module, module.params["prometheus_url"])
    try:
        specs = load_specs(module.params)
    except SloSpecError as exc:
        module.fail_json(msg=f"Invalid SLO spec: {exc}", exception=traceback.format_exc())
    judge = Judge(module.params)
    verdicts = [judge.verdict(spec["service"], slo) for spec in specs for slo in spec["slos"]]
    result = {
        "passed": all(v["status"] == "pass" for v in verdicts),
        "verdicts": verdicts,
        "breached": [f"{v['service']}/{v['name']}" for v in verdicts if v["status"] == "fail"],
        "errors": [v["message"] for v in verdicts if v["status"] == "error"],
        "window": judge.window,
    }
    result["changed"] = write_reports(module, result)
    if result["errors"]:
        reasons = "; ".join(result["errors"])
        module.fail_json(msg=f"{len(result['errors'])} objective(s) could not be judged: {reasons}", **result)
    if result["breached"] and module.params["fail_on_breach"]:
        breaches = "; ".join(v["message"] for v in verdicts if v["status"] == "fail")
        module.fail_json(msg=f"SLO breached: {breaches}", **result)
    module.exit_json(msg=f"{sum(v['passed'] for v in verdicts)}/{len(verdicts)} objectives met", **result)


if __name__ == "__main__":
    main()
