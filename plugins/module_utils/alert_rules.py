"""Prometheus rules of the collection: hand-written alerts and SLO burn-rate rules.

Sources:

- ``files/rules/<area>/<AlertName>.yml``: one alert per file, a single Prometheus
  rule mapping (``alert``, ``expr``, ``for``, ``labels.severity``, ``annotations``
  ``summary`` / ``description`` / ``runbook_url``). Each area becomes one rule group.
- ``files/slos/<service>.yml`` (read with ``slo_spec``): every ratio objective gets
  multi-window, multi-burn-rate recording and alert rules (Google SRE workbook,
  chapter "Alerting on SLOs"). Threshold objectives are judged by ``slo_check``
  against a benchmark window, not alerted on.

Interface (used by ``scripts/generate_rules.py``, the monitoring role through the
``sre.platform.prometheus_rule_manifests`` filter, and the tests):

- ``load_alert_rules(rules_dir)``: ``{area: [rule, ...]}``, validated;
- ``slo_rule_groups(spec)``: the rule groups of one normalised SLO spec;
- ``build_rule_files(rules_dir, slos_dir)``: ``{file name: {"groups": [...]}}``, every
  rule file the collection builds, as committed under ``files/rules/_generated/``;
- ``render_rule_file(name, content)``: the YAML text of one of those files;
- ``write_rule_files(rules_dir, slos_dir, out_dir)``: write them all;
- ``prometheus_rule_manifests(rules_dir, slos_dir, namespace)``: PrometheusRule objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from textwrap import indent

import yaml
from ansible_collections.sre.platform.plugins.module_utils.slo_spec import (
    load_slo_dir,
    parse_duration,
    render_window,
)

GENERATED_DIR = "_generated"
TESTS_DIR = "tests"
GENERATOR = "scripts/generate_rules.py"
RUNBOOK_BASE_URL = "https://github.com/sre-platform/sre.platform/blob/main/docs/runbooks"
SEVERITIES = ("critical", "warning", "info")
REQUIRED_ANNOTATIONS = ("summary", "description", "runbook_url")
RULE_KEYS = {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}
BURN_ALERT = "ErrorBudgetBurn"
PART_OF_LABEL = {"app.kubernetes.io/part-of": "sre-platform"}


@dataclass(frozen=True)
class BurnWindow:
    """One alert of the multi-window, multi-burn-rate scheme."""

    long: str
    short: str
    factor: float
    severity: str
    routing: str
    hold: str


# SRE workbook, table 5-8 (30-day SLO): 2 % of the budget in 1 h or 5 % in 6 h pages,
# 10 % in 1 d or 10 % in 3 d opens a ticket. The short window lets the alert reset quickly.
BURN_WINDOWS = (
    BurnWindow("1h", "5m", 14.4, "critical", "page", "2m"),
    BurnWindow("6h", "30m", 6, "critical", "page", "15m"),
    BurnWindow("1d", "2h", 3, "warning", "ticket", "1h"),
    BurnWindow("3d", "6h", 1, "warning", "ticket", "3h"),
)


class AlertRuleError(ValueError):
    """A rule file is invalid; the message names the file and the field."""


def runbook_url(alert: str) -> str:
    return f"{RUNBOOK_BASE_URL}/{alert}.md"


def _check_rule(path: Path, rule) -> dict:
    where = str(path)
    if not isinstance(rule, dict) or "alert" not in rule:
        raise AlertRuleError(f"{where}: expected one alert rule mapping with an 'alert' key, got {rule!r}")
    unknown = sorted(set(rule) - RULE_KEYS)
    if unknown:
        raise AlertRuleError(f"{where}: unknown field(s) {unknown}; allowed: {sorted(RULE_KEYS)}")
    if rule["alert"] != path.stem:
        raise AlertRuleError(f"{where}: the file must be named after its alert '{rule['alert']}'")
    for field in ("expr", "for"):
        if not isinstance(rule.get(field), str) or not rule[field].strip():
            raise AlertRuleError(f"{where}: '{field}' must be a non-empty string")
    severity = (rule.get("labels") or {}).get("severity")
    if severity not in SEVERITIES:
        raise AlertRuleError(f"{where}: 'labels.severity' must be one of {list(SEVERITIES)}, got {severity!r}")
    annotations = rule.get("annotations") or {}
    missing = [key for key in REQUIRED_ANNOTATIONS if not annotations.get(key)]
    if missing:
        raise AlertRuleError(f"{where}: missing annotation(s) {missing}")
    if annotations["runbook_url"] != runbook_url(rule["alert"]):
        raise AlertRuleError(f"{where}: 'runbook_url' must be {runbook_url(rule['alert'])}")
    return rule


def load_alert_rule(path) -> dict:
    """Read and validate one ``<AlertName>.yml`` file."""
    path = Path(path)
    try:
        rule = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise AlertRuleError(f"{path}: cannot read the alert rule: {exc}") from exc
    return _check_rule(path, rule)


def alert_areas(rules_dir) -> list[Path]:
    """Area directories of hand-written alerts (``tests`` and generated output excluded)."""
    excluded = {GENERATED_DIR, TESTS_DIR}
    return sorted(p for p in Path(rules_dir).iterdir() if p.is_dir() and p.name not in excluded)


def load_alert_rules(rules_dir) -> dict[str, list[dict]]:
    """Every alert of every area, sorted by alert name; alert names are unique across areas."""
    areas = {
        area.name: [load_alert_rule(path) for path in sorted(area.glob("*.yml"))] for area in alert_areas(rules_dir)
    }
    names = [rule["alert"] for rules in areas.values() for rule in rules]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise AlertRuleError(f"{rules_dir}: alert names must be unique, repeated: {duplicates}")
    return areas


def _decimal_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def error_budget(objective: float) -> str:
    """Allowed bad fraction for an objective in percent, exact in decimal (99.9 -> '0.001')."""
    return _decimal_text((Decimal(100) - Decimal(str(objective))) / Decimal(100))


def objective_ratio(objective: float) -> str:
    """The objective as a ratio, exact in decimal (99.9 -> '0.999', where 99.9 / 100 is 0.9990000000000001)."""
    return _decimal_text(Decimal(str(objective)) / Decimal(100))


def burn_windows_used() -> list[str]:
    """Every rate window the burn-rate alerts read, shortest first."""
    windows = {w for burn in BURN_WINDOWS for w in (burn.long, burn.short)}
    return sorted(windows, key=parse_duration)


def _slo_selector(service: str, slo: str) -> str:
    return f'{{slo_service="{service}",slo_name="{slo}"}}'


def _error_ratio_expr(slo: dict, window: str) -> str:
    errors = render_window(slo["sli"]["errors"], window)
    total = render_window(slo["sli"]["total"], window)
    return f"(\n{indent(errors, '  ')}\n)\n/\n(\n{indent(total, '  ')}\n)\n"


def _recording_rules(service: str, slo: dict) -> list[dict]:
    labels = {"slo_service": service, "slo_name": slo["name"]}
    windows = [*burn_windows_used(), slo["window"]]
    rules = [
        {"record": f"slo:sli_error:ratio_rate{window}", "expr": _error_ratio_expr(slo, window), "labels": labels}
        for window in dict.fromkeys(windows)
    ]
    budget = error_budget(slo["objective"])
    selector = _slo_selector(service, slo["name"])
    return [
        *rules,
        {"record": "slo:objective:ratio", "expr": f"vector({objective_ratio(slo['objective'])})", "labels": labels},
        {"record": "slo:error_budget:ratio", "expr": f"vector({budget})", "labels": labels},
        {
            "record": "slo:error_budget_remaining:ratio",
            "expr": f"1 - slo:sli_error:ratio_rate{slo['window']}{selector} / {budget}",
            "labels": labels,
        },
    ]


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:g} h"


def _burn_alert(service: str, slo: dict, burn: BurnWindow) -> dict:
    budget = error_budget(slo["objective"])
    selector = _slo_selector(service, slo["name"])
    threshold = f"({burn.factor:g} * {budget})"
    exhausted_in = _hours(slo["window_seconds"] / burn.factor)
    return {
        "alert": BURN_ALERT,
        "expr": (
            f"slo:sli_error:ratio_rate{burn.long}{selector} > {threshold}\n"
            f"and\nslo:sli_error:ratio_rate{burn.short}{selector} > {threshold}\n"
        ),
        "for": burn.hold,
        "labels": {
            "severity": burn.severity,
            "routing": burn.routing,
            "slo_service": service,
            "slo_name": slo["name"],
            "long_window": burn.long,
            "short_window": burn.short,
        },
        "annotations": {
            "summary": f"{service} is burning the error budget of its {slo['name']} SLO {burn.factor:g}x too fast.",
            "description": (
                f"{{{{ $value | humanizePercentage }}}} of {service} events were bad over the last {burn.long} "
                f"(and still over {burn.short}); the {slo['name']} objective ({slo['objective']:g} % over "
                f"{slo['window']}) allows {budget}. At this rate the whole budget is gone in {exhausted_in}."
            ),
            "runbook_url": runbook_url(BURN_ALERT),
        },
    }


def slo_rule_groups(spec: dict) -> list[dict]:
    """The rule group for the ratio objectives of one SLO spec: recording rules, then burn-rate alerts.

    One group, because rules of a group run in order at each evaluation: the alerts always
    read the error ratios recorded at the same instant (separate groups run in any order).
    """
    service = spec["service"]
    ratio_slos = [slo for slo in spec["slos"] if slo["kind"] == "ratio"]
    if not ratio_slos:
        return []
    recording = [rule for slo in ratio_slos for rule in _recording_rules(service, slo)]
    alerts = [_burn_alert(service, slo, burn) for slo in ratio_slos for burn in BURN_WINDOWS]
    return [{"name": f"slo-{service}", "rules": recording + alerts}]


def build_rule_files(rules_dir, slos_dir) -> dict[str, dict]:
    """Every rule file the collection builds: ``alerts-<area>.yml`` and ``slo-<service>.yml``."""
    files = {
        f"alerts-{area}.yml": {"groups": [{"name": f"sre-platform-{area}", "rules": rules}]}
        for area, rules in load_alert_rules(rules_dir).items()
        if rules
    }
    for spec in load_slo_dir(slos_dir):
        groups = slo_rule_groups(spec)
        if groups:
            files[f"slo-{spec['service']}.yml"] = {"groups": groups}
    return files


class _RuleDumper(yaml.SafeDumper):
    """Indented sequences (yamllint's default), no anchors, literal blocks for multi-line PromQL."""

    def ignore_aliases(self, data):
        return True

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_RuleDumper.add_representer(str, _represent_str)


def render_rule_file(name: str, content: dict) -> str:
    """YAML text of a built rule file, headed by a do-not-edit marker naming its generator."""
    if name.startswith("slo-"):
        source = "files/slos/" + name.removeprefix("slo-")
    else:
        source = "files/rules/" + Path(name).stem.removeprefix("alerts-") + "/"
    header = f"# DO NOT EDIT: generated by {GENERATOR} from {source}; edit the source and regenerate.\n"
    body = yaml.dump(content, Dumper=_RuleDumper, sort_keys=False, allow_unicode=True, width=120)
    return header + body


def write_rule_files(rules_dir, slos_dir, out_dir) -> list[Path]:
    """Write every built rule file into ``out_dir`` (replacing stale ones) and return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = build_rule_files(rules_dir, slos_dir)
    for stale in out.glob("*.yml"):
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, content in files.items():
        path = out / name
        path.write_text(render_rule_file(name, content), encoding="utf-8")
        written.append(path)
    return written


def prometheus_rule_manifests(rules_dir, slos_dir, namespace: str) -> list[dict]:
    """One ``PrometheusRule`` per built rule file, for the Prometheus operator."""
    return [
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": {"name": Path(name).stem, "namespace": namespace, "labels": dict(PART_OF_LABEL)},
            "spec": content,
        }
        for name, content in build_rule_files(rules_dir, slos_dir).items()
    ]
