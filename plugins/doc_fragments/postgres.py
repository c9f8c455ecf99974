"""Documentation of the PostgreSQL connection options (``sre.platform.postgres``).

Matches ``plugins/module_utils/postgres.py``: ``postgres_argument_spec()``.
"""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  login_host:
    description:
      - Host name or IP address of the PostgreSQL server.
      - Empty means the local Unix socket (see O(login_unix_socket)).
    type: str
    default: ''
  login_port:
    description:
      - TCP port of the PostgreSQL server.
    type: int
    default: 5432
  login_user:
    description:
      - Role to connect as.
    type: str
    default: postgres
  login_password:
    description:
      - Password of O(login_user). Never logged nor returned.
    type: str
    default: ''
  login_db:
    description:
      - Database to connect to.
    type: str
    default: postgres
  ssl_mode:
    description:
      - libpq C(sslmode) of the connection.
      - See U(https://www.postgresql.org/docs/current/libpq-ssl.html).
    type: str
    default: prefer
    choices: [disable, allow, prefer, require, verify-ca, verify-full]
  login_unix_socket:
    description:
      - Directory of the server's Unix socket; when set it is used instead of O(login_host).
    type: str
    default: ''
  connect_timeout:
    description:
      - Seconds to wait for the server to accept the connection.
    type: int
    default: 10
requirements:
  - psycopg2 (PyPI C(psycopg2-binary)) on the host that runs the module
"""
