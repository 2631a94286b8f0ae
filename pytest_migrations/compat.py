"""The few places SQLAlchemy 1.4 and 2.x, and Flask-SQLAlchemy 2.x and 3.x, differ: the rest keeps one code path.

Only the plugin's own engines are made 2.0-style (`future=True`) on SQLAlchemy 1.4: the engines env.py
and the Flask app build stay as the project builds them, so a revision runs exactly as it does under
the project's own `alembic upgrade`, and the verdicts are the same on both stacks.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import sqlalchemy as sa

SQLALCHEMY_1 = sa.__version__.startswith("1.")


def create_engine(url: Any, **options: Any) -> sa.engine.Engine:
    """An Engine whose connections commit explicitly (`commit()`, no autocommit), on SQLAlchemy 1.4 too."""
    if SQLALCHEMY_1:
        options.setdefault("future", True)
    url = sa.engine.make_url(url)
    if url.get_driver_name() in ASYNC_DRIVER_NAMES:  # no sync driver is installed
        from pytest_migrations.async_bridge import create_engine as bridged

        return bridged(url, **options)
    return sa.create_engine(url, **options)


# SQLAlchemy driver names of the async drivers (the plugin bridges them; env.py gets them for an async engine).
ASYNC_DRIVER_NAMES = ("asyncpg", "psycopg_async", "aiomysql", "asyncmy", "aiosqlite")


def is_connection(bind: Any) -> bool:
    """A Connection, 2.0-style or (SQLAlchemy 1.4) legacy: the `sa.Connection` name is 2.x only."""
    return isinstance(bind, (sa.engine.Connection, *_FUTURE_CONNECTION))


_FUTURE_CONNECTION: tuple[type, ...] = ()
if SQLALCHEMY_1:  # 1.4's future Connection is not a subclass of its legacy one
    from sqlalchemy.future import Connection as _Future

    _FUTURE_CONNECTION = (_Future,)


# SQLAlchemy 2.0's Uuid type; on 1.4 only the dialects' own UUID types, which the caller matches by name.
UUID_TYPES: tuple[type, ...] = (sa.Uuid,) if hasattr(sa, "Uuid") else ()


def autobegin(conn: Any) -> None:
    """Begin the transaction a 2.0-style Connection begins by itself, on SQLAlchemy 1.4's legacy one (env.py's).

    Otherwise that one autocommits each write (deprecated, and warned about), and begin_nested() on it is a
    deprecated stand-in for begin(), not a savepoint: begun first, the walk does the same on both lines.
    """
    if not getattr(conn, "_is_future", True) and not conn.in_transaction():
        conn.begin()


def execute(conn: Any, statement: Any, parameters: Any = None, options: dict[str, Any] | None = None) -> Any:
    """`conn.execute()` with execution options, also on the legacy Connection env.py opens on SQLAlchemy 1.4.

    That one takes keyword arguments as bind parameters, so the options go on a copy of it; and it
    would autocommit a write on its own, so the transaction 2.0 would begin is begun first.
    """
    if getattr(conn, "_is_future", True):  # 2.x Connections have no such attribute: all are 2.0-style
        return conn.execute(statement, parameters, execution_options=options or {})
    autobegin(conn)
    branch = conn.execution_options(**options) if options else conn
    return branch.execute(statement, parameters) if parameters is not None else branch.execute(statement)


def begin_nested(conn: Any) -> Any:
    """A savepoint, inside the transaction 2.0-style Connections begin by themselves (see autobegin)."""
    autobegin(conn)
    return conn.begin_nested()


def create_schema_if_missing(conn: Any, name: str) -> None:
    """CREATE SCHEMA IF NOT EXISTS (PostgreSQL): SQLAlchemy 1.4's CreateSchema takes no if_not_exists, and ignores it."""
    if SQLALCHEMY_1:
        conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {conn.dialect.identifier_preparer.quote_schema(name)}")
    else:
        conn.execute(sa.schema.CreateSchema(name, if_not_exists=True))


def _is_flask_sqlalchemy_2(db: Any) -> bool:
    """Flask-SQLAlchemy 2.x keeps one "connector" per bind instead of 3.x's `db.engines` mapping."""
    return not hasattr(type(db), "engines")


def flask_bind_keys(db: Any, app: Any) -> list[str | None]:
    """The binds of `db` in `app` (None is the default database), inside an app context."""
    if _is_flask_sqlalchemy_2(db):
        return [None, *(app.config.get("SQLALCHEMY_BINDS") or {})]
    return list(db.engines.keys())


def flask_engine(db: Any, url: Any) -> sa.engine.Engine:
    """An engine on `url` as the app's Flask-SQLAlchemy would make one (3.x: 2.0-style on SQLAlchemy 1.4)."""
    options: dict[str, Any] = {"poolclass": sa.pool.NullPool}
    if SQLALCHEMY_1 and not _is_flask_sqlalchemy_2(db):
        options["future"] = True
    return sa.create_engine(url, **options)


class _Connector:
    """Stands in for Flask-SQLAlchemy 2.x's per-bind connector, which `db.get_engine()` asks for its engine."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self.engine = engine

    def get_engine(self) -> sa.engine.Engine:
        return self.engine


@contextmanager
def flask_engines_replaced(db: Any, app: Any, replacements: dict[str | None, sa.engine.Engine]) -> Iterator[None]:
    """`db`'s engines in `app` are `replacements` meanwhile, inside an app context; the originals afterwards."""
    if _is_flask_sqlalchemy_2(db):
        held = app.extensions["sqlalchemy"].connectors
        new = {key: _Connector(engine) for key, engine in replacements.items()}
    else:
        held = db._app_engines[app]
        new = dict(replacements)
    saved = dict(held)
    held.clear()
    held.update(new)
    try:
        yield
    finally:
        held.clear()
        held.update(saved)


def reading_rows(conn: Any) -> Any:
    """Around the plugin's own row reads: SQLAlchemy 1.4 warns that SQLite keeps Decimals as floats whenever
    Numeric columns are read. That warning is about the application's schema, and would be reported as
    raised by the project's code (and fail a `-W error` run), so the plugin's reads do not raise it."""
    if not SQLALCHEMY_1 or conn.dialect.name != "sqlite":
        return nullcontext()
    return _no_decimal_warning()


@contextmanager
def _no_decimal_warning() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"Dialect sqlite\+\w+ does \*not\* support Decimal", sa.exc.SAWarning)
        yield
