"""What a batch of SQL statements can have changed, told from their text: cheap, and safe to over-approximate."""

from __future__ import annotations

import re
from collections.abc import Iterable

from pytest_migrations.schema.snapshot import Snapshot, split_key

# DDL that can change tables it does not name; after it, every table is fingerprinted again.
_REACHES_UNNAMED = re.compile(
    r"^\s*(drop|truncate)\b.*\bcascade\b"  # DROP ... CASCADE takes dependent objects of other tables along
    r"|\b(create|drop|alter)\s+(type|domain|schema|extension|sequence)\b"  # columns of other tables use them
    r"|\b(drop|alter)\s+index\b"  # PostgreSQL names only the index, not its table
    r"|\bcomment\s+on\b",
    re.I | re.S,
)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_ROW_WRITE = re.compile(r"^\s*(insert|update|delete)\b", re.I)
_PLAIN_READ = re.compile(r"^\s*(select|with)\b", re.I)
_CALL_OR_INTO = re.compile(r"\(|\binto\b", re.I)


def touches_rows_only(statement: str) -> bool:
    """One INSERT, UPDATE or DELETE, or a SELECT that calls nothing and creates nothing.

    A function can run DDL (`SELECT create_hypertable(...)`), `SELECT ... INTO` makes a table, and
    a string holding several statements can hold anything: those count as possible schema changes.
    """
    body = statement.strip().rstrip(";")
    if ";" in body:
        return False
    if _ROW_WRITE.match(body):
        return True
    return bool(_PLAIN_READ.match(body)) and not _CALL_OR_INTO.search(body)


# Statements that leave the list of tables, and PostgreSQL's enums, free sequences and schemas, as
# they were: row changes, ALTER TABLE that neither renames the table nor moves it to another
# schema, CREATE INDEX. After only these, a snapshot needs the prints of the tables they name and
# nothing else. Anything else lists everything again.
_ALTERS_IN_PLACE = re.compile(r"^\s*(alter\s+table|create\s+(unique\s+)?index)\b", re.I)
_MOVES_TABLE = re.compile(r"\brename\b(?!\s+(column|index|key|constraint)\b)|\bset\s+schema\b", re.I)


def keeps_table_list(statements: Iterable[str]) -> bool:
    """Whether none of the statements can create, drop, rename or move a table, or touch what `PostgresGlobals` holds."""
    return all(touches_rows_only(statement) or _alters_in_place(statement) for statement in statements)


def _alters_in_place(statement: str) -> bool:
    body = statement.strip().rstrip(";")
    return bool(_ALTERS_IN_PLACE.match(body)) and ";" not in body and not _MOVES_TABLE.search(body)


def tables_named(statements: Iterable[str], tables: Iterable[str]) -> set[str]:
    """The tables a batch of SQL statements names (a word match: over-approximating is safe)."""
    statements = list(statements)
    words = {w.lower() for statement in statements for w in _WORD.findall(statement)}
    text = "\n".join(statements).lower()
    named = set()
    for table in tables:
        name = split_key(table)[1].lower()
        # A name that is not one word (order-items, café) is looked for as it is written.
        if name in words or (not _WORD.fullmatch(name) and name in text):
            named.add(table)
    return named


def tables_to_refingerprint(statements: list[str], previous: Snapshot) -> set[str] | None:
    """Known tables whose schema the statements may have changed, or None if that cannot be told from them.

    A table changes only through statements that name it, or that name a table it refers to
    (renaming a referenced column or table rewrites the foreign key). Tables that did not exist
    before are new, and the caller fingerprints them anyway.
    """
    if any(_REACHES_UNNAMED.search(statement) for statement in statements):
        return None
    named = tables_named(statements, previous.tables)
    children = {t.name for t in previous.tables.values() if any(parent in named for _c, parent, _r in t.links)}
    return named | children
