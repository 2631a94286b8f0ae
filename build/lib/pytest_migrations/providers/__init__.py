"""Database providers: where throwaway databases come from, and how they go away.

A `Server` is something we may create databases in (a SQLite temp dir, a server
named by URL, a private local server, a Docker container). A `Database` is one
throwaway database inside it. Servers are opened once per session per process
(so once per xdist worker) and every database the plugin creates carries a
name that says which host and process made it, so a later run can tell what
a killed run left behind without ever touching anybody else's databases.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import make_url

from pytest_migrations.providers.base import (
    DB_PREFIX,
    HOST_TAG,
    TEMP_PREFIX,
    Database,
    ProviderUnavailable,
    Server,
    SqliteServer,
    _pid_alive,
    mask_text,
    mask_url,
)
from pytest_migrations.providers.docker import DockerServer
from pytest_migrations.providers.local import LocalMariaDBServer, LocalPostgresServer
from pytest_migrations.providers.url import UrlServer, _read_url, with_driver
from pytest_migrations.settings import DEFAULT_MYSQL_IMAGE, DEFAULT_POSTGRESQL_IMAGE, Settings

__all__ = [
    "DB_PREFIX",
    "HOST_TAG",
    "Database",
    "DockerServer",
    "LocalMariaDBServer",
    "LocalPostgresServer",
    "ProviderUnavailable",
    "Server",
    "SqliteServer",
    "UrlServer",
    "handle_leftovers",
    "make_url",
    "mask_text",
    "mask_url",
    "open_server",
    "with_driver",
]


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
