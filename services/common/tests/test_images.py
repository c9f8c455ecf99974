"""Static checks of the three Dockerfiles (no Docker engine runs here): multi-stage,
pinned slim base, non-root user, HEALTHCHECK, and every COPY source present in the
build context and not excluded by the Dockerfile's ignore file."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2]
NAMES = ["password-generator", "user-hasher", "kv-store"]


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _included(path: str, patterns: list[str]) -> bool:
    """Docker ignore semantics: the last matching pattern wins; a pattern also covers what is under it."""
    included = True
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = Path(path).parts
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes):
            included = negate
    return included


@pytest.mark.parametrize("name", NAMES)
def test_dockerfile_is_production_shaped(name):
    steps = _instructions(SERVICES / name / "Dockerfile")
    args = dict(arg.split("=", 1) for kind, arg in steps if kind == "ARG")
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", args["PYTHON_IMAGE"])
    assert [kind for kind, _ in steps].count("FROM") == 2
    final = steps[[i for i, (kind, _) in enumerate(steps) if kind == "FROM"][-1] :]
    user = [arg for kind, arg in final if kind == "USER"]
    assert user and not user[-1].startswith(("0", "root"))
    assert any(kind == "HEALTHCHECK" and "/healthz" in arg for kind, arg in final)
    assert any(kind == "ENV" and "PORT=8080" in arg for kind, arg in final)
    assert not any(kind == "RUN" and "pip install" in arg for kind, arg in final)


@pytest.mark.parametrize("name", NAMES)
def test_copied_files_exist_and_are_in_the_context(name):
    patterns = [
        line.strip()
        for line in (SERVICES / name / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = [
        arg.split()[0]
        for kind, arg in _instructions(SERVICES / name / "Dockerfile")
        if kind == "COPY" and not arg.startswith("--from")
    ]
    assert sources
    for source in sources:
        assert (SERVICES / source).exists(), f"{name}: COPY {source} is not in services/"
        assert _included(source, patterns), f"{name}: COPY {source} is excluded by Dockerfile.dockerignore"
    assert not _included(f"{name}/tests/test_api.py", patterns)
