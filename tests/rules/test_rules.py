"""Alert rules, runbooks, generated SLO rules and their promtool unit tests.

promtool (Debian package ``prometheus``) checks every rule group the collection
builds and runs the unit tests of ``files/rules/tests/``; a missing promtool is a
failure naming the package.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from ansible_collections.sre.platform.plugins.module_utils import alert_rules
from ansible_collections.sre.platform.plugins.module_utils.slo_spec import validate_slo_spec

from tests.harness.servers import find_binary

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "files" / "rules"
SLOS_DIR = ROOT / "files" / "slos"
RUNBOOKS_DIR = ROOT / "docs" / "runbooks"
RUNBOOK_SECTIONS = ("Meaning", "Impact", "Diagnosis", "Mitigation")
SOURCE_ALERT_FILES = sorted(path for area in alert_rules.alert_areas(RULES_DIR) for path in area.glob("*.yml"))
PROMTOOL_TEST_FILES = sorted((RULES_DIR / alert_rules.TESTS_DIR).glob("*.yml"))


@pytest.fixture(scope="module")
def promtool() -> str:
    return find_binary("promtool", "prometheus")


def all_alert_names() -> list[str]:
    hand_written = [rule["alert"] for rules in alert_rules.load_alert_rules(RULES_DIR).values() for rule in rules]
    return [*hand_written, alert_rules.BURN_ALERT]


def rules_workspace(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of files/rules and files/slos the test may edit; returns (rules dir, slos dir)."""
    rules = tmp_path / "rules"
    slos = tmp_path / "slos"
    shutil.copytree(RULES_DIR, rules)
    shutil.copytree(SLOS_DIR, slos)
    return rules, slos


def promtool_test(promtool: str, rules_dir: Path, slos_dir: Path) -> subprocess.CompletedProcess:
    """Regenerate the rule files from the sources in ``rules_dir`` and run every unit test against them."""
    alert_rules.write_rule_files(rules_dir, slos_dir, rules_dir / alert_rules.GENERATED_DIR)
    tests = sorted(str(p) for p in (rules_dir / alert_rules.TESTS_DIR).glob("*.yml"))
    # promtool prints failures on stderr: merge the streams to keep them under their file name.
    return subprocess.run(
        [promtool, "test", "rules", *tests], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False
    )


def failed_test_files(stdout: str) -> list[str]:
    """Names of the promtool unit test files that failed, from ``promtool test rules`` output."""
    chunks = stdout.split("Unit Testing:")[1:]
    return sorted(Path(chunk.split()[0]).stem for chunk in chunks if "FAILED" in chunk)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"expected exactly one '{old}' in {path}"
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize("path", SOURCE_ALERT_FILES, ids=lambda p: p.stem)
def test_alert_file_has_the_required_fields(path: Path):
    rule = alert_rules.load_alert_rule(path)
    assert rule["labels"]["severity"] in alert_rules.SEVERITIES
    assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["for"]
    for key in alert_rules.REQUIRED_ANNOTATIONS:
        assert rule["annotations"][key].strip()
    assert rule["annotations"]["runbook_url"].endswith(f"/docs/runbooks/{path.stem}.md")


def test_the_issue_alerts_exist():
    names = set(all_alert_names())
    required = {
        "PostgresReplicationLagHigh",
        "PersistentVolumeUsageHigh",
        "PostgresInstanceDown",
        "PostgresNoHealthyPrimary",
        "PostgresWalArchivingFailing",
        "PostgresBackupFailed",
        "PostgresBackupTooOld",
        "ServiceNoReadyReplicas",
        "ServiceHighErrorRate",
        # kv-store's Redis: a node down, no master, a replica cut off.
        "RedisDown",
        "RedisNoMaster",
        "RedisReplicationBroken",
    }
    assert required <= names, sorted(required - names)


@pytest.mark.parametrize("alert", all_alert_names())
def test_every_alert_has_a_runbook_with_the_four_sections(alert: str):
    runbook = RUNBOOKS_DIR / f"{alert}.md"
    assert runbook.is_file(), f"missing runbook {runbook}"
    headings = re.findall(r"^## (.+)$", runbook.read_text(), flags=re.MULTILINE)
    assert [h for h in headings if h in RUNBOOK_SECTIONS] == list(RUNBOOK_SECTIONS), headings
    assert "```" in runbook.read_text(), "a runbook gives concrete commands"


def _expectations() -> dict[str, list[list]]:
    """alertname -> every exp_alerts list the promtool unit tests assert for it."""
    found: dict[str, list[list]] = {}
    for path in PROMTOOL_TEST_FILES:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for check in test.get("alert_rule_test", []):
                found.setdefault(check["alertname"], []).append(check.get("exp_alerts") or [])
    return found


@pytest.mark.parametrize("alert", all_alert_names())
def test_every_alert_has_promtool_tests_that_fire_and_stay_silent(alert: str):
    expectations = _expectations().get(alert, [])
    assert any(expectations), f"no promtool test expects {alert} to fire"
    assert any(not exp for exp in expectations), f"no promtool test expects {alert} to stay silent"
    for exp in (e for exps in expectations for e in exps):
        assert exp["exp_labels"]["severity"], f"{alert}: a firing expectation must check the severity label"
        assert set(alert_rules.REQUIRED_ANNOTATIONS) <= set(exp["exp_annotations"]), alert


def test_generated_rules_are_up_to_date(tmp_path: Path):
    fresh = {p.name: p.read_text() for p in alert_rules.write_rule_files(RULES_DIR, SLOS_DIR, tmp_path)}
    committed = {p.name: p.read_text() for p in (RULES_DIR / alert_rules.GENERATED_DIR).glob("*.yml")}
    stale = sorted(name for name in fresh.keys() | committed.keys() if fresh.get(name) != committed.get(name))
    assert not stale, f"out of date: {stale}; run .venv/bin/python scripts/generate_rules.py"


def test_generated_files_say_do_not_edit_and_name_the_generator():
    for path in (RULES_DIR / alert_rules.GENERATED_DIR).glob("*.yml"):
        assert path.read_text().startswith(f"# DO NOT EDIT: generated by {alert_rules.GENERATOR}"), path


def test_the_generator_script_reports_stale_files(tmp_path: Path):
    rules, slos = rules_workspace(tmp_path)
    script = [str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "scripts" / "generate_rules.py")]
    args = ["--rules-dir", str(rules), "--slos-dir", str(slos), "--check"]
    assert subprocess.run([*script, *args], capture_output=True, check=False).returncode == 0
    edit(slos / "user-hasher.yml", "objective: 99.97", "objective: 99.5")
    stale = subprocess.run([*script, *args], capture_output=True, text=True, check=False)
    assert stale.returncode == 1
    assert "slo-user-hasher.yml" in stale.stderr


def test_promtool_checks_every_built_rule_group(promtool: str, tmp_path: Path):
    manifests = alert_rules.prometheus_rule_manifests(RULES_DIR, SLOS_DIR, "monitoring")
    paths = []
    for manifest in manifests:
        path = tmp_path / f"{manifest['metadata']['name']}.yml"
        path.write_text(yaml.safe_dump(manifest["spec"]))
        paths.append(str(path))
    checked = subprocess.run([promtool, "check", "rules", *paths], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("SUCCESS") == len(paths) == len(list((RULES_DIR / "_generated").glob("*.yml")))


def test_promtool_unit_tests_pass(promtool: str, tmp_path: Path):
    result = promtool_test(promtool, *rules_workspace(tmp_path))
    assert result.returncode == 0, result.stdout
    assert result.stdout.count("SUCCESS") == len(PROMTOOL_TEST_FILES)
    assert failed_test_files(result.stdout) == []


@pytest.mark.parametrize(
    ("source", "old", "new"),
    [
        pytest.param("postgres/PostgresReplicationLagHigh.yml", "> 5", "> 10", id="PostgresReplicationLagHigh"),
        pytest.param("platform/PersistentVolumeUsageHigh.yml", "> 80", "> 90", id="PersistentVolumeUsageHigh"),
        pytest.param("services/ServiceHighErrorRate.yml", "> 0.05", "> 0.5", id="ServiceHighErrorRate"),
        pytest.param("postgres/PostgresBackupTooOld.yml", "> 26 * 3600", "> 24 * 3600", id="PostgresBackupTooOld"),
        pytest.param("redis/RedisReplicationBroken.yml", "for: 2m", "for: 1m", id="RedisReplicationBroken"),
    ],
)
def test_changing_an_alert_threshold_makes_promtool_fail(
    promtool: str, tmp_path: Path, source: str, old: str, new: str
):
    rules, slos = rules_workspace(tmp_path)
    edit(rules / source, old, new)
    result = promtool_test(promtool, rules, slos)
    assert result.returncode == 1, result.stdout
    assert failed_test_files(result.stdout) == [Path(source).stem], result.stdout


def test_changing_an_slo_objective_changes_the_burn_rate_alerts(promtool: str, tmp_path: Path):
    rules, slos = rules_workspace(tmp_path)
    edit(slos / "user-hasher.yml", "objective: 99.97", "objective: 99")
    result = promtool_test(promtool, rules, slos)
    assert result.returncode == 1
    assert failed_test_files(result.stdout) == [alert_rules.BURN_ALERT], result.stdout


def test_burn_rate_thresholds_are_computed_from_the_objective():
    spec = validate_slo_spec(
        {
            "service": "demo",
            "slos": [
                {
                    "name": "availability",
                    "objective": 99.5,
                    "window": "28d",
                    "sli": {"errors": "sum(rate(e[{{window}}]))", "total": "sum(rate(t[{{window}}]))"},
                },
                {"name": "p99", "indicator": {"bench": "latency_p99_ms"}, "comparison": "<", "target": 200},
            ],
        }
    )
    (group,) = alert_rules.slo_rule_groups(spec)
    alerts = [rule for rule in group["rules"] if "alert" in rule]
    recording = [rule for rule in group["rules"] if "record" in rule]
    assert group["rules"] == recording + alerts, "alerts come after the ratios they read"
    exprs = {rule["labels"]["long_window"]: rule["expr"] for rule in alerts}
    assert set(exprs) == {"1h", "6h", "1d", "3d"}, "threshold objectives get no burn-rate alerts"
    assert "> (14.4 * 0.005)" in exprs["1h"] and "ratio_rate5m" in exprs["1h"]
    assert "> (6 * 0.005)" in exprs["6h"] and "ratio_rate30m" in exprs["6h"]
    assert "> (3 * 0.005)" in exprs["1d"] and "ratio_rate2h" in exprs["1d"]
    assert "> (1 * 0.005)" in exprs["3d"] and "ratio_rate6h" in exprs["3d"]
    records = {rule["record"]: rule["expr"] for rule in recording}
    assert "sum(rate(e[28d]))" in records["slo:sli_error:ratio_rate28d"]
    assert records["slo:objective:ratio"] == "vector(0.995)"
    assert records["slo:error_budget:ratio"] == "vector(0.005)"
    routing = {rule["labels"]["long_window"]: rule["labels"]["routing"] for rule in alerts}
    assert routing == {"1h": "page", "6h": "page", "1d": "ticket", "3d": "ticket"}


@pytest.mark.parametrize(
    ("objective", "budget", "ratio"),
    [(99.9, "0.001", "0.999"), (99.97, "0.0003", "0.9997"), (99.99, "0.0001", "0.9999"), (99, "0.01", "0.99")],
)
def test_budget_and_objective_are_exact_decimals(objective: float, budget: str, ratio: str):
    assert alert_rules.error_budget(objective) == budget
    assert alert_rules.objective_ratio(objective) == ratio


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"alert": "Renamed"}, "named after its alert"),
        ({"labels": {"severity": "loud"}}, "labels.severity"),
        ({"annotations": {"summary": "s", "description": "d"}}, "runbook_url"),
        ({"record": "x:y"}, "unknown field"),
    ],
)
def test_a_broken_alert_file_is_refused_with_its_path(tmp_path: Path, change: dict, message: str):
    source = RULES_DIR / "postgres" / "PostgresInstanceDown.yml"
    path = tmp_path / source.name
    path.write_text(yaml.safe_dump({**yaml.safe_load(source.read_text()), **change}))
    with pytest.raises(alert_rules.AlertRuleError, match=message) as error:
        alert_rules.load_alert_rule(path)
    assert str(path) in str(error.value)


def test_prometheus_rule_manifests_carry_every_group():
    manifests = alert_rules.prometheus_rule_manifests(RULES_DIR, SLOS_DIR, "monitoring")
    assert {m["kind"] for m in manifests} == {"PrometheusRule"}
    assert {m["metadata"]["namespace"] for m in manifests} == {"monitoring"}
    names = [m["metadata"]["name"] for m in manifests]
    assert len(names) == len(set(names))
    alerts = {rule["alert"] for m in manifests for g in m["spec"]["groups"] for rule in g["rules"] if "alert" in rule}
    assert alerts == set(all_alert_names())
    services = {m["metadata"]["name"] for m in manifests if m["metadata"]["name"].startswith("slo-")}
    assert services == {"slo-password-generator", "slo-user-hasher", "slo-kv-store"}
