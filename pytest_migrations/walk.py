"""The migration walk: run the user's env.py once and drive it step by step.

Alembic calls the "migrations function" of an EnvironmentContext from inside
env.py's `context.run_migrations()` and runs each step it yields. Handing it a
generator lets a single env.py run, on a single connection, go up and down the
history one revision at a time while the checks look at the database between
steps. That is what keeps the whole verdict close to the cost of a plain
`alembic upgrade head` + `alembic downgrade base`.
"""

from __future__ import annotations

import functools
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

from pytest_migrations import compat
from pytest_migrations.environment import run_env
from pytest_migrations.project import Project, user_code_location


@dataclass(frozen=True)
class Move:
    """One step of a walk: apply (`upgrade`) or revert (`downgrade`) one revision."""

    direction: str
    revision: str
    phase: str  # which part of the walk asked for it; owners of failures are decided by phase
    bind: str | None = None  # multidb (Alembic's template, Flask binds): which database ("" is Flask's default)
    # A move whose failure the walk survives: it runs in a savepoint where the engine has them, and its
    # error comes back to the program (StepResult) instead of ending env.py.
    tolerant: bool = False
    # Alembic records the move in its version table, nothing runs: the database is already there.
    record_only: bool = False
    # "open" / "close": the move begins / ends a cycle of two moves undone together if either fails
    # (walk.Cycle): the stepwise check's downgrade and re-upgrade.
    cycle: str | None = None
    # A first upgrade from base: if it fails, it is tried again as part of one `alembic upgrade` command
    # (with what Alembic remembers of the types that command made); if it still fails, the walk ends.
    as_in_one_command: bool = False
    # Empties the seeded tables: a tolerant move that fails is tried again on empty tables (and both
    # undone), to tell a failure the rows cause from one of the migration itself.
    emptier: Callable[[sa.Connection], None] | None = field(default=None, compare=False)


@dataclass
class StepResult:
    """What a tolerant move did, sent back to the program."""

    error: BaseException | None = None
    # The move failed with rows in the tables; None: it also failed on empty tables (or was not tried again).
    passes_without_rows: bool | None = None
    # The database is as it was before the move (or, after a failed re-upgrade, before the cycle's downgrade).
    restored: bool = False
    # A first upgrade that failed on its own but passed as part of one `alembic upgrade` command with the
    # revisions before it (Alembic's memo of the types that command created): it stays applied.
    passes_in_one_command: bool = False


class WalkRestart(Exception):
    """The database is in a state plain Alembic would not have left at `revision`, and cannot be put back.

    A failed move MySQL could not undo (its DDL commits as it goes), a re-upgrade that failed after its
    downgrade was committed, or a stepwise cycle that changed the schema: the walk goes on from a fresh
    database brought up to `revision` with plain upgrades, as a user would start again.
    """

    def __init__(self, revision: str, reason: str = "") -> None:
        super().__init__(revision)
        self.revision = revision
        self.reason = reason


@dataclass
class DriveOutcome:
    completed: bool = False
    failed_move: Move | None = None
    error: BaseException | None = None
    error_in: str = ""  # "env", "step" or "check"
    restart_after: str | None = None  # WalkRestart: the revision a new walk must be rebuilt past
    restart_reason: str = ""
    timings: list[tuple[Move, float]] = field(default_factory=list)
    warnings: list[warnings.WarningMessage] = field(default_factory=list)  # raised by env.py and revisions


Program = Callable[[sa.engine.Connection, MigrationContext], Generator[Move, StepResult | None, None]]


Preparer = Callable[[sa.engine.Connection, str], None]


class PrepareFailed(Exception):
    """The pytest_migrations_prepare_database hook raised; the message says where and what."""


def fresh_database(server: Any, prepare: Preparer | None) -> Any:
    """A new throwaway database of `server`, built up to the base state by the user's prepare hook if any.

    The hook runs in one transaction. If it raises, the database is dropped and PrepareFailed says why.
    """
    database = server.next_database()
    if prepare is None:
        return database
    connectable = compat.create_engine(database.url, poolclass=NullPool)
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


def drive(project: Project, url: URL, program: Program, server: Any = None, observer: Any = None) -> DriveOutcome:
    """Run env.py once against `url`, applying the moves `program` yields.

    `server` creates the extra databases a multidb project (Alembic's template, Flask binds) needs;
    `observer` (observe.Observer) watches the statements of the moves it wants.
    """
    outcome = DriveOutcome()
    state: dict[str, Any] = {"current": None, "started": False}

    def migrations_fn(heads: Any, context: MigrationContext) -> Iterator[MigrationStep]:
        state["started"] = True
        script = context.script or project.script  # the run's: loaded afresh with migrations_url_env
        revision_map = script.revision_map
        connection = context.connection
        assert connection is not None
        # Where Alembic holds the transactions (every stock env.py), each move runs as its own `alembic`
        # command would: in a transaction of its own, begun on committed state, with nothing of the
        # walk's around it. Where env.py holds its own (`connectable.begin()`), savepoints undo failures.
        own_transactions = not getattr(context, "_in_external_transaction", False)
        savepoints = connection.dialect.name != "mysql"  # MySQL's DDL commits as it runs: nothing to roll back
        steps = program(connection, context)  # type: ignore[arg-type]
        previous: Move | None = None
        cycle: Cycle | None = None
        result: StepResult | None = None
        command_memo: dict[str, Any] = {}  # what one `alembic upgrade head` would remember by now
        previous_phase = ""
        while True:
            try:
                move = steps.send(result)
            except StopIteration:
                return
            result = None
            if interrupted():
                raise KeyboardInterrupt  # noticed earlier, but swallowed where it landed
            closes = cycle is not None and move.cycle == "close"
            # A tolerant move starts on committed state: its failure is then undone by rolling back its own
            # transaction, and a connection of its own (a revision's `sa.inspect(engine)`) sees what it would.
            own_command = move.tolerant and own_transactions and not move.as_in_one_command
            observed = (
                observer is not None
                and not move.record_only
                and observer.wants(move.phase, move.direction, move.revision)
            )
            if previous is not None and not closes and (previous.direction != move.direction or own_command):
                start_new_transaction(context)
            elif observed and previous is not None and not closes and own_transactions:
                # The observer sees the locks a statement takes only if the transaction does not hold them already.
                if observer.may_commit_before(connection.connection.dbapi_connection):
                    start_new_transaction(context)
            if move.cycle == "open" and savepoints and not own_transactions:
                cycle = Cycle.begin(context)
            previous = move
            revision = script.get_revision(move.revision)
            if move.direction == "upgrade":
                step = MigrationStep.upgrade_from_script(revision_map, revision)
            else:
                step = MigrationStep.downgrade_from_script(revision_map, revision)
            outcome_of_step = StepResult()
            if move.record_only:
                step.migration_fn = lambda **kw: None  # type: ignore[attr-defined]
            elif move.tolerant and not (move.as_in_one_command and not command_memo):
                # A first upgrade is worth a savepoint only once the command has made types to remember.
                by_savepoint = savepoints and (not own_transactions or move.as_in_one_command)
                undo = Undo(
                    connection, context, by_savepoint, move.cycle == "close", cycle.savepoint if cycle else None
                )
                if closes:  # rolled back past the opening move: Alembic then records this one from where it began
                    before = (revision.down_revision or "base") if move.direction == "upgrade" else revision.revision
                    undo.then = functools.partial(context.stamp, script, before)
                step.migration_fn = tolerant(  # type: ignore[attr-defined]
                    step.migration_fn, context, move, outcome_of_step, command_memo, undo
                )
            state["current"] = move
            # Alembic remembers named types (PostgreSQL enums) it created in this context and skips
            # creating them again; each step must behave as if it ran in a fresh `alembic` command,
            # but for a rebuild's plain upgrades, which are one `alembic upgrade REV`.
            if move.phase != "replay" or previous_phase != "replay":
                context.impl.memo = {}
            previous_phase = move.phase
            started = time.perf_counter()
            if observed:
                with observer.step(connection, move.revision, move.direction, context.version_table) as seen:
                    yield step
                    seen.complete = seen.complete and outcome_of_step.error is None
            else:
                yield step
            outcome.timings.append((move, time.perf_counter() - started))
            if move.as_in_one_command:
                if outcome_of_step.error is not None and not outcome_of_step.passes_in_one_command:
                    raise outcome_of_step.error  # the walk ends at a first upgrade that fails
                _remember(command_memo, context.impl.memo)
            state["current"] = None
            if cycle is not None and move.cycle == "close":
                cycle.end(context)
                cycle = None
            if move.tolerant or move.record_only:
                result = outcome_of_step

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
        except WalkRestart as restart:
            outcome.restart_after = restart.revision
            outcome.restart_reason = restart.reason
        except BaseException as exc:
            # A SystemExit here is the project's (env.py or a revision calling sys.exit): its failure, not an exit.
            if isinstance(exc, KeyboardInterrupt):
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


@dataclass
class Cycle:
    """The savepoint around a revision's downgrade and re-upgrade (the stepwise cycle).

    If either fails, the database is rolled back to it: the state after the first upgrade, where
    the walk goes on. One savepoint a revision, not one a move: each costs a round trip. While it
    is open, Alembic must not commit between the two moves: on engines it deems without
    transactional DDL (SQLite) it commits after each step unless it thinks a transaction is
    already its own, so the savepoint is lent to it.
    """

    savepoint: sa.engine.NestedTransaction
    lent: bool

    @classmethod
    def begin(cls, context: MigrationContext) -> Cycle:
        connection = context.connection
        assert connection is not None
        savepoint = compat.begin_nested(connection)
        lent = not context.impl.transactional_ddl and getattr(context, "_transaction", None) is None
        if lent:
            context._transaction = savepoint  # type: ignore[assignment]
        return cls(savepoint, lent)

    def end(self, context: MigrationContext) -> None:
        if self.lent:
            context._transaction = None
        if self.savepoint.is_active:  # not if something committed in between (transaction_per_migration)
            self.savepoint.commit()


@dataclass
class Undo:
    """How a tolerant move's failure is undone.

    By its own transaction (`by_savepoint` False): the move began on committed state, so rolling back
    the transaction Alembic runs it in gives that state back, exactly where DDL is transactional
    (PostgreSQL, and SQLite, where the walk begins the transaction for real before the move: its
    driver would otherwise commit DDL as it goes). Nothing of the walk's shows to the revision. A
    cycle's closing move (the re-upgrade) rolls back to the state after the downgrade, which was
    committed: the state before the cycle is not restored, and the walk rebuilds it.

    By savepoint, where env.py holds the transaction itself: back to the cycle's savepoint, or to
    one of the move's own.
    """

    connection: sa.Connection
    context: MigrationContext
    by_savepoint: bool
    closing: bool = False
    cycle: sa.engine.NestedTransaction | None = None
    own: sa.engine.NestedTransaction | None = None
    then: Callable[[], None] | None = None  # after rolling back: set the version table for Alembic's bookkeeping
    rolled_back: bool = False  # the failed move's own work is undone (what a retry needs)
    exact: bool = False  # rolling back its transaction undoes the whole move, DDL included

    def begin(self) -> None:
        if self.by_savepoint:
            if self.cycle is None:
                self.own = compat.begin_nested(self.connection)
            return
        dialect = self.connection.dialect.name
        self.exact = dialect == "postgresql" or (dialect == "sqlite" and begin_for_real(self.connection))

    def keep(self) -> None:
        if self.own is not None and self.own.is_active:
            self.own.commit()

    def rollback(self) -> bool:
        """Undo the move; True if the database is as it was before it (before the cycle, for a savepoint's)."""
        if not self.by_savepoint:
            transaction = getattr(self.context, "_transaction", None)
            if transaction is None or not transaction.is_active:  # autocommit_block() or the revision committed
                return False
            transaction.rollback()
            self.context._transaction = self.connection.begin()  # type: ignore[assignment]
            self.rolled_back = self.exact  # else DDL committed as it ran (MySQL): the walk looks at what is left
            return self.rolled_back and not self.closing
        savepoint = self.cycle if self.cycle is not None else self.own
        if savepoint is None or not savepoint.is_active:
            return False
        savepoint.rollback()  # the cycle's is spent then: Cycle.end finds it so and leaves it
        if self.then is not None:
            self.then()
        self.rolled_back = True
        return True

    def again(self) -> Callable[[], None]:
        """Begin a retry that is rolled back afterwards; returns what rolls it back."""
        if self.by_savepoint:
            retry = compat.begin_nested(self.connection)
            return lambda: retry.rollback() if retry.is_active else None
        if self.connection.dialect.name == "sqlite":
            begin_for_real(self.connection)

        def undo() -> None:
            transaction = getattr(self.context, "_transaction", None)
            if transaction is not None and transaction.is_active:
                transaction.rollback()
                self.context._transaction = self.connection.begin()  # type: ignore[assignment]

        return undo


def begin_for_real(connection: sa.Connection) -> bool:
    """Make SQLite's driver begin its transaction now, so that the DDL that follows can be rolled back.

    Python's sqlite3 module begins a transaction only before a data change and runs DDL before it
    in autocommit: a failed batch rebuild would leave its temporary table behind. What a revision
    sees is unchanged: the same connection, in the same SQLAlchemy transaction, with no savepoint.
    """
    compat.autobegin(connection)
    raw = connection.connection.dbapi_connection
    if not isinstance(getattr(raw, "in_transaction", None), bool):  # an async driver's adapter: left as it is
        return False
    if not raw.in_transaction:
        raw.execute("BEGIN")
    return True


def _remember(command_memo: dict[str, Any], memo: dict[str, Any]) -> None:
    for key, value in memo.items():
        if isinstance(value, set):
            command_memo.setdefault(key, set()).update(value)
        else:
            command_memo[key] = value


def tolerant(
    migration_fn: Callable[..., None],
    context: MigrationContext,
    move: Move,
    result: StepResult,
    command_memo: dict[str, Any],
    undo: Undo,
) -> Callable[..., None]:
    """`migration_fn` run so that its failure is recorded in `result` instead of raised.

    A failure is undone at once (PostgreSQL refuses every statement after an error until then; see
    Undo). Then, when the move says how, it is tried again on empty tables, undone as well, to tell
    the rows' part. A first upgrade that fails is tried again with what one `alembic upgrade`
    command would remember of the types the revisions before it created: if it passes so, it is
    kept, and the walk goes on.
    """

    @functools.wraps(migration_fn)  # Alembic's log names a step by its function: "Running upgrade a -> b"
    def run(**kw: Any) -> None:
        undo.begin()
        try:
            migration_fn(**kw)
        except Exception as exc:
            result.error = exc
        if result.error is None:
            undo.keep()
            return
        result.restored = undo.rollback()
        if not undo.rolled_back:
            return
        if move.as_in_one_command:
            _try_as_in_one_command(migration_fn, context, command_memo, result, kw)
        elif move.emptier is not None:
            _try_without_rows(migration_fn, context, move.emptier, result, kw, undo)

    return run


def _try_as_in_one_command(
    migration_fn: Callable[..., None],
    context: MigrationContext,
    command_memo: dict[str, Any],
    result: StepResult,
    kw: dict[str, Any],
) -> None:
    connection = context.connection
    assert connection is not None
    again = compat.begin_nested(connection)
    context.impl.memo = {key: set(value) if isinstance(value, set) else value for key, value in command_memo.items()}
    try:
        migration_fn(**kw)
    except Exception:
        again.rollback()
    else:
        again.commit()
        result.passes_in_one_command = True
        result.restored = False


def _try_without_rows(
    migration_fn: Callable[..., None],
    context: MigrationContext,
    emptier: Callable[[sa.Connection], None],
    result: StepResult,
    kw: dict[str, Any],
    undo: Undo,
) -> None:
    connection = context.connection
    assert connection is not None
    roll_back = undo.again()
    context.impl.memo = {}  # the failed attempt may have noted types as made: start as it did
    try:
        emptier(connection)
        migration_fn(**kw)
        result.passes_without_rows = True
    except Exception:
        result.passes_without_rows = False
    finally:
        roll_back()


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
