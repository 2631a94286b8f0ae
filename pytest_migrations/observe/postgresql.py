"""PostgreSQL: locks, rewrites and scans, read from the server after each statement.

After each statement of a migration the observer reads, in one prepared query on the walk's own
connection (so inside the migration's transaction, where the locks and counters are):
- the locks the backend holds (`pg_locks`): relations, with their modes, and objects (`ALTER TYPE`);
- each locked relation's `relfilenode`: a new one for a relation that existed before is a rewrite
  (a rewrite needs ACCESS EXCLUSIVE, so the relation is always among the locked ones);
- each locked table's pending per-transaction counters (`pg_stat_get_xact_*`): scans, rows read,
  rows written; their change across the statement is what it did;
- `lock_timeout`.
A step begins with one read of every user relation (files and counters): the state it starts from.
Locks and counters are per transaction and `autocommit_block()` commits: hence after every statement.
"""

from __future__ import annotations

from typing import Any

from pytest_migrations.observe.base import Observer, Statement, StepObservation, query

_USER = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'"
_COUNTERS = (
    "pg_stat_get_xact_numscans(c.oid), "
    "pg_stat_get_xact_tuples_returned(c.oid) + pg_stat_get_xact_tuples_fetched(c.oid), "
    "pg_stat_get_xact_tuples_inserted(c.oid) + pg_stat_get_xact_tuples_updated(c.oid) "
    "+ pg_stat_get_xact_tuples_deleted(c.oid)"
)
# kind, mode, oid, name, relkind, relfilenode, scans, read, written, object class, lock_timeout
AFTER = f"""
SELECT l.locktype, l.mode, c.oid, c.relname, c.relkind, c.relfilenode, {_COUNTERS},
       l.classid::regclass::text, current_setting('lock_timeout')
FROM pg_locks l
LEFT JOIN pg_class c ON l.locktype = 'relation' AND c.oid = l.relation
LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE l.pid = pg_backend_pid() AND l.granted
  AND (l.locktype IN ('object', 'virtualxid') OR (l.locktype = 'relation' AND {_USER}))
"""
# oid, name, relkind, relfilenode, scans, read, written, the modes this backend holds on it
BEFORE = f"""
WITH held AS (SELECT relation, mode FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation' AND granted)
SELECT c.oid, c.relname, c.relkind, c.relfilenode, {_COUNTERS},
       ARRAY(SELECT mode FROM held WHERE held.relation = c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_USER} AND c.relkind IN ('r', 'm', 'p')
"""
INVALID_INDEXES = f"""
SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT i.indisvalid AND {_USER}
"""
# Foreign keys whose referencing columns are not the leading columns of any index of their table.
FK_WITHOUT_INDEX = f"""
SELECT t.relname, con.conname, array_to_string(ARRAY(
    SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
    JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY k.ord), ', ')
FROM pg_constraint con JOIN pg_class t ON t.oid = con.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE con.contype = 'f' AND {_USER} AND NOT EXISTS (
    SELECT 1 FROM pg_index i WHERE i.indrelid = con.conrelid
    AND (i.indkey::int2[])[0:array_length(con.conkey, 1) - 1] @> con.conkey
    AND (i.indkey::int2[])[0:array_length(con.conkey, 1) - 1] <@ con.conkey)
"""
# Values this transaction added (ALTER TYPE ... ADD VALUE) to an enum type it did not create: a later statement
# of the same transaction may not use them. (Values of a type created in the transaction are usable.)
ADDED_ENUM_VALUES = """
SELECT EXISTS (SELECT 1 FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid
WHERE e.xmin::text = (txid_current_if_assigned() % 4294967296)::text AND t.xmin::text <> e.xmin::text)
"""
PREPARED = "pytest_migrations_observe"
PREPARED_BEFORE = "pytest_migrations_observe_all"
MODES = (  # weakest first
    "AccessShareLock",
    "RowShareLock",
    "RowExclusiveLock",
    "ShareUpdateExclusiveLock",
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
)
# Modes that make other sessions wait: SHARE and up block writes, ACCESS EXCLUSIVE blocks reads too.
BLOCKING = frozenset(MODES[4:])


def stronger(a: str | None, b: str) -> str:
    if a is None:
        return b
    return a if MODES.index(a) >= MODES.index(b) else b


class PostgresObserver(Observer):
    engine = "postgresql"

    def __init__(self, project: Any, threshold: float = 0.1, table_rows: dict[str, int] | None = None) -> None:
        super().__init__(project, threshold, table_rows)
        self._prepared: set[int] = set()  # ids of the DBAPI connections the query is prepared on
        self._files: dict[int, tuple[str, str, int]] = {}  # oid -> (name, relkind, relfilenode)
        self._counters: dict[int, tuple[int, int, int]] = {}
        self._held: dict[str, str] = {}
        self._before: dict[str, str] = {}
        self._invalid: set[str] = set()  # invalid indexes already told

    def may_commit_before(self, raw: Any) -> bool:
        """Whether the walk may commit before an observed step, so that its locks are its own.

        Not when this transaction added an enum value: a later revision using it must fail as it does in
        one `alembic upgrade` run (walk.start_new_transaction).
        """
        try:
            return not query(raw, ADDED_ENUM_VALUES)[0][0]
        except Exception:  # never the observer's error in the walk: it then sees what it can
            return False

    def begin(self, raw: Any, observation: StepObservation) -> None:
        if not self.server_version:
            self.server_version = str(query(raw, "SHOW server_version")[0][0]).split()[0]
        if id(raw) not in self._prepared:  # prepared once per connection: planning was half of each read's time
            found = {row[0] for row in query(raw, "SELECT name FROM pg_prepared_statements")}
            for name, sql in ((PREPARED, AFTER), (PREPARED_BEFORE, BEFORE)):
                if name not in found:
                    query_no_rows(raw, f"PREPARE {name} AS {sql}")
            self._prepared.add(id(raw))
        self._files.clear()
        self._counters.clear()
        # Locks this transaction already holds (an earlier revision of the same run took them) are not this step's.
        self._before = self._read_all(raw, None)
        observation.existing.update(name for name, kind, _file in self._files.values() if kind in ("r", "p", "m"))
        if any(mode in BLOCKING for mode in self._before.values()):
            observation.extra["held_before"] = sorted(f"{t} {m}" for t, m in self._before.items() if m in BLOCKING)
        self._held = {}

    def after_statement(self, raw: Any, cursor: Any, record: Statement, observation: StepObservation) -> None:
        record.autocommit = bool(getattr(raw, "autocommit", False))
        now: dict[str, str] = {}
        truncate = record.sql.lstrip().upper().startswith("TRUNCATE")
        for kind, mode, oid, name, relkind, filenode, scans, read, written, objclass, timeout in query(
            raw, f"EXECUTE {PREPARED}"
        ):
            record.lock_timeout = timeout
            if kind == "object":
                text = f"{objclass} {mode}"
                if text not in record.object_locks:
                    record.object_locks.append(text)
                continue
            if kind != "relation" or relkind not in ("r", "p", "m"):
                continue  # an index's lock goes with its table's; a rewrite of the table replaces its indexes too
            now[name] = stronger(now.get(name), mode)
            before = self._files.get(oid)
            if before is not None and before[2] != filenode:
                (record.truncated if truncate else record.rewrites).append(name)
                self._files[oid] = (name, relkind, filenode)
            old = self._counters.get(oid, (0, 0, 0))
            if read - old[1] > 0 or scans - old[0] > 0:
                record.rows_read[name] = max(read - old[1], 0)
            if written - old[2] > 0:
                record.rows_written[name] = written - old[2]
            self._counters[oid] = (scans, read, written)
        if not now:  # committed (autocommit_block): read every table, as at the step's start
            self._read_all(raw, record)
        record.rewrites = sorted(set(record.rewrites))
        record.truncated = sorted(set(record.truncated))
        # The step's own locks: those held now beyond what the transaction held when the step began; a commit
        # (autocommit_block) releases them all.
        held = {t: m for t, m in now.items() if self._before.get(t) != stronger(self._before.get(t), m)}
        if not now:
            self._before = {}
        record.locks = {t: m for t, m in held.items() if self._held.get(t) != stronger(self._held.get(t), m)}
        record.held = held
        self._held = held

    def _read_all(self, raw: Any, record: Statement | None) -> dict[str, str]:
        """Every user table's file and counters, and the strongest lock this transaction holds on each; with
        `record`, what changed since is that statement's (a statement run outside a transaction holds no lock
        once it is done, so the locked ones miss it)."""
        held: dict[str, str] = {}
        for oid, name, kind, filenode, scans, read, written, modes in query(raw, f"EXECUTE {PREPARED_BEFORE}"):
            for mode in modes or ():
                held[name] = stronger(held.get(name), mode)
            if record is not None:
                before, old = self._files.get(oid), self._counters.get(oid)
                if before is not None and before[2] != filenode:
                    truncate = record.sql.lstrip().upper().startswith("TRUNCATE")
                    (record.truncated if truncate else record.rewrites).append(name)
                if old is not None and (read - old[1] > 0 or scans - old[0] > 0):
                    record.rows_read[name] = max(read - old[1], 0)
                if old is not None and written - old[2] > 0:
                    record.rows_written[name] = written - old[2]
            self._files[oid] = (name, kind, filenode)
            self._counters[oid] = (scans, read, written)
        return held

    def end(self, raw: Any, observation: StepObservation, at_head: bool) -> None:
        # Only a CONCURRENTLY build (or reindex) that fails leaves an index invalid.
        if any("CONCURRENTLY" in statement.sql.upper() for statement in observation.statements):
            invalid = [row[0] for row in query(raw, INVALID_INDEXES) if row[0] not in self._invalid]
            self._invalid.update(invalid)  # told once, by the step that left it
            observation.extra["invalid_indexes"] = invalid
        if at_head:
            observation.extra["fk_without_index"] = [
                f"{t}|{name}|{cols}" for t, name, cols in query(raw, FK_WITHOUT_INDEX)
            ]


def query_no_rows(raw: Any, sql: str) -> None:
    cursor = raw.cursor()
    try:
        cursor.execute(sql)
    finally:
        cursor.close()
