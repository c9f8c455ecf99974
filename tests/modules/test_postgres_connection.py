"""The shared PostgreSQL connection helper against a real server."""

from __future__ import annotations

import re
import subprocess

import pytest
from ansible_collections.sre.platform.plugins.module_utils.postgres import (
    PostgresConnectionError,
    describe_target,
    dsn_connection,
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


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        (
            "postgresql://app:s%40cret@db.example:6432/shop?sslmode=require",
            ("db.example", 6432, "app", "s@cret", "shop", "require"),
        ),
        ("postgres://[::1]/app", ("::1", 5432, "postgres", "", "app", "prefer")),
        (
            "host=db.example password='two words' dbname=app",
            ("db.example", 5432, "postgres", "two words", "app", "prefer"),
        ),
        ("postgresql:///app?host=/run/postgresql&user=app", ("/run/postgresql", 5432, "app", "", "app", "prefer")),
    ],
)
def test_a_dsn_gives_the_connection_with_the_modules_defaults(dsn, expected):
    keys = ("host", "port", "user", "password", "database", "sslmode")
    assert dsn_connection(dsn) == dict(zip(keys, expected, strict=True))


@pytest.mark.parametrize(
    ("dsn", "reason"),
    [
        ("postgresql://app:hunter2@db.example/app?sslrootcert=/ca.pem", "sets sslrootcert, which"),
        ("host=db.example password=hunter2 options=-csearch_path=x", "sets options, which"),
        ("postgresql://app:hunter2@h1,h2/app", "several hosts or ports"),
        ("postgresql://app:hunter2@/app", "names no host"),
        ("postgresql://app:hunter2@db.example:0/app", "port is not a number from 1 to 65535"),
        ("host=db.example password=hunter2 port=five", "port is not a number"),
        ("postgresql://app:hunter2@db.example/app?sslmode=always", "sslmode must be one of disable, allow"),
        ("hunter2", "libpq cannot parse the DSN"),
        ("postgresql://app:hunter2@db.example/app?%zz=1", "libpq cannot parse the DSN"),
        ("", "empty or not text"),
        (None, "empty or not text"),
    ],
)
def test_a_dsn_the_playbooks_cannot_honour_is_refused_without_quoting_it(dsn, reason):
    with pytest.raises(ValueError, match=re.escape(reason)) as refusal:
        dsn_connection(dsn)
    assert "hunter2" not in str(refusal.value)
