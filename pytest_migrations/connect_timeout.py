"""Every connection to a throwaway database gives up when the server accepts it and never answers.

The admin connection is bounded where it is made (providers.url). Connections to the throwaway
databases are made by many hands: the walk, the model build, the migrator fixture, Flask-SQLAlchemy's
engines and env.py's own `engine_from_config`. One listener on every Engine bounds them all, and only
them: a connection to a database whose name is not one of ours is left as its owner configured it.

Only the connection is bounded, never a statement: a long migration must not be cut off. pymysql
times just the TCP connect, so its handshake is awaited with a read timeout that is lifted as
soon as the connection is made.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from pytest_migrations import guard  # noqa: F401 - its do_connect listener must come first (it refuses, this connects)
from pytest_migrations.providers.base import DB_PREFIX, ProviderUnavailable, mask_text

# The connect argument each driver (dialect.driver) takes a connection timeout (seconds) in.
TIMEOUT_ARGS = {
    "psycopg2": "connect_timeout",
    "psycopg": "connect_timeout",
    "psycopg_async": "connect_timeout",
    "pg8000": "timeout",
    "asyncpg": "timeout",
    "pymysql": "connect_timeout",
    "mysqldb": "connect_timeout",
    "mysqlconnector": "connection_timeout",
    "aiomysql": "connect_timeout",
    "asyncmy": "connect_timeout",
}
HANDSHAKE_READ_TIMEOUT = ("pymysql",)  # drivers whose connect_timeout stops at the TCP connect
KEY = "migrations_connect_timeout"

_seconds: list[int] = []  # this process's migrations_connect_timeout, once a run sets it


def set_connect_timeout(seconds: int) -> None:
    """Bound this process's connections to throwaway databases by `seconds` (the session sets it once)."""
    _seconds[:] = [seconds]


class ServerSilent(ProviderUnavailable):
    """A server accepted a connection to a throwaway database and did not answer within the timeout."""


def _database(cparams: dict[str, Any]) -> str | None:
    for key in ("dbname", "database", "db"):
        if isinstance(cparams.get(key), str):
            return cparams[key]
    return None


def _connect(dialect: Any, record: Any, cargs: list[Any], cparams: dict[str, Any]) -> Any:
    name = _database(cparams)
    key = TIMEOUT_ARGS.get(dialect.driver)
    if not _seconds or key is None or not name or not name.startswith(DB_PREFIX):
        return None  # SQLAlchemy connects as the engine was configured
    seconds = _seconds[0]
    cparams.setdefault(key, seconds)
    lift = dialect.driver in HANDSHAKE_READ_TIMEOUT and "read_timeout" not in cparams
    if lift:
        cparams["read_timeout"] = seconds
    started = time.monotonic()
    try:
        connection = dialect.connect(*cargs, **cparams)
    except Exception as exc:
        waited = time.monotonic() - started
        if waited < seconds * 0.9:
            raise  # refused, bad password...: the driver's own error says it
        where = f"{cparams.get('host', 'localhost')}:{cparams.get('port', 'default port')}"
        raise ServerSilent(
            f"the {dialect.name} server at {where} accepted a connection to the throwaway database {name} and did "
            f"not answer in {waited:.0f} s ({KEY} = {seconds} sets how long to wait): "
            f"{mask_text(' '.join(str(exc).split()))}"
        ) from None
    if lift and hasattr(connection, "_read_timeout"):
        connection._read_timeout = None  # statements may take as long as they take
    _lift_socket_timeout(connection)
    return connection


def _lift_socket_timeout(connection: Any) -> None:
    """pg8000's `timeout` and mysql-connector's `connection_timeout` stay on the socket after the
    handshake, where they would cut a long migration short: statements are never timed."""
    for attribute in ("_usock", "_sock"):  # pg8000's socket; a socket inside mysql-connector's wrapper
        sock = getattr(connection, attribute, None)
        sock = getattr(sock, "sock", sock)
        if hasattr(sock, "settimeout"):
            sock.settimeout(None)


event.listen(sa.engine.Engine, "do_connect", _connect)
