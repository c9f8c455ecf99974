#!/usr/bin/python
"""Ansible module: plot latency and throughput over time from a pg_bench per-second series."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bench_plot
short_description: PNG of p50/p99 latency and transactions per second over a benchmark
version_added: "0.1.0"
description:
  - Draws the per-second series returned by M(sre.platform.pg_bench) (RV(sre.platform.pg_bench#module:timeseries))
    as a PNG with two panels sharing the time axis, latency (p50 and p99, ms, log scale) above and completed
    transactions per second below, optionally with the latency objective as a dashed line.
  - An outage stays visible. A second in which no transaction succeeded (0 transactions, null latencies), or
    a second missing from the series, is drawn as 0 transactions per second and a gap in the latency lines,
    never as a line across it.
  - Rendered with matplotlib's Agg backend, so it needs no display.
options:
  timeseries:
    description:
      - Entries with C(second), C(transactions), C(latency_p50_ms) and C(latency_p99_ms) (null for a second
        without a successful transaction).
    type: list
    elements: dict
    required: true
  path:
    description:
      - Where to write the PNG (parent directories are created).
    type: path
    required: true
  title:
    description:
      - Title above the plot.
    type: str
    default: Database benchmark
  latency_target_ms:
    description:
      - Draw this latency objective (for example the p99 target) as a dashed line.
    type: float
attributes:
  check_mode:
    support: full
    description: Renders in memory and reports whether the file would change, without writing it.
  diff_mode:
    support: none
notes:
  - C(changed) is true when the PNG differs from the file already at O(path).
requirements:
  - matplotlib (PyPI C(matplotlib)) on the host that runs the module
seealso:
  - module: sre.platform.pg_bench
author:
  - sre.platform maintainers
"""

EXAMPLES = r"""
- name: Plot latency over the benchmark
  sre.platform.bench_plot:
    timeseries: "{{ bench.timeseries }}"
    path: reports/latency.png
    title: "pgbench, {{ bench.parameters.clients }} clients"
    latency_target_ms: 200
"""

RETURN = r"""
path:
  description: The PNG written (or that would be written in check mode).
  returned: always
  type: str
  sample: reports/latency.png
points:
  description: Number of seconds plotted, from the first to the last second of the series.
  returned: always
  type: int
  sample: 300
"""

import io
import math
import traceback
from pathlib import Path

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.ticker import MaxNLocator

    MATPLOTLIB_ERROR = None
except ImportError:
    MATPLOTLIB_ERROR = traceback.format_exc()

SERIES_KEYS = ("second", "transactions", "latency_p50_ms", "latency_p99_ms")
# Fixed metadata keeps the bytes identical for identical data, so `changed` is honest.
PNG_METADATA = {"Software": None}


def missing_keys(timeseries: list[dict]) -> list[str]:
    return sorted({key for point in timeseries for key in SERIES_KEYS if key not in point})


def plotted(timeseries: list[dict]) -> dict:
    """The series as drawn: every second from the first to the last. A second without a successful transaction
    (or missing) has 0 transactions and NaN latencies, which matplotlib leaves as a gap in a line."""
    points = {int(point["second"]): point for point in timeseries}
    seconds = list(range(min(points), max(points) + 1))

    def latencies(key: str) -> list[float]:
        values = (points.get(second, {}).get(key) for second in seconds)
        return [math.nan if value is None else value for value in values]

    return {
        "seconds": seconds,
        "transactions": [points.get(second, {}).get("transactions", 0) for second in seconds],
        "latency_p50_ms": latencies("latency_p50_ms"),
        "latency_p99_ms": latencies("latency_p99_ms"),
    }


def render(series: dict, title: str, latency_target_ms: float | None) -> bytes:
    """The PNG of a series as ``plotted`` gives it."""
    seconds = series["seconds"]
    figure, (latency, throughput) = pyplot.subplots(2, 1, sharex=True, figsize=(10, 6), height_ratios=(2, 1))
    latency.plot(seconds, series["latency_p99_ms"], label="p99", color="tab:red", marker=".")
    latency.plot(seconds, series["latency_p50_ms"], label="p50", color="tab:blue", marker=".")
    if latency_target_ms is not None:
        latency.axhline(latency_target_ms, linestyle="--", color="grey", label=f"objective {latency_target_ms:g} ms")
    if all(math.isnan(value) for value in series["latency_p99_ms"]):
        latency.text(0.5, 0.75, "no transaction succeeded", transform=latency.transAxes, ha="center")
        latency.set_ylabel("latency (ms)")
    else:
        # Log scale: p50, p99 and the objective are often orders of magnitude apart.
        latency.set_yscale("log")
        latency.set_ylabel("latency (ms, log scale)")
    latency.legend(loc="upper right")
    latency.grid(alpha=0.3)
    latency.set_title(title)
    throughput.plot(seconds, series["transactions"], color="tab:green")
    throughput.set_ylabel("completed transactions/s")
    throughput.set_xlabel("seconds since the start of the measured window")
    # At least 0..1: a run without a completed transaction has a flat line at 0, not one in the middle.
    throughput.set_ylim(bottom=0, top=max(*series["transactions"], 1) * 1.05)
    throughput.xaxis.set_major_locator(MaxNLocator(integer=True))
    throughput.grid(alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata=PNG_METADATA)
    pyplot.close(figure)
    return buffer.getvalue()


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "timeseries": {"type": "list", "elements": "dict", "required": True},
            "path": {"type": "path", "required": True},
            "title": {"type": "str", "default": "Database benchmark"},
            "latency_target_ms": {"type": "float"},
        },
        supports_check_mode=True,
    )
    if MATPLOTLIB_ERROR:
        module.fail_json(msg=missing_required_lib("matplotlib"), exception=MATPLOTLIB_ERROR)
    timeseries = module.params["timeseries"]
    if not timeseries:
        module.fail_json(msg="timeseries is empty: nothing to plot (pass the timeseries of a pg_bench result)")
    missing = missing_keys(timeseries)
    if missing:
        module.fail_json(msg=f"timeseries entries lack {missing}: pass the timeseries of a pg_bench result")
    series = plotted(timeseries)
    png = render(series, module.params["title"], module.params["latency_target_ms"])
    target = Path(module.params["path"])
    changed = not target.exists() or target.read_bytes() != png
    if changed and not module.check_mode:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(png)
        except OSError as exc:
            module.fail_json(msg=f"Could not write the plot to {target}: {exc}", exception=traceback.format_exc())
    module.exit_json(changed=changed, path=str(target), points=len(series["seconds"]))


if __name__ == "__main__":
    main()
