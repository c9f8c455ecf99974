"""pytest fixtures that start real servers on 127.0.0.1 and stop them by PID.

Loaded for every suite by the root conftest.py. Session-scoped servers are
shared; tests that need isolation create their own database, key prefix or
server with the factory fixtures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.harness.kube_emulator import KubeEmulatorServer
from tests.harness.servers import (
    AlertmanagerServer,
    ManagedServer,
    PostgresServer,
    PrometheusServer,
    RedisServer,
)


def _factory(request: pytest.FixtureRequest) -> Iterator[Callable[[ManagedServer], ManagedServer]]:
    started: list[ManagedServer] = []

    def start(server: ManagedServer, **kwargs) -> ManagedServer:
        started.append(server)
        return server.start(**kwargs)

    yield start
    for server in reversed(started):
        server.cleanup()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL for the whole session; use ``createdb`` for isolation."""
    server = PostgresServer()
    try:
        yield server.start()
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        yield server.start()
    finally:
        server.cleanup()


@pytest.fixture
def server_factory(request: pytest.FixtureRequest):
    """Start any ManagedServer for one test: ``server_factory(RedisServer())``."""
    yield from _factory(request)


@pytest.fixture(scope="session")
def prometheus_binary_ok() -> None:
    PrometheusServer()  # raises MissingBinary with an install hint


@pytest.fixture
def alertmanager_server() -> Iterator[AlertmanagerServer]:
    server = AlertmanagerServer()
    try:
        yield server.start()
    finally:
        server.cleanup()


@pytest.fixture
def kube_api() -> Iterator[KubeEmulatorServer]:
    """An emulated Kubernetes API without the stand-in controller: tests that wait set status themselves.

    ``.kubeconfig``, ``.url``, ``.client``, ``.get(...)``, ``.set_status(...)``, ``.playbook(...)``;
    for one that reports objects healthy: ``server_factory(KubeEmulatorServer(auto_status=True))``.
    """
    server = KubeEmulatorServer()
    try:
        yield server.start()
    finally:
        server.cleanup()
