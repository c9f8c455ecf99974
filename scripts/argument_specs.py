#!/usr/bin/env python3
"""Write a role's meta/argument_specs.yml (entry point main) from its defaults/main.yml.

The comment block above each variable in defaults/main.yml is its description,
so the documented interface is written once. Types come from the default
values; templated defaults are `raw` and not copied (they depend on the play).

    scripts/argument_specs.py roles/cloudnative_pg "Short description." ["Longer paragraph." ...]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

VARIABLE = re.compile(r"^([a-z][a-z0-9_]*):")


class _Dumper(yaml.SafeDumper):
    """Indent block sequences under their key, as yamllint expects."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def descriptions(text: str) -> dict[str, str]:
    """Variable -> the comment lines right above it (section rulers excluded)."""
    found, comment = {}, []
    for line in text.splitlines():
        if line.startswith("# ---"):
            comment = []
        elif line.startswith("#"):
            comment.append(line[1:].strip())
        elif match := VARIABLE.match(line):
            found[match.group(1)] = " ".join(comment)
            comment = []
        elif not line.strip():
            comment = []
    return found


def option(name: str, value: object, description: str) -> dict:
    if not description:
        sys.exit(f"argument_specs: {name} has no comment in defaults/main.yml; document it there first")
    kinds = {bool: "bool", int: "int", list: "list", dict: "dict"}
    spec: dict = {"type": kinds.get(type(value), "str"), "description": description}
    if spec["type"] == "list":
        # Element type from the default's first item (lists of dicts stay dicts).
        spec["elements"] = kinds.get(type(value[0]), "str") if value else "str"
    if isinstance(value, str) and "{{" in value:
        spec["type"] = "raw"  # its type is whatever the template yields in the play
    else:
        spec["default"] = value
    return spec


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    role = Path(argv[1])
    text = (role / "defaults/main.yml").read_text()
    notes = descriptions(text)
    options = {name: option(name, value, notes.get(name, "")) for name, value in yaml.safe_load(text).items()}
    spec = {"argument_specs": {"main": {"short_description": argv[2], "description": argv[3:], "options": options}}}
    body = yaml.dump(spec, Dumper=_Dumper, sort_keys=False, width=120)
    (role / "meta/argument_specs.yml").write_text(
        f"---\n# Written by scripts/argument_specs.py from defaults/main.yml.\n{body}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
