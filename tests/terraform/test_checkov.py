"""checkov on files/terraform: no failed check outside the documented skip list, and no stale skip."""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from pathlib import Path

import yaml

from tests.harness.checkov import checkov_binary
from tests.terraform.hcl import ROOT, TERRAFORM

CONFIG = TERRAFORM / ".checkov.yaml"


@cache
def scan(with_skip_list: bool, scratch: Path) -> dict:
    # checkov reads the .checkov.yaml beside the scanned directory by itself:
    # scanning without the skip list means scanning a copy without that file.
    target, extra = TERRAFORM, ["--config-file", str(CONFIG)]
    if not with_skip_list:
        target, extra = scratch / "terraform", []
        shutil.copytree(TERRAFORM, target, ignore=shutil.ignore_patterns(CONFIG.name), dirs_exist_ok=True)
    command = [checkov_binary(), "-d", str(target), "--framework", "terraform", "--skip-download", "--compact"]
    command += ["--quiet", "--output", "json", *extra]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode in (0, 1), f"checkov crashed ({run.returncode}): {run.stderr[-2000:]}"
    report = json.loads(run.stdout)
    return report[0] if isinstance(report, list) else report


def failed(report: dict) -> list[str]:
    return sorted({f"{c['check_id']} {c['resource']} ({c['file_path']})" for c in report["results"]["failed_checks"]})


def skip_list() -> list[str]:
    return yaml.safe_load(CONFIG.read_text())["skip-check"]


def test_no_failed_check_outside_the_skip_list(tmp_path_factory):
    report = scan(True, tmp_path_factory.getbasetemp())
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 0
    assert failed(report) == []


def test_every_skip_is_still_needed(tmp_path_factory):
    without_skips = {check.split()[0] for check in failed(scan(False, tmp_path_factory.getbasetemp()))}
    assert sorted(set(skip_list()) - without_skips) == [], "skip-check lists checks that no longer fail: remove them"


def test_every_skip_is_explained():
    lines = CONFIG.read_text().splitlines()
    for index, line in enumerate(lines):
        if line.strip().startswith("- CKV"):
            above = next(prev.strip() for prev in reversed(lines[:index]) if not prev.strip().startswith("- CKV"))
            assert above.startswith("#"), f"skip {line.strip()} has no comment above it saying why"
