"""Running the user's env.py, unmodified, on throwaway databases, whatever its style.

Every way a project's env.py finds its database is pointed at the throwaway ones for the
length of one run, then put back:

- `sqlalchemy.url` (Alembic's generic and pyproject templates), with the async driver of the
  engine when env.py builds an async engine (the async templates);
- one `sqlalchemy.url` per section named in `databases = ...` (Alembic's multidb template),
  each on a database of its own;
- `config.attributes["connection"]`, a Connection that also answers `.connect()` for env.py
  files written for an Engine there;
- the environment variables named in `migrations_url_env`, keeping the driver their value named;
- a Flask app's engines and configuration (`Project.environment`, see flask_support).

The run itself may be wrapped by the `pytest_migrations_run_env` hook (an AnyIO worker
thread, an application context), and warnings env.py or a revision raise are recorded for
pytest's summary instead of being turned into errors by the project's filters.
"""

from __future__ import annotations

import copy
import importlib.util
import logging
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionMap
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from pytest_migrations import compat
from pytest_migrations.guard import guarded, refuse_foreign, throwaway_databases
from pytest_migrations.project import Project, importable
from pytest_migrations.providers import ProviderUnavailable

# Async drivers per engine, in the order they are preferred; the module is what must be installed.
ASYNC_DRIVERS = {"sqlite": ("aiosqlite",), "postgresql": ("asyncpg", "psycopg"), "mysql": ("aiomysql", "asyncmy")}

EnvRunner = Callable[[Callable[[], None]], None]  # the pytest_migrations_run_env hook: calls run() once


def is_async(url: URL) -> bool:
    return url.get_driver_name() in compat.ASYNC_DRIVER_NAMES


def async_url(url: URL) -> URL:
    """`url` with an installed async driver of its engine, for an env.py that builds an async engine."""
    if is_async(url):
        return url
    backend = url.get_backend_name()
    engine = "mysql" if backend in ("mysql", "mariadb") else backend
    drivers = ASYNC_DRIVERS.get(engine, ())
    for driver in drivers:
        if importlib.util.find_spec(driver) is not None:
            return url.set(drivername=f"{backend}+{driver}")
    raise ProviderUnavailable(
        f"env.py builds an async engine (async_engine_from_config or create_async_engine), so pytest-migrations "
        f"hands it the throwaway {engine} database with an async driver, and none is installed: "
        f"`pip install {drivers[0] if drivers else 'an async driver'}` (or `pip install pytest-migrations[async]`)."
    )


def url_for_variable(url: URL, original: str | None) -> URL:
    """The throwaway `url` as an environment variable env.py reads should hold it: with the driver it named.

    `postgresql+asyncpg://...` in DATABASE_URL stays asyncpg; an async driver of another backend
    (the app's SQLite in a PostgreSQL run) becomes this engine's async driver.
    """
    try:
        before = make_url(original) if original else None
    except (sa.exc.ArgumentError, ValueError):
        before = None
    if before is None:
        return url
    same_backend = {before.get_backend_name(), url.get_backend_name()} <= {"mysql", "mariadb"} or (
        before.get_backend_name() == url.get_backend_name()
    )
    if same_backend and "+" in before.drivername:
        return url.set(drivername=f"{url.get_backend_name()}+{before.get_driver_name()}")
    return async_url(url) if is_async(before) else url


def alembic_url(url: URL) -> str:
    # ConfigParser interpolates '%', so a password containing one must be doubled.
    return url.render_as_string(hide_password=False).replace("%", "%%")


class _StepsThatWorked(logging.Filter):
    """Alembic's INFO lines ("Running upgrade a -> b", "Context impl ..."), one per step of every walk: on a long
    history they were nearly all of a failure's output. A failure tells its own step and statement."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.INFO


@contextmanager
def quiet_alembic(keep: bool) -> Iterator[None]:
    """Leave out Alembic's INFO lines while env.py runs, unless `keep` (-v, or a log level asked for)."""
    if keep:
        yield
        return
    loggers = [logging.getLogger(name) for name in ("alembic.runtime.migration", "alembic.runtime.plugins")]
    quiet = _StepsThatWorked()
    for logger in loggers:
        logger.addFilter(quiet)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(quiet)


@contextmanager
def preserved_logging() -> Iterator[None]:
    """env.py's fileConfig() disables every existing logger and replaces root's handlers; undo that."""
    root = logging.getLogger()
    saved_root = (root.level, list(root.handlers), root.disabled)
    saved: dict[str, tuple[int, list[logging.Handler], bool, bool]] = {}
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            saved[name] = (logger.level, list(logger.handlers), logger.disabled, logger.propagate)
    try:
        yield
    finally:
        root.setLevel(saved_root[0])
        root.handlers[:] = saved_root[1]
        root.disabled = saved_root[2]
        for name, (level, handlers, disabled, propagate) in saved.items():
            logger = logging.getLogger(name)
            logger.setLevel(level)
            logger.handlers[:] = handlers
            logger.disabled = disabled
            logger.propagate = propagate


@contextmanager
def variables_pointing_at(names: tuple[str, ...], url: URL) -> Iterator[None]:
    """Point the environment variables env.py reads its URL from at the throwaway database, then restore them."""
    saved = {name: os.environ.get(name) for name in names}
    try:
        for name in names:
            os.environ[name] = url_for_variable(url, saved[name]).render_as_string(hide_password=False)
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def multidb_names(config: Config) -> tuple[str, ...]:
    """The databases of Alembic's multidb template (`databases = engine1, engine2`), each with its own section."""
    raw = config.get_main_option("databases") or ""
    names = tuple(name for name in re.split(r"[,\s]+", raw) if name)
    parser = config.file_config
    return names if names and all(parser.has_section(name) for name in names) else ()


@contextmanager
def targeting(project: Project, config: Config, url: URL, server: Any, app: bool = True) -> Iterator[None]:
    """Point every place env.py may read its database from at throwaway databases, for one run.

    `app=False` leaves a Flask app's engines alone: the `migrator` fixture holds them for the whole test.
    """
    given = given_url(project, url)
    config.set_main_option("sqlalchemy.url", alembic_url(given))
    extra = []
    try:
        for number, name in enumerate(multidb_names(config)):
            if number == 0:
                target = given
            else:
                database = server.create_database()
                extra.append(database)
                target = async_url(database.url) if project.async_env else database.url
            config.set_section_option(name, "sqlalchemy.url", alembic_url(target))
        with (
            variables_pointing_at(project.url_env, url),
            project.environment(url, server) if project.environment and app else nullcontext(),
        ):
            yield
    finally:
        for database in extra:
            database.drop()


@contextmanager
def imported_afresh(project: Project) -> Iterator[ScriptDirectory]:
    """The project's own modules imported again for one run, with its revision files, then put back.

    An application that reads its database URL once, at import (a module constant, an `lru_cache`'d
    `get_settings()`), read it before any run: when the project's code was first imported. With
    `migrations_url_env` set, the modules of the project's own code (not installed packages) leave
    `sys.modules` for the run, so env.py and the revisions import them again while the variables hold
    this run's throwaway URL; afterwards the project's other tests see the modules they saw before.
    """
    if not project.url_env:
        yield project.script
        return
    roots = tuple(str(Path(path).resolve()) for path in (*project.import_paths, *project.code_roots))
    saved = {name: module for name, module in sys.modules.items() if _is_project_module(module, roots)}
    for name in saved:
        del sys.modules[name]
    script = copy.copy(project.script)  # the same locations, its revision files loaded again
    script.revision_map = RevisionMap(script._load_revisions)
    try:
        yield script
    finally:
        for name, module in list(sys.modules.items()):
            if _is_project_module(module, roots):
                del sys.modules[name]
        sys.modules.update(saved)


def _is_project_module(module: Any, roots: tuple[str, ...]) -> bool:
    """A module loaded from a file under the project's directories, not an installed package or the plugin."""
    path = getattr(module, "__file__", None)
    if not path or "site-packages" in path or "dist-packages" in path:
        return False
    name = getattr(module, "__name__", "")
    if name.split(".")[0] in ("pytest_migrations", "conftest") or name.endswith(".conftest"):
        return False
    resolved = str(Path(path).resolve())
    return any(resolved.startswith(root + os.sep) for root in roots)


def answering_connect(connection: sa.Connection) -> sa.Connection:
    """Let env.py files written for an Engine in config.attributes["connection"] call .connect() on it.

    They get the same Connection back (its `with` block closes it at the end of env.py, as
    the run would anyway).
    """
    connection.connect = lambda: connection  # type: ignore[method-assign,assignment]
    return connection


def record_warning(captured: list[warnings.WarningMessage], found: list[warnings.WarningMessage]) -> None:
    seen = {(type(w.message), str(w.message), w.filename, w.lineno) for w in captured}
    for each in found:
        key = (type(each.message), str(each.message), each.filename, each.lineno)
        if key not in seen:
            seen.add(key)
            captured.append(each)


def run_env(
    project: Project,
    url: URL,
    server: Any,
    captured_warnings: list[warnings.WarningMessage],
    app: bool = True,
    **context_options: Any,
) -> None:
    """Run env.py once against `url` (and the databases `server` makes for it), with `context_options`.

    `context_options` go to Alembic's EnvironmentContext (`fn`, `destination_rev`, ...). Raises
    whatever env.py, a revision or `fn` raised; ForeignDatabase when env.py reached for a database
    that is not ours. Warnings raised meanwhile are added to `captured_warnings`, once each.
    """
    throwaway = throwaway_databases(url, server)
    config = project.alembic_config()
    engine = compat.create_engine(url, poolclass=NullPool)
    found: list[warnings.WarningMessage] = []
    try:
        with ExitStack() as stack:
            stack.enter_context(preserved_logging())
            stack.enter_context(quiet_alembic(project.alembic_log))
            stack.enter_context(importable(project.import_paths))  # env.py imports the project's models
            # Recorded, not raised: they come from the project's code, which the checks judge by its
            # migrations; they are shown in pytest's warnings summary (see reporting).
            found = stack.enter_context(warnings.catch_warnings(record=True))
            warnings.simplefilter("always")
            stack.enter_context(guarded(throwaway, project.url_env))
            stack.enter_context(targeting(project, config, url, server, app))
            script = stack.enter_context(imported_afresh(project))  # after targeting: the variables are set
            connection = stack.enter_context(engine.connect())
            config.attributes["connection"] = answering_connect(connection)
            env = stack.enter_context(EnvironmentContext(config, script, **context_options))
            run_migrations = env.run_migrations

            def checked_run_migrations(**kw: Any) -> None:
                # The connection env.py hands Alembic may have been opened before anything else checked it.
                handed = env.get_context().connection
                if handed is not None:  # offline (--sql) mode has none and writes nowhere
                    refuse_foreign(handed, throwaway(), project.url_env)
                run_migrations(**kw)

            # Alembic's module-level `context` proxy forwards to the instance's attributes.
            env.run_migrations = checked_run_migrations  # type: ignore[method-assign]
            run_once(script.run_env, project.run_env_hook, *_where_env_py_goes(config, given_url(project, url)))
            if not connection.closed and connection.in_transaction():
                connection.commit()
            project.env_runs += 1
    finally:
        record_warning(captured_warnings, found)
        engine.dispose()


@dataclass
class EnvRun:
    """What the pytest_migrations_run_env hook gets: call it once to run env.py.

    `url` is the throwaway database's URL (what `sqlalchemy.url` holds for this run), `urls` every
    database's by name (the multidb template's sections; "default" alone otherwise): an application
    whose settings were read at import points them here before calling it.
    """

    run: Callable[[], None]
    url: str = ""
    urls: dict[str, str] = field(default_factory=dict)

    def __call__(self) -> None:
        self.run()


def given_url(project: Project, url: URL) -> URL:
    """The URL env.py is given for `url`: with the async driver an async env.py needs."""
    return async_url(url) if project.async_env else url


def _where_env_py_goes(config: Config, url: URL) -> tuple[str, dict[str, str]]:
    main = url.render_as_string(hide_password=False)
    names = multidb_names(config)
    urls = {name: config.get_section_option(name, "sqlalchemy.url") or "" for name in names}
    return main, urls or {"default": main}


def run_once(
    run: Callable[[], None], hook: EnvRunner | None, url: str = "", urls: dict[str, str] | None = None
) -> None:
    """Call `run` directly, or through the project's pytest_migrations_run_env hook, which must call it once."""
    if hook is None:
        run()
        return
    calls: list[int] = []

    def run_from_hook() -> None:
        if calls:
            raise RuntimeError(
                "pytest_migrations_run_env called run() a second time: implement the hook once, and call run() once"
            )
        calls.append(1)
        run()

    hook(EnvRun(run_from_hook, url, dict(urls or {})))
    if not calls:
        raise RuntimeError("pytest_migrations_run_env returned without calling run(): env.py never ran")
