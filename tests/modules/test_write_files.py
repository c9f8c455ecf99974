"""sre.platform.write_files through Ansible: what it writes, what it leaves alone, what it refuses."""

from __future__ import annotations

import stat

from tests.harness.ansible import run_module

FILES = {"apps/deployment-kv-store.yaml": "kind: Deployment\n", "kustomization.yaml": "resources: []\n"}


def mode_of(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_writes_every_file_and_its_directories_then_changes_nothing(tmp_path):
    dest = tmp_path / "render" / "local"
    first = run_module("sre.platform.write_files", {"dest": str(dest), "files": FILES})
    assert first["changed"] is True
    assert first["written"] == list(FILES) and first["unchanged"] == 0
    assert first["paths"] == [str(dest / path) for path in FILES]
    for path, text in FILES.items():
        assert (dest / path).read_text() == text and mode_of(dest / path) == 0o644
    assert mode_of(dest) == mode_of(dest / "apps") == mode_of(dest.parent) == 0o755

    again = run_module("sre.platform.write_files", {"dest": str(dest), "files": FILES})
    assert again["changed"] is False and again["written"] == [] and again["unchanged"] == len(FILES)
    assert sorted(p.name for p in dest.rglob("*")) == ["apps", "deployment-kv-store.yaml", "kustomization.yaml"]


def test_rewrites_only_the_file_whose_text_or_mode_differs(tmp_path):
    run_module("sre.platform.write_files", {"dest": str(tmp_path), "files": FILES})
    untouched = (tmp_path / "kustomization.yaml").stat().st_mtime_ns
    (tmp_path / "apps" / "deployment-kv-store.yaml").write_text("kind: Deployment\nedited: true\n")
    result = run_module("sre.platform.write_files", {"dest": str(tmp_path), "files": FILES})
    assert result["changed"] is True and result["written"] == ["apps/deployment-kv-store.yaml"]
    assert (tmp_path / "apps" / "deployment-kv-store.yaml").read_text() == "kind: Deployment\n"
    assert (tmp_path / "kustomization.yaml").stat().st_mtime_ns == untouched

    (tmp_path / "kustomization.yaml").chmod(0o600)
    result = run_module("sre.platform.write_files", {"dest": str(tmp_path), "files": FILES})
    assert result["written"] == ["kustomization.yaml"] and mode_of(tmp_path / "kustomization.yaml") == 0o644


def test_check_mode_reports_the_files_and_writes_nothing(tmp_path):
    dest = tmp_path / "render"
    result = run_module("sre.platform.write_files", {"dest": str(dest), "files": FILES}, check=True)
    assert result["changed"] is True and result["written"] == list(FILES)
    assert not dest.exists()


def test_refuses_paths_outside_dest_and_writes_nothing(tmp_path):
    dest = tmp_path / "render"
    for path in ("../escape.yaml", "/etc/escape.yaml", "apps/../../escape.yaml"):
        result = run_module("sre.platform.write_files", {"dest": str(dest), "files": {**FILES, path: "x\n"}})
        assert result.get("failed") is True, result
        assert "relative and stay below dest" in result["msg"] and path in result["msg"]
    assert not dest.exists() and not (tmp_path / "escape.yaml").exists()


def test_a_bad_mode_is_refused_by_name(tmp_path):
    result = run_module("sre.platform.write_files", {"dest": str(tmp_path), "files": FILES, "mode": "rw-r--r--"})
    assert result.get("failed") is True and "mode must be an octal mode" in result["msg"]
    assert list(tmp_path.iterdir()) == []
