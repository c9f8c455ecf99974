"""Configuration parsing and the JSON log format."""

from __future__ import annotations

import json
import logging

import pytest
from service_common.env import ConfigError, env_bool, env_int, identity_from_env, server_settings_from_env
from service_common.observability import JsonFormatter, method_label, request_id_from, request_id_var, status_class


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PORT", "http", "PORT='http' is not an integer"),
        ("PORT", "70000", "PORT=70000 is above the maximum 65535"),
        ("SHUTDOWN_DELAY_SECONDS", "-1", "SHUTDOWN_DELAY_SECONDS=-1.0 is below the minimum 0.0"),
        ("SHUTDOWN_DELAY_SECONDS", "5s", "SHUTDOWN_DELAY_SECONDS='5s' is not a number"),
        ("ACCESS_LOG", "maybe", "ACCESS_LOG='maybe' is not a boolean"),
    ],
)
def test_bad_settings_name_the_variable(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        server_settings_from_env()


def test_defaults_and_parsing(monkeypatch):
    for name in ("PORT", "HOST", "ACCESS_LOG", "APP_VERSION", "POD_IP", "NODE_IP"):
        monkeypatch.delenv(name, raising=False)
    settings = server_settings_from_env()
    assert (settings.host, settings.port, settings.access_log) == ("0.0.0.0", 8080, False)  # noqa: S104
    monkeypatch.setenv("FLAG", "off")
    monkeypatch.setenv("NUMBER", "12")
    assert env_bool("FLAG", True) is False
    assert env_int("NUMBER", 1, 1, 20) == 12
    assert identity_from_env("svc", "2.0").labels == {"app_version": "2.0", "pod_ip": "unknown", "node_ip": "unknown"}


def test_request_ids_are_kept_only_when_plain():
    assert request_id_from("abc-123_x.y:z") == "abc-123_x.y:z"
    for hostile in (None, "", "a b", "line\nbreak", "x" * 129):
        generated = request_id_from(hostile)
        assert generated != hostile
        assert len(generated) == 32


@pytest.mark.parametrize(("status", "expected"), [(200, "2xx"), (302, "3xx"), (404, "4xx"), (503, "5xx")])
def test_status_class(status, expected):
    assert status_class(status) == expected


def test_invented_methods_share_one_label():
    assert [method_label(m) for m in ("GET", "DELETE", "BREW", "get")] == ["GET", "DELETE", "OTHER", "OTHER"]


def test_json_log_line_has_request_id_and_extra_fields():
    record = logging.makeLogRecord(
        {"name": "access", "levelname": "INFO", "msg": "GET %s", "args": ("/x",), "created": 0.5, "status": 200}
    )
    token = request_id_var.set("rid-1")
    try:
        line = JsonFormatter("svc").format(record)
    finally:
        request_id_var.reset(token)
    assert json.loads(line) == {
        "ts": "1970-01-01T00:00:00.500Z",
        "level": "INFO",
        "logger": "access",
        "service": "svc",
        "message": "GET /x",
        "request_id": "rid-1",
        "status": 200,
    }
