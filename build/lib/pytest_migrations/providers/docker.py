"""Servers in Docker containers, started through testcontainers."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

from sqlalchemy.engine import make_url

from pytest_migrations.providers.base import ProviderUnavailable
from pytest_migrations.providers.url import UrlServer


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
