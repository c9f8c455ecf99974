"""sre.platform.slo_check through Ansible, against a bench result and a real Prometheus.

Prometheus scrapes a local exporter serving known series: 99 good and 1 server
error per second (99 % good) and a constant p99 gauge of 0.15 s. Objectives on
either side of those values must pass and fail where they should.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from ansible_collections.sre.platform.plugins.module_utils.prometheus_query import redact_url

from tests.harness.ansible import run_module
from tests.harness.exporter import MetricsExporter, scrape_config
from tests.harness.servers import PrometheusServer, free_port

SERIES = [
    {"name": "http_responses_total", "labels": {"namespace": "user-hasher", "status_class": "2xx"}, "per_second": 99},
    {"name": "http_responses_total", "labels": {"namespace": "user-hasher", "status_class": "5xx"}, "per_second": 1},
    {"name": "bench_latency_p99_seconds", "value": 0.15},
]
ERRORS = 'sum(rate(http_responses_total{namespace="user-hasher",status_class="5xx"}[{{window}}]))'
TOTAL = 'sum(rate(http_responses_total{namespace="user-hasher"}[{{window}}]))'
P99_MS = "max_over_time(bench_latency_p99_seconds[{{window}}]) * 1000"

BENCH = {"latency_p99_ms": 42.0, "error_rate_percent": 0.025, "window_start_epoch": 1.0, "window_end_epoch": 2.0}


def _ratio(name: str, objective: float, errors: str = ERRORS, total: str = TOTAL) -> dict:
    return {"name": name, "objective": objective, "window": "30d", "sli": {"errors": errors, "total": total}}


def _threshold(name: str, comparison: str, target: float, **indicator) -> dict:
    return {"name": name, "indicator": indicator, "comparison": comparison, "target": target, "unit": "ms"}


def _slo_file(tmp_path: Path, *slos: dict, service: str = "user-hasher") -> str:
    """SLO specs go through files: Ansible would template '{{window}}' in inline arguments."""
    path = tmp_path / f"{service}-{len(list(tmp_path.glob('*.yml')))}.yml"
    path.write_text(yaml.safe_dump({"service": service, "slos": list(slos)}))
    return str(path)


def _samples(url: str) -> int:
    query = urllib.parse.urlencode({"query": 'count_over_time(up{job="exporter"}[1m])'})
    with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=2) as response:
        result = yaml.safe_load(response.read())["data"]["result"]
    return int(result[0]["value"][1]) if result else 0


@pytest.fixture(scope="module")
def prometheus() -> dict:
    """Prometheus with about six seconds of scrapes; the window is the last four of them."""
    exporter = MetricsExporter(SERIES).start()
    server = PrometheusServer(config=scrape_config(exporter.target))
    try:
        server.start()
        deadline = time.monotonic() + 30
        while _samples(server.url) < 6:
            assert time.monotonic() < deadline, f"Prometheus did not scrape the exporter:\n{server.log_tail()}"
            time.sleep(0.5)
        end = time.time()
        yield {"prometheus_url": server.url, "window_start": end - 4.0, "window_end": end}
    finally:
        server.cleanup()
        exporter.cleanup()


def _junit(path: Path) -> ET.Element:
    return ET.parse(path).getroot()  # noqa: S314 - the module under test wrote it


def _verdicts(result: dict) -> dict[str, dict]:
    return {verdict["name"]: verdict for verdict in result["verdicts"]}


def test_prometheus_objectives_pass_and_fail_where_they_should(prometheus, tmp_path):
    slo_file = _slo_file(
        tmp_path,
        _ratio("availability-met", 98.5),
        _ratio("availability-missed", 99.5),
        _threshold("p99-met", "<", 200, promql=P99_MS),
        _threshold("p99-missed", "<", 100, promql=P99_MS),
    )
    junit = tmp_path / "reports" / "slo.xml"
    args = {**prometheus, "slo_files": [slo_file], "junit_path": str(junit), "output": str(tmp_path / "slo.json")}
    result = run_module("sre.platform.slo_check", args)

    assert result["failed"] is True
    assert result["msg"].startswith("SLO breached")
    assert sorted(result["breached"]) == ["user-hasher/availability-missed", "user-hasher/p99-missed"]
    verdicts = _verdicts(result)
    met, missed = verdicts["availability-met"], verdicts["availability-missed"]
    assert met["passed"] is True and missed["passed"] is False
    assert met["measured"] == pytest.approx(99.0)
    assert met["error_budget_left_percent"] == pytest.approx(100 * (1 - 0.01 / 0.015))
    assert missed["error_budget_left_percent"] == pytest.approx(-100.0)
    assert met["errors"] / met["total"] == pytest.approx(0.01)
    assert met["queries"]["total"] == TOTAL.replace("{{window}}", "4s")
    assert verdicts["p99-met"]["measured"] == pytest.approx(150.0)
    assert verdicts["p99-met"]["error_budget_left_percent"] == pytest.approx(25.0)
    assert verdicts["p99-missed"]["status"] == "fail"
    assert result["window"]["range"] == "4s"

    suite = _junit(junit).find("testsuite")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert sorted(cases) == ["availability-met", "availability-missed", "p99-met", "p99-missed"]
    assert {name for name, case in cases.items() if case.find("failure") is not None} == {
        "availability-missed",
        "p99-missed",
    }
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "2", "0")


def test_breach_does_not_fail_when_told_not_to(prometheus, tmp_path):
    args = {
        **prometheus,
        "slo_files": [_slo_file(tmp_path, _ratio("availability-missed", 99.5))],
        "fail_on_breach": False,
    }
    result = run_module("sre.platform.slo_check", args)
    assert not result.get("failed"), result.get("msg")
    assert result["passed"] is False
    assert result["breached"] == ["user-hasher/availability-missed"]


@pytest.mark.parametrize(
    ("slo", "reason"),
    [
        (_threshold("empty", "<", 1, promql="max_over_time(no_such_metric[{{window}}])"), "returned no data"),
        (_threshold("nan", "<", 1, promql="sum(bench_latency_p99_seconds) / 0 * 0"), "not a finite number"),
        (_ratio("no-total", 99, total="sum(rate(no_such_total[{{window}}]))"), "returned no data"),
        (_threshold("bad-query", "<", 1, promql="sum(rate("), "HTTP 400"),
    ],
)
def test_what_cannot_be_judged_fails_even_without_fail_on_breach(prometheus, tmp_path, slo, reason):
    junit = tmp_path / "slo.xml"
    args = {**prometheus, "slo_files": [_slo_file(tmp_path, slo)], "fail_on_breach": False, "junit_path": str(junit)}
    result = run_module("sre.platform.slo_check", args)
    assert result["failed"] is True
    assert "could not be judged" in result["msg"]
    assert reason in result["msg"]
    assert _junit(junit).find("testsuite/testcase/error") is not None


def test_prometheus_down_is_a_failure(tmp_path):
    args = {
        "slo_files": [_slo_file(tmp_path, _ratio("availability", 99))],
        "prometheus_url": f"http://127.0.0.1:{free_port()}",
        "prometheus_token": "secret-token-value",
        "window_start": 1000.0,
        "window_end": 1300.5,
        "fail_on_breach": False,
    }
    result = run_module("sre.platform.slo_check", args)
    assert result["failed"] is True
    assert "is unreachable" in result["msg"]
    assert "secret-token-value" not in str(result)


@pytest.mark.parametrize("reachable", [True, False], ids=["http-400", "unreachable"])
def test_credentials_in_the_prometheus_url_reach_no_message_nor_report(prometheus, tmp_path, reachable):
    host = prometheus["prometheus_url"].split("://")[1] if reachable else f"127.0.0.1:{free_port()}"
    output, junit = tmp_path / "verdicts.json", tmp_path / "verdicts.xml"
    args = {
        **prometheus,
        "prometheus_url": f"http://admin:Secret-pw@{host}",
        "slo_files": [_slo_file(tmp_path, _threshold("bad-query", "<", 1, promql="sum(rate("))],
        "output": str(output),
        "junit_path": str(junit),
    }
    result = run_module("sre.platform.slo_check", args)
    assert result["failed"] is True
    reason = "answered HTTP 400" if reachable else "is unreachable"
    assert f"Prometheus at http://{host} {reason}" in result["msg"]
    assert "Secret-pw" not in json.dumps(result), "masked even in the module's arguments"
    for shown in (result["msg"], result["verdicts"][0]["message"], output.read_text(), junit.read_text()):
        assert "admin" not in shown and "Secret-pw" not in shown


def test_redact_url_drops_only_the_userinfo():
    assert redact_url("https://admin:p%40ss@prom.example:9090/sub/") == "https://prom.example:9090/sub/"
    assert redact_url("http://token@127.0.0.1:9090") == "http://127.0.0.1:9090"
    assert redact_url("http://127.0.0.1:9090/api?x=a@b") == "http://127.0.0.1:9090/api?x=a@b"


def test_bench_objectives_from_the_shipped_file(tmp_path):
    output = tmp_path / "verdicts.json"
    slo_file = Path(__file__).resolve().parents[2] / "files" / "slos" / "postgres.yml"
    result = run_module(
        "sre.platform.slo_check", {"slo_files": [str(slo_file)], "bench_result": BENCH, "output": str(output)}
    )
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True and result["passed"] is True
    verdicts = _verdicts(result)
    assert verdicts["latency-p99"]["error_budget_left_percent"] == pytest.approx(79.0)
    assert verdicts["error-rate"]["error_budget_left_percent"] == pytest.approx(75.0)
    assert verdicts["error-rate"]["message"] == "postgres/error-rate: 0.025 % < 0.1 %: pass (error budget left 75 %)"
    assert yaml.safe_load(output.read_text())["passed"] is True
    again = run_module(
        "sre.platform.slo_check", {"slo_files": [str(slo_file)], "bench_result": BENCH, "output": str(output)}
    )
    assert again["changed"] is False, "same verdicts, same file"


def test_bench_breach_fails_and_check_mode_writes_nothing(tmp_path):
    spec = {"service": "postgres", "slos": [_threshold("p99", "<", 20, bench="latency_p99_ms")]}
    junit = tmp_path / "slo.xml"
    args = {"slo_specs": [spec], "bench_result": BENCH, "junit_path": str(junit)}
    checked = run_module("sre.platform.slo_check", args, check=True)
    assert checked["failed"] is True and checked["breached"] == ["postgres/p99"]
    assert not junit.exists()
    result = run_module("sre.platform.slo_check", args)
    assert result["failed"] is True
    assert result["verdicts"][0]["measured"] == 42.0
    assert _junit(junit).find("testsuite/testcase/failure") is not None


def test_missing_bench_field_and_missing_prometheus_are_reported(tmp_path):
    spec = {
        "service": "postgres",
        "slos": [_threshold("tps", ">", 100, bench="tps"), _ratio("availability", 99, errors="a", total="b")],
    }
    result = run_module("sre.platform.slo_check", {"slo_specs": [spec], "bench_result": BENCH})
    assert result["failed"] is True
    assert "has no field 'tps' (numeric fields: error_rate_percent, latency_p99_ms" in result["msg"]
    assert "set prometheus_url" in result["msg"]


def test_a_bench_field_that_is_not_a_number_cannot_be_judged_and_is_named(tmp_path):
    bench = {
        **BENCH,
        "parameters": {"clients": 10},
        "window_start": "2026-01-01T00:00:00.000000Z",
        "pgbench_version": "pgbench (PostgreSQL) 15.10",
        "server_version": "15.10",
    }
    fields = ("parameters", "window_start", "pgbench_version", "server_version")
    spec = {
        "service": "postgres",
        "slos": [_threshold(field.replace("_", "-"), "<", 1, bench=field) for field in fields],
    }
    output, junit = tmp_path / "verdicts.json", tmp_path / "verdicts.xml"
    args = {"slo_specs": [spec], "bench_result": bench, "output": str(output), "junit_path": str(junit)}
    result = run_module("sre.platform.slo_check", args)
    assert result["failed"] is True
    assert result["msg"].startswith("4 objective(s) could not be judged")
    assert [v["status"] for v in result["verdicts"]] == ["error"] * 4
    for verdict, field, kind in zip(result["verdicts"], fields, ("dict", "str", "str", "str"), strict=True):
        assert f"the bench field '{field}' is a {kind}, not a number" in verdict["message"]
    assert "numeric fields: error_rate_percent, latency_p99_ms" in result["verdicts"][0]["message"]
    assert yaml.safe_load(output.read_text())["errors"] == result["errors"]
    assert len(_junit(junit).findall("testsuite/testcase/error")) == 4


def test_a_null_bench_field_of_the_whole_run_cannot_be_judged(tmp_path):
    """pg_bench in analyse-only mode without pgbench_output has pgbench_tps null; no success, null latencies."""
    bench = {**BENCH, "pgbench_tps": None, "latency_p99_ms": None}
    spec = {
        "service": "postgres",
        "slos": [_threshold("tps", ">", 1, bench="pgbench_tps"), _threshold("p99", "<", 1, bench="latency_p99_ms")],
    }
    result = run_module("sre.platform.slo_check", {"slo_specs": [spec], "bench_result": bench})
    assert result["failed"] is True
    assert [v["status"] for v in result["verdicts"]] == ["error", "error"]
    assert "the bench result has no value for 'pgbench_tps' (null)" in result["verdicts"][0]["message"]
    assert "the bench result has no value for 'latency_p99_ms' (null)" in result["verdicts"][1]["message"]


def test_invalid_spec_is_refused(tmp_path):
    result = run_module("sre.platform.slo_check", {"slo_specs": [{"service": "x", "slos": [{"name": "Bad"}]}]})
    assert result["failed"] is True
    assert "Invalid SLO spec: slo_specs[0]" in result["msg"]


def test_bench_objectives_of_one_script(tmp_path):
    bench = {
        **BENCH,
        "by_script": [
            {"script": "read.sql", "latency_p99_ms": 12.0, "error_rate_percent": 0.0},
            {"script": "write.sql", "latency_p99_ms": 180.0, "error_rate_percent": 0.5},
            {"script": "idle.sql", "latency_p99_ms": None, "error_rate_percent": 0.0},
        ],
    }
    spec = {
        "service": "postgres",
        "slos": [
            _threshold("read-p99", "<", 100, bench="latency_p99_ms", script="read.sql"),
            _threshold("write-p99", "<", 100, bench="latency_p99_ms", script="write.sql"),
        ],
    }
    args = {"slo_specs": [spec], "bench_result": bench, "fail_on_breach": False}
    verdicts = _verdicts(run_module("sre.platform.slo_check", args))
    assert (verdicts["read-p99"]["measured"], verdicts["read-p99"]["status"]) == (12.0, "pass")
    assert (verdicts["write-p99"]["measured"], verdicts["write-p99"]["status"]) == (180.0, "fail")

    for script, reason in [
        ("nope.sql", "has no script 'nope.sql' (scripts: read.sql, write.sql, idle.sql)"),
        ("idle.sql", "script idle.sql finished no transaction in the window: no 'latency_p99_ms'"),
    ]:
        spec["slos"] = [_threshold("p99", "<", 100, bench="latency_p99_ms", script=script)]
        result = run_module("sre.platform.slo_check", args)
        assert result["failed"] is True, "what cannot be judged fails even without fail_on_breach"
        assert reason in result["msg"]
