"""Rows generated from the reflected schema, deterministic for a seed, and the rows a user's hook supplies."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.util import LRUCache

from pytest_migrations import compat
from pytest_migrations.project import user_code_location
from pytest_migrations.schema import Snapshot, TableSchema, split_key
from pytest_migrations.seeding.read import KEY_BASE, SQL_CACHE, SeedState, TableRows, read_rows, sa_table
from pytest_migrations.seeding.rules import ColumnRule, mysql_column_checks, parse_checks
from pytest_migrations.seeding.values import related_value, value_for

RowSupplier = Callable[[str, str], "list[dict[str, Any]] | None"]


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


def unique_sets(schema: TableSchema) -> list[tuple[str, ...]]:
    """Column sets whose values must not repeat: the primary key, UNIQUE constraints, unique indexes."""
    sets = [schema.primary_key] if schema.primary_key else []
    texts = list(schema.unique) + [i for i in schema.indexes if i.startswith("unique index ")]
    for text in texts:
        columns = schema.parts.get(text, (None, ()))[1]
        if columns and set(columns) <= set(schema.types):
            sets.append(columns)
    return sets


def generate_rows(
    schema: TableSchema,
    count: int,
    start: int,
    seed: int,
    parents: dict[str, TableRows],
    rules: dict[str, ColumnRule] | None = None,
) -> list[dict[str, Any]]:
    """`count` new rows: values from the column types and rules, links to existing parent rows.

    Each foreign key picks its parent row by a digit of n in a mixed radix, so consecutive n walk
    through every combination of parents: a UNIQUE over several foreign keys holds as long as
    there are combinations left, and rows seeded again at a later revision find new ones.
    """
    rules = rules or {}
    nullable = {c.name for c in schema.columns if c.nullable}
    existing = parents.get(schema.name)
    old_rows = list(existing.rows.values()) if existing else []
    keys = unique_sets(schema)
    used = [{tuple(_key_value(r.get(c)) for c in key) for r in old_rows} for key in keys]
    linked = {col for cols, _p, _r in schema.links for col in cols}
    rows: list[dict[str, Any]] = []
    attempt = 0
    while len(rows) < count and attempt < count * 20:
        n = KEY_BASE + seed * 1000 + start + attempt
        attempt += 1
        row = {}
        for position, (name, type_) in enumerate(schema.types.items()):
            if name in linked or name in schema.generated:
                continue
            try:
                row[name] = value_for(type_, n, name, rules.get(name), position)
            except TypeError:
                if name not in nullable and schema.column_map[name].default is None:
                    raise
                # a nullable column (or one with a server default) of a type we cannot generate stays out

        radix = n - KEY_BASE
        for cols, parent, refs in schema.links:
            pool = (
                (rows + old_rows)
                if parent == schema.name
                else list(parents[parent].rows.values())
                if parent in parents
                else []
            )
            if not pool:
                if all(c in nullable for c in cols):
                    pick = None
                elif parent == schema.name:
                    pick = row  # the first row of a self-referencing table refers to itself
                else:
                    raise LookupError(f"its parent table {parent} has no rows to refer to")
            else:
                pick = pool[radix % len(pool)]
                radix //= len(pool)
            for col, ref in zip(cols, refs, strict=False):
                row[col] = None if pick is None else pick.get(ref)
        for name, type_ in schema.types.items():  # in declaration order: a < b < c settles b, then c
            rule = rules.get(name)
            if rule is not None and name in row and name not in linked:  # a link's value is its parent's
                for op, other in rule.relations:
                    row[name] = related_value(row[name], op, row.get(other), type_)
        values = [tuple(_key_value(row.get(c)) for c in key) for key in keys]
        if any(v in seen and None not in v for v, seen in zip(values, used, strict=True)):
            continue
        for value, seen in zip(values, used, strict=True):
            seen.add(value)
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
        _read_parents(conn, schema, snapshot, state)
        try:
            if rows is None:
                rules = table_rules(conn, schema, state.enum_values, state.encoders, state.widths)
                rows = generate_rows(
                    schema, state.rows_per_table, state.inserted.get(name, 0), state.seed, state.known, rules
                )
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
        try:
            _insert(conn, schema, rows, savepoints, one_by_one=not supplied)
        except sa.exc.DBAPIError as exc:
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
        state.inserted[name] = state.inserted.get(name, 0) + state.rows_per_table * 20
        state.seeded_schema[name] = schema
        written.add(name)
        state.known[name] = read_rows(conn, schema)
    state.coverage.observe(snapshot, state.known)
    return written


def _insert(
    conn: sa.Connection, schema: TableSchema, rows: list[dict[str, Any]], savepoints: bool, one_by_one: bool
) -> None:
    """Insert the rows in one go; if that fails and `one_by_one`, each row alone, keeping those that fit.

    A CHECK form seeding does not understand rejects some generated rows, not all: the others
    still carry the data check. Raises the first error when no row went in.
    """
    table = sa_table(schema, writable=True)
    savepoint = compat.begin_nested(conn) if savepoints else None
    try:
        for group in _by_columns(rows):
            compat.execute(conn, table.insert(), group, SQL_CACHE)
    except sa.exc.DBAPIError:
        if savepoint is not None:
            savepoint.rollback()
        if not one_by_one:
            raise
    else:
        if savepoint is not None:
            savepoint.commit()
        return
    first: sa.exc.DBAPIError | None = None
    inserted = 0
    for row in rows:
        savepoint = compat.begin_nested(conn) if savepoints else None
        try:
            compat.execute(conn, table.insert(), [row], SQL_CACHE)
        except sa.exc.DBAPIError as exc:
            if savepoint is not None:
                savepoint.rollback()
            first = first or exc
            continue
        if savepoint is not None:
            savepoint.commit()
        inserted += 1
    if not inserted and first is not None:
        raise first


def _read_parents(conn: sa.Connection, schema: TableSchema, snapshot: Snapshot, state: SeedState) -> None:
    """Parents that could not be seeded may still hold rows (a data migration's): children can refer to those."""
    for _cols, parent, _refs in schema.links:
        if parent != schema.name and parent not in state.known and parent in snapshot.tables:
            rows = read_rows(conn, snapshot.tables[parent])
            if rows.rows:
                state.known[parent] = rows


# Rules of a table state, kept while its TableSchema lives (see sa_table's cache for why by identity).
_RULES: LRUCache = LRUCache(512)


def table_rules(
    conn: sa.Connection,
    schema: TableSchema,
    enum_values: dict[tuple[str, str], tuple[str, ...]],
    encoders: dict[tuple[str, str], Any] | None = None,
    widths: dict[tuple[str, str], int] | None = None,
) -> dict[str, ColumnRule]:
    """What the table's CHECK constraints allow per column, with the values of enums stored as strings and
    the model's own way of writing a column (model_types)."""
    widths = widths if widths is not None else {}
    for column, type_ in schema.types.items():
        length = getattr(type_, "length", None) if isinstance(type_, sa.String) else None
        if length:
            widths[(schema.name, column)] = max(length, widths.get((schema.name, column), 0))
    hit = _RULES.get(id(schema))
    if hit is not None and hit[0] is schema and hit[1] is enum_values:
        return hit[2]
    texts = list(schema.check_texts)
    if conn.dialect.name in ("mysql", "mariadb"):
        texts += mysql_column_checks(conn, split_key(schema.name)[1])
    rules = parse_checks(texts, schema.types)
    for column, type_ in schema.types.items():  # a PostgreSQL domain's own CHECK, written over VALUE
        check = getattr(type_, "check", None) if type(type_).__name__ == "DOMAIN" else None
        if check is not None and column not in rules:
            found = parse_checks([str(check)], ["value"]).get("value")
            if found is not None:
                rules[column] = found
    table = split_key(schema.name)[1]
    for column, type_ in schema.types.items():
        values = enum_values.get((table, column))
        if values and isinstance(type_, sa.String) and not isinstance(type_, sa.Enum):
            rule = rules.setdefault(column, ColumnRule())
            if rule.values is None:
                rule.allow(values)
    for column, type_ in schema.types.items():
        encode = (encoders or {}).get((table, column))
        if encode is not None and isinstance(type_, (sa.String, sa.LargeBinary)) and not isinstance(type_, sa.Enum):
            rules.setdefault(column, ColumnRule()).encode = encode
    for column, type_ in schema.types.items():
        if isinstance(type_, sa.String) and not getattr(type_, "length", None) and (schema.name, column) in widths:
            rules.setdefault(column, ColumnRule()).widest = widths[(schema.name, column)]
    _RULES[id(schema)] = (schema, enum_values, rules)
    return rules


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
