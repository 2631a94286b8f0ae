"""A server named by URL: the admin connection, throwaway databases in it, leftovers of killed runs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from pytest_migrations import compat
from pytest_migrations.providers.base import (
    _ASYNC_DRIVERS,
    _DRIVER_MODULES,
    _DRIVERS,
    DB_PREFIX,
    Database,
    ProviderUnavailable,
    Server,
    is_stale_name,
    mask_error,
    mask_url,
)


def _read_url(raw: str) -> URL:
    try:
        return make_url(raw)
    except (sa.exc.ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ProviderUnavailable(
            f"{mask_url(raw)} is not a database URL SQLAlchemy can read; write it as "
            "postgresql://user@host:port/database or mysql+pymysql://user@host:port/database, with a numeric "
            "port and the password, if any, after the user and a colon, percent-encoded"
        ) from None


def _installed_drivers(engine: str, drivers: dict[str, tuple[str, ...]] = _DRIVERS) -> list[str]:
    import importlib.util  # here, not at import time: the plugin loads in every pytest session

    found = drivers.get(engine, ())
    return [d for d in found if importlib.util.find_spec(_DRIVER_MODULES[d].split(".")[0]) is not None]


def with_driver(url: URL, engine: str) -> URL:
    """Honour a sync driver the URL names; otherwise pick an installed one, else an installed async one.

    The plugin's own connections go through a sync driver when there is one (the walk is synchronous,
    as Alembic is); a project that installs only an async driver is served through it (async_bridge).
    """
    named = url.get_driver_name() if "+" in url.drivername else None
    if named is not None and named not in _ASYNC_DRIVERS.get(engine, ()):
        return url
    for driver in _installed_drivers(engine) or _installed_drivers(engine, _ASYNC_DRIVERS):
        return url.set(drivername=f"{url.get_backend_name()}+{driver}")
    if named is not None:
        return url  # SQLAlchemy cannot load it either: _driver_problem says what to install
    extra = "postgresql" if engine == "postgresql" else "mysql"
    tried = dict.fromkeys(_DRIVER_MODULES[d] for d in (*_DRIVERS[engine], *_ASYNC_DRIVERS[engine]))
    raise ProviderUnavailable(
        f"no {engine} driver is installed (tried {', '.join(tried)}): "
        f"`pip install pytest-migrations[{extra}]` installs one"
    )


_DRIVER_PACKAGES = {
    "psycopg2": "psycopg2-binary",
    "psycopg": "psycopg[binary]",
    "pg8000": "pg8000",
    "mysqldb": "mysqlclient",
    "pymysql": "pymysql",
    "mysqlconnector": "mysql-connector-python",
    "asyncpg": "asyncpg",
    "psycopg_async": "psycopg[binary]",
    "asyncmy": "asyncmy",
    "aiomysql": "aiomysql",
}


def _driver_problem(url: URL, engine: str, exc: Exception) -> str:
    """Why SQLAlchemy cannot load the driver a URL names, and what to install or write instead."""
    driver = url.drivername.partition("+")[2] or url.drivername
    if driver in _DRIVER_PACKAGES:
        fix = f"Install it with `pip install {_DRIVER_PACKAGES[driver]}`"
    else:
        fix = f"Name a driver SQLAlchemy knows for {engine}"
    installed = _installed_drivers(engine)
    hint = f", or write {engine}+{installed[0]}://..., which is installed" if installed else ""
    return (
        f"cannot use {mask_url(url)}: SQLAlchemy cannot load its driver {driver!r} "
        f"({type(exc).__name__}: {mask_error(str(exc), url)}). {fix}{hint}."
    )


def _server_version(conn: sa.Connection) -> str:
    """The version the server reports, e.g. 15.14 or 10.11.11-MariaDB-0+deb12u1, for the report."""
    if conn.dialect.name == "postgresql":
        return str(conn.exec_driver_sql("SHOW server_version").scalar()).split()[0]
    return str(conn.exec_driver_sql("SELECT VERSION()").scalar())


def _quote(engine: str, name: str) -> str:
    return f'"{name}"' if engine == "postgresql" else f"`{name}`"


@dataclass
class UrlServer(Server):
    """A server the user (or one of our local/docker providers) gives as a URL."""

    admin_url: URL = field(default_factory=lambda: URL.create("sqlite"))
    given_url: str = field(
        default="", repr=False
    )  # as the user wrote it: the parsed URL may hide where the password ends
    _admin: sa.Engine | None = None

    def _masked(self, text: str) -> str:
        return mask_error(text, self.given_url or self.admin_url)

    @property
    def shown_url(self) -> str:
        return self._masked(mask_url(self.admin_url))

    def connect_admin(self, connect_timeout: int | None = None) -> None:
        """Connect to the server's maintenance database; `connect_timeout` in seconds where the driver takes one."""
        from pytest_migrations.connect_timeout import TIMEOUT_ARGS
        from pytest_migrations.guard import trust

        self.admin_url = with_driver(self.admin_url, self.engine)
        timeout_key = TIMEOUT_ARGS.get(self.admin_url.get_driver_name())
        connect_args = {timeout_key: connect_timeout} if connect_timeout and timeout_key else {}
        try:
            self._admin = compat.create_engine(
                self.admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool, connect_args=connect_args
            )
        except (ImportError, sa.exc.ArgumentError) as exc:  # NoSuchModuleError is an ArgumentError
            raise ProviderUnavailable(self._masked(_driver_problem(self.admin_url, self.engine, exc))) from None
        trust(self._admin)
        started = time.monotonic()
        # The first answer is awaited with a read timeout too, where the driver only times the TCP connect
        # (pymysql): a server that accepts and never answers must not hold the run. Not on the admin engine
        # itself: a slow DROP DATABASE is no reason to give up.
        probe_args = dict(connect_args)
        if connect_timeout and self.admin_url.get_driver_name() in ("pymysql", "mysqldb"):
            probe_args["read_timeout"] = connect_timeout
        probe = compat.create_engine(self.admin_url, poolclass=NullPool, connect_args=probe_args)
        trust(probe)
        try:
            with probe.connect() as conn:
                self.version = _server_version(conn)
        except Exception as exc:
            waited = time.monotonic() - started
            silent = (
                f" in {waited:.0f} s: it accepts connections but does not answer (migrations_connect_timeout = "
                f"{connect_timeout} sets how long to wait)"
                if connect_timeout and waited >= connect_timeout * 0.9
                else ""
            )
            raise ProviderUnavailable(
                f"cannot connect to {self.shown_url} ({self.origin}){silent}: "
                f"{self._masked(str(getattr(exc, 'orig', exc)))}"
            ) from None
        finally:
            probe.dispose()

    @property
    def admin(self) -> sa.Engine:
        assert self._admin is not None, "connect_admin() first"
        return self._admin

    def create_database(self, template: Database | None = None) -> Database:
        name = self.new_name()
        sql = f"CREATE DATABASE {_quote(self.engine, name)}"
        if self.engine == "postgresql":
            sql += f" TEMPLATE {_quote(self.engine, template.name) if template else 'template0'}"
            if template is None:
                sql += " ENCODING 'UTF8'"
        else:
            sql += " CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
        try:
            with self.admin.connect() as conn:
                conn.execute(sa.text(sql))
        except sa.exc.DBAPIError as exc:
            raise ProviderUnavailable(self._cannot_create(exc)) from None
        if template is not None and self.engine == "mysql":
            with self.admin.connect() as conn:
                _copy_mysql_database(conn, template.name, name)
        database = Database(self.engine, name, self.admin_url.set(database=name), self)
        self.created.append(database)
        return database

    def _cannot_create(self, exc: sa.exc.DBAPIError) -> str:
        user = self.admin_url.username or "the account"
        if self.engine == "postgresql":
            grant = 'ALTER ROLE "{}" CREATEDB'.format(user.replace('"', '""'))
        else:
            grant = f"GRANT ALL PRIVILEGES ON `{DB_PREFIX.replace('_', chr(92) + '_')}%`.* TO '{user}'@'%'"
        return (
            f"cannot create a throwaway database on {self.shown_url} ({self.origin}): "
            f"{self._masked(' '.join(str(exc.orig).split()))}. The account in the URL must be allowed to create and "
            f"drop databases whose names start with {DB_PREFIX}: give it that right ({grant}) or use one that has it."
        )

    def drop_database(self, database: Database) -> None:
        self._drop_name(database.name)
        if database in self.created:
            self.created.remove(database)

    def _drop_name(self, name: str) -> None:
        if not name.startswith(DB_PREFIX):  # never drop anything we could not have made
            raise ValueError(f"refusing to drop {name!r}: not a pytest-migrations database")
        sql = f"DROP DATABASE IF EXISTS {_quote(self.engine, name)}"
        if self.engine == "postgresql":
            sql += " WITH (FORCE)"
        with self.admin.connect() as conn:
            conn.execute(sa.text(sql))

    def stale_databases(self) -> list[str]:
        if self.engine == "postgresql":
            query = "SELECT datname FROM pg_database WHERE datname LIKE 'pytest\\_migrations\\_%'"
        else:
            query = (
                "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'pytest\\_migrations\\_%'"
            )
        with self.admin.connect() as conn:
            names = [row[0] for row in conn.execute(sa.text(query))]
        return sorted(name for name in names if is_stale_name(name))

    def drop_stale(self, names: list[str]) -> None:
        for name in names:
            if is_stale_name(name):
                self._drop_name(name)

    def stop(self) -> None:
        super().stop()
        if self._admin is not None:
            self._admin.dispose()


def _copy_mysql_database(conn: sa.Connection, source: str, target: str) -> None:
    """MySQL has no CREATE DATABASE ... TEMPLATE; copy table by table."""
    tables = [
        row[0]
        for row in conn.execute(
            sa.text(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = :s AND table_type = 'BASE TABLE'"
            ),
            {"s": source},
        )
    ]
    conn.execute(sa.text("SET FOREIGN_KEY_CHECKS = 0"))
    try:
        for table in tables:
            conn.execute(sa.text(f"CREATE TABLE `{target}`.`{table}` LIKE `{source}`.`{table}`"))
            conn.execute(sa.text(f"INSERT INTO `{target}`.`{table}` SELECT * FROM `{source}`.`{table}`"))
    finally:
        conn.execute(sa.text("SET FOREIGN_KEY_CHECKS = 1"))
