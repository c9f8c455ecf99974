#!/usr/bin/env python3
"""Regenerate files/rules/_generated/ from files/rules/<area>/*.yml and files/slos/*.yml.

    .venv/bin/python scripts/generate_rules.py          # rewrite the generated rule files
    .venv/bin/python scripts/generate_rules.py --check  # exit 1 if they are out of date

Then ``promtool check rules files/rules/_generated/*.yml`` and
``promtool test rules files/rules/tests/*.yml`` run against what was written.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "collections")]

from ansible_collections.sre.platform.plugins.module_utils.alert_rules import (  # noqa: E402
    GENERATED_DIR,
    write_rule_files,
)


def stale_files(out_dir: Path, rules_dir: Path, slos_dir: Path) -> list[str]:
    """Names of generated files that differ from (or are missing in, or extra to) ``out_dir``."""
    with tempfile.TemporaryDirectory() as fresh_dir:
        fresh = {p.name: p.read_text() for p in write_rule_files(rules_dir, slos_dir, fresh_dir)}
    current = {p.name: p.read_text() for p in out_dir.glob("*.yml")}
    return sorted(name for name in fresh.keys() | current.keys() if fresh.get(name) != current.get(name))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules-dir", type=Path, default=ROOT / "files" / "rules")
    parser.add_argument("--slos-dir", type=Path, default=ROOT / "files" / "slos")
    parser.add_argument("--check", action="store_true", help="only report out-of-date files")
    args = parser.parse_args()
    out_dir = args.rules_dir / GENERATED_DIR
    if args.check:
        stale = stale_files(out_dir, args.rules_dir, args.slos_dir)
        for name in stale:
            print(f"out of date: {out_dir / name} (run scripts/generate_rules.py)", file=sys.stderr)
        return 1 if stale else 0
    for path in write_rule_files(args.rules_dir, args.slos_dir, out_dir):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
