"""Data seeding: rows generated from the reflected schema, and the comparison that finds lost data.

Rows are derived from each table's reflected columns and foreign keys, are
deterministic for a seed, and fill nullable columns too (a NULL cannot show a
lost value). Contents are read back per table and compared by primary key.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.util import LRUCache

from pytest_migrations.project import user_code_location
from pytest_migrations.schema import Snapshot, TableSchema, split_key, tables_named, touches_rows_only

RowSupplier = Callable[[str, str], "list[dict[str, Any]] | None"]
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
    found = [
        dict(zip(columns, values, strict=True))
        for values in conn.execute(sa.select(table), execution_options=SQL_CACHE)
    ]
    if key:
        rows = {tuple(row[c] for c in key): row for row in found}
    else:
        found.sort(key=lambda row: tuple(repr(row[c]) for c in columns))
        rows = {(index,): row for index, row in enumerate(found)}
    return TableRows(key_columns=key, columns=columns, rows=rows)


# ------------------------------------------------------------------ generate


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
    if isinstance(type_, sa.Uuid) or type(type_).__name__.upper() == "UUID":
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
        savepoint = conn.begin_nested() if savepoints else None
        try:
            for group in _by_columns(rows):
                conn.execute(sa_table(schema, writable=True).insert(), group, execution_options=SQL_CACHE)
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


# ------------------------------------------------------------------- compare


def _fmt(value: Any) -> str:
    if value is None:
        return "NULL"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..." + ("'" if isinstance(value, str) else "")


def _key_text(table: TableRows, key: tuple[Any, ...]) -> str:
    if not table.key_columns:
        return f"row {key[0] + 1}"
    return ", ".join(f"{col}={_fmt(val)}" for col, val in zip(table.key_columns, key, strict=False))


def losses_after_upgrade(
    before: dict[str, TableRows], after: dict[str, TableRows | None], label: str
) -> list[tuple[str, str]]:
    """(table, text) for rows or non-NULL values that went away. Changed values are the migration's business."""
    out: list[tuple[str, str]] = []
    appeared = {name: rows for name, rows in after.items() if rows is not None and name not in before}
    for name, old in sorted(before.items()):
        if name not in after:
            continue
        new = after[name]
        if new is None:
            if old.rows and not _renamed(old, appeared):
                out.append((name, f"{label} dropped table {name} holding {len(old.rows)} rows"))
            continue
        if old.key_columns and set(old.key_columns) <= set(new.columns):
            present = _rekey(new, old.key_columns)
            lost = [k for k in old.rows if k not in present]
        else:
            lost = list(old.rows)[len(new.rows) :] if len(new.rows) < len(old.rows) else []
        if lost:
            out.append((name, f"{label} lost {len(lost)} of {len(old.rows)} rows of {name}: {_key_text(old, lost[0])}"))
        for col in old.columns:
            if col in new.columns:
                continue
            holding = [k for k, row in old.rows.items() if row.get(col) is not None]
            if holding and not _column_renamed(old, new, col):
                out.append(
                    (
                        name,
                        f"{label} dropped column {name}.{col} holding values in {len(holding)} of {len(old.rows)} rows: "
                        f"{_key_text(old, holding[0])} {_fmt(old.rows[holding[0]][col])}",
                    )
                )
    return out


def _rekey(table: TableRows, key_columns: tuple[str, ...]) -> set[tuple[Any, ...]]:
    return {tuple(row.get(c) for c in key_columns) for row in table.rows.values()}


def _renamed(old: TableRows, appeared: dict[str, TableRows]) -> bool:
    values = sorted(repr(sorted(r.items())) for r in old.rows.values())
    return any(sorted(repr(sorted(r.items())) for r in new.rows.values()) == values for new in appeared.values())


def _column_renamed(old: TableRows, new: TableRows, col: str) -> bool:
    """A dropped column whose every value now sits in a column that was not there before."""
    newcomers = [c for c in new.columns if c not in old.columns]
    by_key = {tuple(row.get(c) for c in old.key_columns): row for row in new.rows.values()} if old.key_columns else {}
    for candidate in newcomers:
        if by_key and all(by_key.get(k, {}).get(candidate) == row.get(col) for k, row in old.rows.items()):
            return True
    return False


def losses_after_downgrade(
    before: dict[str, TableRows],
    after: dict[str, TableRows | None],
    label: str,
    after_upgrade: dict[str, TableRows | None] | None = None,
    upgrade_label: str = "",
) -> list[tuple[str, str]]:
    """(table, text): after a downgrade every row and value recorded before the upgrade must be back exactly.

    A value the upgrade changed in a column it kept, and the downgrade left as the upgrade made it,
    is the upgrade's doing: given the rows `after_upgrade`, that change is reported under
    `upgrade_label`, not blamed on the downgrade that merely did not undo it.
    """
    out: list[tuple[str, str]] = []
    for name, old in sorted(before.items()):
        if name not in after:
            continue
        new = after[name]
        if new is None:
            out.append((name, f"{label} lost table {name} ({len(old.rows)} rows)"))
            continue
        if old.key_columns and set(old.key_columns) <= set(new.columns):
            new_rows = {tuple(row.get(c) for c in old.key_columns): row for row in new.rows.values()}
        else:
            new_rows = dict(new.rows)
        missing = [k for k in old.rows if k not in new_rows]
        if missing:
            out.append(
                (name, f"{label} lost {len(missing)} of {len(old.rows)} rows of {name}: {_key_text(old, missing[0])}")
            )
        for col in old.columns:
            if col not in new.columns:
                holding = [k for k, r in old.rows.items() if r.get(col) is not None]
                if holding:
                    out.append(
                        (
                            name,
                            f"{label} lost column {name}.{col} with values in {len(holding)} of {len(old.rows)} rows",
                        )
                    )
                continue
            changed = [
                k for k, row in old.rows.items() if k in new_rows and not _same(row.get(col), new_rows[k].get(col))
            ]
            upgraded = _rows_by_key(old, (after_upgrade or {}).get(name))
            by_upgrade = [
                k
                for k in changed
                if upgraded is not None
                and k in upgraded
                and col in upgraded[k]
                and _same(upgraded[k].get(col), new_rows[k].get(col))
            ]
            for step, keys in ((upgrade_label, by_upgrade), (label, [k for k in changed if k not in by_upgrade])):
                if not keys:
                    continue
                first = keys[0]
                after_value = new_rows[first].get(col)
                verb = "lost values of" if after_value is None else "changed values of"
                undone = " (its downgrade leaves them so)" if step is upgrade_label else ""
                out.append(
                    (
                        name,
                        f"{step} {verb} {name}.{col} in {len(keys)} of {len(old.rows)} rows: "
                        f"{_key_text(old, first)} {_fmt(old.rows[first].get(col))} -> {_fmt(after_value)}{undone}",
                    )
                )
    return out


def _rows_by_key(old: TableRows, rows: TableRows | None) -> dict[tuple[Any, ...], dict[str, Any]] | None:
    """`rows` keyed the way `old` is, when its key columns survived; None when they cannot be matched."""
    if rows is None:
        return None
    if old.key_columns and set(old.key_columns) <= set(rows.columns):
        return {tuple(row.get(c) for c in old.key_columns): row for row in rows.rows.values()}
    return None


def _same(a: Any, b: Any) -> bool:
    if a == b:
        return True
    if isinstance(a, (int, float, decimal.Decimal)) and isinstance(b, (int, float, decimal.Decimal)):
        return decimal.Decimal(str(a)) == decimal.Decimal(str(b))
    return False


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
