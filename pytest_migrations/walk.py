"""The migration walk: run the user's env.py once and drive it step by step.

Alembic calls the "migrations function" of an EnvironmentContext from inside
env.py's `context.run_migrations()` and runs each step it yields. Handing it a
generator lets a single env.py run, on a single connection, go up and down the
history one revision at a time while the checks look at the database between
steps. That is what keeps the whole verdict close to the cost of a plain
`alembic upgrade head` + `alembic downgrade base`.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, MigrationStep
from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from pytest_migrations.project import Project, user_code_location
from pytest_migrations.providers import DB_PREFIX


@dataclass(frozen=True)
class Move:
    """One step of a walk: apply (`upgrade`) or revert (`downgrade`) one revision."""

    direction: str
    revision: str
    phase: str  # which part of the walk asked for it; owners of failures are decided by phase
    bind: str | None = None  # Flask-Migrate multidb: which bind's database ("" is the default one)


@dataclass
class DriveOutcome:
    completed: bool = False
    failed_move: Move | None = None
    error: BaseException | None = None
    error_in: str = ""  # "env", "step" or "check"
    timings: list[tuple[Move, float]] = field(default_factory=list)


Program = Callable[[sa.Connection, MigrationContext], Generator[Move, None, None]]


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


def alembic_url(url: URL) -> str:
    # ConfigParser interpolates '%', so a password containing one must be doubled.
    return url.render_as_string(hide_password=False).replace("%", "%%")


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


@contextmanager
def guarded_environment(
    config: Any, script: Any, throwaway: Callable[[], dict[str, URL]], **kwargs: Any
) -> Iterator[EnvironmentContext]:
    """The EnvironmentContext for one run of env.py, which may touch only the databases `throwaway()` names.

    env.py decides where it connects; many read a URL from their own settings or an environment
    variable and would otherwise migrate (and, for the data check, fill and empty) the user's real
    database. Every connection env.py opens is checked before env.py can use it, and the one it
    hands Alembic is checked again when it calls run_migrations() (it may have been opened
    earlier). Only connections opened in this thread count: the model is built in another one.
    (Alembic's module-level `context` proxy forwards calls to the instance's attributes, so the
    instance's run_migrations is wrapped; a subclass would not be proxied.)
    """
    env = EnvironmentContext(config, script, **kwargs)
    run = env.run_migrations

    def run_migrations(**kw: Any) -> None:
        connection = env.get_context().connection
        if connection is not None:  # offline (--sql) mode has none and writes nowhere
            refuse_foreign(connection, throwaway())
        run(**kw)

    env.run_migrations = run_migrations  # type: ignore[method-assign]
    thread = threading.get_ident()

    def on_connect(connection: sa.Connection) -> None:
        if threading.get_ident() == thread:
            try:
                refuse_foreign(connection, throwaway())
            except ForeignDatabase:
                connection.close()
                raise
            # The question began a transaction; left open, Alembic would take it for env.py's own
            # and never commit the migrations.
            connection.rollback()

    event.listen(sa.engine.Engine, "engine_connect", on_connect)
    try:
        with env:
            yield env
    finally:
        event.remove(sa.engine.Engine, "engine_connect", on_connect)


def refuse_foreign(connection: sa.Connection, throwaway: dict[str, URL]) -> None:
    """Raise ForeignDatabase unless `connection` is on one of the `throwaway` databases (identity -> URL)."""
    found = database_identity(connection)
    if found in throwaway:
        return
    expected = next(iter(throwaway.values()), None)
    what = (
        f"env.py connected to the {connection.dialect.name} database {found!r}, not to the throwaway database "
        f"pytest-migrations created for this run of env.py ({url_identity(expected) if expected else 'none'!r})"
    )
    if os.path.basename(found).startswith(DB_PREFIX):  # one of ours, made for an earlier run of env.py
        raise ForeignDatabase(
            f"{what}. It is one pytest-migrations made for an earlier run: env.py (or a module it imports) read "
            "the URL once and kept it. Read it anew inside run_migrations_online(), e.g. from "
            'config.get_main_option("sqlalchemy.url").'
        )
    raise ForeignDatabase(
        f"{what}. pytest-migrations only migrates databases it created itself: make env.py connect to "
        'config.get_main_option("sqlalchemy.url") or use config.attributes["connection"]; if it reads its URL '
        "from an environment variable, name that variable in the migrations_url_env ini key."
    )


def throwaway_databases(url: URL, server: Any = None) -> Callable[[], dict[str, URL]]:
    """The databases a run of env.py may migrate: `url`, and those `server` created for this run (Flask binds)."""

    def collect() -> dict[str, URL]:
        urls = [url, *(database.url for database in getattr(server, "created", ()))]
        return {url_identity(each): each for each in urls}

    return collect


@contextmanager
def url_in_environment(names: tuple[str, ...], url: URL) -> Iterator[None]:
    """Point the environment variables env.py reads its URL from at the throwaway database, then restore them."""
    saved = {name: os.environ.get(name) for name in names}
    rendered = url.render_as_string(hide_password=False)
    try:
        for name in names:
            os.environ[name] = rendered
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


Preparer = Callable[[sa.Connection, str], None]


class PrepareFailed(Exception):
    """The pytest_migrations_prepare_database hook raised; the message says where and what."""


def fresh_database(server: Any, prepare: Preparer | None) -> Any:
    """A new throwaway database of `server`, built up to the base state by the user's prepare hook if any.

    The hook runs in one transaction. If it raises, the database is dropped and PrepareFailed says why.
    """
    database = server.next_database()
    if prepare is None:
        return database
    connectable = sa.create_engine(database.url, poolclass=NullPool)
    try:
        with connectable.begin() as connection:
            prepare(connection, server.engine)
    except Exception as exc:
        database.drop()
        location = user_code_location(exc)
        where = f"at {location}\n" if location else ""
        raise PrepareFailed(
            f"the pytest_migrations_prepare_database hook failed on {server.engine}, before any migration ran "
            f"(nothing was checked).\n{where}{describe_error(exc)}"
        ) from exc
    finally:
        connectable.dispose()
    return database


def drive(project: Project, url: URL, program: Program, server: Any = None) -> DriveOutcome:
    """Run env.py once against `url`, applying the moves `program` yields.

    `server` creates the extra databases a Flask-Migrate multidb app needs for its binds.
    """
    outcome = DriveOutcome()
    script = project.script
    revision_map = script.revision_map
    state: dict[str, Any] = {"current": None, "started": False}

    def migrations_fn(heads: Any, context: MigrationContext) -> Iterator[MigrationStep]:
        state["started"] = True
        previous: Move | None = None
        for move in program(context.connection, context):  # type: ignore[arg-type]
            if interrupted():
                raise KeyboardInterrupt  # noticed earlier, but swallowed where it landed
            if previous is not None and previous.direction != move.direction:
                start_new_transaction(context)
            previous = move
            revision = script.get_revision(move.revision)
            if move.direction == "upgrade":
                step = MigrationStep.upgrade_from_script(revision_map, revision)
            else:
                step = MigrationStep.downgrade_from_script(revision_map, revision)
            state["current"] = move
            # Alembic remembers named types (PostgreSQL enums) it created in this context and skips
            # creating them again; each step must behave as if it ran in a fresh `alembic` command.
            context.impl.memo = {}
            started = time.perf_counter()
            yield step
            outcome.timings.append((move, time.perf_counter() - started))
            state["current"] = None

    config = project.alembic_config()
    config.set_main_option("sqlalchemy.url", alembic_url(url))
    engine = sa.create_engine(url, poolclass=NullPool)
    environment = project.environment(url, server) if project.environment else nullcontext()
    try:
        with (
            noticing_interrupts() as interrupted,
            preserved_logging(),
            url_in_environment(project.url_env, url),
            environment,
            engine.connect() as connection,
        ):
            config.attributes["connection"] = connection
            guarded = guarded_environment(
                config,
                script,
                throwaway_databases(url, server),
                fn=migrations_fn,
                as_sql=False,
                destination_rev="heads",
            )
            try:
                with guarded:
                    script.run_env()
                outcome.completed = True
            except BaseException as exc:
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                if interrupted():  # Ctrl-C landed in cleanup code that raised something else instead
                    raise KeyboardInterrupt from exc
                outcome.error = exc
                outcome.failed_move = state["current"]
                if not state["started"]:
                    outcome.error_in = "env"
                elif state["current"] is not None:
                    outcome.error_in = "step"
                else:
                    outcome.error_in = "check"
            if connection.in_transaction():
                connection.commit()
    finally:
        engine.dispose()
    return outcome


@contextmanager
def noticing_interrupts() -> Iterator[Callable[[], bool]]:
    """Remember a Ctrl-C, so it stops the walk even if the KeyboardInterrupt itself never gets out.

    Python drops exceptions raised in weakref callbacks and finalizers, and Alembic's batch mode
    catches whatever interrupts a table rebuild and raises its own cleanup error instead; either
    way the run would go on, or report a failure that is not one. Yields "was there a Ctrl-C?".
    Only the main thread can handle signals; elsewhere it yields a function that says no.
    """
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield lambda: False  # signals are the main thread's, and SIG_IGN/SIG_DFL are the user's choice
        return
    seen: list[int] = []

    def on_interrupt(signum: int, frame: Any) -> None:
        seen.append(signum)
        previous(signum, frame)  # Python's own handler raises KeyboardInterrupt

    signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield lambda: bool(seen)
    finally:
        signal.signal(signal.SIGINT, previous)


def start_new_transaction(context: MigrationContext) -> None:
    """Commit what the walk did so far, as if the next moves were a separate `alembic` command.

    A user runs `alembic upgrade` and `alembic downgrade` as separate commands, each in its own
    transaction; the walk turns direction in the middle of one env.py run. Without a commit there, a
    downgrade that uses what its upgrade made fails where it never would for the user: PostgreSQL
    does not let a transaction use an enum value it added itself. Moves in one direction stay in one
    transaction, as in one `alembic upgrade head`, so a revision using a value an earlier one adds in
    that same run still fails, as it would in a deployment. Only where Alembic itself holds the
    transaction (not env.py's own `engine.begin()`, not transaction_per_migration), and only on
    engines whose DDL is transactional: elsewhere each statement commits anyway.
    """
    transaction = getattr(context, "_transaction", None)
    if context.impl.transactional_ddl and transaction is not None and transaction.is_active:
        # What autocommit_block() does on the way in and out, without its round trips to read and set
        # the isolation level (a third of the time of these commits on PostgreSQL).
        transaction.commit()
        context._transaction = context.connection.begin()  # type: ignore[union-attr]


def describe_error(exc: BaseException) -> str:
    """The original database error, on one line, for the last line of a failure message."""
    orig = getattr(exc, "orig", None)
    if orig is not None:
        text = f"{type(orig).__module__.split('.')[0]}.{type(orig).__name__}: {orig}"
    else:
        text = "".join(traceback.format_exception_only(type(exc), exc))
    return " ".join(text.split())
