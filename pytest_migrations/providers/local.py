"""Private local servers started from the PostgreSQL or MariaDB binaries found on this machine."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from pytest_migrations import compat
from pytest_migrations.providers.base import TEMP_PREFIX, ProviderUnavailable
from pytest_migrations.providers.url import UrlServer, with_driver


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
    engine = compat.create_engine(url, poolclass=NullPool)
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
    def start(cls, worker: str, connect_timeout: int | None = None) -> LocalPostgresServer:
        globs = ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin")
        initdb = _find_binary("initdb", extra_globs=globs)
        pg_ctl = _find_binary("pg_ctl", extra_globs=globs)
        if not initdb or not pg_ctl:
            raise ProviderUnavailable("no initdb/pg_ctl on PATH or under /usr/lib/postgresql/*/bin")
        user = _service_user(("postgres", "nobody"))
        directory = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-postgresql-"))
        _chown_tree(directory, user)
        data = directory / "data"
        server = cls(engine="postgresql", origin="local PostgreSQL binaries", worker=worker, directory=directory)
        server.pg_ctl, server.user = pg_ctl, user
        with server.starting():
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
            server.connect_admin(connect_timeout=connect_timeout)
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
    def start(cls, worker: str, connect_timeout: int | None = None) -> LocalMariaDBServer:
        install = _find_binary("mariadb-install-db", "mysql_install_db")
        daemon = _find_binary("mariadbd", "mysqld", extra_globs=("/usr/sbin", "/usr/libexec"))
        if not install or not daemon:
            raise ProviderUnavailable("no mariadb-install-db/mariadbd (or mysql_install_db/mysqld) found")
        user = _service_user(("mysql", "nobody"))
        directory = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-mysql-"))
        _chown_tree(directory, user)
        data = directory / "data"
        server = cls(engine="mysql", origin="local MariaDB/MySQL binaries", worker=worker, directory=directory)
        with server.starting():
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
            server.connect_admin(connect_timeout=connect_timeout)
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
