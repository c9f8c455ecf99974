"""roles/background_probe: a probe started in the background ends with the change and is collected.

Each test runs a small playbook around sre.platform.http_probe aimed at a closed
loopback port (every request is refused, which the probe counts, and it stops
only by its stop file or its duration), with TMPDIR in the test's directory,
so a scratch directory left behind is seen.
"""

from __future__ import annotations

import time

import yaml

from tests.harness.ansible import PlaybookRun, run_playbook
from tests.harness.servers import free_port

DURATION = 60  # the probe's upper bound: a test that waits for it has failed


def playbook(tmp_path, probe: dict, change_fails: bool = False, start: bool = True) -> PlaybookRun:
    """prepare, then a change under the probe (which may fail), then collect in `always`."""
    change = [{"name": "Make the change", "ansible.builtin.fail": {"msg": "the change failed"}, "when": change_fails}]
    start_probe = {
        "name": "Start the probe",
        "sre.platform.http_probe": {
            "url": f"http://127.0.0.1:{free_port()}/",
            "rate": 5,
            "duration": DURATION,
            "timeout": 1,
            "stop_file": "{{ background_probe_stop_file }}",
            "stop_delay": 0.5,
            **probe,
        },
        "async": DURATION + 30,
        "poll": 0,
        "register": "probe_job",
        "changed_when": False,
        "when": start,
    }
    play = {
        "name": "A change under a background probe",
        "hosts": "localhost",
        "gather_facts": False,
        "tasks": [
            {
                "name": "Name a stop file",
                "ansible.builtin.include_role": {"name": "sre.platform.background_probe", "tasks_from": "prepare.yml"},
            },
            {
                "name": "Change under the probe",
                "block": [start_probe, *change],
                "always": [
                    {
                        "name": "End and collect the probe",
                        "ansible.builtin.include_role": {
                            "name": "sre.platform.background_probe",
                            "tasks_from": "collect.yml",
                        },
                        "vars": {
                            "background_probe_job": "{{ probe_job | default({}) }}",
                            "background_probe_budget": DURATION + 30,
                            "background_probe_poll_delay": 0.5,
                        },
                    }
                ],
            },
        ],
    }
    path = tmp_path / "probe.yml"
    path.write_text(yaml.safe_dump([play], sort_keys=False))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    return run_playbook(str(path), env={"TMPDIR": str(scratch)}, timeout=DURATION + 120)


def results(run: PlaybookRun, task_name: str) -> list[dict]:
    """Results of the tasks whose name ends so (the callback may put the role's name before it)."""
    return [
        task["hosts"]["localhost"]
        for play in run.report["plays"]
        for task in play["tasks"]
        if task["task"]["name"].endswith(task_name) and "localhost" in task["hosts"]
    ]


def collected(run: PlaybookRun) -> dict:
    (given,) = results(run, "Give the probe's result without the job's bookkeeping")
    return given["ansible_facts"]["background_probe_result"]


def no_scratch_left(tmp_path) -> bool:
    return not list((tmp_path / "tmp").glob("*.probe"))


def test_the_probe_ends_with_the_change_and_gives_its_own_result(tmp_path):
    started = time.monotonic()
    run = playbook(tmp_path, {})
    assert run.returncode == 0, run.output
    assert time.monotonic() - started < DURATION, "the probe ran out its duration instead of ending with the change"
    result = collected(run)
    assert result["stopped_by"] == "stop_file"
    assert result["scheduled"] > 0
    assert result["failures_by_reason"]["connection_refused"] == result["failures"] == result["scheduled"]
    assert not {"ansible_job_id", "invocation", "finished", "results_file", "attempts"} & set(result), result
    assert no_scratch_left(tmp_path)
    assert run.stats()["changed"] == 0, "the scratch space changes nothing"


def test_a_failed_change_still_ends_and_collects_the_probe(tmp_path):
    run = playbook(tmp_path, {}, change_fails=True)
    assert run.returncode != 0
    assert "the change failed" in run.output
    (waited,) = results(run, "Wait for the probe to finish")
    assert waited["stopped_by"] == "stop_file"
    assert no_scratch_left(tmp_path)


def test_a_probe_that_fails_fails_the_collection_and_leaves_no_scratch(tmp_path):
    run = playbook(tmp_path, {"rate": 0})
    assert run.returncode != 0
    (waited,) = results(run, "Wait for the probe to finish")
    assert waited["failed"], waited
    assert "rate" in waited["msg"], waited
    assert no_scratch_left(tmp_path)


def test_a_probe_that_never_started_gives_an_empty_result(tmp_path):
    run = playbook(tmp_path, {}, start=False)
    assert run.returncode == 0, run.output
    assert collected(run) == {}
    assert no_scratch_left(tmp_path)
