"""Real servers for tests: PostgreSQL, Redis, Prometheus and Alertmanager.

Each server runs from the machine's own binaries, listens on 127.0.0.1 on a
free port, keeps its state in a temporary directory and is stopped by PID.
A missing binary raises ``MissingBinary`` naming the Debian package to install,
so a test fails with a useful message instead of skipping.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
LOOPBACK = "127.0.0.1"


class MissingBinary(RuntimeError):
    """A server binary is not installed."""


def find_binary(name: str, package: str, extra_dirs: list[Path] | None = None) -> str:
    """Return the path of ``name`` or raise MissingBinary naming ``package``."""
    for directory in extra_dirs or []:
        candidate = directory / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise MissingBinary(
        f"'{name}' is not installed: install the Debian package '{package}' "
        f"(apt-get install {package}) or run ./scripts/test, which installs it."
    )


def free_port() -> int:
    """Ask the kernel for a free TCP port on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Wait until something accepts TCP connections on loopback ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on {LOOPBACK}:{port} within {timeout} s")


def wait_for_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Wait until ``url`` answers 200."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last_error = exc
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer 200 within {timeout} s: {last_error}")


def stop_pid(pid: int, timeout: float = 15.0) -> None:
    """SIGTERM a process, then SIGKILL it if it does not exit in time."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            finished, _ = os.waitpid(pid, os.WNOHANG)
            if finished:
                return
        except ChildProcessError:
            # Not our child: poll for existence instead.
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def _unprivileged_user() -> pwd.struct_passwd | None:
    """PostgreSQL refuses to run as root: pick the 'postgres' (or 'nobody') account."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' account exists")


def _demote(user: pwd.struct_passwd | None):
    if user is None:
        return None

    def switch() -> None:
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)

    return switch


@dataclass
class ManagedServer:
    """A server process we started; ``stop()`` ends it by PID and removes its data."""

    name: str
    port: int
    workdir: Path
    proc: subprocess.Popen | None = None
    keep_workdir: bool = False
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.workdir / f"{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} is not running"
        return self.proc.pid

    def spawn(self, argv: list[str], user: pwd.struct_passwd | None = None, env: dict | None = None) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.workdir,
            preexec_fn=_demote(user),
            env=env,
            start_new_session=True,
        )
        log.close()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_pid(self.proc.pid)
        self.proc = None

    def cleanup(self) -> None:
        self.stop()
        if not self.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _workdir(prefix: str, user: pwd.struct_passwd | None = None) -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"sre-{prefix}-"))
    if user is not None:
        os.chown(path, user.pw_uid, user.pw_gid)
    return path


class PostgresServer(ManagedServer):
    """A throwaway PostgreSQL cluster: superuser ``postgres`` with a password."""

    password = "test-password"
    user_name = "postgres"

    def __init__(self, settings: dict[str, str] | None = None) -> None:
        self.os_user = _unprivileged_user()
        super().__init__("postgres", free_port(), _workdir("pg", self.os_user))
        self.datadir = self.workdir / "data"
        self.sockdir = self.workdir / "sock"
        self.settings = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        self.settings.update(settings or {})
        self.bindir = Path(find_binary("initdb", "postgresql", PG_BIN_DIRS)).parent

    def start(self, timeout: float = 30.0) -> PostgresServer:
        pwfile = self.workdir / "pwfile"
        pwfile.write_text(self.password + "\n")
        self.sockdir.mkdir(exist_ok=True)
        if self.os_user is not None:
            for path in (pwfile, self.sockdir):
                os.chown(path, self.os_user.pw_uid, self.os_user.pw_gid)
        if not self.datadir.exists():
            result = subprocess.run(
                [
                    str(self.bindir / "initdb"),
                    "-D",
                    str(self.datadir),
                    "-U",
                    self.user_name,
                    "--pwfile",
                    str(pwfile),
                    "-A",
                    "scram-sha-256",
                    "-E",
                    "UTF8",
                    # CloudNativePG's default locale (lc-collate and lc-ctype C), as the local_postgres role uses.
                    "--locale=C",
                ],
                capture_output=True,
                text=True,
                preexec_fn=_demote(self.os_user),
                cwd=self.workdir,
            )
            if result.returncode != 0:
                raise RuntimeError(f"initdb failed: {result.stderr or result.stdout}")
        argv = [
            str(self.bindir / "postgres"),
            "-D",
            str(self.datadir),
            "-p",
            str(self.port),
            "-k",
            str(self.sockdir),
            "-c",
            f"listen_addresses={LOOPBACK}",
        ]
        for key, value in self.settings.items():
            argv += ["-c", f"{key}={value}"]
        self.spawn(argv, user=self.os_user)
        try:
            wait_for_port(self.port, timeout, self.proc)
            self._wait_accepting(timeout)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"{exc}\n{self.log_tail()}") from exc
        return self

    # pg_ctl's shutdown modes are signals to the postmaster.
    SHUTDOWN_SIGNALS = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}

    def shutdown(self, mode: str = "fast", timeout: float = 30.0) -> None:
        """Stop the postmaster by PID in a pg_ctl shutdown mode, keeping the data: ``start()`` brings it back.

        ``stop()`` (smart) waits for clients to disconnect; ``fast`` ends their sessions as a crash of the
        primary would look to a client, and ``immediate`` skips the shutdown checkpoint (crash recovery next).
        """
        assert self.proc is not None, "postgres is not running"
        self.proc.send_signal(self.SHUTDOWN_SIGNALS[mode])
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"postgres did not stop within {timeout} s ({mode})\n{self.log_tail()}") from exc
        self.proc = None

    def _wait_accepting(self, timeout: float) -> None:
        """The port opens before recovery ends: wait for pg_isready."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [str(self.bindir / "pg_isready"), "-h", LOOPBACK, "-p", str(self.port), "-q"],
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise TimeoutError(f"PostgreSQL on port {self.port} did not accept connections")

    @property
    def conninfo(self) -> dict[str, object]:
        """Connection parameters named as the sre.platform modules name them."""
        return {
            "login_host": LOOPBACK,
            "login_port": self.port,
            "login_user": self.user_name,
            "login_password": self.password,
            "login_db": "postgres",
        }

    @property
    def client_environment(self) -> dict[str, str]:
        """The environment of a client shell beside this server: its PG* variables and its binaries first on PATH."""
        # Imported here: the harness's own server processes (exporter, API emulator) run without the collection.
        from ansible_collections.sre.platform.plugins.module_utils.postgres import libpq_env

        return {**libpq_env(self.conninfo), "PATH": f"{self.bindir}{os.pathsep}{os.environ['PATH']}"}

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host={LOOPBACK} port={self.port} user={self.user_name} password={self.password} dbname={dbname}"

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run SQL through psql and return its unaligned, tuples-only output."""
        result = subprocess.run(
            [str(self.bindir / "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql, self.dsn(dbname)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr}")
        return result.stdout.strip()

    def createdb(self, name: str) -> str:
        self.psql(f'CREATE DATABASE "{name}"')
        return name


class PostgresStandby(PostgresServer):
    """A hot standby streaming from ``primary``: cloned with pg_basebackup -R, then started like any server."""

    def __init__(self, primary: PostgresServer) -> None:
        super().__init__(primary.settings)
        self.primary = primary

    def start(self, timeout: float = 30.0) -> PostgresStandby:
        if not self.datadir.exists():
            self._clone(timeout)
        super().start(timeout)
        return self

    def _clone(self, timeout: float) -> None:
        # -R writes primary_conninfo (with the password) and standby.signal; -X stream copies the WAL it needs.
        argv = [str(self.bindir / "pg_basebackup"), "-D", str(self.datadir), "-R", "-X", "stream", "-c", "fast"]
        result = subprocess.run(
            [*argv, "-d", self.primary.dsn()],
            capture_output=True,
            text=True,
            preexec_fn=_demote(self.os_user),
            cwd=self.workdir,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"pg_basebackup failed: {result.stderr or result.stdout}")

    def replay_paused(self) -> bool:
        return self.psql("SELECT pg_is_wal_replay_paused()") == "t"


class RedisServer(ManagedServer):
    """redis-server with no persistence; ``password`` enables AUTH when set."""

    def __init__(self, password: str | None = None) -> None:
        super().__init__("redis", free_port(), _workdir("redis"))
        self.password = password
        self.binary = find_binary("redis-server", "redis-server")

    def start(self, timeout: float = 15.0) -> RedisServer:
        argv = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            LOOPBACK,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.workdir),
        ]
        if self.password:
            argv += ["--requirepass", self.password]
        self.spawn(argv)
        wait_for_port(self.port, timeout, self.proc)
        return self

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{LOOPBACK}:{self.port}/0"


class ConfiguredHttpServer(ManagedServer):
    """A server started from one config file and ready when ``/-/ready`` answers
    (Prometheus, Alertmanager); subclasses set ``binary``, ``config`` and their own ``flags``."""

    binary: str
    config: str

    def flags(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout: float = 30.0) -> Self:
        config_path = self.workdir / f"{self.name}.yml"
        config_path.write_text(self.config)
        self.spawn(
            [self.binary, f"--config.file={config_path}", f"--web.listen-address={LOOPBACK}:{self.port}", *self.flags()]
        )
        wait_for_http(f"{self.url}/-/ready", timeout, self.proc)
        return self

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


class PrometheusServer(ConfiguredHttpServer):
    """Prometheus with a given config (scrape jobs, rule files) and fast evaluation."""

    def __init__(
        self, config: str | None = None, rule_files: list[Path] | None = None, evaluation_interval: str = "1s"
    ) -> None:
        super().__init__("prometheus", free_port(), _workdir("prom"))
        self.binary = find_binary("prometheus", "prometheus")
        self.rule_files = [str(p) for p in rule_files or []]
        self.config = config or self.default_config(evaluation_interval)

    def default_config(self, evaluation_interval: str) -> str:
        rules = "".join(f"\n  - {path}" for path in self.rule_files)
        return (
            f"global:\n  scrape_interval: 1s\n  evaluation_interval: {evaluation_interval}\n"
            f"rule_files:{rules or ' []'}\nscrape_configs: []\n"
        )

    def flags(self) -> list[str]:
        return [f"--storage.tsdb.path={self.workdir / 'data'}", "--web.enable-lifecycle", "--web.enable-admin-api"]


class AlertmanagerServer(ConfiguredHttpServer):
    """Alertmanager in single-node mode (no gossip cluster)."""

    DEFAULT_CONFIG = (
        "route:\n  receiver: 'null'\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n"
        "receivers:\n  - name: 'null'\n"
    )

    def __init__(self, config: str | None = None) -> None:
        super().__init__("alertmanager", free_port(), _workdir("am"))
        self.binary = find_binary("prometheus-alertmanager", "prometheus-alertmanager")
        self.config = config or self.DEFAULT_CONFIG

    def flags(self) -> list[str]:
        return [f"--storage.path={self.workdir / 'data'}", "--cluster.listen-address="]
