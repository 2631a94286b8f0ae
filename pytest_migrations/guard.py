"""The guard: env.py may connect only to the throwaway databases pytest-migrations created.

env.py decides where it connects; many read a URL from their own settings, the app's
configuration or an environment variable, and would otherwise migrate (and, for the data
check, fill and empty) the user's real database. So every connection opened while env.py
runs is checked *before* it is made, from the arguments the driver is about to receive: a
connection to a database that is not ours is never opened, not even to ask it a question,
and no SQLite file is created at a path that is not ours. The connection env.py hands Alembic
is asked once more, of the database itself, before any migration runs.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL

Throwaway = Callable[[], dict[str, URL]]  # identity -> URL of every database env.py may use now

# The plugin's own server connections (to create and drop databases), which may open while env.py runs.
_trusted: weakref.WeakSet[Any] = weakref.WeakSet()


def trust(engine: sa.Engine) -> None:
    """Let `engine` connect while env.py runs: a provider's admin engine, on the server's maintenance database."""
    _trusted.add(engine.dialect)


class ForeignDatabase(Exception):
    """env.py connected to a database pytest-migrations did not create; nothing was run on it."""


def database_identity(conn: sa.Connection) -> str:
    """Which database a connection is really on, asked of the database itself (not of a URL env.py may ignore)."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        files = {row[1]: row[2] for row in conn.exec_driver_sql("PRAGMA database_list")}
        return os.path.realpath(files["main"]) if files.get("main") else ":memory:"
    if dialect == "postgresql":
        return str(conn.exec_driver_sql("SELECT current_database()").scalar())
    if dialect in ("mysql", "mariadb"):
        return str(conn.exec_driver_sql("SELECT DATABASE()").scalar())
    return str(conn.engine.url.database)


def url_identity(url: URL) -> str:
    """What `database_identity` says on a connection to `url`."""
    if url.get_backend_name() == "sqlite":
        return os.path.realpath(url.database) if url.database and url.database != ":memory:" else ":memory:"
    return str(url.database)


def _target_identity(dialect: Any, cargs: list[Any], cparams: dict[str, Any]) -> str | None:
    """The database a driver is about to connect to, read from its connect arguments; None if unknown."""
    if dialect.name == "sqlite":
        target = cargs[0] if cargs else cparams.get("database")
        if not isinstance(target, str):
            return None
        if target.startswith("file:"):  # a URI filename
            target = target[len("file:") :].split("?", 1)[0]
        return os.path.realpath(target) if target and target != ":memory:" else ":memory:"
    for key in ("dbname", "database", "db"):  # psycopg / asyncpg, pymysql / asyncmy, mysqlclient / aiomysql
        if isinstance(cparams.get(key), str):
            return cparams[key]
    return None


def foreign_database_message(dialect: str, found: str, throwaway: dict[str, URL], url_env: tuple[str, ...] = ()) -> str:
    from pytest_migrations.providers.base import DB_PREFIX

    expected = next(iter(throwaway.values()), None)
    what = (
        f"env.py connected to the {dialect} database {found!r}, not to the throwaway database "
        f"pytest-migrations created for this run of env.py ({url_identity(expected) if expected else 'none'!r})"
    )
    if os.path.basename(found).startswith(DB_PREFIX):  # one of ours, made for an earlier run of env.py
        return (
            f"{what}. It is one pytest-migrations made for an earlier run: env.py (or a module it imports) read "
            "the URL once and kept it. Read it anew inside run_migrations_online(), e.g. from "
            'config.get_main_option("sqlalchemy.url").'
        )
    fix = 'make env.py connect to config.get_main_option("sqlalchemy.url") or use config.attributes["connection"]'
    if url_env:
        return (
            f"{what}. pytest-migrations only migrates databases it created itself. migrations_url_env points "
            f"{', '.join(url_env)} at the throwaway database while env.py runs, so env.py takes its URL from "
            "elsewhere, or from a value read earlier (e.g. settings read when the app was imported): "
            f"{fix}, or read the variable inside run_migrations_online()."
        )
    return (
        f"{what}. pytest-migrations only migrates databases it created itself: {fix}; if it reads its URL "
        "from an environment variable, name that variable in the migrations_url_env ini key; if from settings "
        "the application read at import, point them at run.url in a pytest_migrations_run_env hook in "
        "conftest.py (`get_settings().database_url = run.url`, then `run()`)."
    )


def refuse_foreign(connection: sa.Connection, throwaway: dict[str, URL], url_env: tuple[str, ...] = ()) -> None:
    """Raise ForeignDatabase unless `connection` is on one of the `throwaway` databases (identity -> URL)."""
    found = database_identity(connection)
    if found not in throwaway:
        raise ForeignDatabase(foreign_database_message(connection.dialect.name, found, throwaway, url_env))


def tune_connection(dialect: str, dbapi_connection: Any) -> None:
    """Session settings for a throwaway database: it needs no durability, and the walk commits often.

    Set on the driver's connection as it is made, before env.py can open a transaction in which
    SQLite would refuse the PRAGMA.
    """
    statement = {"sqlite": "PRAGMA synchronous = OFF", "postgresql": "SET synchronous_commit = off"}.get(dialect)
    if statement is None:
        return
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(statement)
    finally:
        cursor.close()
    dbapi_connection.commit()  # psycopg began a transaction for the SET; a rollback would undo it


@dataclass(frozen=True)
class _Guard:
    throwaway: Throwaway
    url_env: tuple[str, ...]


# The guards in force (a migrator test inside a walk nests them: the innermost decides). The
# listeners are installed once, when this module loads, and never removed: adding and removing
# SQLAlchemy listeners while another thread (the model build) connects makes SQLAlchemy iterate a
# changing list ("deque mutated during iteration").
_guards: list[_Guard] = []


def _before_connect(dialect: Any, record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
    guard = _guards[-1] if _guards else None
    if guard is None or dialect in _trusted:
        return
    target = _target_identity(dialect, cargs, cparams)
    allowed = guard.throwaway()
    if target is not None and target not in allowed:
        raise ForeignDatabase(foreign_database_message(dialect.name, target, allowed, guard.url_env))
    record.info["pytest_migrations_dialect"] = dialect.name


def _on_connect(dbapi_connection: Any, record: Any) -> None:
    dialect = record.info.get("pytest_migrations_dialect")
    if dialect is not None:
        tune_connection(dialect, dbapi_connection)


event.listen(sa.engine.Engine, "do_connect", _before_connect)
event.listen(sa.pool.Pool, "connect", _on_connect)


@contextmanager
def guarded(throwaway: Throwaway, url_env: tuple[str, ...] = ()) -> Iterator[None]:
    """While inside, no connection to a database other than those `throwaway()` names can be opened.

    `url_env` (migrations_url_env) is named in the message when it was not enough. Applies to
    every engine, in every thread: env.py may run in a worker thread of the user's choosing (the
    pytest_migrations_run_env hook). The model's thread only opens throwaway databases, which pass.
    """
    guard = _Guard(throwaway, url_env)
    _guards.append(guard)
    try:
        yield
    finally:
        _guards.remove(guard)


def throwaway_databases(url: URL, server: Any = None) -> Throwaway:
    """The databases a run of env.py may migrate: `url`, and those `server` created (binds, multidb names)."""

    def collect() -> dict[str, URL]:
        urls = [url, *(database.url for database in getattr(server, "created", ()))]
        return {url_identity(each): each for each in urls}

    return collect
