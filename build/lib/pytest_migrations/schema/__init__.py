"""Schema snapshot and diff: one package every check uses to compare two real databases.

A snapshot (`snapshot`) is reflected through SQLAlchemy's Inspector (`reflect`) and normalized
(`normalize`) so that dialect noise (column order, serial sequence names, MySQL's implicit foreign
key indexes, default spellings, integer display widths) cannot raise false alarms; `diff` compares
two of them. Reflection is the expensive part of a walk, so each table is keyed by a cheap catalog
fingerprint and reflected again only when that changes, or when a step's statements (`statements`)
may have changed it.
"""

from pytest_migrations.schema.diff import check_ignore_rule, diff, ignored
from pytest_migrations.schema.normalize import normalize_default, normalize_type
from pytest_migrations.schema.reflect import SchemaReader, reflect_table, table_schema
from pytest_migrations.schema.snapshot import KINDS, ColumnSchema, Difference, Snapshot, TableSchema, split_key
from pytest_migrations.schema.statements import tables_named, tables_to_refingerprint, touches_rows_only

__all__ = [
    "KINDS",
    "ColumnSchema",
    "Difference",
    "SchemaReader",
    "Snapshot",
    "TableSchema",
    "check_ignore_rule",
    "diff",
    "ignored",
    "normalize_default",
    "normalize_type",
    "reflect_table",
    "split_key",
    "table_schema",
    "tables_named",
    "tables_to_refingerprint",
    "touches_rows_only",
]
