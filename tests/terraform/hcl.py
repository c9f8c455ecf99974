"""Read the Terraform under files/terraform as data (python-hcl2), without a terraform binary."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import hcl2
from hcl2 import SerializationOptions

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "files" / "terraform"
MODULES = TERRAFORM / "modules"
ENVS = TERRAFORM / "envs"
# Arguments of a module block that are Terraform's own, not the module's variables.
META_ARGUMENTS = {"source", "version", "providers", "depends_on", "count", "for_each"}

OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)


@cache
def parse(path: Path) -> dict:
    return hcl2.loads(path.read_text(), serialization_options=OPTIONS)


def hcl_files() -> list[Path]:
    return sorted(p for p in TERRAFORM.rglob("*") if p.suffix in {".tf", ".tfvars", ".hcl"})


def module_dirs() -> list[Path]:
    return sorted(p for p in MODULES.iterdir() if p.is_dir())


def cloud_roots() -> list[Path]:
    """One root configuration per cloud: envs/<cloud>/*.tf, shared by its environments."""
    return sorted(p.parent for p in ENVS.glob("*/main.tf"))


def env_dirs() -> list[Path]:
    """One directory per environment of a cloud root: envs/<cloud>/<env>/{backend.hcl,terraform.tfvars}."""
    return sorted(p.parent for p in ENVS.glob("*/*/terraform.tfvars"))


def is_literal(value: object) -> bool:
    """A string written as a literal, not an expression or an interpolation."""
    return isinstance(value, str) and "${" not in value


@dataclass
class Configuration:
    """The blocks of one Terraform directory (a module or a cloud root), merged over its .tf files."""

    path: Path
    variables: dict[str, dict] = field(default_factory=dict)
    modules: dict[str, dict] = field(default_factory=dict)
    locals: dict[str, object] = field(default_factory=dict)
    # Resources by address ("type.name"), data sources as "data.type.name".
    resources: dict[str, dict] = field(default_factory=dict)
    terraform: list[dict] = field(default_factory=list)
    text: str = ""

    @property
    def required_variables(self) -> set[str]:
        return {name for name, spec in self.variables.items() if "default" not in spec}

    def references(self, name: str) -> bool:
        return re.search(rf"\bvar\.{re.escape(name)}\b", self.text) is not None


def load(directory: Path) -> Configuration:
    config = Configuration(path=directory)
    for tf in sorted(directory.glob("*.tf")):
        document = parse(tf)
        config.text += tf.read_text()
        for block in document.get("variable", []):
            config.variables.update(block)
        for block in document.get("module", []):
            config.modules.update(block)
        for block in document.get("locals", []):
            config.locals.update(block)
        for kind, prefix in (("resource", ""), ("data", "data.")):
            for block in document.get(kind, []):
                for type_name, named in block.items():
                    config.resources.update({f"{prefix}{type_name}.{name}": body for name, body in named.items()})
        config.terraform.extend(document.get("terraform", []))
    return config


def walk_attributes(node: object, path: str = ""):
    """Yield (dotted path, key, value) for every attribute at any depth of a parsed document."""
    if isinstance(node, dict):
        for key, value in node.items():
            child = f"{path}.{key}" if path else key
            yield child, key, value
            yield from walk_attributes(value, child)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from walk_attributes(item, f"{path}[{index}]")
