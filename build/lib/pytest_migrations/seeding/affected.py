"""Which tables a step's statements may have changed: only those are read back."""

from __future__ import annotations

import re
from collections.abc import Iterable

import sqlalchemy as sa

from pytest_migrations.schema import Snapshot, tables_named, touches_rows_only

_REMOVES_ROWS = re.compile(r"^\s*(delete|truncate|drop|update)\b", re.I)
_TRANSACTION_CONTROL = ("savepoint", "release", "rollback")


def changes_schema(statements: Iterable[str]) -> bool:
    """Whether any statement could have changed the schema (anything but plain row changes and reads)."""
    return not all(
        touches_rows_only(statement) or statement.lstrip().lower().startswith(_TRANSACTION_CONTROL)
        for statement in statements
    )


_READS_ONLY = re.compile(r"^\s*(select|pragma|show|describe|explain)\b", re.I)


def tables_affected(
    statements: list[str], tables: Iterable[str], snapshot: Snapshot, cascades: bool = True
) -> set[str]:
    """Tables whose rows a batch of statements may have changed.

    Every table a statement that can write names (reflection queries, such as the PRAGMAs of
    SQLite's batch mode, do not count), plus, if the database enforces foreign keys (`cascades`),
    the tables that reference one named in a DELETE, UPDATE, TRUNCATE or DROP: ON DELETE/UPDATE
    CASCADE reaches them without naming them.
    """
    tables = list(tables)
    writes = [s for s in statements if not _READS_ONLY.match(s)]
    named = tables_named(writes, tables)
    if not cascades:
        return named
    removing = tables_named([s for s in writes if _REMOVES_ROWS.match(s)], tables)
    return named | with_children(removing, snapshot)


def enforces_foreign_keys(conn: sa.Connection) -> bool:
    """SQLite enforces foreign keys, cascades included, only where `PRAGMA foreign_keys` is on."""
    if conn.dialect.name != "sqlite":
        return True
    return bool(conn.exec_driver_sql("PRAGMA foreign_keys").scalar())


def with_children(names: set[str], snapshot: Snapshot) -> set[str]:
    """Add tables that reference `names` (ON DELETE CASCADE reaches them without naming them)."""
    result = set(names)
    grew = True
    while grew:
        grew = False
        for table in snapshot.tables.values():
            if table.name not in result and any(parent in result for _c, parent, _r in table.links):
                result.add(table.name)
                grew = True
    return result
