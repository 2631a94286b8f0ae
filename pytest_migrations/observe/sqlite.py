"""SQLite: which batch operations recreated a table (Alembic's move-and-copy: `_alembic_tmp_<table>`)."""

from __future__ import annotations

import re
from typing import Any

from pytest_migrations.observe.base import Observer, Statement, StepObservation, query

_BATCH = re.compile(r'^\s*CREATE\s+TABLE\s+["`]?_alembic_tmp_(\w+)', re.I)


class SQLiteObserver(Observer):
    engine = "sqlite"

    def begin(self, raw: Any, observation: StepObservation) -> None:
        if not self.server_version:
            self.server_version = str(query(raw, "SELECT sqlite_version()")[0][0])
        rows = query(
            raw, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        )
        observation.existing.update(row[0] for row in rows)

    def after_statement(self, raw: Any, cursor: Any, record: Statement, observation: StepObservation) -> None:
        match = _BATCH.match(record.sql)
        if match and match.group(1) in observation.existing:
            record.rebuild[match.group(1)] = "batch"
