"""Observing each revision's statements as the walk runs them: what one engine's observer records.

The walk calls `Observer.step()` around the first upgrade of each revision (on seeded rows) and the
first downgrade (the stepwise cycle's); the observer listens to the statements the migration sends
on the walk's connection and reads, after each one, what the database itself says it did. The
engine's subclass decides what to read (observe.postgresql, observe.mysql, observe.sqlite); the
findings are derived from the records afterwards (observe.findings).
"""

from __future__ import annotations

import re
import sys
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

_CATALOG_READ = re.compile(
    r"\s*(PRAGMA\b|SHOW\b|SELECT\b(?:(?!\bFROM\b).)*\bFROM\s+(pg_catalog\.|information_schema\.|sqlite_master\b|pg_\w+\b))",
    re.I | re.S,
)
# (phase, direction): a move on seeded rows; a move of the --migrations-volume walk (checks.volume)
OBSERVED_PHASES = {("upgrade", "upgrade"), ("stepwise", "downgrade"), ("volume", "upgrade")}


@dataclass
class Statement:
    """One statement a migration ran, and what the database did meanwhile."""

    sql: str
    line: int | None = None  # in the revision file
    seconds: float = 0.0
    started: float = 0.0  # seconds since the step began
    locks: dict[str, str] = field(default_factory=dict)  # table -> lock mode this statement took (or strengthened)
    held: dict[str, str] = field(default_factory=dict)  # table -> strongest mode held after it
    object_locks: list[str] = field(default_factory=list)  # e.g. "pg_type ExclusiveLock"
    rewrites: list[str] = field(default_factory=list)  # tables whose files were replaced (PostgreSQL)
    truncated: list[str] = field(default_factory=list)
    rows_read: dict[str, int] = field(default_factory=dict)
    rows_written: dict[str, int] = field(default_factory=dict)
    lock_timeout: str | None = None
    autocommit: bool = False
    rebuild: dict[str, str] = field(default_factory=dict)  # table -> copy / inplace (MySQL), batch (SQLite)
    error: bool = False  # the database refused it

    def as_record(self) -> dict[str, Any]:
        return {
            "sql": self.sql,
            "line": self.line,
            "seconds": round(self.seconds, 6),
            "locks": [{"table": t, "mode": m} for t, m in self.locks.items()],
            "object_locks": self.object_locks,
            "rewrites": self.rewrites,
            "truncated": self.truncated,
            "rows_read": self.rows_read,
            "rows_written": self.rows_written,
            "lock_timeout": self.lock_timeout,
            "autocommit": self.autocommit,
            "rebuilds": [{"table": t, "how": h} for t, h in self.rebuild.items()],
            "error": self.error,
        }


@dataclass
class StepObservation:
    """What one revision's upgrade or downgrade did, statement by statement."""

    engine: str
    revision: str
    direction: str
    path: str  # the revision file
    server_version: str = ""
    statements: list[Statement] = field(default_factory=list)
    existing: set[str] = field(default_factory=set)  # tables before the step (they hold the walk's seeded rows)
    seconds: float = 0.0
    complete: bool = True  # False when the step failed or the database could not be read
    extra: dict[str, list[str]] = field(default_factory=dict)  # at the step's end: invalid indexes, fks w/o index
    findings: list[Any] = field(default_factory=list)  # observe.findings.Finding, derived after the step
    locks: list[dict[str, Any]] = field(default_factory=list)  # findings.blocking_locks, derived after the step
    volume: int | None = None  # observed in the --migrations-volume walk, on tables of this many rows

    def as_record(self, statements: bool = True) -> dict[str, Any]:
        """What the JSON report says of this step (its shape: report.schema.json). Without `statements`, the
        summary's part only: the blocking locks (each with the statement that took it) and the findings."""
        locks = [
            {
                "table": lock["table"],
                "mode": lock["mode"],
                "seconds": round(lock["seconds"], 6),
                "taken_by": lock["taken_by"],
                "sql": self.statements[lock["taken_by"]].sql,
                "line": self.statements[lock["taken_by"]].line,
                "statements_under": lock["under"],
            }
            for lock in self.locks
        ]
        return {
            "revision": self.revision,
            "direction": self.direction,
            "volume": self.volume,
            "file": self.path,
            "server_version": self.server_version,
            "seconds": round(self.seconds, 6),
            "complete": self.complete,
            "tables_before": sorted(self.existing),
            "held_before": self.extra.get("held_before", []),
            "statements": [statement.as_record() for statement in self.statements] if statements else [],
            "blocking_locks": locks,
            "findings": [finding.as_record() for finding in self.findings],
        }


@dataclass
class _Current:
    """The step being observed: the listeners on the connection record into it."""

    connection: Any
    raw: Any
    observation: StepObservation
    skip: re.Pattern[str]  # the version table's statements: Alembic's bookkeeping, not the migration's
    started: float = field(default_factory=time.perf_counter)
    statement_started: float = 0.0


class Observer:
    """One engine's observer: the steps it saw, in the order the walk ran them."""

    engine = ""

    def __init__(self, project: Any, threshold: float = 0.1, table_rows: dict[str, int] | None = None) -> None:
        self.project = project
        self.threshold = threshold  # seconds of ACCESS EXCLUSIVE on rows that make a finding
        self.table_rows = table_rows or {}  # migrations_table_rows: production sizes the findings are scaled to
        self.steps: list[StepObservation] = []
        self._seen: set[tuple[str, str]] = set()
        self.server_version = ""
        self._current: _Current | None = None  # the step being observed
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()  # connections and engines listened to

    def may_commit_before(self, raw: Any) -> bool:
        """Whether the walk may commit before an observed step (PostgreSQL: see there)."""
        return False

    def wants(self, phase: str, direction: str, revision: str) -> bool:
        return (phase, direction) in OBSERVED_PHASES and (revision, direction) not in self._seen

    @contextmanager
    def step(
        self, connection: sa.Connection, revision: str, direction: str, version_table: str
    ) -> Iterator[StepObservation]:
        """Observe the statements `connection` runs inside the block: one revision's move."""
        from pytest_migrations.observe.findings import blocking_locks, derive

        self._seen.add((revision, direction))
        script = self.project.script.get_revision(revision)
        observation = StepObservation(self.engine, revision, direction, script.path if script is not None else "")
        raw = connection.connection.dbapi_connection
        try:
            self.begin(raw, observation)
        except Exception:  # never let the observer's reading disturb the walk
            observation.complete = False
        self._listen(connection)
        current = _Current(connection, raw, observation, re.compile(rf"\b{re.escape(version_table)}\b", re.I))
        self._current = current
        failed = True
        try:
            yield observation
            failed = False
        finally:
            self._current = None
            observation.seconds = time.perf_counter() - current.started
            observation.server_version = self.server_version
            if failed:
                observation.complete = False
            try:  # after a failure too: a failed CREATE INDEX CONCURRENTLY leaves its index behind, invalid
                self.end(raw, observation, revision in self.project.heads and direction == "upgrade" and not failed)
            except Exception:  # the transaction is aborted: what it did is gone anyway
                observation.complete = False
            observation.locks = blocking_locks(observation)
            observation.findings = derive(observation, self.threshold, self.table_rows)
            self.steps.append(observation)

    def _listen(self, connection: sa.Connection) -> None:
        """Listen to a connection once (adding and removing listeners per step costs more than a step's reads)."""
        if connection in self._connections:
            return
        self._connections.add(connection)
        event.listen(connection, "before_cursor_execute", self._on_before)
        event.listen(connection, "after_cursor_execute", self._on_after)
        if connection.engine not in self._connections:
            self._connections.add(connection.engine)
            event.listen(connection.engine, "handle_error", self._on_error)

    def _on_before(self, conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        if self._current is not None:
            self._current.statement_started = time.perf_counter()

    def _on_after(self, conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        try:
            self._record(conn, cursor, sql)
        except Exception:  # the observer's own fault: never the migration's (its step goes unjudged instead)
            if self._current is not None:
                self._current.observation.complete = False

    def _record(self, conn: Any, cursor: Any, sql: str) -> None:
        current = self._current
        if current is None or not _same(conn, current) or current.skip.search(sql):  # Alembic's bookkeeping
            return
        if _CATALOG_READ.match(sql):  # reflection (a batch operation's, Alembic's enum lookups): reads no user table
            return
        now = time.perf_counter()
        began = current.statement_started or now
        observation = current.observation
        record = Statement(
            sql=" ".join(sql.split()),
            line=_line_in(observation.path),
            seconds=now - began,
            started=began - current.started,
        )
        observation.statements.append(record)
        self.after_statement(current.raw, cursor, record, observation)

    def _on_error(self, context: Any) -> None:
        try:
            self._record_failure(context)
        except Exception:  # never in the way of the database's own error
            pass

    def _record_failure(self, context: Any) -> None:
        current = self._current
        sql = getattr(context, "statement", None)
        if current is None or not sql or not _same(getattr(context, "connection", None), current):
            return
        if not current.skip.search(sql):
            failed_at = Statement(sql=" ".join(sql.split()), line=_line_in(current.observation.path), error=True)
            failed_at.started = (current.statement_started or current.started) - current.started
            current.observation.statements.append(failed_at)

    # What each engine reads; the base reads nothing.
    def begin(self, raw: Any, observation: StepObservation) -> None:
        pass

    def after_statement(self, raw: Any, cursor: Any, record: Statement, observation: StepObservation) -> None:
        pass

    def end(self, raw: Any, observation: StepObservation, at_head: bool) -> None:
        pass


def _same(conn: Any, current: _Current) -> bool:
    """`conn` is the observed connection, or a branch of it on the same DBAPI connection (SQLAlchemy 1.4's
    `execution_options(isolation_level=...)`, which Alembic's autocommit_block() uses, returns a new object)."""
    if conn is current.connection:
        return True
    fairy = getattr(conn, "connection", None) if conn is not None else None
    return fairy is not None and getattr(fairy, "dbapi_connection", None) is current.raw


def _line_in(path: str) -> int | None:
    """The line of the revision file running now (the op call that sent the statement), from the stack."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename == path:
            return frame.f_lineno
        frame = frame.f_back
    return None


def query(raw: Any, sql: str) -> list[tuple[Any, ...]]:
    """Rows of `sql` on the DBAPI connection, past SQLAlchemy: the observer's reads are not the migration's."""
    cursor = raw.cursor()
    try:
        cursor.execute(sql)
        return list(cursor.fetchall())
    finally:
        cursor.close()
