"""Servers in Docker containers, started through testcontainers."""

from __future__ import annotations

import urllib.parse
import warnings
from dataclasses import dataclass

from sqlalchemy.engine import make_url

from pytest_migrations.providers.base import ProviderUnavailable
from pytest_migrations.providers.url import UrlServer


class DockerFailed(ProviderUnavailable):
    """A Docker engine answered, but the container could not be had: the image, Ryuk, or the server in it."""


def image_key(engine: str) -> str:
    return f"migrations_{engine}_image"


def docker_problem(engine: str, image: str, exc: BaseException) -> str:
    """One line for a container that would not start: what failed, which setting to change, Docker's words last.

    testcontainers starts its Ryuk reaper before the first container; without a registry its pull fails
    first, and the message must point at TESTCONTAINERS_RYUK_DISABLED, not at the database image.
    """
    said = " ".join(str(getattr(exc, "explanation", None) or exc).split())
    raw = urllib.parse.unquote(str(exc))
    ryuk = _ryuk_image()
    key = image_key(engine)
    if ryuk and ryuk.split(":")[0] in raw:
        return (
            f"testcontainers could not start its Ryuk container (image {ryuk}), which it starts before the {engine} "
            f"container from {image}: set TESTCONTAINERS_RYUK_DISABLED=true (pytest-migrations stops and removes its "
            f"own containers) or make {ryuk} available to the Docker engine. Docker said: {type(exc).__name__}: {said}"
        )
    if _is_pull_failure(exc, raw):
        return (
            f"cannot start a {engine} container: Docker image {image} is not on this Docker engine and pulling it "
            f"failed. Pull or build it beforehand, or set the ini key {key} to an image the engine has or can pull "
            f"(log in first for a private registry). Docker said: {type(exc).__name__}: {said}"
        )
    return (
        f"the {engine} container from Docker image {image} did not start or did not become ready; check that the "
        f"image is a {engine} server image, or set the ini key {key} to another{_wait_hint(exc)}. "
        f"Docker said: {type(exc).__name__}: {said}"
    )


def _wait_hint(exc: BaseException) -> str:
    """testcontainers' own bound on the readiness wait, and how to lengthen it, when that bound ran out."""
    if not isinstance(exc, TimeoutError):
        return ""
    from testcontainers.core.config import testcontainers_config as config

    return (
        " (a slow server may need a longer wait: TC_MAX_TRIES polls of TC_POOLING_INTERVAL seconds, 120 of 1 s "
        f"by default, waited {config.timeout:g} s here)"
    )


def _is_pull_failure(exc: BaseException, raw: str) -> bool:
    return "images/create" in raw or type(exc).__name__ in ("ImageNotFound", "NotFound")


def _ryuk_image() -> str | None:
    """The Ryuk image testcontainers starts first, or None when TESTCONTAINERS_RYUK_DISABLED turns it off."""
    try:
        from testcontainers.core.config import testcontainers_config as config
    except ImportError:
        return None
    return None if config.ryuk_disabled else config.ryuk_image


@dataclass
class DockerServer(UrlServer):
    container: object | None = None
    image: str = ""

    @classmethod
    def start(cls, engine: str, image: str, worker: str, connect_timeout: int | None = None) -> DockerServer:
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
        if engine == "postgresql":
            container = Container(image, username="postgres", password="postgres", dbname="postgres")
        else:
            container = Container(image, username="root", root_password="test", password="test")
        server = cls(engine=engine, origin=f"Docker image {image}", worker=worker, container=container, image=image)
        with server.starting():
            try:
                container.start()
            except Exception as exc:  # docker.errors.*, testcontainers' wait timeouts: one line, not a traceback
                raise DockerFailed(docker_problem(engine, image, exc)) from None
            url = make_url(container.get_connection_url())
            server.admin_url = url.set(drivername=engine)
            server.connect_admin(connect_timeout=connect_timeout)
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
