#!/usr/bin/python
"""Ansible module: write many text files under one directory in one task, only those whose content or mode differ."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: write_files
short_description: Write many text files under one directory in one task
version_added: "0.1.0"
description:
  - Writes every file of O(files) under O(dest), creating O(dest) and the parent directories the paths need.
  - A file whose bytes and mode are already right is left alone; the others are written to a temporary file
    beside them and renamed over them, so a reader never sees half a file.
  - One task instead of a loop of M(ansible.builtin.copy), which pays a module run per file; the render of every
    manifest of the platform writes a few hundred files.
options:
  dest:
    description:
      - The directory the paths of O(files) are relative to.
    type: path
    required: true
  files:
    description:
      - Relative path (below O(dest), no C(..)) to the file's text, written as UTF-8.
    type: dict
    required: true
  mode:
    description:
      - Permissions of every file, as an octal string.
    type: str
    default: "0644"
  directory_mode:
    description:
      - Permissions of the directories this module creates (existing ones are left as they are).
    type: str
    default: "0755"
attributes:
  check_mode:
    support: full
    description: Reports which files would be written, and writes nothing.
  diff_mode:
    support: full
    description: Shows the old and new text of every file written.
notes:
  - C(changed) is true when a file or directory was created, or a file's text or mode changed.
seealso:
  - module: ansible.builtin.copy
author:
  - sre.platform maintainers
"""

EXAMPLES = r"""
- name: Write one file per object
  sre.platform.write_files:
    dest: "{{ render_dir }}/apps"
    files: "{{ dict(objects | map('sre.platform.manifest_filename') | zip(objects | map('to_nice_yaml'))) }}"
"""

RETURN = r"""
paths:
  description: O(dest) joined with every path of O(files) (absolute when O(dest) is), in the order given.
  returned: always
  type: list
  elements: str
  sample: [/srv/render/apps/deployment-kv-store.yaml]
written:
  description: The relative paths written (or that would be in check mode), in the order given.
  returned: always
  type: list
  elements: str
  sample: [deployment-kv-store.yaml]
unchanged:
  description: How many files already had the right text and mode.
  returned: always
  type: int
  sample: 41
"""

import os
import tempfile
from pathlib import Path, PurePosixPath

from ansible.module_utils.basic import AnsibleModule


def octal_mode(module: AnsibleModule, option: str) -> int:
    text = module.params[option]
    try:
        mode = int(text, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o7777:
        module.fail_json(msg=f"{option} must be an octal mode such as '0644', not {text!r}")
    return mode


def bad_paths(files: dict) -> list[str]:
    """Paths that are absolute, empty or climb out of dest."""
    return [
        path
        for path in files
        if not path or PurePosixPath(path).is_absolute() or ".." in PurePosixPath(path).parts or path.endswith("/")
    ]


def needs_writing(target: Path, data: bytes, mode: int) -> tuple[bool, bytes]:
    """Whether ``target`` must be written, and its current bytes (empty when absent)."""
    try:
        current = target.read_bytes()
    except FileNotFoundError:
        return True, b""
    return current != data or (target.stat().st_mode & 0o7777) != mode, current


def make_directories(directory: Path, mode: int, check_mode: bool) -> bool:
    """Create ``directory`` and its missing parents, each with ``mode``; return whether any was missing."""
    missing = []
    while not directory.is_dir():
        missing.append(directory)
        directory = directory.parent
    if not check_mode:
        for created in reversed(missing):
            created.mkdir()
            created.chmod(mode)  # mkdir's mode is masked by the umask
    return bool(missing)


def write_atomically(target: Path, data: bytes, mode: int) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "dest": {"type": "path", "required": True},
            "files": {"type": "dict", "required": True},
            "mode": {"type": "str", "default": "0644"},
            "directory_mode": {"type": "str", "default": "0755"},
        },
        supports_check_mode=True,
    )
    dest, files = Path(module.params["dest"]), module.params["files"]
    mode, directory_mode = octal_mode(module, "mode"), octal_mode(module, "directory_mode")
    rejected = bad_paths(files)
    if rejected:
        module.fail_json(msg=f"paths in files must be relative and stay below dest ({dest}): {rejected}")
    if dest.exists() and not dest.is_dir():
        module.fail_json(msg=f"dest {dest} exists and is not a directory")
    written, diffs = [], []
    try:
        changed = make_directories(dest, directory_mode, module.check_mode)
        for path, text in files.items():
            target, data = dest / path, str(text).encode()
            changed |= make_directories(target.parent, directory_mode, module.check_mode)
            write, before = needs_writing(target, data, mode)
            if not write:
                continue
            written.append(path)
            if module._diff:
                diffs.append(
                    {
                        "before_header": str(target),
                        "after_header": str(target),
                        "before": before.decode("utf-8", "replace"),
                        "after": str(text),
                    }
                )
            if not module.check_mode:
                write_atomically(target, data, mode)
    except OSError as exc:
        module.fail_json(msg=f"Could not write below {dest}: {exc}", written=written)
    result = {
        "changed": changed or bool(written),
        "paths": [str(dest / path) for path in files],
        "written": written,
        "unchanged": len(files) - len(written),
    }
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
