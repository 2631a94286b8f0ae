"""MySQL/MariaDB: which ALTERs rebuilt their table, and how.

Read after each statement that can rebuild a table (ALTER TABLE, CREATE/DROP INDEX, OPTIMIZE):
- rows affected (the statement's own result): a COPY rebuild reports every row it copied, an
  in-place or instant change reports none;
- InnoDB's table id (information_schema.INNODB_SYS_TABLES on MariaDB, INNODB_TABLES on MySQL 8):
  a new id without rows affected is an in-place rebuild; the same id, no rebuild (INSTANT, or in place).
Nothing is tried twice and no statement is changed: the migration runs as it is written.
"""

from __future__ import annotations

import re
from typing import Any

from pytest_migrations.observe.base import Observer, Statement, StepObservation, query

_REBUILDS = re.compile(r"^\s*(ALTER\s+TABLE|CREATE\s+(UNIQUE\s+|FULLTEXT\s+)?INDEX|DROP\s+INDEX|OPTIMIZE)\b", re.I)
_TABLES = ("INNODB_SYS_TABLES", "INNODB_TABLES")  # MariaDB, MySQL 8


class MySQLObserver(Observer):
    engine = "mysql"

    def __init__(self, project: Any, threshold: float = 0.1, table_rows: dict[str, int] | None = None) -> None:
        super().__init__(project, threshold, table_rows)
        self._view: str | None = None
        self._ids: dict[str, int] = {}

    def _table_ids(self, raw: Any) -> dict[str, int]:
        database = query(raw, "SELECT DATABASE()")[0][0]
        if self._view is None:
            views = {
                row[0]
                for row in query(
                    raw, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'information_schema'"
                )
            }
            self._view = next((view for view in _TABLES if view in views), "")
        if not self._view:
            return {}
        rows = query(raw, f"SELECT NAME, TABLE_ID FROM information_schema.{self._view} WHERE NAME LIKE '{database}/%'")
        return {str(name).split("/", 1)[1]: table_id for name, table_id in rows}

    def begin(self, raw: Any, observation: StepObservation) -> None:
        if not self.server_version:
            self.server_version = str(query(raw, "SELECT VERSION()")[0][0])
        self._ids = self._table_ids(raw)
        observation.existing.update(self._ids)

    def after_statement(self, raw: Any, cursor: Any, record: Statement, observation: StepObservation) -> None:
        if not _REBUILDS.match(record.sql):
            return
        affected = getattr(cursor, "rowcount", -1) or 0
        ids = self._table_ids(raw)
        for table, table_id in ids.items():
            before = self._ids.get(table)
            if before is None or table not in observation.existing:
                continue
            if affected > 0 and table_id != before:
                record.rebuild[table] = "copy"
            elif table_id != before:
                record.rebuild[table] = "inplace"
        if affected > 0 and not record.rebuild:  # MySQL keeps the id through a COPY on some versions
            for table in observation.existing:
                if re.search(rf"`?\b{re.escape(table)}\b`?", record.sql):
                    record.rebuild[table] = "copy"
                    break
        self._ids = ids
