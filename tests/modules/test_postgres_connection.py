"""The shared PostgreSQL connection helper against a real server."""

from __future__ import annotations

import subprocess

import pytest
from ansible_collections.sre.platform.plugins.module_utils.postgres import (
    PostgresConnectionError,
    describe_target,
    libpq_env,
    open_connection,
    postgres_argument_spec,
)

from tests.harness.servers import free_port


def test_argument_spec_names_match_community_postgresql_and_hide_the_password():
    spec = postgres_argument_spec()
    assert set(spec) == {
        "login_host",
        "login_port",
        "login_user",
        "login_password",
        "login_db",
        "ssl_mode",
        "login_unix_socket",
        "connect_timeout",
    }
    assert spec["login_password"]["no_log"] is True
    spec["login_port"]["default"] = 1
    assert postgres_argument_spec()["login_port"]["default"] == 5432, "callers must get a fresh copy"


def test_open_connection_runs_queries(postgres_server):
    conn = open_connection(postgres_server.conninfo)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_user, current_database()")
            assert cur.fetchone() == ("postgres", "postgres")
    finally:
        conn.close()


def test_libpq_env_drives_command_line_tools(postgres_server):
    env = libpq_env(postgres_server.conninfo)
    result = subprocess.run(
        [str(postgres_server.bindir / "psql"), "-X", "-A", "-t", "-c", "SELECT 42"],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "42"


def test_bad_password_says_authentication_failed_without_the_password(postgres_server):
    params = {**postgres_server.conninfo, "login_password": "wrong-secret-xyz"}
    with pytest.raises(PostgresConnectionError) as error:
        open_connection(params)
    message = str(error.value)
    assert "authentication failed" in message
    assert describe_target(params) in message
    assert "wrong-secret-xyz" not in message


def test_unreachable_server_says_nothing_listens():
    params = {"login_host": "127.0.0.1", "login_port": free_port(), "login_user": "postgres", "login_db": "postgres"}
    with pytest.raises(PostgresConnectionError, match="nothing accepts connections"):
        open_connection(params)


def test_libpq_options_add_to_the_connection_options(postgres_server):
    options = {"application_name": "sre.platform.test", "target_session_attrs": "read-write"}
    conn = open_connection(postgres_server.conninfo, libpq_options=options)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_setting('application_name')")
            assert cur.fetchone() == ("sre.platform.test",)
        assert conn.get_dsn_parameters()["target_session_attrs"] == "read-write"
    finally:
        conn.close()
