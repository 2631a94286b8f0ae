"""Values of enums stored as plain strings, which the database itself cannot tell.

A non-native Enum (SQLite, MySQL without ENUM, `native_enum=False`) is a VARCHAR; without a
CHECK constraint nothing in the database says which values are allowed, yet a data migration
that reads the column back through the Enum fails on any other value. The values come from the
application's model (the target metadata's Enum for the same table and column) or from the
revision scripts' own `sa.Enum(...)` calls for that column.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import Any

import sqlalchemy as sa

EnumValues = dict[tuple[str, str], tuple[str, ...]]  # (table, column) -> values


def enum_values_in_metadata(metadata: Any) -> EnumValues:
    """Enums of the model's columns, a TypeDecorator's underlying Enum included."""
    found: EnumValues = {}
    metadatas = metadata if isinstance(metadata, (list, tuple)) else [metadata]
    for meta in metadatas:
        for table in getattr(meta, "tables", {}).values():
            for column in table.columns:
                type_ = getattr(column.type, "impl", column.type)
                if isinstance(type_, sa.Enum) and type_.enums:
                    found[(table.name, column.name)] = tuple(type_.enums)
    return found


_TABLE_CALLS = {"create_table", "add_column", "alter_column", "batch_alter_table", "Table"}


@functools.lru_cache(maxsize=8)
def enum_values_in_revisions(paths: tuple[str, ...]) -> EnumValues:
    """`sa.Enum('a', 'b', ...)` calls with literal values inside a column of a named table, per revision script.

    Read from the source, never imported: a revision's module is Alembic's to load. Cached: every
    walk of a session reads the same scripts.
    """
    found: EnumValues = {}
    for path in paths:
        try:
            tree = ast.parse(Path(path).read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue
        _visit(tree, None, found)
    return found


def _visit(node: ast.AST, table: str | None, found: EnumValues) -> None:
    if isinstance(node, ast.With):  # with op.batch_alter_table("t") as batch_op: ...
        for item in node.items:
            named = _table_of(item.context_expr)
            if named:
                for child in node.body:
                    _visit(child, named, found)
                return
    if isinstance(node, ast.Call):
        table = _table_of(node) or table
        column = _column_of(node)
        if column and table:
            for enum in (n for n in ast.walk(node) if isinstance(n, ast.Call) and _callee(n) == "Enum"):
                values = tuple(a.value for a in enum.args if isinstance(a, ast.Constant) and isinstance(a.value, str))
                known = found.get((table, column))
                common = values if known is None else tuple(v for v in known if v in values)
                if common:  # in every definition seen: valid whichever revision reads it
                    found[(table, column)] = common
    for child in ast.iter_child_nodes(node):
        _visit(child, table, found)


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _table_of(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call) and _callee(node) in _TABLE_CALLS and node.args:
        strings = [a.value for a in node.args[:2] if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if _callee(node) == "alter_column" and len(strings) < 2:
            return None  # batch_op.alter_column(column, ...): the table is the batch's
        if strings and isinstance(node.args[0], ast.Constant):
            return strings[0]
    return None


def _column_of(call: ast.Call) -> str | None:
    """The column a Column(...) or alter_column(table, column, ...) call is about."""
    name = _callee(call)
    if name not in ("Column", "alter_column"):
        return None
    # Column(name, ...); op.alter_column(table, column, ...); batch_op.alter_column(column, ...)
    strings = [a.value for a in call.args[:2] if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    if not strings:
        return None
    return strings[0] if name == "Column" else strings[-1]
