"""PostgreSQL connection options and connection helper shared by the sre.platform modules.

The options are named as community.postgresql names them (``login_host``,
``login_port``, ``login_user``, ``login_password``, ``login_db``, ``ssl_mode``,
``login_unix_socket``, ``connect_timeout``) so playbooks can pass the same
variables to either collection. Their documentation is the doc fragment
``sre.platform.postgres``.

Interface used by the modules (keep it stable):

- ``postgres_argument_spec()``: a fresh copy of the connection argument spec;
- ``connection_kwargs(params)``: keyword arguments for ``psycopg2.connect``;
- ``libpq_env(params)``: ``PG*`` environment variables for libpq tools (pgbench, psql);
- ``describe_target(params)``: ``user@host:port/db`` for messages (never the password);
- ``open_connection(params, libpq_options=None)``: a connection, or ``PostgresConnectionError`` saying what
  failed and why; ``libpq_options`` adds or overrides libpq keywords (``target_session_attrs``, keepalives...);
- ``connect(module)``: the same for a module; fails the module with a clear message;
- ``is_plain_identifier(name)``: a name that SQL and a shell take as it is (lower case, at most 63 characters);
- ``dsn_connection(dsn)``: host, port, user, password, database and sslmode from a libpq connection URI or
  key=value string, or ``ValueError`` saying what is wrong with it (never echoing it: it holds the password).
"""

from __future__ import annotations

import copy
import re
import traceback

from ansible.module_utils.basic import missing_required_lib

try:
    import psycopg2
    import psycopg2.extensions

    HAS_PSYCOPG2 = True
    PSYCOPG2_IMPORT_ERROR = None
except ImportError:
    HAS_PSYCOPG2 = False
    PSYCOPG2_IMPORT_ERROR = traceback.format_exc()

SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
# Lower case, so PostgreSQL folds nothing, and within its 63-byte limit, so it truncates nothing.
PLAIN_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")

_ARGUMENT_SPEC = {
    "login_host": {"type": "str", "default": ""},
    "login_port": {"type": "int", "default": 5432},
    "login_user": {"type": "str", "default": "postgres"},
    "login_password": {"type": "str", "default": "", "no_log": True},
    "login_db": {"type": "str", "default": "postgres"},
    "ssl_mode": {"type": "str", "default": "prefer", "choices": SSL_MODES},
    "login_unix_socket": {"type": "str", "default": ""},
    "connect_timeout": {"type": "int", "default": 10},
}

# Fragments of libpq messages mapped to the reason a user can act on.
_CONNECT_HINTS = (
    ("password authentication failed", "the password or user is wrong (authentication failed)"),
    ("no password supplied", "the server requires a password and none was given"),
    ("does not exist", "the database or role does not exist"),
    ("Connection refused", "nothing accepts connections there (server down, wrong host or port)"),
    ("No such file or directory", "no server socket there (server down or wrong login_unix_socket)"),
    ("timeout expired", "the server did not answer within connect_timeout"),
    ("could not translate host name", "the host name does not resolve"),
    ("no pg_hba.conf entry", "pg_hba.conf does not allow this client, user or database"),
    ("SSL", "the SSL negotiation failed (check ssl_mode)"),
)


class PostgresConnectionError(Exception):
    """Connecting failed; the message names the target and the reason, never the password."""


def postgres_argument_spec() -> dict:
    """Return a copy of the connection options, to extend with a module's own options."""
    return copy.deepcopy(_ARGUMENT_SPEC)


def connection_kwargs(params: dict) -> dict:
    """Keyword arguments for psycopg2.connect built from the module parameters."""
    kwargs = {
        "host": params.get("login_unix_socket") or params.get("login_host") or None,
        "port": params.get("login_port"),
        "user": params.get("login_user"),
        "password": params.get("login_password") or None,
        "dbname": params.get("login_db"),
        "sslmode": params.get("ssl_mode"),
        "connect_timeout": params.get("connect_timeout"),
        "application_name": "sre.platform",
    }
    return {key: value for key, value in kwargs.items() if value not in (None, "")}


def libpq_env(params: dict) -> dict:
    """PG* environment variables for libpq command-line tools (pgbench, psql, pg_dump)."""
    names = {
        "host": "PGHOST",
        "port": "PGPORT",
        "user": "PGUSER",
        "password": "PGPASSWORD",
        "dbname": "PGDATABASE",
        "sslmode": "PGSSLMODE",
        "connect_timeout": "PGCONNECT_TIMEOUT",
        "application_name": "PGAPPNAME",
    }
    return {names[key]: str(value) for key, value in connection_kwargs(params).items()}


def describe_target(params: dict) -> str:
    """``user@host:port/db`` for messages; the password is never part of it."""
    host = params.get("login_unix_socket") or params.get("login_host") or "local socket"
    return f"{params.get('login_user')}@{host}:{params.get('login_port')}/{params.get('login_db')}"


def is_plain_identifier(name) -> bool:
    """A name that needs no quoting in SQL nor in a shell, and that PostgreSQL keeps as written."""
    return isinstance(name, str) and PLAIN_IDENTIFIER.fullmatch(name) is not None


# What a DSN may set: what the modules and pgbench take (libpq keyword -> key of the result, default).
_DSN_FIELDS = {
    "host": ("host", None),
    "port": ("port", "5432"),
    "user": ("user", "postgres"),
    "password": ("password", ""),
    "dbname": ("database", "postgres"),
    "sslmode": ("sslmode", "prefer"),
}
DSN_FORMS = "postgresql://user:password@host:port/database?sslmode=require, or host=... port=... user=... dbname=..."


def dsn_connection(dsn) -> dict:
    """The connection a DSN names, with the modules' defaults for what it leaves out.

    libpq itself parses the text (URI or key=value), so quoting and percent-encoding mean what they mean to
    psql. Options the modules cannot pass on (sslrootcert, options...) are refused, not dropped, and so is a
    list of hosts: the playbooks talk to one read-write endpoint. Messages name keys, never values.
    """
    if not HAS_PSYCOPG2:
        raise ValueError(f"psycopg2 is not installed: {PSYCOPG2_IMPORT_ERROR}")
    if not isinstance(dsn, str) or not dsn.strip():
        raise ValueError(f"the DSN is empty or not text; write it as {DSN_FORMS}")
    try:
        given = psycopg2.extensions.parse_dsn(dsn)
    except psycopg2.ProgrammingError:  # libpq's message quotes the text, password included
        raise ValueError(
            f"libpq cannot parse the DSN (check quoting and percent-encoding); write it as {DSN_FORMS}"
        ) from None
    unsupported = sorted(set(given) - set(_DSN_FIELDS))
    if unsupported:
        raise ValueError(
            f"the DSN sets {', '.join(unsupported)}, which the playbooks cannot pass on; they take "
            f"{', '.join(_DSN_FIELDS)}"
        )
    if not given.get("host"):
        raise ValueError("the DSN names no host")
    if "," in given["host"] or "," in given.get("port", ""):
        raise ValueError("the DSN names several hosts or ports; give the one read-write endpoint")
    connection = {key: given.get(keyword, default) for keyword, (key, default) in _DSN_FIELDS.items()}
    if not connection["port"].isdigit() or not 0 < int(connection["port"]) < 65536:
        raise ValueError("the DSN's port is not a number from 1 to 65535")
    if connection["sslmode"] not in SSL_MODES:
        raise ValueError(f"the DSN's sslmode must be one of {', '.join(SSL_MODES)}")
    connection["port"] = int(connection["port"])
    return connection


def _reason(error_text: str) -> str:
    for fragment, hint in _CONNECT_HINTS:
        if fragment in error_text:
            return hint
    return "the server refused the connection"


def open_connection(params: dict, autocommit: bool = False, libpq_options: dict | None = None):
    """Open a psycopg2 connection or raise PostgresConnectionError saying what failed and why."""
    if not HAS_PSYCOPG2:
        raise PostgresConnectionError(f"psycopg2 is not installed: {PSYCOPG2_IMPORT_ERROR}")
    password = params.get("login_password") or ""
    try:
        conn = psycopg2.connect(**{**connection_kwargs(params), **(libpq_options or {})})
    except psycopg2.Error as exc:
        detail = str(exc).strip()
        if password:
            detail = detail.replace(password, "********")
        raise PostgresConnectionError(
            f"Could not connect to PostgreSQL {describe_target(params)}: {_reason(detail)}. Server said: {detail}"
        ) from exc
    conn.autocommit = autocommit
    return conn


def ensure_psycopg2(module) -> None:
    """Fail the module with the standard message when psycopg2 is missing."""
    if not HAS_PSYCOPG2:
        module.fail_json(msg=missing_required_lib("psycopg2-binary"), exception=PSYCOPG2_IMPORT_ERROR)


def connect(module, autocommit: bool = False):
    """Connect with the module's connection options; fail the module with a clear message."""
    ensure_psycopg2(module)
    try:
        return open_connection(module.params, autocommit=autocommit)
    except PostgresConnectionError as exc:
        module.fail_json(msg=str(exc), exception=traceback.format_exc())
