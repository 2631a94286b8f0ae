"""What every provider shares: the Server and Database objects, throwaway names, masking, SQLite."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import URL

DB_PREFIX = "pytest_migrations_"
TEMP_PREFIX = "pytest-migrations-"
HOST_TAG = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:4]
_DRIVERS = {
    "postgresql": ("psycopg2", "psycopg", "pg8000"),
    "mysql": ("mysqldb", "pymysql", "mysqlconnector"),
}
# Used only when no sync driver of the engine is installed (see async_bridge), in this order.
_ASYNC_DRIVERS = {
    "postgresql": ("asyncpg", "psycopg_async"),
    "mysql": ("aiomysql", "asyncmy"),
}
_DRIVER_MODULES = {
    "asyncpg": "asyncpg",
    "psycopg_async": "psycopg",
    "asyncmy": "asyncmy",
    "aiomysql": "aiomysql",
    "psycopg2": "psycopg2",
    "psycopg": "psycopg",
    "pg8000": "pg8000",
    "mysqldb": "MySQLdb",
    "pymysql": "pymysql",
    "mysqlconnector": "mysql.connector",
}


class ProviderUnavailable(Exception):
    """This provider cannot supply the engine; the message says why."""


def mask_url(url: str | URL) -> str:
    """Render a URL with its password hidden, whatever shape it came in.

    Everything between `user:` and the last @ is hidden: a password may hold spaces, slashes and
    an unencoded @ (which a driver would take for the end of the password, and SQLAlchemy too).
    """
    return _QUERY_PASSWORD.sub(r"\1***", _WHOLE_URL_PASSWORD.sub(r"\1***@", _as_written(url), count=1))


def _as_written(url: str | URL) -> str:
    return url.render_as_string(hide_password=False) if isinstance(url, URL) else str(url)


_WHOLE_URL_PASSWORD = re.compile(r"^(\s*[A-Za-z][\w+.-]*://[^:/@\s]*:).*@", re.S)
# In free text (a driver's message), a URL ends at whitespace.
_USERINFO_PASSWORD = re.compile(r"(\b[A-Za-z][\w+.-]*://[^:/@\s]*:)[^\s/]*@")
# password=..., passwd=..., sslpassword=..., pwd=... in a query string, which the drivers accept.
_QUERY_PASSWORD = re.compile(r"([?&;]\w*(?:pass\w*|pwd)=)[^&;\s]*", re.I)


def mask_text(text: str) -> str:
    return _QUERY_PASSWORD.sub(r"\1***", _USERINFO_PASSWORD.sub(r"\1***@", text))


def mask_error(text: str, url: str | URL) -> str:
    """A driver's message about `url`, with every piece of the URL's password hidden.

    The driver reads `user:pass@word@host` as password `pass` and host `word@host`, and may
    then quote that host: what `mask_url` hides as one password is hidden piece by piece here.
    """
    rendered = _as_written(url)
    text = mask_text(text)
    match = _WHOLE_URL_PASSWORD.match(rendered)
    if match:
        secret = rendered[match.end(1) : match.end() - 1]
        for piece in sorted({secret, *re.split(r"[@/\s]+", secret)}, key=len, reverse=True):
            if len(piece) >= 2:
                text = text.replace(piece, "***")
    return text


@dataclass
class Database:
    """One throwaway database. `drop()` is idempotent."""

    engine: str
    name: str
    url: URL
    server: Server
    dropped: bool = False

    def drop(self) -> None:
        if not self.dropped:
            self.dropped = True
            self.server.drop_database(self)


@dataclass
class Server:
    """Base for every provider's server: creates and drops databases."""

    engine: str
    origin: str  # where the server comes from, as messages name it: "Docker image postgres:17", ...
    worker: str = "main"
    startup_seconds: float = 0.0
    version: str = ""  # as the server reports it, once connected
    source: str = ""  # how the report names where it comes from; the origin unless a provider says more
    created: list[Database] = field(default_factory=list)
    ahead: list[Database] = field(default_factory=list)  # made before they were needed; see make_ahead()

    def describe(self) -> str:
        """What ran the checks, for the report: `postgresql 15.14 from Docker image postgres:17`."""
        return " ".join(part for part in (self.engine, self.version, "from", self.source or self.origin) if part)

    @contextmanager
    def starting(self) -> Iterator[None]:
        """Around a provider's start: a server that fails or is interrupted while starting is stopped (its
        process, container and temp dir go too); one that starts is timed."""
        started = time.monotonic()
        try:
            yield
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started

    def make_ahead(self) -> None:
        """Create a throwaway database now, for the next `next_database()` to take.

        A PostgreSQL server takes 0.2-0.4 s to create one: the model check's database is made in its
        thread while the walk's is made, so a short history does not wait for it at the end.
        """
        self.ahead.append(self.create_database())

    def next_database(self) -> Database:
        try:
            return self.ahead.pop()  # one atomic step: the model's thread may be taking one too
        except IndexError:
            return self.create_database()

    def new_name(self) -> str:
        return f"{DB_PREFIX}{HOST_TAG}_{os.getpid()}_{self.worker}_{secrets.token_hex(3)}"

    def create_database(self, template: Database | None = None) -> Database:
        raise NotImplementedError

    def drop_database(self, database: Database) -> None:
        raise NotImplementedError

    def stale_databases(self) -> list[str]:
        return []

    def drop_stale(self, names: list[str]) -> None:
        """Only ever called with names `stale_databases` returned."""

    def stop(self) -> None:
        for database in list(self.created):
            try:
                database.drop()
            except Exception:
                pass
        self.created.clear()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale_name(name: str) -> bool:
    """Ours, made on this host, by a process that no longer runs."""
    match = re.fullmatch(re.escape(DB_PREFIX) + r"([0-9a-f]{4})_(\d+)_\w+", name)
    return bool(match) and match.group(1) == HOST_TAG and not _pid_alive(int(match.group(2)))


# --------------------------------------------------------------------- SQLite


@dataclass
class SqliteServer(Server):
    directory: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-sqlite-"))
    )

    def __post_init__(self) -> None:
        import sqlite3

        self.version = self.version or sqlite3.sqlite_version

    def create_database(self, template: Database | None = None) -> Database:
        name = self.new_name()
        path = self.directory / f"{name}.sqlite"
        if template is not None:
            shutil.copyfile(Path(template.url.database or ""), path)
        database = Database("sqlite", name, URL.create("sqlite", database=str(path)), self)
        self.created.append(database)
        return database

    def drop_database(self, database: Database) -> None:
        Path(database.url.database or "").unlink(missing_ok=True)
        if database in self.created:
            self.created.remove(database)

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.directory, ignore_errors=True)
