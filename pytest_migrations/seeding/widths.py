"""Which columns a step made wider: a downgrade may narrow them back, and must meet values that need the room."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from pytest_migrations.schema import Snapshot

_INTEGER_RANK = {"SMALLINT": 1, "TINYINT": 0, "MEDIUMINT": 2, "INTEGER": 3, "INT": 3, "BIGINT": 4}


def _width(type_: Any) -> tuple[float, ...] | None:
    """How much a column of this type holds, comparable between types of one kind; None when not a width kind."""
    if isinstance(type_, sa.String):
        length = getattr(type_, "length", None)
        return (float("inf") if length is None else float(length),)
    if isinstance(type_, sa.Integer):
        if isinstance(type_, sa.BigInteger):
            return (4.0,)
        if isinstance(type_, sa.SmallInteger):
            return (1.0,)
        return (float(_INTEGER_RANK.get(type(type_).__name__.upper(), 3)),)
    if isinstance(type_, sa.Numeric) and not isinstance(type_, sa.Float):
        precision, scale = getattr(type_, "precision", None), getattr(type_, "scale", None) or 0
        return (float("inf") if precision is None else float(precision - scale), float(scale))
    return None


def widened_tables(before: Snapshot, after: Snapshot) -> set[str]:
    """Tables where a column kept its kind and got wider: longer text, more digits, a bigger integer."""
    found = set()
    for name, table in after.tables.items():
        old = before.tables.get(name)
        if old is None:
            continue
        for column, type_ in table.types.items():
            if column not in old.types:
                continue
            was, now = _width(old.types[column]), _width(type_)
            kind = isinstance(type_, sa.String) == isinstance(old.types[column], sa.String)
            if was is not None and now is not None and kind and len(was) == len(now) and now > was:
                found.add(name)
    return found
