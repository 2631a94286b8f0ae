"""Reading a real database into a Snapshot, reflecting only the tables whose catalog fingerprint changed."""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Inspector

from pytest_migrations import compat
from pytest_migrations.schema.normalize import _sqltext, normalize_boolean_default, normalize_default, normalize_type
from pytest_migrations.schema.snapshot import ColumnSchema, Snapshot, TableSchema, split_key
from pytest_migrations.schema.statements import keeps_table_list, tables_to_refingerprint


def _table_fingerprints(conn: sa.Connection, only: list[str] | None = None) -> tuple[dict[str, str], str]:
    """Per-table text that changes whenever the table's schema does, plus a global part.

    `only` limits the per-table part to those tables on MySQL; PostgreSQL's incremental
    fingerprints come from `_postgresql_fingerprints`, which also lists the tables.
    """
    name = conn.dialect.name
    if name == "sqlite":
        rows = conn.exec_driver_sql(
            "SELECT tbl_name, type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY tbl_name, type, name"
        ).fetchall()
        tables = {row[0] for row in rows if row[1] == "table"}
        parts: dict[str, list[str]] = {}
        for tbl, kind, obj, sql in rows:
            if tbl in tables:
                parts.setdefault(tbl, []).append(f"{kind}:{obj}:{sql}")
        return {k: "\n".join(v) for k, v in parts.items()}, ""
    if name == "postgresql":
        every, global_print = _postgresql_fingerprints(conn, None, known=())
        return {table: text or "" for table, text in every.items()}, global_print
    if name in ("mysql", "mariadb"):
        # SHOW CREATE TABLE holds everything reflection would find and costs a small fraction
        # of the information_schema queries (0.13 ms against 6 ms per snapshot on MariaDB 10.11).
        quote = conn.dialect.identifier_preparer.quote
        per_table: dict[str, str] = {}
        for table in only if only is not None else list_tables(conn):
            text = conn.exec_driver_sql(f"SHOW CREATE TABLE {quote(table)}").fetchone()[1]  # type: ignore[index]
            per_table[table] = _AUTO_INCREMENT.sub("", text)  # the counter moves with every insert
        return per_table, ""
    return {}, ""


_PG_TABLE_PRINT = """
    coalesce((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' '
              || a.attnotnull::text || ' ' || a.attidentity::text || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
              || ' ' || coalesce((SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                                  FROM pg_enum e WHERE e.enumtypid = a.atttypid), ''),
              ',' ORDER BY a.attname)
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
    || '|' || coalesce((SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), ',' ORDER BY conname)
       FROM pg_constraint WHERE conrelid = c.oid), '')
    || '|' || coalesce((SELECT string_agg(pg_get_indexdef(indexrelid), ',' ORDER BY 1)
       FROM pg_index WHERE indrelid = c.oid), '')
"""
# PostgreSQL partitions are left out of snapshots: their columns and indexes follow the partitioned
# table's, and their rows show through it, so it alone is compared, seeded and read.
# PostgreSQL: every schema a migration can use (not the catalogs, TOAST or temporary ones). Objects
# of the default schema are known by their name, the others by schema.name, as a user writes them.
_PG_USER_SCHEMA = "n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'"  # no % for exec_driver_sql


def _pg_key(alias: str, name_column: str) -> str:
    return f"CASE WHEN {alias}.nspname = current_schema() THEN {name_column} ELSE {alias}.nspname || '.' || {name_column} END"


# One round trip: every table's name, the fingerprint of those asked for, and (name NULL) the
# enum types, free sequences and schemas, which belong to no table, as JSON: the same text for
# the same objects, so it keys the cache of PostgresGlobals, and their source, so no further
# query is needed. Sequences owned by a column (serial, identity) are that column's business.
_PG_FINGERPRINTS = sa.text(
    f"""
    SELECT k.key, CASE WHEN :everything OR k.key = ANY(:fresh) OR NOT k.key = ANY(:known)
                  THEN {_PG_TABLE_PRINT} END
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    CROSS JOIN LATERAL (SELECT {_pg_key("n", "c.relname")} AS key) AS k
    WHERE {_PG_USER_SCHEMA} AND c.relkind IN ('r', 'p') AND NOT c.relispartition
    UNION ALL
    SELECT NULL, json_build_object(
        'enums', (SELECT coalesce(json_object_agg(name, labels ORDER BY name), '{{}}') FROM (
            SELECT {_pg_key("n", "t.typname")} AS name, json_agg(e.enumlabel ORDER BY e.enumsortorder) AS labels
            FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE {_PG_USER_SCHEMA} GROUP BY n.nspname, t.typname) AS enums),
        'sequences', (SELECT coalesce(json_agg({_pg_key("n", "c.relname")} ORDER BY 1), '[]')
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'S' AND {_PG_USER_SCHEMA} AND NOT EXISTS (
                SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i'))),
        'schemas', (SELECT coalesce(json_agg(n.nspname ORDER BY n.nspname), '[]') FROM pg_namespace n
            WHERE {_PG_USER_SCHEMA} AND n.nspname <> current_schema()),
        'extensions', (SELECT coalesce(json_agg(json_build_array(x.extname, n.nspname) ORDER BY x.oid), '[]')
            FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace)
    )::text
    """
)


# The same prints for a few tables known by key, found through pg_class's index on relname: a
# third of the cost of listing every table, and most snapshots need no more.
_PG_NAMED_FINGERPRINTS = sa.text(
    f"""
    SELECT k.key, {_PG_TABLE_PRINT}
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    CROSS JOIN LATERAL (SELECT {_pg_key("n", "c.relname")} AS key) AS k
    WHERE c.relname = ANY(:names) AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND k.key = ANY(:keys)
    """
)


def _postgresql_fingerprints(
    conn: sa.Connection, fresh: Iterable[str] | None, known: Iterable[str]
) -> tuple[dict[str, str | None], str]:
    """Fingerprints of the tables in `fresh` and of every table not in `known` (all tables if fresh is None).

    The other tables that exist map to None: the caller keeps what it knew of them.
    """
    params = {"everything": fresh is None, "fresh": list(fresh or ()), "known": list(known)}
    per_table: dict[str, str | None] = {}
    global_print = ""
    for table, text in conn.execute(_PG_FINGERPRINTS, params):
        if table is None:
            global_print = text
        else:
            per_table[table] = text
    return per_table, global_print


def _postgresql_named_fingerprints(conn: sa.Connection, keys: list[str]) -> dict[str, str]:
    params = {"keys": keys, "names": [split_key(key)[1] for key in keys]}
    return {key: text for key, text in conn.execute(_PG_NAMED_FINGERPRINTS, params)}


_AUTO_INCREMENT = re.compile(r"\s+AUTO_INCREMENT=\d+")


def list_tables(conn: sa.Connection) -> list[str]:
    if conn.dialect.name == "postgresql":
        query = (
            f"SELECT {_pg_key('n', 'c.relname')} FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE {_PG_USER_SCHEMA} AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
        )
    else:  # cheaper than information_schema.tables on MariaDB
        return [row[0] for row in conn.exec_driver_sql("SHOW FULL TABLES") if row[1] == "BASE TABLE"]
    return [row[0] for row in conn.exec_driver_sql(query)]


@dataclass
class SchemaReader:
    """Reflects snapshots of one engine, reusing table reflections whose fingerprint is unchanged."""

    version_table: str = "alembic_version"
    # Recent table states by (name, fingerprint); a downgrade returns to one, so a few hundred suffice.
    cache: OrderedDict[tuple[str, str], TableSchema] = field(default_factory=OrderedDict)
    cache_size: int = 512
    global_cache: dict[str, PostgresGlobals] = field(default_factory=dict)

    def snapshot(
        self, conn: sa.Connection, previous: Snapshot | None = None, statements: list[str] | None = None
    ) -> Snapshot:
        """Reflect the schema; given the previous snapshot and the SQL run since, only what that SQL can have changed."""
        fingerprints, global_print = self._fingerprints(conn, previous, statements)
        inspector: Inspector | None = None
        tables: dict[str, TableSchema] = {}
        names = fingerprints.keys() if fingerprints else None
        if names is None:  # unknown dialect: reflect everything, no cache
            inspector = sa.inspect(conn)
            names = inspector.get_table_names()
        for name in sorted(names):
            if name == self.version_table:
                continue
            key = (name, fingerprints.get(name, ""))
            cached = self.cache.get(key) if fingerprints else None
            if cached is None:
                inspector = inspector or sa.inspect(conn)
                cached = reflect_table(inspector, name, conn.dialect)
                if fingerprints:
                    self.cache[key] = cached
                    if len(self.cache) > self.cache_size:
                        self.cache.popitem(last=False)
            else:
                self.cache.move_to_end(key)
            tables[name] = cached
        extra = self._globals(conn, global_print)
        version_schema = split_key(self.version_table)[0]  # Alembic's (version_table_schema), not the project's
        return Snapshot(
            tables=tables,
            enums=extra.enums,
            sequences=extra.sequences,
            schemas=extra.schemas - {version_schema},
            extensions=extra.extensions,
            fingerprints=fingerprints,
            global_print=global_print,
        )

    def _fingerprints(
        self, conn: sa.Connection, previous: Snapshot | None, statements: list[str] | None
    ) -> tuple[dict[str, str], str]:
        dialect = conn.dialect.name
        incremental = dialect in ("postgresql", "mysql", "mariadb")
        if not incremental or previous is None or statements is None or not previous.fingerprints:
            return self._all_fingerprints(conn)
        changed = tables_to_refingerprint(statements, previous)
        if changed is None:
            return self._all_fingerprints(conn)
        if keeps_table_list(statements):
            stale = sorted(changed & previous.fingerprints.keys())
            if dialect == "postgresql":
                fresh = _postgresql_named_fingerprints(conn, stale) if stale else {}
            else:
                fresh = _table_fingerprints(conn, only=stale)[0] if stale else {}
            if fresh.keys() != set(stale):  # a table went away after all: take no chances
                return self._all_fingerprints(conn)
            return {**previous.fingerprints, **fresh}, previous.global_print
        if dialect == "postgresql":
            known = [*previous.fingerprints, self.version_table]
            fresh, global_print = _postgresql_fingerprints(conn, sorted(changed), known=known)
            now = set(fresh) - {self.version_table}
        else:
            now = set(list_tables(conn)) - {self.version_table}
            stale = (changed & now) | (now - previous.fingerprints.keys())
            fresh, global_print = _table_fingerprints(conn, only=sorted(stale)) if stale else ({}, "")
        merged = {name: previous.fingerprints[name] for name in now if name in previous.fingerprints}
        merged.update({name: text for name, text in fresh.items() if text is not None and name in now})
        return merged, global_print

    def _all_fingerprints(self, conn: sa.Connection) -> tuple[dict[str, str], str]:
        fingerprints, global_print = _table_fingerprints(conn)
        fingerprints.pop(self.version_table, None)
        return fingerprints, global_print

    def _globals(self, conn: sa.Connection, key: str) -> PostgresGlobals:
        if conn.dialect.name != "postgresql" or not key:
            return PostgresGlobals()
        if key not in self.global_cache:
            found = json.loads(key)
            self.global_cache[key] = PostgresGlobals(
                enums={name: tuple(labels) for name, labels in found["enums"].items()},
                sequences=frozenset(found["sequences"]),
                schemas=frozenset(found["schemas"]),
                extensions=tuple((name, schema) for name, schema in found["extensions"]),
            )
        return self.global_cache[key]


@dataclass(frozen=True)
class PostgresGlobals:
    """What a PostgreSQL snapshot holds besides tables: enum types, free sequences, extra schemas, extensions."""

    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sequences: frozenset[str] = frozenset()
    schemas: frozenset[str] = frozenset()
    extensions: tuple[tuple[str, str], ...] = ()  # (name, schema), in the order they were created


@dataclass
class _Reflected:
    """A table as SQLAlchemy's Inspector describes it (the dict shapes of its get_* methods)."""

    pk: list[str]
    foreign_keys: list[dict[str, Any]]
    uniques: list[dict[str, Any]]
    indexes: list[dict[str, Any]]
    checks: list[dict[str, Any]]


def _reflect_with_inspector(inspector: Inspector, name: str) -> _Reflected:
    try:
        checks = inspector.get_check_constraints(name)
    except NotImplementedError:
        checks = []
    sqlite = inspector.dialect.name == "sqlite" and compat.is_connection(inspector.bind)
    reflected = _Reflected(
        pk=list(inspector.get_pk_constraint(name).get("constrained_columns") or ()),
        foreign_keys=inspector.get_foreign_keys(name),
        uniques=inspector.get_unique_constraints(name),
        indexes=_sqlite_indexes(inspector.bind, name) if sqlite else inspector.get_indexes(name),
        checks=checks,
    )
    if inspector.dialect.name in ("mysql", "mariadb") and compat.is_connection(inspector.bind):
        _mysql_key_definitions(inspector.bind, name, reflected)
    return reflected


_MYSQL_KEY = re.compile(
    r"^\s*(?:(UNIQUE|FULLTEXT|SPATIAL) )?KEY `((?:[^`]|``)+)` \((.*)\)(?: USING \w+)?(?: COMMENT .*)?,?$"
)


def _mysql_key_definitions(conn: sa.Connection, table: str, reflected: _Reflected) -> None:
    """Key parts as SHOW CREATE TABLE writes them, where the inspector leaves something out (DESC order)."""
    quote = conn.dialect.identifier_preparer.quote
    text = conn.exec_driver_sql(f"SHOW CREATE TABLE {quote(table)}").fetchone()[1]  # type: ignore[index]
    keys = {}
    for line in text.splitlines():
        match = _MYSQL_KEY.match(line)
        if match:
            keys[match.group(2).replace("``", "`")] = "(" + match.group(3).replace("`", "") + ")"
    for item in (*reflected.indexes, *reflected.uniques):
        definition = keys.get(item.get("name"))
        plain = "(" + ", ".join(str(c) for c in item.get("column_names") or ()) + ")"
        if definition and definition.replace(",", ", ").replace(",  ", ", ") != plain:
            item["definition"] = definition.replace(",", ", ").replace(",  ", ", ")


# Constraints and indexes of one PostgreSQL table in one round trip; the Inspector needs five
# (about 5 ms a table, and a walk reflects a new table state at almost every revision).
_PG_CONSTRAINTS_AND_INDEXES = sa.text(
    """
    SELECT
      coalesce((SELECT json_agg(json_build_object(
          'kind', con.contype, 'name', con.conname,
          'columns', (SELECT json_agg(a.attname ORDER BY k.ord)
                      FROM unnest(con.conkey) WITH ORDINALITY AS k(num, ord)
                      JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num),
          'referred_table', CASE WHEN rn.nspname = current_schema() THEN rc.relname
                                 ELSE rn.nspname || '.' || rc.relname END,
          'referred_columns', (SELECT json_agg(a.attname ORDER BY k.ord)
                               FROM unnest(con.confkey) WITH ORDINALITY AS k(num, ord)
                               JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num),
          'on_delete', con.confdeltype, 'on_update', con.confupdtype,
          'definition', pg_get_constraintdef(con.oid, true)) ORDER BY con.conname)
        FROM pg_constraint con LEFT JOIN pg_class rc ON rc.oid = con.confrelid
        LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
        WHERE con.conrelid = c.oid), '[]'),
      coalesce((SELECT json_agg(json_build_object(
          'name', ic.relname, 'unique', i.indisunique, 'definition', pg_get_indexdef(i.indexrelid),
          'backs_constraint', EXISTS (SELECT 1 FROM pg_constraint x
                                      WHERE x.conindid = i.indexrelid AND x.conrelid = i.indrelid),
          'columns', (SELECT json_agg(a.attname ORDER BY k.ord)
                      FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(num, ord)
                      LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num
                      WHERE k.ord <= i.indnkeyatts),
          'expressions', (SELECT json_agg(pg_get_indexdef(i.indexrelid, k.ord, true) ORDER BY k.ord)
                          FROM generate_series(1, i.indnkeyatts::int) AS k(ord))) ORDER BY ic.relname)
        FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid), '[]')
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = coalesce(:schema, current_schema()) AND c.relname = :name AND c.relkind IN ('r', 'p')
    """
)
_PG_FK_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
_CHECK_DEFINITION = re.compile(r"^CHECK\s*\((.*)\)(\s+NOT VALID)?$", re.S)


def _reflect_postgresql(conn: sa.Connection, key: str) -> _Reflected:
    schema, name = split_key(key)
    row = conn.execute(_PG_CONSTRAINTS_AND_INDEXES, {"schema": schema, "name": name}).one()
    constraints, indexes = row
    reflected = _Reflected(pk=[], foreign_keys=[], uniques=[], indexes=[], checks=[])
    for con in constraints:
        columns = con["columns"] or []
        if con["kind"] == "p":
            reflected.pk = columns
        elif con["kind"] == "f":
            reflected.foreign_keys.append(
                {
                    "name": con["name"],
                    "constrained_columns": columns,
                    "referred_table": con["referred_table"],
                    "referred_columns": con["referred_columns"] or [],
                    "options": {
                        "ondelete": _PG_FK_ACTIONS.get(con["on_delete"]),
                        "onupdate": _PG_FK_ACTIONS.get(con["on_update"]),
                    },
                }
            )
        elif con["kind"] == "u":
            reflected.uniques.append({"name": con["name"], "column_names": columns})
        elif con["kind"] == "c":
            match = _CHECK_DEFINITION.match(con["definition"])
            reflected.checks.append({"name": con["name"], "sqltext": match.group(1) if match else con["definition"]})
    for index in indexes:
        if index["backs_constraint"]:
            continue  # the primary key's, a unique constraint's: compared as constraints
        columns = index["columns"] or []
        reflected.indexes.append(
            {
                "name": index["name"],
                "unique": index["unique"],
                "column_names": columns,
                "expressions": index["expressions"] if any(c is None for c in columns) else None,
                "definition": _pg_index_definition(index["definition"]),
            }
        )
    return reflected


_PG_USING = re.compile(r" USING (\w+) (?=\()")


def _pg_index_definition(text: str) -> str:
    """What follows `ON table` in pg_get_indexdef, as PostgreSQL writes it: the key columns and expressions
    with their operator classes and order, INCLUDE, WHERE; the method last, and only when it is not btree."""
    match = _PG_USING.search(text)
    if match is None:
        return text
    rest = text[match.end() :]
    method = match.group(1)
    return rest + ("" if method == "btree" else f" USING {method}")


def _sqlite_indexes(conn: sa.Connection, table: str) -> list[dict[str, Any]]:
    """A SQLite table's indexes, read from sqlite_master and PRAGMA index_xinfo.

    SQLAlchemy's reflection skips expression indexes (with a warning that would reach the user's summary)
    and does not read a partial index's WHERE clause; both are read here, as SQLite keeps them: the SQL that
    made the index. Indexes SQLite made for a PRIMARY KEY or UNIQUE constraint (no SQL) are constraints.
    """
    found = []
    rows = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name",
        (table,),
    ).fetchall()
    for name, sql in rows:
        quoted = name.replace('"', '""')
        info = conn.exec_driver_sql(f'PRAGMA index_xinfo("{quoted}")').fetchall()
        keys = [row for row in info if row[5]]  # (seqno, cid, name, desc, coll, key)
        unique = bool(re.match(r"\s*CREATE\s+UNIQUE\b", sql, re.I))
        columns = [row[2] for row in keys]
        key_text, where = _sqlite_index_parts(sql)
        plain = all(row[1] >= 0 for row in keys) and not where
        definition = None
        if not plain:
            definition = (key_text or "(" + ", ".join(str(c) for c in columns) + ")") + (
                f" WHERE {where}" if where else ""
            )
        elif any(row[3] for row in keys):
            definition = "(" + ", ".join(f"{row[2]}{' DESC' if row[3] else ''}" for row in keys) + ")"
        found.append(
            {
                "name": name,
                "unique": unique,
                "column_names": [c for c in columns if c is not None],
                "definition": definition,
            }
        )
    return found


def _sqlite_index_parts(sql: str) -> tuple[str | None, str | None]:
    """The key list (in its parentheses) and the WHERE clause of a CREATE INDEX statement, spaces collapsed."""
    match = re.search(r"\bON\s+(\"[^\"]*\"|`[^`]*`|\[[^\]]*\]|\S+?)\s*\(", sql, re.I | re.S)
    if match is None:
        return None, None
    start = match.end() - 1
    depth = 0
    for end in range(start, len(sql)):
        depth += sql[end] == "("
        depth -= sql[end] == ")"
        if depth == 0:
            break
    keys = _spaces(sql[start : end + 1])
    tail = sql[end + 1 :].strip()
    where = re.match(r"WHERE\s+(.*)$", tail, re.I | re.S)
    return keys, _spaces(where.group(1)) if where else None


def _spaces(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", text))


def reflect_table(inspector: Inspector, name: str, dialect: sa.Dialect) -> TableSchema:
    schema, table = split_key(name) if dialect.name == "postgresql" else (None, name)
    # A copy: SQLAlchemy 1.4's SQLite get_pk_constraint sorts the inspector's cached column list in place.
    raw_columns = list(inspector.get_columns(table, schema=schema))
    if dialect.name == "postgresql" and compat.is_connection(inspector.bind):
        reflected = _reflect_postgresql(inspector.bind, name)
    else:
        reflected = _reflect_with_inspector(inspector, name)
    return table_schema(name, raw_columns, reflected, dialect)


def table_schema(name: str, raw_columns: list[Any], reflected: _Reflected, dialect: sa.Dialect) -> TableSchema:
    """Normalize what reflection found into the schema every check compares."""
    columns = tuple(_column_schema(col, dialect) for col in raw_columns)
    pk = tuple(reflected.pk)
    fks = reflected.foreign_keys
    foreign_keys = frozenset(_foreign_key_texts(fks, dialect.name))
    # A UNIQUE over exactly the primary key's columns adds nothing; PostgreSQL's create_all leaves it out while
    # SQLite and MySQL keep it, so it is left out everywhere: the same schema reads the same on every engine.
    unique_names = {u.get("name") for u in reflected.uniques}
    reflected.uniques = [u for u in reflected.uniques if not pk or set(u["column_names"]) != set(pk)]
    uniques = frozenset(_unique_text(u) for u in reflected.uniques)
    fk_columns = {tuple(fk["constrained_columns"]) for fk in fks}
    indexes, fk_indexes = set(), set()
    parts: dict[str, tuple[str | None, tuple[str, ...]]] = {
        _unique_text(u): (u.get("name"), tuple(u["column_names"])) for u in reflected.uniques
    }
    for fk, text in zip(fks, _foreign_key_texts(fks, dialect.name), strict=True):
        parts[text] = (fk.get("name"), tuple(fk["constrained_columns"]))
    for index in reflected.indexes:
        cols = tuple(str(c) for c in index.get("column_names") or () if c is not None) or tuple(
            str(e) for e in index.get("expressions") or ()
        )
        if index.get("duplicates_constraint"):
            continue
        if (
            dialect.name in ("mysql", "mariadb")
            and index.get("unique")
            and (index["name"] in unique_names or "(" + ", ".join(cols) + ")" in uniques)
        ):
            continue  # MySQL lists a unique key both as a constraint and as an index: compared as the constraint
        text = f"{'unique ' if index.get('unique') else ''}index {index['name']} on {_index_definition(index, cols)}"
        parts[text] = (index["name"], cols)
        if dialect.name in ("mysql", "mariadb") and not index.get("unique") and cols in fk_columns:
            # MySQL adds an index for a foreign key that has none, named after the constraint or its first
            # column; a table rebuild (batch mode, copy and rename) can leave it under another name. Any
            # plain index over exactly a foreign key's columns is kept aside, by name, not compared.
            fk_indexes.add(text)
            continue
        indexes.add(text)
    checks = frozenset(_sqltext(c["sqltext"]) for c in reflected.checks)
    return TableSchema(
        name=name,
        columns=columns,
        primary_key=pk,
        foreign_keys=foreign_keys,
        unique=uniques,
        indexes=frozenset(indexes),
        checks=checks,
        fk_indexes=frozenset(fk_indexes),
        parts=parts,
        types={col["name"]: col["type"] for col in raw_columns},
        generated=frozenset(
            col["name"] for col in raw_columns if col.get("computed") or (col.get("identity") or {}).get("always")
        ),
        check_texts=tuple(str(c["sqltext"]) for c in reflected.checks),
        links=tuple(
            (tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"])) for fk in fks
        ),
    )


def _unique_text(unique: dict[str, Any]) -> str:
    return str(unique.get("definition") or "(" + ", ".join(unique["column_names"]) + ")")


def _index_definition(index: dict[str, Any], cols: tuple[str, ...]) -> str:
    """An index's keys and what else makes it (WHERE, method, INCLUDE, prefix lengths), as the database writes them."""
    if index.get("definition"):
        return str(index["definition"])
    options = index.get("dialect_options") or {}
    lengths = options.get("mysql_length") or {}
    if isinstance(lengths, int):  # one length for a one-column index
        lengths = {cols[0]: lengths} if cols else {}
    keys = ", ".join(f"{c}({lengths[c]})" if c in lengths else c for c in cols)
    kind = options.get("mysql_prefix")  # FULLTEXT, SPATIAL
    return f"({keys})" + (f" {kind}" if kind else "")


def _column_schema(col: dict[str, Any], dialect: sa.Dialect) -> ColumnSchema:
    type_text = normalize_type(col["type"], dialect)
    if col.get("autoincrement") is True and col.get("default") is None:
        default = None
    else:
        default = normalize_boolean_default(normalize_default(col.get("default")), type_text, dialect.name)
    return ColumnSchema(name=col["name"], type=type_text, nullable=bool(col["nullable"]), default=default)


def _foreign_key_texts(fks: list[dict[str, Any]], dialect_name: str) -> list[str]:
    return [
        "({}) -> {}({}){}{}".format(
            ", ".join(fk["constrained_columns"]),
            fk["referred_table"],
            ", ".join(fk["referred_columns"]),
            _fk_action("ON DELETE", fk.get("options", {}).get("ondelete"), dialect_name),
            _fk_action("ON UPDATE", fk.get("options", {}).get("onupdate"), dialect_name),
        )
        for fk in fks
    ]


def _fk_action(label: str, value: str | None, dialect_name: str) -> str:
    """The action as text, or "" for the default. RESTRICT is the default on MySQL/MariaDB (InnoDB checks
    both at once); PostgreSQL and SQLite check NO ACTION at the end of the statement, RESTRICT at once."""
    default = ("NO ACTION", "RESTRICT") if dialect_name in ("mysql", "mariadb") else ("NO ACTION",)
    if not value or value.upper() in default:
        return ""
    return f" {label} {value.upper()}"
