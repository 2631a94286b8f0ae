"""What a snapshot is: tables, columns and constraints as plain, comparable values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KINDS = (
    "table",
    "column",
    "type",
    "nullable",
    "server_default",
    "primary_key",
    "foreign_key",
    "unique",
    "index",
    "check",
    "enum",
    "sequence",
    "schema",
)


@dataclass(frozen=True)
class ColumnSchema:
    name: str
    type: str
    nullable: bool
    default: str | None


@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: tuple[ColumnSchema, ...]
    primary_key: tuple[str, ...]
    foreign_keys: frozenset[str]
    unique: frozenset[str]
    indexes: frozenset[str]
    checks: frozenset[str]
    # Not compared: what the data seeding needs (SQLAlchemy types, foreign key links).
    types: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    generated: frozenset[str] = field(default=frozenset(), compare=False, hash=False)  # computed, identity ALWAYS
    links: tuple[tuple[tuple[str, ...], str, tuple[str, ...]], ...] = field(default=(), compare=False, hash=False)

    @property
    def column_map(self) -> dict[str, ColumnSchema]:
        return {col.name: col for col in self.columns}


@dataclass(frozen=True)
class Snapshot:
    tables: dict[str, TableSchema]
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sequences: frozenset[str] = frozenset()
    schemas: frozenset[str] = frozenset()  # PostgreSQL schemas besides the default one
    # Not compared: the catalog fingerprint of each table, so the next snapshot can be incremental.
    fingerprints: dict[str, str] = field(default_factory=dict, compare=False)
    global_print: str = field(default="", compare=False)  # PostgreSQL: enums, sequences and schemas, as text


@dataclass(frozen=True)
class Difference:
    kind: str
    table: str | None
    column: str | None
    text: str


def split_key(key: str) -> tuple[str | None, str]:
    """(schema, table) of a snapshot's table key: `name` in the default schema, `schema.name` elsewhere.

    Only PostgreSQL snapshots have keys of the second kind; a dot in a table's own name is not supported.
    """
    schema, dot, name = key.partition(".")
    return (schema, name) if dot else (None, key)
