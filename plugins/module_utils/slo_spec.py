"""Service level objective files (``files/slos/<service>.yml``): loading, validation and verdicts.

The format is documented in ``files/slos/README.md``. Two kinds of objective:

- ``ratio``: ``objective`` (percent of good events) over ``window``, with an
  ``sli`` made of two PromQL expressions, ``errors`` and ``total``, templated on
  ``{{window}}``. Burn-rate alerts and error budgets are built from these.
- ``threshold``: one ``indicator`` (a ``bench`` field of a pg_bench result, of the whole run or, with
  ``script``, of one script of its workload; or a ``promql`` expression templated on ``{{window}}``)
  compared with ``target``.

Interface (stable, imported by several modules and tools):

- ``load_slo_file(path)`` / ``load_slo_dir(path)``: validated, normalised specs;
- ``validate_slo_spec(data, source)``: the same for data already parsed (inline);
- ``render_window(expr, window)``: substitute ``{{window}}``;
- ``parse_duration(text)`` / ``format_duration(seconds)``: Prometheus durations;
- ``ratio_verdict(slo, errors, total)`` / ``threshold_verdict(slo, value)``: pass/fail
  and error budget left;
- ``SloSpecError``: raised with a message naming the file, the objective and the field.

A normalised spec is a plain dict (JSON-ready)::

    {"service": "user-hasher", "source": "files/slos/user-hasher.yml",
     "slos": [{"name": ..., "description": ..., "kind": "ratio", "objective": 99.9,
               "window": "30d", "window_seconds": 2592000.0, "sli": {"errors": ..., "total": ...}},
              {"name": ..., "description": ..., "kind": "threshold", "indicator": {"bench": "latency_p99_ms"},
               "comparison": "<", "target": 200.0, "unit": "ms", "window": None, "window_seconds": None}]}
"""

from __future__ import annotations

import math
import operator
import re
from pathlib import Path

import yaml

NAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
WINDOW_PLACEHOLDER = re.compile(r"\{\{\s*window\s*\}\}")
DURATION_PART = r"(\d+)(ms|y|w|d|h|m|s)"
DURATION_PATTERN = re.compile(rf"^({DURATION_PART})+$")
DURATION_UNITS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}

COMPARISONS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
INDICATOR_SOURCES = ("bench", "promql")
RATIO_TOLERANCE = 1e-9

_COMMON_KEYS = {"name", "description"}
_RATIO_KEYS = _COMMON_KEYS | {"objective", "window", "sli"}
_THRESHOLD_KEYS = _COMMON_KEYS | {"indicator", "comparison", "target", "unit", "window"}


class SloSpecError(ValueError):
    """An SLO file or inline spec is invalid; the message says where and why."""


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration such as ``30d``, ``1h30m`` or ``2500ms``."""
    text = str(text).strip()
    if not DURATION_PATTERN.match(text):
        raise SloSpecError(f"'{text}' is not a Prometheus duration (examples: 5m, 1h30m, 30d)")
    return float(sum(int(count) * DURATION_UNITS[unit] for count, unit in re.findall(DURATION_PART, text)))


def format_duration(seconds: float) -> str:
    """A Prometheus duration for ``seconds``, exact to the millisecond (``90.5`` -> ``90500ms``)."""
    millis = round(seconds * 1000)
    if millis <= 0:
        raise SloSpecError(f"a window must be longer than 0 ms, got {seconds} s")
    if millis % 1000:
        return f"{millis}ms"
    return f"{millis // 1000}s"


def render_window(expr: str, window: str) -> str:
    """Replace every ``{{window}}`` in a PromQL template with ``window``."""
    return WINDOW_PLACEHOLDER.sub(window, expr)


def _fail(where: str, message: str) -> None:
    raise SloSpecError(f"{where}: {message}")


def _number(where: str, field: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(where, f"'{field}' must be a finite number, got {value!r}")
    return float(value)


def _text(where: str, field: str, value, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        _fail(where, f"'{field}' must be a non-empty string, got {value!r}")
    return value.strip()


def _check_keys(where: str, slo: dict, allowed: set[str]) -> None:
    unknown = sorted(set(slo) - allowed)
    if unknown:
        _fail(where, f"unknown field(s) {unknown}; allowed here: {sorted(allowed)}")


def _window(where: str, value, required: bool) -> tuple[str | None, float | None]:
    if value is None and not required:
        return None, None
    text = _text(where, "window", value)
    try:
        return text, parse_duration(text)
    except SloSpecError as exc:
        _fail(where, f"'window': {exc}")


def _ratio(where: str, slo: dict) -> dict:
    _check_keys(where, slo, _RATIO_KEYS)
    objective = _number(where, "objective", slo.get("objective"))
    if not 0 < objective < 100:
        _fail(where, f"'objective' is a percentage of good events strictly between 0 and 100, got {objective}")
    sli = slo.get("sli")
    if not isinstance(sli, dict) or set(sli) != {"errors", "total"}:
        _fail(where, f"'sli' must be a mapping with exactly 'errors' and 'total' PromQL expressions, got {sli!r}")
    window, seconds = _window(where, slo.get("window"), required=True)
    return {
        "kind": "ratio",
        "objective": objective,
        "window": window,
        "window_seconds": seconds,
        "sli": {key: _text(where, f"sli.{key}", sli[key]) for key in ("errors", "total")},
    }


def _threshold(where: str, slo: dict) -> dict:
    _check_keys(where, slo, _THRESHOLD_KEYS)
    indicator = slo.get("indicator")
    sources = [key for key in indicator if key in INDICATOR_SOURCES] if isinstance(indicator, dict) else []
    if len(sources) != 1:
        _fail(where, f"'indicator' must be a mapping with exactly one of {list(INDICATOR_SOURCES)}, got {indicator!r}")
    source = sources[0]
    extra = sorted(set(indicator) - {source, *(("script",) if source == "bench" else ())})
    if extra:
        _fail(where, f"'indicator' has unknown keys {extra} (a bench indicator may add 'script')")
    value = indicator[source]
    comparison = slo.get("comparison")
    if comparison not in COMPARISONS:
        _fail(where, f"'comparison' must be one of {list(COMPARISONS)}, got {comparison!r}")
    window, seconds = _window(where, slo.get("window"), required=False)
    return {
        "kind": "threshold",
        "indicator": {
            source: _text(where, f"indicator.{source}", value),
            **({"script": _text(where, "indicator.script", indicator["script"])} if "script" in indicator else {}),
        },
        "comparison": comparison,
        "target": _number(where, "target", slo.get("target")),
        "unit": _text(where, "unit", slo.get("unit"), required=False),
        "window": window,
        "window_seconds": seconds,
    }


def _objective(source: str, index: int, slo) -> dict:
    where = f"{source}: slos[{index}]"
    if not isinstance(slo, dict):
        _fail(where, f"each objective must be a mapping, got {type(slo).__name__}")
    name = slo.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        _fail(where, f"'name' must match {NAME_PATTERN.pattern} (lower case, digits, dashes), got {name!r}")
    where = f"{source}: objective '{name}'"
    if ("sli" in slo) == ("indicator" in slo):
        _fail(where, "give either 'sli' (ratio objective) or 'indicator' (threshold objective), not both or none")
    body = _ratio(where, slo) if "sli" in slo else _threshold(where, slo)
    return {"name": name, "description": _text(where, "description", slo.get("description"), required=False), **body}


def validate_slo_spec(data, source: str = "<inline>") -> dict:
    """Validate parsed SLO data and return the normalised spec, or raise SloSpecError."""
    if not isinstance(data, dict):
        _fail(source, f"an SLO spec is a mapping with 'service' and 'slos', got {type(data).__name__}")
    unknown = sorted(set(data) - {"service", "slos"})
    if unknown:
        _fail(source, f"unknown top-level field(s) {unknown}; allowed: ['service', 'slos']")
    service = data.get("service")
    if not isinstance(service, str) or not NAME_PATTERN.match(service):
        _fail(source, f"'service' must be a DNS-1123 name (lower case, digits, dashes), got {service!r}")
    slos = data.get("slos")
    if not isinstance(slos, list) or not slos:
        _fail(source, "'slos' must be a non-empty list of objectives")
    objectives = [_objective(source, index, slo) for index, slo in enumerate(slos)]
    names = [slo["name"] for slo in objectives]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        _fail(source, f"objective names must be unique in a file, repeated: {duplicates}")
    return {"service": service, "source": source, "slos": objectives}


def load_slo_file(path) -> dict:
    """Read, validate and normalise one SLO file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SloSpecError(f"{path}: cannot read the SLO file: {exc}") from exc
    except yaml.YAMLError as exc:
        raise SloSpecError(f"{path}: not valid YAML: {exc}") from exc
    return validate_slo_spec(data, str(path))


def load_slo_dir(path) -> list[dict]:
    """Every ``*.yml`` SLO file of a directory, sorted by file name (README.md and the like are ignored)."""
    files = sorted(Path(path).glob("*.yml"))
    if not files:
        raise SloSpecError(f"{path}: no *.yml SLO file found")
    return [load_slo_file(file) for file in files]


def _finite(name: str, value: float) -> float:
    # Type first: float() of a dict raises TypeError and of "15.10" reads a version as a number.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SloSpecError(f"objective '{name}': the measured value is {value!r}, not a finite number")
    return float(value)


def threshold_budget_left(comparison: str, target: float, value: float) -> float | None:
    """Percent of the allowed room still unused, negative when breached; None when the target is 0.

    For an upper bound (``<``, ``<=``) the room is ``[0, target]``: p99 50 ms against
    ``< 200`` leaves 75 %, an error rate of 0.02 % against ``< 0.1`` leaves 80 %.
    For a lower bound (``>``, ``>=``) it is the headroom above the floor relative to
    it: 600 TPS against ``> 500`` leaves 20 %.
    Relative to the target's size (``abs(target)``), so the sign says pass or breach for a negative target
    too: 9.9 against ``< -5`` is a breach, -298 %.
    """
    if target == 0:
        return None
    headroom = target - value if comparison in ("<", "<=") else value - target
    return headroom / abs(target) * 100.0


def threshold_verdict(slo: dict, value: float) -> dict:
    """Compare a measured value with a threshold objective."""
    value = _finite(slo["name"], value)
    return {
        "measured": value,
        "target": slo["target"],
        "comparison": slo["comparison"],
        "passed": COMPARISONS[slo["comparison"]](value, slo["target"]),
        "error_budget_left_percent": threshold_budget_left(slo["comparison"], slo["target"], value),
    }


def ratio_verdict(slo: dict, errors: float, total: float) -> dict:
    """Good-event ratio against the objective, and the share of the error budget left.

    Budget left = 1 - (observed bad fraction / allowed bad fraction), in percent:
    100 with no errors, 0 exactly at the objective, negative when overspent.
    """
    errors = _finite(slo["name"], errors)
    total = _finite(slo["name"], total)
    if total <= 0:
        raise SloSpecError(f"objective '{slo['name']}': no events in the window (total = {total}), cannot judge it")
    if errors < 0 or errors > total:
        raise SloSpecError(f"objective '{slo['name']}': errors ({errors}) must be between 0 and total ({total})")
    bad_fraction = errors / total
    allowed = 1.0 - slo["objective"] / 100.0
    good_percent = (1.0 - bad_fraction) * 100.0
    return {
        "measured": good_percent,
        "target": slo["objective"],
        "comparison": ">=",
        # Relative tolerance: 1 error in 1000 is exactly 99.9 %, whatever the float rounding of 100 - 99.9.
        "passed": bad_fraction <= allowed * (1 + RATIO_TOLERANCE),
        "error_budget_left_percent": (1.0 - bad_fraction / allowed) * 100.0,
        "errors": errors,
        "total": total,
    }
