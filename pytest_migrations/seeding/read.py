"""Table contents read back, keyed by primary key, and what the walk knows of the data so far."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.util import LRUCache

from pytest_migrations import compat
from pytest_migrations.schema import TableSchema, split_key
from pytest_migrations.seeding.coverage import Coverage

KEY_BASE = 100001  # far above what a data migration's own inserts get from a sequence
# Each table state is its own Table object; the engine's own compiled cache would keep every one
# alive, so reads and inserts use a small cache of their own (a table is read several times per step).
SQL_CACHE = {"compiled_cache": LRUCache(256)}


@dataclass
class TableRows:
    """A table's contents, keyed by primary key (or by position when it has none)."""

    key_columns: tuple[str, ...]
    columns: tuple[str, ...]
    rows: dict[tuple[Any, ...], dict[str, Any]]


@dataclass
class SeedState:
    """What the walk knows about the data: contents per table and how many rows each got from us."""

    seed: int
    rows_per_table: int
    known: dict[str, TableRows] = field(default_factory=dict)
    inserted: dict[str, int] = field(default_factory=dict)
    seeded_schema: dict[str, TableSchema] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # tables generation cannot fill: reported as notes
    supplied: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # what the hook gave, per table
    # Rows the user's hook gave that cannot go in (the first per table): failures, not notes.
    hook_errors: dict[str, str] = field(default_factory=dict)
    # Values of enums stored as plain strings, from the model and the revision scripts.
    enum_values: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    # Columns the model writes through a TypeDecorator: (table, column) -> n -> the value as it binds it.
    encoders: dict[tuple[str, str], Any] = field(default_factory=dict)
    # The widest declared length of each text column met so far (table key, column): an unbounded type
    # later in the history gets values wider than it, so a downgrade back to it must show what it cuts.
    widths: dict[tuple[str, str], int] = field(default_factory=dict)
    coverage: Coverage = field(default_factory=Coverage)

    def forget(self, table: str) -> None:
        """The table is gone: what was known of its rows, and what the hook gave for it, no longer holds."""
        self.known.pop(table, None)
        self.supplied.pop(table, None)

    @property
    def cap(self) -> int:
        return self.rows_per_table * 4


# Building a Table costs more than reading a small one. Keyed by the TableSchema object itself, not
# by its value: equal schemas may hold different SQLAlchemy types (a PostgreSQL enum that gained a
# value compares equal), and reading 'c' through an Enum('a', 'b') fails. The entry keeps its
# TableSchema alive, so an id is never reused while cached.
_TABLES: LRUCache = LRUCache(512)


def sa_table(schema: TableSchema, writable: bool = False) -> sa.Table:
    key = (id(schema), writable)
    hit = _TABLES.get(key)
    if hit is not None and hit[0] is schema:
        return hit[1]
    names = [n for n in schema.types if not (writable and n in schema.generated)]
    columns = (sa.Column(name, schema.types[name]) for name in names)
    namespace, name = split_key(schema.name)
    table = sa.Table(name, sa.MetaData(), *columns, schema=namespace)
    _TABLES[key] = (schema, table)
    return table


def read_rows(conn: sa.Connection, schema: TableSchema) -> TableRows:
    table = sa_table(schema)
    key = schema.primary_key if schema.primary_key and set(schema.primary_key) <= set(schema.types) else ()
    columns = tuple(table.columns.keys())
    # Plain tuples zipped into dicts: a third cheaper than the Row mappings, on reads done thousands of times.
    with compat.reading_rows(conn):
        found = [
            dict(zip(columns, values, strict=True))
            for values in compat.execute(conn, sa.select(table), options=SQL_CACHE)
        ]
    if key:
        rows = {tuple(row[c] for c in key): row for row in found}
    else:
        found.sort(key=lambda row: tuple(repr(row[c]) for c in columns))
        rows = {(index,): row for index, row in enumerate(found)}
    return TableRows(key_columns=key, columns=columns, rows=rows)
