"""Hints that read the history, not only the error: what the revisions around a failure did.

Each returns one line for the failure message, or None when the evidence is not there: a hint that
does not fit the case leads the user astray (a server_default for a rename loses the values).
"""

from __future__ import annotations

import re
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from pytest_migrations.project import Project

_ENUM_VALUES = re.compile(r"^enum type (\S+): values \(.*\) after .*, \(.*\) before$")


def left_behind_hint(rev: str, left_behind: list[str] | tuple[str, ...]) -> list[str]:
    """Why the upgrade run again after its downgrade failed, from what the downgrade left (diff lines).

    Empty when what was left is not something the upgrade makes again (a nullability, a type): the
    failure's other hints then apply.
    """
    values = [m.group(1) for m in map(_ENUM_VALUES.match, left_behind) if m]
    if values:
        name = values[0]
        return [
            f"The downgrade of {rev} leaves the values its upgrade adds to the enum type {name}, so the upgrade's "
            f"ALTER TYPE {name} ADD VALUE fails the second time: write ADD VALUE IF NOT EXISTS, or a downgrade that "
            "recreates the type without them (PostgreSQL cannot drop a value from an enum type)."
        ]
    present = [line for line in left_behind if line.endswith(", absent before")]  # there now, not before
    if not present:
        return []
    lines = [f"The downgrade of {rev} left behind what its upgrade creates again (listed above)."]
    if any(line.startswith("enum type ") for line in present):
        lines.append(
            "On PostgreSQL, drop_table does not drop the enum types its columns use: drop them in the "
            'downgrade too, e.g. sa.Enum(name="...").drop(op.get_bind()).'
        )
    return lines


def _source(project: Project, rev: str) -> str:
    path = project.script.get_revision(rev).path
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _upgrade_source(text: str) -> str:
    """The text of a revision's upgrade() (up to the next top-level def)."""
    found = re.search(r"^def upgrade\(.*?(?=^def |\Z)", text, re.S | re.M)
    return found.group(0) if found else ""


_ADDED_COLUMN = re.compile(r'ALTER\s+TABLE\s+["`]?([\w.]+)["`]?\s+ADD\s+(?:COLUMN\s+)?["`]?(\w+)', re.I)


def rename_hint(project: Project, rev: str, statement: str | None) -> str | None:
    """An upgrade that adds a NOT NULL column and drops another of the same table: autogenerate's rename."""
    found = _ADDED_COLUMN.match(statement or "")
    if found is None:
        return None
    table, added = found.group(1).split(".")[-1], found.group(2)
    upgrade = _upgrade_source(_source(project, rev))
    dropped = re.findall(rf"""drop_column\(\s*["']{re.escape(table)}["']\s*,\s*["'](\w+)["']""", upgrade)
    dropped += (
        re.findall(r"""batch_op\.drop_column\(\s*["'](\w+)["']""", upgrade) if "batch_alter_table" in upgrade else []
    )
    dropped = [column for column in dropped if column != added]
    if not dropped:
        return None
    old = dropped[0]
    return (
        f"This upgrade adds {table}.{added} and drops {table}.{old}: if that is a rename (autogenerate writes one "
        f"as add_column + drop_column, which loses every value), write "
        f'op.alter_column("{table}", "{old}", new_column_name="{added}") instead; a server_default would only '
        "fill the new column with a constant."
    )


_MISSING_TABLE = (
    re.compile(r"no such table: (?:main\.)?([\w.]+)"),  # SQLite
    re.compile(r'relation "([\w.]+)" does not exist'),  # PostgreSQL
    re.compile(r"Table '(?:\w+\.)?(\w+)' doesn't exist"),  # MySQL/MariaDB
)


def missing_table_hint(project: Project, rev: str, message: str) -> str | None:
    """An upgrade that uses a table no revision of the history creates: the history starts from tables
    made some other way (metadata.create_all, another tool)."""
    for pattern in _MISSING_TABLE:
        found = pattern.search(message)
        if found:
            break
    else:
        return None
    table = found.group(1).split(".")[-1]
    made = re.compile(
        rf"""create_table\(\s*["']{re.escape(table)}["']|CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?["`]?{re.escape(table)}\b""",
        re.I,
    )
    if any(made.search(_source(project, other.id)) for other in project.revisions):
        return None
    return (
        f"No revision of this history creates the table {table}: it starts from tables made another way (by "
        "metadata.create_all, or before the migrations existed). Start the walk from what the model builds with "
        "migrations_start = create_all in the pytest ini, or create those tables in a "
        "pytest_migrations_prepare_database hook in conftest.py."
    )


def second_connection_hint(engine: str, error: BaseException, message: str) -> str | None:
    """The failing statement ran on a connection other than the migration's own (op.get_bind())."""
    failing, migration = _connections(error)
    other = failing is not None and migration is not None and failing is not migration
    locked = engine == "sqlite" and "database is locked" in message
    if not other and not locked:
        return None
    where = "ran on a second connection" if other else "waited on a second connection"
    return (
        f"The statement that failed {where} to the database, not on the migration's own: a revision (or env.py) "
        "opened one (op.get_bind().engine.connect(), a new create_engine(), a Session bound to an engine), and it "
        "does not see what the migration's open transaction has done"
        + (", and SQLite lets only one connection write at a time" if engine == "sqlite" else "")
        + ". Use op.get_bind(), the migration's own connection (Session(bind=op.get_bind()) for the ORM)."
    )


def _connections(error: BaseException) -> tuple[Connection | None, Connection | None]:
    """The connection the failing statement ran on (the innermost in the traceback) and the migration's."""
    failing = migration = None
    tb = error.__traceback__
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self")
        if isinstance(owner, Connection):
            failing = owner
        elif isinstance(owner, MigrationContext) and migration is None:
            migration = owner.connection
        tb = tb.tb_next
    return failing, migration
