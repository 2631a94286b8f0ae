"""Rows generated from the reflected schema, deterministic for a seed, and the rows a user's hook supplies."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa

from pytest_migrations import compat
from pytest_migrations.project import user_code_location
from pytest_migrations.schema import Snapshot, TableSchema, split_key
from pytest_migrations.seeding.read import KEY_BASE, SQL_CACHE, SeedState, TableRows, read_rows, sa_table

RowSupplier = Callable[[str, str], "list[dict[str, Any]] | None"]


def _text(n: int, length: int | None, column: str) -> str:
    prefix = f"{n} {column} "
    target = min(length or 40, 255)
    filler = "lorem ipsum dolor sit amet "
    text = prefix + filler * (target // len(filler) + 1)
    return text[:target] if len(prefix) <= target else str(n)[-target:]


def value_for(type_: Any, n: int, column: str) -> Any:
    """A value of `type_` that is distinct for every n, so unique columns hold."""
    if isinstance(type_, sa.Enum) and type_.enums:
        return type_.enums[n % len(type_.enums)]
    if isinstance(type_, sa.Boolean):
        return n % 2 == 1
    if isinstance(type_, sa.Integer):
        if isinstance(type_, sa.SmallInteger) or type(type_).__name__.upper() in ("TINYINT", "SMALLINT"):
            return n % 100
        return n
    if isinstance(type_, sa.Numeric):
        scale = type_.scale if type_.scale is not None else 2
        precision = type_.precision if type_.precision is not None else 10
        whole_digits = max(precision - scale, 1)
        whole = n % (10 ** min(whole_digits, 6))
        value = decimal.Decimal(whole)
        if scale > 0:  # every decimal place in use, the last one never 0: narrowing the scale must show
            places = min(scale, 9)
            fraction = (n % 10 ** (places - 1)) * 10 + n % 9 + 1
            value += decimal.Decimal(fraction).scaleb(-places)
        return float(value) if getattr(type_, "asdecimal", True) is False else value
    if isinstance(type_, sa.DateTime):
        base = dt.datetime(2001, 2, 3, 4, 5, 6) + dt.timedelta(days=n % 9000, seconds=n % 86400)
        return base.replace(tzinfo=dt.timezone.utc) if getattr(type_, "timezone", False) else base
    if isinstance(type_, sa.Date):
        return dt.date(2001, 2, 3) + dt.timedelta(days=n % 9000)
    if isinstance(type_, sa.Time):
        return dt.time(n % 24, n % 60, n % 60)
    if isinstance(type_, sa.Interval):
        return dt.timedelta(days=n % 30, seconds=n % 3600)
    if isinstance(type_, compat.UUID_TYPES) or type(type_).__name__.upper() == "UUID":
        value = uuid.uuid5(uuid.NAMESPACE_OID, f"{column}-{n}")
        return value if getattr(type_, "as_uuid", True) else str(value)
    if isinstance(type_, sa.JSON):
        return {"n": n, "column": column}
    if isinstance(type_, sa.ARRAY):
        return [value_for(type_.item_type, n + i, column) for i in range(2)]
    if isinstance(type_, sa.types._Binary):
        length = getattr(type_, "length", None) or 16
        return (f"{n}:".encode() + b"\x00\x01\xfe\xff" * 8)[: min(length, 32)]
    if isinstance(type_, sa.String):
        return _text(n, getattr(type_, "length", None) or (400 if isinstance(type_, sa.Text) else None), column)
    raise TypeError(f"no generator for column type {type_!r}")


def seeding_order(tables: dict[str, TableSchema]) -> list[str]:
    """Parents before children; cycles are broken arbitrarily (nullable links get NULL there)."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order or name in visiting:
            return
        visiting.add(name)
        for _cols, parent, _refs in tables[name].links:
            if parent != name and parent in tables:
                visit(parent)
        visiting.discard(name)
        order.append(name)

    for name in sorted(tables):
        visit(name)
    return order


def generate_rows(
    schema: TableSchema, count: int, start: int, seed: int, parents: dict[str, TableRows]
) -> list[dict[str, Any]]:
    nullable = {c.name for c in schema.columns if c.nullable}
    existing = parents.get(schema.name)
    used_keys = set(existing.rows) if existing else set()
    linked = {col for cols, _p, _r in schema.links for col in cols}
    rows: list[dict[str, Any]] = []
    attempt = 0
    while len(rows) < count and attempt < count * 20:
        n = KEY_BASE + seed * 1000 + start + attempt
        attempt += 1
        row = {}
        for name, type_ in schema.types.items():
            if name in linked or name in schema.generated:
                continue
            try:
                row[name] = value_for(type_, n, name)
            except TypeError:
                if name not in nullable and schema.column_map[name].default is None:
                    raise
                # a nullable column (or one with a server default) of a type we cannot generate stays out

        for cols, parent, refs in schema.links:
            if parent == schema.name:
                pool = rows + (list(existing.rows.values()) if existing else [])
                if pool:
                    pick = pool[(n * 7) % len(pool)]
                else:
                    pick = None if all(c in nullable for c in cols) else row
            else:
                parent_rows = list(parents[parent].rows.values()) if parent in parents else []
                if not parent_rows:
                    if all(c in nullable for c in cols):
                        pick = None
                    else:
                        raise LookupError(f"its parent table {parent} has no rows to refer to")
                else:
                    pick = parent_rows[(n * 7 + len(rows)) % len(parent_rows)]
            for col, ref in zip(cols, refs, strict=False):
                row[col] = None if pick is None else pick.get(ref)
        key = tuple(row.get(c) for c in schema.primary_key)
        if schema.primary_key and key in used_keys:
            continue
        used_keys.add(key)
        rows.append(row)
    return rows


class SuppliedRowsError(ValueError):
    """Rows from the pytest_migrations_rows hook that cannot be used; the message ends the sentence."""


def new_supplied_rows(
    rows: Any, schema: TableSchema, existing: TableRows | None, given_before: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The hook's rows, minus those it gave before for this table and those whose primary key is there already.

    The hook is asked again whenever the table's schema changes, and a hook that returns the
    same fixed rows every time is the natural way to write one.
    """
    if not isinstance(rows, (list, tuple)) or not all(isinstance(row, dict) for row in rows):
        raise SuppliedRowsError(f"are not a list of dicts (column -> value): {type(rows).__name__}")
    unknown = sorted({column for row in rows for column in row} - set(schema.types))
    if unknown:
        raise SuppliedRowsError(
            f"name columns it does not have: {', '.join(unknown)} (its columns: {', '.join(schema.types)})"
        )
    key = schema.primary_key
    present = {tuple(_key_value(v) for v in values) for values in existing.rows} if existing and key else set()
    return [
        row
        for row in rows
        if row not in given_before
        and not (key and set(key) <= row.keys() and tuple(_key_value(row[c]) for c in key) in present)
    ]


def _key_value(value: Any) -> Any:
    """A primary key value as comparable across drivers: a UUID comes back as an object, or 32 or 36 characters."""
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, str) and len(value) in (32, 36):
        try:
            return uuid.UUID(value).hex
        except ValueError:
            return value
    return value


def _by_columns(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Rows grouped by the columns they set: one INSERT takes rows of one shape (the others get their defaults)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    return list(groups.values())


def seed_tables(
    conn: sa.Connection,
    snapshot: Snapshot,
    state: SeedState,
    revision: str,
    supply: RowSupplier | None,
) -> set[str]:
    """Insert rows into every table that needs more; returns the tables written to."""
    written: set[str] = set()
    savepoints = conn.dialect.name == "postgresql"  # a failed INSERT aborts the transaction there
    for name in seeding_order(snapshot.tables):
        schema = snapshot.tables[name]
        have = len(state.known[name].rows) if name in state.known else 0
        changed = state.seeded_schema.get(name) != schema
        if have >= state.cap and not changed:
            continue
        try:
            rows = supply(revision, name) if supply else None
        except Exception as exc:
            where = user_code_location(exc)
            state.hook_errors.setdefault(
                name,
                f"pytest_migrations_rows raised for {name} at {revision}: "
                + " ".join(f"{type(exc).__name__}: {exc}".split())
                + (f" (at {where})" if where else ""),
            )
            continue
        supplied = rows is not None
        try:
            if rows is None:
                rows = generate_rows(schema, state.rows_per_table, state.inserted.get(name, 0), state.seed, state.known)
            else:
                given = state.supplied.setdefault(name, [])
                rows = new_supplied_rows(rows, schema, state.known.get(name), given)
                given.extend(rows)
        except SuppliedRowsError as exc:
            state.hook_errors.setdefault(name, f"pytest_migrations_rows gave rows for {name} at {revision} that {exc}")
            continue
        except (LookupError, TypeError) as exc:
            state.problems.setdefault(name, f"table {name} at {revision} cannot be seeded: {exc}")
            continue
        if not rows:
            continue
        savepoint = compat.begin_nested(conn) if savepoints else None
        try:
            for group in _by_columns(rows):
                compat.execute(conn, sa_table(schema, writable=True).insert(), group, SQL_CACHE)
        except sa.exc.DBAPIError as exc:
            if savepoint is not None:
                savepoint.rollback()
            message = " ".join(str(exc.orig).split())[:300]
            if supplied:
                state.hook_errors.setdefault(
                    name,
                    f"pytest_migrations_rows gave rows for {name} at {revision} that cannot be inserted "
                    f"(return rows that fit the table as it is at that revision): {message}",
                )
            else:
                state.problems.setdefault(name, f"table {name} at {revision} cannot be seeded: {message}")
            continue
        if savepoint is not None:
            savepoint.commit()
        state.inserted[name] = state.inserted.get(name, 0) + state.rows_per_table * 20
        state.seeded_schema[name] = schema
        written.add(name)
        state.known[name] = read_rows(conn, schema)
    return written


def delete_all_rows(conn: sa.Connection, tables: Iterable[str]) -> None:
    compat.autobegin(conn)
    names = list(tables)
    if not names:
        return
    preparer = conn.dialect.identifier_preparer

    def quote(key: str) -> str:
        return ".".join(preparer.quote(part) for part in split_key(key) if part is not None)

    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("TRUNCATE " + ", ".join(quote(n) for n in names) + " CASCADE")
    elif conn.dialect.name in ("mysql", "mariadb"):
        conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
        for name in names:
            conn.exec_driver_sql(f"DELETE FROM {quote(name)}")
        conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")
    else:
        conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
        for name in names:
            conn.exec_driver_sql(f"DELETE FROM {quote(name)}")
