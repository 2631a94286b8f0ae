"""Findings: what an observed step did that would hurt a busy production database, with the safer way.

Each finding has a stable id (the contract `migrations_forbid`, `migrations_allow` and the
`# pytest-migrations: allow[ID]` comment use), names the revision (file:line of the statement),
the statement, the table, the lock, and says what to write instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pytest_migrations.observe.base import Statement, StepObservation
from pytest_migrations.observe.postgresql import BLOCKING

FINDINGS = {
    "rewrite": "a table holding rows rewritten (every row copied to a new file) under ACCESS EXCLUSIVE",
    "blocking-scan": "every row of a table read while holding a lock that blocks writes (or reads)",
    "access-exclusive-on-rows": "ACCESS EXCLUSIVE held on a table holding rows for longer than the threshold",
    "no-lock-timeout": "a blocking lock taken while lock_timeout is 0: every query queues behind it while it waits",
    "work-under-lock": "data work (a backfill) run while an earlier statement's ACCESS EXCLUSIVE is still held",
    "fk-without-index": "a foreign key whose referencing columns no index leads with (at head)",
    "invalid-index": "an index left invalid (a failed CREATE INDEX CONCURRENTLY)",
    "enum-add-value-in-transaction": "ALTER TYPE ... ADD VALUE inside a transaction",
    "copy-rebuild": "a table copied row by row (ALGORITHM=COPY) to apply an ALTER",
    "batch-rebuild": "a table recreated and its rows copied by a batch operation",
}
DEFAULT_THRESHOLD = 0.1  # seconds of ACCESS EXCLUSIVE on a table with rows, at the test volume
_DML = re.compile(r"^\s*(UPDATE|INSERT|DELETE|WITH|SELECT|MERGE|COPY)\b", re.I)
_CONCURRENTLY = "CREATE INDEX CONCURRENTLY inside `with op.get_context().autocommit_block():`"
_LOCK_TIMEOUT = "op.execute(\"SET lock_timeout = '5s'\") first, so the migration fails instead of queueing every query"


@dataclass
class Finding:
    id: str
    engine: str
    revision: str
    direction: str
    path: str
    line: int | None
    table: str
    lock: str
    statement: str
    what: str
    safer: str
    seconds: float | None = None  # how long the lock was held
    server_version: str = ""
    allowed: str = ""  # why it is accepted (a comment, migrations_allow), or ""
    # migrations_table_rows: the table's production size, and the time scaled to it from the rows seen here
    production_rows: int | None = None
    estimated_seconds: float | None = None

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path

    def text(self) -> str:
        held = f" for {self.seconds * 1000:.0f} ms" if self.seconds is not None else ""
        lock = f" under {self.lock}{held}" if self.lock and "ACCESS EXCLUSIVE" not in self.what else held
        on = f" on {self.table}" if self.table else ""
        scaled = (
            f"; about {self.estimated_seconds:.1f} s at its {self.production_rows:,} production rows"
            if self.estimated_seconds is not None
            else ""
        )
        return (
            f"[{self.id}] {self.direction} {self.revision}{on}: {self.what}{lock}{scaled} "
            f"({self.engine} {self.server_version}). Safer: {self.safer}. At {self.location}: {_short(self.statement)}"
        )

    def as_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "revision": self.revision,
            "direction": self.direction,
            "file": self.path,
            "line": self.line,
            "table": self.table,
            "lock": self.lock,
            "statement": self.statement,
            "what": self.what,
            "safer": self.safer,
            "held_seconds": None if self.seconds is None else round(self.seconds, 6),
            "server_version": self.server_version,
            "allowed": self.allowed or None,
            "production_rows": self.production_rows,
            "estimated_seconds": None if self.estimated_seconds is None else round(self.estimated_seconds, 3),
        }


def _short(sql: str, width: int = 160) -> str:
    return sql if len(sql) <= width else sql[: width - 3] + "..."


def blocking_locks(step: StepObservation) -> list[dict[str, Any]]:
    """Each blocking lock on a table that existed before the step: who took it, how long it was held, and
    which statements ran under it (held until the locks go: a commit, or the end of the step)."""
    found: list[dict[str, Any]] = []
    open_: dict[str, dict[str, Any]] = {}
    for index, statement in enumerate(step.statements):
        for table in [t for t in open_ if t not in statement.held]:  # released: autocommit_block() committed
            done = open_.pop(table)
            done["seconds"] = statement.started - done["since"]
            found.append(done)
        for table, mode in statement.held.items():
            if table not in step.existing or mode not in BLOCKING:
                continue
            if table in open_:
                if mode != open_[table]["mode"] and mode == "AccessExclusiveLock":
                    open_[table]["mode"] = mode
                open_[table]["under"].append(index)
            else:
                open_[table] = {
                    "table": table,
                    "mode": mode,
                    "taken_by": index,
                    "since": statement.started,
                    "under": [],
                }
    for done in open_.values():
        done["seconds"] = step.seconds - done["since"]
        found.append(done)
    return found


def derive(
    step: StepObservation, threshold: float = DEFAULT_THRESHOLD, table_rows: dict[str, int] | None = None
) -> list[Finding]:
    """The findings of one observed step; with `table_rows` (production sizes), their times scaled to them."""
    found: list[Finding] = []

    def add(kind: str, statement: Statement | None, table: str, lock: str, what: str, safer: str, **kw: Any) -> None:
        found.append(
            Finding(
                kind,
                step.engine,
                step.revision,
                step.direction,
                step.path,
                statement.line if statement else None,
                table,
                lock,
                statement.sql if statement else "",
                what,
                safer,
                server_version=step.server_version,
                **kw,
            )
        )

    major = _major(step.server_version)
    for statement in step.statements:
        dml = bool(_DML.match(statement.sql))
        for table in statement.rewrites:
            if table in step.existing:
                add("rewrite", statement, table, "AccessExclusiveLock", f"rewrote {table}", _rewrite_advice(statement))
        for table, rows in statement.rows_read.items():
            mode = statement.held.get(table, "")
            if not dml and table in step.existing and mode in BLOCKING:
                add(
                    "blocking-scan",
                    statement,
                    table,
                    mode,
                    f"read every row of {table} ({rows} at the test volume)",
                    _scan_advice(statement, major),
                )
        for table, mode in statement.locks.items():
            if table in step.existing and mode in BLOCKING and statement.lock_timeout in ("0", "0ms"):
                add(
                    "no-lock-timeout",
                    statement,
                    table,
                    mode,
                    f"took {mode} on {table} with lock_timeout 0",
                    _LOCK_TIMEOUT,
                )
        if re.match(r"^\s*ALTER\s+TYPE\s+.*\bADD\s+VALUE\b", statement.sql, re.I | re.S) and not statement.autocommit:
            add(
                "enum-add-value-in-transaction",
                statement,
                "",
                " ".join(statement.object_locks[:1]),
                "added an enum value inside the migration's transaction (the new value cannot be used until it commits)",
                "ALTER TYPE ... ADD VALUE inside `with op.get_context().autocommit_block():`",
            )
        for table, how in statement.rebuild.items():
            if how == "copy":
                add(
                    "copy-rebuild",
                    statement,
                    table,
                    "",
                    f"copied every row of {table} into a rebuilt table (ALGORITHM=COPY): writes wait meanwhile",
                    "a change the server can make INSTANT or INPLACE (add columns last, keep types; MariaDB's "
                    "SET SESSION alter_algorithm='INSTANT' makes the server refuse a copy), or an online schema "
                    "change tool for the rest (gh-ost, pt-online-schema-change)",
                )
            elif how == "batch":
                add(
                    "batch-rebuild",
                    statement,
                    table,
                    "",
                    f"recreated {table} and copied its rows (SQLite's move and copy)",
                    "nothing to do on SQLite, where no other writer waits long; on a server engine the same "
                    "batch operation is one ALTER",
                )
    for lock in step.locks or blocking_locks(step):
        taker = step.statements[lock["taken_by"]]
        if lock["mode"] == "AccessExclusiveLock" and lock["seconds"] > threshold:
            add(
                "access-exclusive-on-rows",
                taker,
                lock["table"],
                lock["mode"],
                f"held ACCESS EXCLUSIVE on {lock['table']}, which holds rows, past {threshold * 1000:.0f} ms",
                f"{_LOCK_TIMEOUT}, and move data work out of the locking transaction",
                seconds=lock["seconds"],
            )
        work = [
            step.statements[index]
            for index in lock["under"]
            if _DML.match(step.statements[index].sql)
            and (step.statements[index].rows_written or step.statements[index].rows_read)
        ]
        if lock["mode"] == "AccessExclusiveLock" and work:  # one finding per lock: the first statement, and how many
            more = f" (and {len(work) - 1} more statement{'s' if len(work) > 2 else ''} of it)" if len(work) > 1 else ""
            add(
                "work-under-lock",
                work[0],
                lock["table"],
                lock["mode"],
                f"ran data work{more} while ACCESS EXCLUSIVE on {lock['table']} (taken by `{_short(taker.sql, 60)}`"
                f"{f', line {taker.line}' if taker.line else ''}) was held",
                "a nullable column with the backfill in a revision of its own (or after "
                "`op.get_context().autocommit_block()` commits the ALTER), in batches",
            )
    if table_rows:
        for finding in found:
            _scale(finding, step, table_rows)
    for name in step.extra.get("invalid_indexes", []):
        add(
            "invalid-index",
            None,
            name,
            "",
            f"left index {name} invalid: it slows every write and is never used",
            f"DROP INDEX CONCURRENTLY {name} and build it again once the data allows it",
        )
    for entry in step.extra.get("fk_without_index", []):
        table, name, columns = entry.split("|")
        add(
            "fk-without-index",
            None,
            table,
            "",
            f"foreign key {name} ({columns}) has no index leading with its columns: deletes and updates of the "
            "referenced rows scan the whole table",
            f"CREATE INDEX CONCURRENTLY ON {table} ({columns}) inside an autocommit_block()",
        )
    return found


def _scale(finding: Finding, step: StepObservation, table_rows: dict[str, int]) -> None:
    """Time at production size: what the statement took per row it touched here, times the table's rows there.

    Only for a statement that read or wrote the table's rows (a rewrite writes every row, a scan reads them);
    a lock held across other statements is scaled by the rows of the statement that took it."""
    production = table_rows.get(finding.table)
    statement = next((s for s in step.statements if s.line == finding.line and s.sql == finding.statement), None)
    if production is None or statement is None:
        return
    here = max(statement.rows_read.get(finding.table, 0), statement.rows_written.get(finding.table, 0))
    if here <= 0:
        return
    finding.production_rows = production
    finding.estimated_seconds = (finding.seconds or statement.seconds) * production / here


def _major(version: str) -> int:
    match = re.match(r"(\d+)", version)
    return int(match.group(1)) if match else 0


def _rewrite_advice(statement: Statement) -> str:
    sql = statement.sql.upper()
    if " TYPE " in sql:
        return (
            "a change the server makes without a rewrite (varchar(n) to a longer varchar or to text), or a new column "
            "of the new type backfilled in batches, then swapped"
        )
    if "DEFAULT" in sql or "SERIAL" in sql or "GENERATED" in sql:
        return (
            "a nullable column without a volatile default (a constant default does not rewrite on PostgreSQL 11+), "
            "backfilled in batches, with the default set afterwards"
        )
    return "the change in steps that do not rewrite: a new column, a backfill in batches, a swap"


def _scan_advice(statement: Statement, major: int) -> str:
    sql = statement.sql.upper()
    if re.search(r"\bCREATE\s+(UNIQUE\s+)?INDEX\b", sql):
        return _CONCURRENTLY
    if "NOT NULL" in sql and "SET" in sql:
        if major >= 18:
            return "ADD CONSTRAINT ... NOT NULL ... NOT VALID, then VALIDATE CONSTRAINT (PostgreSQL 18)"
        return (
            "ADD CONSTRAINT ... CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT in a later transaction, then "
            "SET NOT NULL (which then reads nothing) and drop the check"
        )
    if "UNIQUE" in sql:
        return "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... UNIQUE USING INDEX"
    if "FOREIGN KEY" in sql or "CHECK" in sql:
        return "ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT in a later transaction (it blocks nobody)"
    return "the change in a form that does not read every row under a blocking lock"
