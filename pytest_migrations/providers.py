"""Database providers: where throwaway databases come from, and how they go away.

A `Server` is something we may create databases in (a SQLite temp dir, a server
named by URL, a private local server, a Docker container). A `Database` is one
throwaway database inside it. Servers are opened once per session per process
(so once per xdist worker) and every database the plugin creates carries a
name that says which host and process made it, so a later run can tell what
a killed run left behind without ever touching anybody else's databases.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from pytest_migrations.settings import DEFAULT_MYSQL_IMAGE, DEFAULT_POSTGRESQL_IMAGE, Settings

DB_PREFIX = "pytest_migrations_"
TEMP_PREFIX = "pytest-migrations-"
HOST_TAG = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:4]
_DRIVERS = {
    "postgresql": ("psycopg2", "psycopg", "pg8000"),
    "mysql": ("mysqldb", "pymysql", "mysqlconnector"),
}
_DRIVER_MODULES = {
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
    origin: str
    worker: str = "main"
    startup_seconds: float = 0.0
    created: list[Database] = field(default_factory=list)
    ahead: list[Database] = field(default_factory=list)  # made before they were needed; see make_ahead()

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


# ------------------------------------------------------------ server by URL


def _read_url(raw: str) -> URL:
    try:
        return make_url(raw)
    except (sa.exc.ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ProviderUnavailable(
            f"{mask_url(raw)} is not a database URL SQLAlchemy can read; write it as "
            "postgresql://user@host:port/database or mysql+pymysql://user@host:port/database, with a numeric "
            "port and the password, if any, after the user and a colon, percent-encoded"
        ) from None


def _installed_drivers(engine: str) -> list[str]:
    import importlib.util  # here, not at import time: the plugin loads in every pytest session

    return [d for d in _DRIVERS[engine] if importlib.util.find_spec(_DRIVER_MODULES[d].split(".")[0]) is not None]


def with_driver(url: URL, engine: str) -> URL:
    """Honour a driver the URL names; otherwise pick one that is installed."""
    if "+" in url.drivername:
        return url
    for driver in _installed_drivers(engine):
        return url.set(drivername=f"{engine}+{driver}")
    extra = "postgresql" if engine == "postgresql" else "mysql"
    raise ProviderUnavailable(
        f"no {engine} driver is installed (tried {', '.join(_DRIVER_MODULES[d] for d in _DRIVERS[engine])}); "
        f"install one, e.g. `pip install pytest-migrations[{extra}]`"
    )


_ASYNC_DRIVERS = ("asyncpg", "psycopg_async", "aiomysql", "asyncmy", "aiosqlite")
# The connect argument each driver takes a connection timeout (seconds) in.
_TIMEOUT_ARGS = {
    "psycopg2": "connect_timeout",
    "psycopg": "connect_timeout",
    "pg8000": "timeout",
    "pymysql": "connect_timeout",
    "mysqldb": "connect_timeout",
    "mysqlconnector": "connection_timeout",
}
_DRIVER_PACKAGES = {
    "psycopg2": "psycopg2-binary",
    "psycopg": "psycopg[binary]",
    "pg8000": "pg8000",
    "mysqldb": "mysqlclient",
    "pymysql": "pymysql",
    "mysqlconnector": "mysql-connector-python",
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
        from pytest_migrations.guard import trust

        if self.admin_url.get_driver_name() in _ASYNC_DRIVERS:
            # The plugin's own connections are synchronous; an env.py that builds an async engine is
            # handed the throwaway database with an async driver anyway (environment.async_url).
            self.admin_url = self.admin_url.set(drivername=self.admin_url.get_backend_name())
        self.admin_url = with_driver(self.admin_url, self.engine)
        timeout_key = _TIMEOUT_ARGS.get(self.admin_url.get_driver_name())
        connect_args = {timeout_key: connect_timeout} if connect_timeout and timeout_key else {}
        try:
            self._admin = sa.create_engine(
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
        probe = sa.create_engine(self.admin_url, poolclass=NullPool, connect_args=probe_args)
        trust(probe)
        try:
            with probe.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
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


# ------------------------------------------------------ local server binaries


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _find_binary(*names: str, extra_globs: tuple[str, ...] = ()) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    for pattern in extra_globs:
        for name in names:
            matches = sorted(glob.glob(os.path.join(pattern, name)), reverse=True)
            if matches:
                return matches[0]
    return None


def _service_user(candidates: tuple[str, ...]) -> str | None:
    """Servers refuse to run as root; when we are root, run them as a system user."""
    if os.geteuid() != 0:
        return None
    for name in candidates:
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise ProviderUnavailable(f"running as root and none of the users {', '.join(candidates)} exists to run the server")


def _chown_tree(path: Path, user: str | None) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _run(cmd: list[str], user: str | None, what: str, timeout: float = 120) -> None:
    result = subprocess.run(cmd, user=user, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise ProviderUnavailable(f"{what} failed ({' '.join(cmd[:1])}): {' / '.join(tail)}")


def _wait_until_ready(url: URL, process: subprocess.Popen[bytes] | None, what: str, timeout: float = 60) -> None:
    engine = sa.create_engine(url, poolclass=NullPool)
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    try:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise ProviderUnavailable(f"{what} exited with code {process.returncode} while starting")
            try:
                with engine.connect():
                    return
            except Exception as exc:  # not accepting connections yet
                last = exc
                time.sleep(0.05)
    finally:
        engine.dispose()
    raise ProviderUnavailable(f"{what} did not accept connections within {timeout:.0f}s: {last}")


@dataclass
class LocalPostgresServer(UrlServer):
    directory: Path | None = None
    pg_ctl: str = ""
    user: str | None = None

    @classmethod
    def start(cls, worker: str) -> LocalPostgresServer:
        globs = ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin")
        initdb = _find_binary("initdb", extra_globs=globs)
        pg_ctl = _find_binary("pg_ctl", extra_globs=globs)
        if not initdb or not pg_ctl:
            raise ProviderUnavailable("no initdb/pg_ctl on PATH or under /usr/lib/postgresql/*/bin")
        user = _service_user(("postgres", "nobody"))
        started = time.monotonic()
        directory = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-postgresql-"))
        _chown_tree(directory, user)
        data = directory / "data"
        server = cls(engine="postgresql", origin="local PostgreSQL binaries", worker=worker, directory=directory)
        server.pg_ctl, server.user = pg_ctl, user
        try:
            _run(
                [initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
                user,
                "initdb",
            )
            port = _free_port()
            options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
            _run(
                [
                    pg_ctl,
                    "-D",
                    str(data),
                    "-l",
                    str(directory / "server.log"),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
                user,
                "pg_ctl start",
            )
            server.admin_url = URL.create(
                "postgresql", username="postgres", host="127.0.0.1", port=port, database="postgres"
            )
            server.connect_admin()
        except BaseException:
            server.stop()
            raise
        server.startup_seconds = time.monotonic() - started
        return server

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            if self.directory is not None:
                data = self.directory / "data"
                if (data / "postmaster.pid").exists():
                    subprocess.run(
                        [self.pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
                        user=self.user,
                        capture_output=True,
                        timeout=60,
                    )
                shutil.rmtree(self.directory, ignore_errors=True)


@dataclass
class LocalMariaDBServer(UrlServer):
    directory: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, worker: str) -> LocalMariaDBServer:
        install = _find_binary("mariadb-install-db", "mysql_install_db")
        daemon = _find_binary("mariadbd", "mysqld", extra_globs=("/usr/sbin", "/usr/libexec"))
        if not install or not daemon:
            raise ProviderUnavailable("no mariadb-install-db/mariadbd (or mysql_install_db/mysqld) found")
        user = _service_user(("mysql", "nobody"))
        started = time.monotonic()
        directory = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-mysql-"))
        _chown_tree(directory, user)
        data = directory / "data"
        server = cls(engine="mysql", origin="local MariaDB/MySQL binaries", worker=worker, directory=directory)
        try:
            cmd = [
                install,
                "--no-defaults",
                f"--datadir={data}",
                "--skip-test-db",
                "--auth-root-authentication-method=normal",
            ]
            if user:
                cmd.append(f"--user={user}")
            _run(cmd, None, "mariadb-install-db")
            port = _free_port()
            args = [
                daemon,
                "--no-defaults",
                f"--datadir={data}",
                f"--port={port}",
                "--bind-address=127.0.0.1",
                f"--socket={directory / 'mysqld.sock'}",
                f"--pid-file={directory / 'mysqld.pid'}",
                "--skip-grant-tables",
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-buffer-pool-size=64M",
                "--skip-log-bin",
            ]
            if user:
                args.append(f"--user={user}")
            with open(directory / "server.log", "wb") as log:  # the server keeps its own copy of the descriptor
                server.process = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)
            server.admin_url = URL.create("mysql", username="root", host="127.0.0.1", port=port)
            _wait_until_ready(with_driver(server.admin_url, "mysql"), server.process, "mariadbd")
            server.connect_admin()
        except BaseException:
            server.stop()
            raise
        server.startup_seconds = time.monotonic() - started
        return server

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            if self.process is not None and self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            if self.directory is not None:
                shutil.rmtree(self.directory, ignore_errors=True)


# ------------------------------------------------------------------- Docker


@dataclass
class DockerServer(UrlServer):
    container: object | None = None

    @classmethod
    def start(cls, engine: str, image: str, worker: str) -> DockerServer:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                if engine == "postgresql":
                    from testcontainers.postgres import PostgresContainer as Container
                else:
                    from testcontainers.mysql import MySqlContainer as Container
            except ImportError:
                raise ProviderUnavailable(
                    "testcontainers is not installed (`pip install pytest-migrations[docker]`)"
                ) from None
        try:
            import docker

            docker.from_env().ping()
        except Exception as exc:
            raise ProviderUnavailable(f"no Docker engine is reachable ({type(exc).__name__}: {exc})") from None
        started = time.monotonic()
        if engine == "postgresql":
            container = Container(image, username="postgres", password="postgres", dbname="postgres")
        else:
            container = Container(image, username="root", root_password="test", password="test")
        server = cls(engine=engine, origin=f"Docker image {image}", worker=worker, container=container)
        try:
            container.start()
            url = make_url(container.get_connection_url())
            server.admin_url = url.set(drivername=engine)
            server.connect_admin()
        except BaseException:
            server.stop()
            raise
        server.startup_seconds = time.monotonic() - started
        return server

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            if self.container is not None:
                try:
                    self.container.stop()  # type: ignore[attr-defined]
                except Exception:
                    pass


# ------------------------------------------------------------- choosing one


def _how_to_provide(engine: str) -> str:
    upper = engine.upper()
    default_image = DEFAULT_POSTGRESQL_IMAGE if engine == "postgresql" else DEFAULT_MYSQL_IMAGE
    return (
        f"Give pytest-migrations a {engine} server in one of three ways: "
        f"(1) a URL: --migrations-{engine}-url, env PYTEST_MIGRATIONS_{upper}_URL or ini migrations_{engine}_url; "
        f"(2) local server binaries on PATH ({'initdb and pg_ctl' if engine == 'postgresql' else 'mariadb-install-db and mariadbd'}); "
        f"(3) Docker with `pip install pytest-migrations[docker]` (image from ini migrations_{engine}_image, "
        f"default {default_image})."
    )


def provider_order(engine: str, settings: Settings) -> list[str]:
    if settings.provider:
        return [settings.provider]
    if engine in settings.images:
        return ["docker"]
    return ["url", "local", "docker"] if engine in settings.server_urls else ["local", "docker"]


def open_server(engine: str, settings: Settings, worker: str) -> Server:
    """Open the first provider that can supply `engine`, or explain all that could not."""
    if engine == "sqlite":
        return SqliteServer(engine="sqlite", origin="SQLite files in a temp dir", worker=worker)
    reasons: list[str] = []
    for provider in provider_order(engine, settings):
        try:
            if provider == "url":
                raw = settings.server_urls.get(engine)
                if not raw:
                    raise ProviderUnavailable("no URL given")
                started = time.monotonic()
                origin = f"server URL from {settings.url_origins.get(engine, 'the settings')}"
                server = UrlServer(engine=engine, origin=origin, worker=worker, admin_url=_read_url(raw), given_url=raw)
                server.connect_admin(connect_timeout=settings.connect_timeout)
                server.startup_seconds = time.monotonic() - started
                return server
            if provider == "local":
                local = LocalPostgresServer if engine == "postgresql" else LocalMariaDBServer
                return local.start(worker)
            default = DEFAULT_POSTGRESQL_IMAGE if engine == "postgresql" else DEFAULT_MYSQL_IMAGE
            return DockerServer.start(engine, settings.images.get(engine, default), worker)
        except ProviderUnavailable as exc:
            if provider == "url" and engine in settings.server_urls:
                raise  # a URL the user gave and that does not work is an error, not a reason to look elsewhere
            reasons.append(f"{provider}: {exc}")
    raise ProviderUnavailable(f"no {engine} server is available ({'; '.join(reasons)}). {_how_to_provide(engine)}")


def stale_temp_dirs() -> list[Path]:
    """Temp dirs (SQLite files, local servers' data) of our runs on this host whose process is gone."""
    found = []
    for path in Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*"):
        match = re.match(re.escape(TEMP_PREFIX) + r"(\d+)-", path.name)
        if match and not _pid_alive(int(match.group(1))):
            found.append(path)
    return sorted(found)


def remove_stale_temp_dir(path: Path) -> None:
    """Stop a server a killed run left running in `path`, then delete the files."""
    pg_pid = path / "data" / "postmaster.pid"
    my_pid = path / "mysqld.pid"
    for pid_file in (pg_pid, my_pid):
        if pid_file.exists():
            try:
                pid = int(pid_file.read_text().split()[0])
                os.kill(pid, signal.SIGKILL)
            except (ValueError, IndexError, ProcessLookupError, PermissionError):
                pass
    shutil.rmtree(path, ignore_errors=True)


def handle_leftovers(settings: Settings) -> list[str]:
    """List (or, with --migrations-drop-stale, remove) what killed runs on this host left behind.

    Runs once per session on the controller, before any worker creates a database.
    """
    lines: list[str] = []
    for path in stale_temp_dirs():
        if settings.drop_stale:
            remove_stale_temp_dir(path)
            lines.append(f"removed {path}, left by a killed run")
        else:
            lines.append(f"left by a killed run: {path}")
    for engine, url in settings.server_urls.items():  # every server the run knows, used or not (sqlite-only too)
        try:
            server = UrlServer(engine=engine, origin="server URL", admin_url=_read_url(url), given_url=url)
        except ProviderUnavailable:
            continue  # the items for that engine say so
        try:
            server.connect_admin(connect_timeout=settings.connect_timeout)
            stale = server.stale_databases()
            if settings.drop_stale:
                server.drop_stale(stale)
            verb = "dropped" if settings.drop_stale else "left by a killed run"
            lines.extend(f"{verb}: database {name} on {mask_url(url)}" for name in stale)
        except ProviderUnavailable:
            pass  # the items for that engine say so
        finally:
            server.stop()
    if lines and not settings.drop_stale:
        lines.append("remove them with: pytest --migrations --migrations-drop-stale")
    return lines
