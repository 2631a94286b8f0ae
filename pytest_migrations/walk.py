"""The migration walk: run the user's env.py once and drive it step by step.

Alembic calls the "migrations function" of an EnvironmentContext from inside
env.py's `context.run_migrations()` and runs each step it yields. Handing it a
generator lets a single env.py run, on a single connection, go up and down the
history one revision at a time while the checks look at the database between
steps. That is what keeps the whole verdict close to the cost of a plain
`alembic upgrade head` + `alembic downgrade base`.
"""

from __future__ import annotations

import signal
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext, MigrationStep
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from pytest_migrations.environment import run_env
from pytest_migrations.project import Project, user_code_location


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
    warnings: list[warnings.WarningMessage] = field(default_factory=list)  # raised by env.py and revisions


Program = Callable[[sa.Connection, MigrationContext], Generator[Move, None, None]]


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

    `server` creates the extra databases a multidb project (Alembic's template, Flask binds) needs.
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

    with noticing_interrupts() as interrupted:
        try:
            run_env(
                project,
                url,
                server,
                outcome.warnings,
                fn=migrations_fn,
                as_sql=False,
                destination_rev="heads",
            )
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
