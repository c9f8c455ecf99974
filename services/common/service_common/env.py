"""Configuration from environment variables, validated at start-up.

A wrong value stops the service at start with a message naming the variable,
rather than surfacing later as a confusing runtime error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

UNKNOWN = "unknown"


class ConfigError(ValueError):
    """An environment variable holds a value the service cannot use."""


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_int(name: str, default: int, minimum: int | None = None, maximum: int | None = None) -> int:
    return _env_number(name, default, int, "an integer", minimum, maximum)


def env_float(name: str, default: float, minimum: float | None = None, maximum: float | None = None) -> float:
    return _env_number(name, default, float, "a number", minimum, maximum)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (true/false)")


def _env_number(name, default, parse, kind, minimum, maximum):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = parse(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not {kind}") from exc
    return _in_range(name, value, minimum, maximum)


def _in_range(name, value, minimum, maximum):
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum {minimum}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name}={value} is above the maximum {maximum}")
    return value


@dataclass(frozen=True)
class Identity:
    """Who is answering: the labels every metric series carries."""

    service: str
    app_version: str
    pod_ip: str
    node_ip: str

    @property
    def labels(self) -> dict[str, str]:
        return {"app_version": self.app_version, "pod_ip": self.pod_ip, "node_ip": self.node_ip}


def identity_from_env(service: str, version: str) -> Identity:
    """APP_VERSION is the image tag the chart deploys, and tells blue from green when both
    run the same package ``version`` (the fallback). POD_IP and NODE_IP come from the
    Kubernetes downward API; 'unknown' elsewhere."""
    return Identity(
        service=service,
        app_version=env_str("APP_VERSION") or version,
        pod_ip=env_str("POD_IP") or UNKNOWN,
        node_ip=env_str("NODE_IP") or UNKNOWN,
    )


@dataclass(frozen=True)
class ServerSettings:
    """Settings every service's HTTP server reads the same way."""

    host: str
    port: int
    log_level: str
    access_log: bool
    shutdown_delay: float
    graceful_timeout: float


def workers_from_env() -> int:
    """WEB_CONCURRENCY: worker processes of a pre-forking server (kv-store's gunicorn)."""
    return env_int("WEB_CONCURRENCY", 2, 1, 64)


def server_settings_from_env() -> ServerSettings:
    return ServerSettings(
        host=env_str("HOST", "0.0.0.0"),  # noqa: S104 - a container must listen on its pod IP
        port=env_int("PORT", 8080, 1, 65535),
        log_level=env_str("LOG_LEVEL", "INFO").upper(),
        # One log line per request costs about a third of a fast request's CPU: opt-in.
        # Server errors are logged whatever this says.
        access_log=env_bool("ACCESS_LOG", False),
        shutdown_delay=env_float("SHUTDOWN_DELAY_SECONDS", 0.0, 0.0, 300.0),
        graceful_timeout=env_float("GRACEFUL_TIMEOUT_SECONDS", 20.0, 1.0, 600.0),
    )
