"""Application servers for tests: a service process on a free 127.0.0.1 port.

``AppServer`` runs any command line (uvicorn, gunicorn, ``python -m app``)
with HOST/PORT in its environment and ``{port}`` replaced in its arguments,
waits until a health URL answers 200 and is stopped by PID like every
other harness server.
"""

from __future__ import annotations

import os
import signal
import subprocess

from tests.harness.servers import LOOPBACK, ManagedServer, _workdir, free_port, wait_for_http


class AppServer(ManagedServer):
    """A service under test; ``terminate()`` sends SIGTERM without waiting (shutdown tests)."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        health_path: str = "/healthz",
        port: int | None = None,
    ) -> None:
        super().__init__(name, port or free_port(), _workdir(name))
        self.argv = [arg.replace("{port}", str(self.port)) for arg in argv]
        self.extra_env = env or {}
        self.health_path = health_path

    def start(self, timeout: float = 30.0) -> AppServer:
        env = {**os.environ, **self.extra_env, "HOST": LOOPBACK, "PORT": str(self.port)}
        self.spawn(self.argv, env=env)
        try:
            wait_for_http(f"{self.url}{self.health_path}", timeout, self.proc)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"{self.name} did not start: {exc}\n{self.log_tail()}") from exc
        return self

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def terminate(self) -> None:
        os.kill(self.pid, signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        """Wait for the process to exit on its own; return its exit code."""
        assert self.proc is not None, f"{self.name} is not running"
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"{self.name} still running after {timeout} s\n{self.log_tail()}") from exc
