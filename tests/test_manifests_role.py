"""The manifests role in render mode: one file per object, and objects it refuses before writing anything."""

from __future__ import annotations

import yaml

from tests.harness.ansible import run_playbook


def config_map(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "demo"}, "data": {}}


def render(tmp_path, objects: list[dict]):
    playbook = tmp_path / "render.yml"
    play = {
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "roles": [
            {
                "role": "sre.platform.manifests",
                "manifests_component": "demo",
                "manifests_mode": "render",
                "manifests_render_dir": str(tmp_path / "out"),
                "manifests_objects": objects,
            }
        ],
    }
    playbook.write_text(yaml.safe_dump([play]))
    return run_playbook(str(playbook), inventory=None)


def test_writes_one_file_per_object_and_a_second_render_changes_nothing(tmp_path):
    first = render(tmp_path, [config_map("a"), config_map("b")])
    assert first.returncode == 0, first.output
    files = sorted(path.name for path in (tmp_path / "out" / "demo").iterdir())
    assert files == ["configmap-demo-a.yaml", "configmap-demo-b.yaml"]
    assert yaml.safe_load((tmp_path / "out" / "demo" / "configmap-demo-b.yaml").read_text()) == config_map("b")
    again = render(tmp_path, [config_map("a"), config_map("b")])
    assert again.returncode == 0 and again.stats()["changed"] == 0, again.output


def test_two_objects_that_would_share_a_file_are_refused_by_file_name(tmp_path):
    run = render(tmp_path, [config_map("a_b"), config_map("a-b")])
    assert run.returncode != 0
    assert "several objects would be written to the same file" in run.output and "configmap-demo-a-b.yaml" in run.output
    assert not (tmp_path / "out").exists()


def test_an_object_without_a_kind_is_refused_with_the_object(tmp_path):
    nameless = {"apiVersion": "v1", "metadata": {"name": "orphan"}}
    run = render(tmp_path, [config_map("a"), nameless])
    assert run.returncode != 0
    assert "objects lack apiVersion, kind or metadata.name" in run.output and "orphan" in run.output
    assert not (tmp_path / "out").exists()
