"""Write a synthetic but realistic Alembic project of N linear revisions.

    python benchmarks/generate.py N OUTDIR [--seed S]

The project has what `alembic init` gives (alembic.ini, migrations/env.py from
Alembic's generic template, migrations/script.py.mako), a models.py with plain
`sa.MetaData` + `sa.Table` definitions that match head exactly, and a pytest.ini
whose [pytest] section makes OUTDIR the rootdir.

Revisions are drawn deterministically (one seeded RNG, revisions in order, so
the first 50 revisions of a 200-revision project are the 50-revision project):
tables with foreign keys to earlier tables, nullable columns, server-defaulted
NOT NULL columns, indexes, data migrations (op.execute UPDATE ...), renames and
type/default changes through op.batch_alter_table, foreign-key columns added to
existing tables, and now and then a drop of a column added earlier. Every
downgrade undoes its upgrade on SQLite, PostgreSQL and MariaDB/MySQL.

A dropped column takes its values with it, which is real data loss; those
revisions are listed under `migrations_allow_data_loss` in pytest.ini, the way
a project declares a loss it intends.

`--broken K` makes a history nobody ever downgraded: K revisions, spread evenly
(never the first three), get a downgrade that fails, in turn: with `raise
NotImplementedError`, with SQL the database refuses, and after a first statement
that changed the schema (which MySQL cannot undo: the walk must rebuild past it).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import alembic

TEMPLATE_DIR = Path(alembic.__file__).parent / "templates" / "generic"

TABLE_NOUNS = [
    "customers",
    "products",
    "orders",
    "invoices",
    "suppliers",
    "warehouses",
    "shipments",
    "payments",
    "categories",
    "reviews",
    "coupons",
    "employees",
    "departments",
    "projects",
    "tasks",
    "comments",
    "tickets",
    "accounts",
    "addresses",
    "carts",
    "wishlists",
    "vendors",
    "contracts",
    "campaigns",
    "leads",
    "subscriptions",
    "plans",
    "refunds",
    "returns",
    "stores",
    "regions",
    "teams",
    "devices",
    "sessions",
    "notifications",
    "documents",
    "attachments",
    "tags",
    "events",
    "venues",
    "bookings",
    "rooms",
    "courses",
    "lessons",
    "students",
    "grades",
    "vehicles",
    "drivers",
    "routes",
    "stops",
]

# (base name, kind); kinds map to SQLAlchemy types in `type_code`.
COLUMN_WORDS = {
    "str": [
        "title",
        "label",
        "code",
        "status",
        "email",
        "phone",
        "city",
        "country",
        "reference",
        "slug",
        "color",
        "channel",
        "source",
        "locale",
        "currency",
        "nickname",
        "website",
        "summary",
    ],
    "int": ["quantity", "position", "priority", "rank", "score", "attempts", "capacity", "duration", "version_no"],
    "bool": ["is_active", "is_archived", "is_public", "verified", "featured", "enabled"],
    "dt": ["starts_at", "ends_at", "approved_at", "closed_at", "last_seen_at", "expires_at"],
    "text": ["notes", "description", "body", "remarks"],
    "num": ["amount", "price", "balance", "discount", "weight", "cost"],
}
STRING_LENGTHS = [32, 40, 64, 80, 120]
RENAME_SUFFIXES = ["_old", "_value", "_info", "_text", "_main", "_primary", "_raw"]


def short_name(prefix: str, *parts: str) -> str:
    """A constraint/index name within PostgreSQL's 63 and MySQL's 64 character limits."""
    name = "_".join((prefix, *parts))
    if len(name) <= 60:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[:51]}_{digest}"


def singular(table: str) -> str:
    noun, sep, suffix = table.partition("_")
    if noun.endswith("ies"):
        noun = noun[:-3] + "y"
    elif noun.endswith(("sses", "ches", "shes", "xes")):
        noun = noun[:-2]
    elif noun.endswith("s"):
        noun = noun[:-1]
    return noun + sep + suffix


@dataclass
class Col:
    name: str
    kind: str  # str int bool dt text num pk fk
    length: int | None = None
    nullable: bool = True
    default: str | None = None  # Python source of the server_default, or None
    fk: tuple[str, str, str | None] | None = None  # (parent table, constraint name, ondelete)
    added: bool = False  # added by a later revision (so it may be dropped again)
    touched: bool = False  # indexed, checked or otherwise not to be renamed/dropped

    def type_code(self) -> str:
        return type_code(self.kind, self.length)

    def column_code(self, inline_fk: bool) -> str:
        args = [repr(self.name), self.type_code()]
        if inline_fk and self.fk is not None:
            parent, fk_name, ondelete = self.fk
            extra = f", ondelete={ondelete!r}" if ondelete else ""
            args.append(f"sa.ForeignKey({parent + '.id'!r}, name={fk_name!r}{extra})")
        if self.kind == "pk":
            args.append("primary_key=True")
        else:
            args.append(f"nullable={self.nullable}")
        if self.default is not None:
            args.append(f"server_default={self.default}")
        return f"sa.Column({', '.join(args)})"


def type_code(kind: str, length: int | None) -> str:
    return {
        "pk": "sa.Integer()",
        "fk": "sa.Integer()",
        "int": "sa.Integer()",
        "str": f"sa.String(length={length})",
        "bool": "sa.Boolean()",
        "dt": "sa.DateTime()",
        "text": "sa.Text()",
        "num": "sa.Numeric(precision=10, scale=2)",
    }[kind]


@dataclass
class Index:
    name: str
    columns: list[str]
    unique: bool = False


@dataclass
class Table:
    name: str
    columns: list[Col]
    indexes: list[Index] = field(default_factory=list)
    uniques: list[tuple[str, list[str]]] = field(default_factory=list)
    checks: list[tuple[str, str]] = field(default_factory=list)

    def col(self, name: str) -> Col:
        return next(c for c in self.columns if c.name == name)

    def has(self, name: str) -> bool:
        return any(c.name == name for c in self.columns)


@dataclass
class Revision:
    number: int
    id: str
    down: str | None
    message: str
    upgrade: list[str]
    downgrade: list[str]
    data_loss: bool = False


def indent(lines: list[str], depth: int = 1) -> list[str]:
    pad = "    " * depth
    return [pad + line if line else line for line in lines]


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.tables: dict[str, Table] = {}
        self.revisions: list[Revision] = []
        self.noun_round = 0
        self.noun_pool: list[str] = []

    # ------------------------------------------------------------ helpers

    def new_table_name(self) -> str:
        if not self.noun_pool:
            self.noun_round += 1
            self.noun_pool = list(TABLE_NOUNS)
            self.rng.shuffle(self.noun_pool)
        noun = self.noun_pool.pop()
        return noun if self.noun_round == 1 else f"{noun}_{self.noun_round}"

    def new_column(self, table: Table | None, kind: str) -> str:
        taken = {c.name for c in table.columns} if table else set()
        words = list(COLUMN_WORDS[kind])
        self.rng.shuffle(words)
        for word in words:
            if word not in taken:
                return word
        k = 2
        while True:
            for word in words:
                if f"{word}_{k}" not in taken:
                    return f"{word}_{k}"
            k += 1

    def random_column(self, table: Table | None, *, nullable: bool | None = None) -> Col:
        kind = self.rng.choice(["str", "str", "str", "int", "int", "bool", "dt", "text", "num"])
        name = self.new_column(table, kind)
        length = self.rng.choice(STRING_LENGTHS) if kind == "str" else None
        if nullable is None:
            nullable = self.rng.random() < 0.6
        default = None
        if not nullable:
            if kind in ("text", "dt"):  # no portable constant default for these: keep them nullable
                nullable = True
            else:
                default = {
                    "str": repr(self.rng.choice(["new", "pending", "active", "unknown", "none"])),
                    "int": '"0"',
                    "bool": self.rng.choice(["sa.false()", "sa.true()"]),
                    "num": '"0"',
                }[kind]
        return Col(name=name, kind=kind, length=length, nullable=nullable, default=default)

    def plain_columns(self, table: Table, *kinds: str) -> list[Col]:
        """Columns free of keys, indexes and checks: safe to rename, retype or drop on every engine."""
        return [
            c
            for c in table.columns
            if c.kind not in ("pk", "fk") and not c.touched and (not kinds or c.kind in kinds) and c.name != "name"
        ]

    # -------------------------------------------------------------- kinds

    def create_table(self) -> tuple[str, list[str], list[str]]:
        name = self.new_table_name()
        table = Table(name=name, columns=[Col("id", "pk", nullable=False)])
        table.columns.append(Col("name", "str", length=self.rng.choice([80, 120, 160]), nullable=False))
        for _ in range(self.rng.randint(1, 3)):
            table.columns.append(self.random_column(table))
        table.columns.append(Col("created_at", "dt", nullable=False, default="sa.func.now()", touched=True))
        parents = [t for t in self.tables if t != name]
        for parent in self.rng.sample(parents, min(len(parents), self.rng.choice([0, 1, 1, 1, 2]))):
            column = singular(parent) + "_id"
            if table.has(column):
                continue
            ondelete = "CASCADE" if self.rng.random() < 0.3 else None
            table.columns.append(
                Col(
                    column,
                    "fk",
                    nullable=self.rng.random() < 0.5,
                    fk=(parent, short_name("fk", name, column), ondelete),
                    touched=True,
                )
            )
        ints = [c for c in table.columns if c.kind in ("int", "num")]
        if ints and self.rng.random() < 0.35:
            col = self.rng.choice(ints)
            col.touched = True
            table.checks.append((short_name("ck", name, col.name, "nonneg"), f"{col.name} >= 0"))
        strings = [c for c in table.columns if c.kind == "str" and c.name != "name"]
        if strings and self.rng.random() < 0.25:
            col = self.rng.choice(strings)
            col.touched = True
            table.uniques.append((short_name("uq", name, col.name), [col.name]))
        indexable = [c for c in table.columns if c.kind in ("str", "int", "bool", "dt") and c.name != "created_at"]
        upgrade = ["op.create_table(", f"    {name!r},"]
        for col in table.columns:
            upgrade.append(f"    {col.column_code(inline_fk=False)},")
        for col in table.columns:
            if col.fk is not None:
                parent, fk_name, ondelete = col.fk
                extra = f", ondelete={ondelete!r}" if ondelete else ""
                upgrade.append(
                    f"    sa.ForeignKeyConstraint([{col.name!r}], [{parent + '.id'!r}], name={fk_name!r}{extra}),"
                )
        for ck_name, text in table.checks:
            upgrade.append(f"    sa.CheckConstraint({text!r}, name={ck_name!r}),")
        for uq_name, cols in table.uniques:
            upgrade.append(f"    sa.UniqueConstraint({', '.join(map(repr, cols))}, name={uq_name!r}),")
        upgrade.append(")")
        downgrade = []
        if indexable and self.rng.random() < 0.6:
            col = self.rng.choice(indexable)
            col.touched = True
            index = Index(short_name("ix", name, col.name), [col.name])
            table.indexes.append(index)
            upgrade.append(f"op.create_index({index.name!r}, {name!r}, [{col.name!r}], unique=False)")
            downgrade.append(f"op.drop_index({index.name!r}, table_name={name!r})")
        downgrade.append(f"op.drop_table({name!r})")
        self.tables[name] = table
        return f"create {name} table", upgrade, downgrade

    def add_columns(self, not_null: bool) -> tuple[str, list[str], list[str]] | None:
        table = self.tables[self.rng.choice(list(self.tables))]
        count = 1 if not_null else self.rng.choice([1, 1, 2])
        cols = []
        for _ in range(count):
            col = self.random_column(table, nullable=not not_null)
            col.added = True
            table.columns.append(col)
            cols.append(col)
        upgrade = [f"op.add_column({table.name!r}, {col.column_code(inline_fk=False)})" for col in cols]
        downgrade = [f"with op.batch_alter_table({table.name!r}) as batch_op:"]
        downgrade += [f"    batch_op.drop_column({col.name!r})" for col in reversed(cols)]
        names = " and ".join(c.name for c in cols)
        return f"add {names} to {table.name}", upgrade, downgrade

    def add_index(self) -> tuple[str, list[str], list[str]] | None:
        options = []
        for table in self.tables.values():
            indexed = {tuple(i.columns) for i in table.indexes}
            for col in table.columns:
                if col.kind in ("str", "int", "bool", "dt") and (col.name,) not in indexed and col.fk is None:
                    options.append((table, col))
        if not options:
            return None
        table, col = self.rng.choice(options)
        columns = [col.name]
        partners = [c for c in table.columns if c.kind in ("int", "dt", "bool") and c.name != col.name and c.fk is None]
        if partners and col.kind == "str" and self.rng.random() < 0.3:
            columns.append(self.rng.choice(partners).name)
        for name in columns:
            table.col(name).touched = True
        index = Index(short_name("ix", table.name, *columns), columns)
        table.indexes.append(index)
        cols = ", ".join(map(repr, columns))
        return (
            f"index {table.name} on {', '.join(columns)}",
            [f"op.create_index({index.name!r}, {table.name!r}, [{cols}], unique=False)"],
            [f"op.drop_index({index.name!r}, table_name={table.name!r})"],
        )

    def data_migration(self) -> tuple[str, list[str], list[str]] | None:
        choices = []
        for table in self.tables.values():
            for col in table.columns:
                if col.kind == "str" and col.fk is None:
                    choices.append(("backfill", table, col))
                if col.kind == "int":
                    choices.append(("shift", table, col))
                if col.kind == "str" and col.default is not None:
                    choices.append(("remap", table, col))
        if not choices:
            return None
        how, table, col = self.rng.choice(choices)
        t, c = table.name, col.name
        if how == "backfill":
            name = f"{c}_normalized"
            if table.has(name):
                name = self.new_column(table, "str")
            new = Col(name, "str", length=col.length, nullable=True, added=True)
            table.columns.append(new)
            return (
                f"backfill {t}.{new.name} from {c}",
                [
                    f"op.add_column({t!r}, {new.column_code(inline_fk=False)})",
                    f'op.execute("UPDATE {t} SET {new.name} = LOWER({c})")',
                ],
                [
                    f"with op.batch_alter_table({t!r}) as batch_op:",
                    f"    batch_op.drop_column({new.name!r})",
                ],
            )
        if how == "shift":
            step = self.rng.choice([1, 10, 100])
            return (
                f"renumber {t}.{c}",
                [f'op.execute("UPDATE {t} SET {c} = {c} + {step}")'],
                [f'op.execute("UPDATE {t} SET {c} = {c} - {step}")'],
            )
        old, new_value = self.rng.choice([("legacy", "archived"), ("trial", "basic"), ("draft", "pending")])
        return (
            f"rename {t}.{c} value {old} to {new_value}",
            [f"op.execute(\"UPDATE {t} SET {c} = '{new_value}' WHERE {c} = '{old}'\")"],
            [f"op.execute(\"UPDATE {t} SET {c} = '{old}' WHERE {c} = '{new_value}'\")"],
        )

    def alter_column(self) -> tuple[str, list[str], list[str]] | None:
        choices = []
        for table in self.tables.values():
            for col in self.plain_columns(table):
                choices.append(("rename", table, col))
                if col.kind == "str" and (col.length or 0) < 255:
                    choices.append(("widen", table, col))
                if col.default is not None and col.kind in ("str", "int"):
                    choices.append(("default", table, col))
        if not choices:
            return None
        how, table, col = self.rng.choice(choices)
        t = table.name
        existing = f"existing_type={col.type_code()}, existing_nullable={col.nullable}" + (
            f", existing_server_default={col.default}" if col.default is not None else ""
        )
        if how == "rename":
            new_name = col.name + self.rng.choice(RENAME_SUFFIXES)
            while table.has(new_name):
                new_name += "_x"
            old_name = col.name
            col.name = new_name
            return (
                f"rename {t}.{old_name} to {new_name}",
                [
                    f"with op.batch_alter_table({t!r}) as batch_op:",
                    f"    batch_op.alter_column({old_name!r}, new_column_name={new_name!r}, {existing})",
                ],
                [
                    f"with op.batch_alter_table({t!r}) as batch_op:",
                    f"    batch_op.alter_column({new_name!r}, new_column_name={old_name!r}, {existing})",
                ],
            )
        if how == "widen":
            old_type, old_length = col.type_code(), col.length
            col.length = self.rng.choice([n for n in (120, 160, 200, 255) if n > (col.length or 0)])
            new_existing = existing.replace(old_type, col.type_code())
            return (
                f"widen {t}.{col.name} to {col.length} characters",
                [
                    f"with op.batch_alter_table({t!r}) as batch_op:",
                    f"    batch_op.alter_column({col.name!r}, type_={col.type_code()}, {existing})",
                ],
                [
                    # Values written since the upgrade may be longer: shortened first, as a careful downgrade does.
                    f'op.execute("UPDATE {t} SET {col.name} = substr({col.name}, 1, {old_length})")',
                    f"with op.batch_alter_table({t!r}) as batch_op:",
                    f"    batch_op.alter_column({col.name!r}, type_={old_type}, {new_existing})",
                ],
            )
        old_default = col.default
        assert old_default is not None
        if col.kind == "int":
            col.default = self.rng.choice(['"1"', '"5"', '"10"', '"100"'])
        else:
            col.default = repr(self.rng.choice(["open", "queued", "fresh", "default"]))
        if col.default == old_default:
            col.default = '"2"' if col.kind == "int" else "'other'"
        new_existing = existing.replace(
            f"existing_server_default={old_default}", f"existing_server_default={col.default}"
        )
        return (
            f"change default of {t}.{col.name}",
            [
                f"with op.batch_alter_table({t!r}) as batch_op:",
                f"    batch_op.alter_column({col.name!r}, server_default={col.default}, {existing})",
            ],
            [
                f"with op.batch_alter_table({t!r}) as batch_op:",
                f"    batch_op.alter_column({col.name!r}, server_default={old_default}, {new_existing})",
            ],
        )

    def add_foreign_key(self) -> tuple[str, list[str], list[str]] | None:
        names = list(self.tables)
        if len(names) < 2:
            return None
        child = self.tables[self.rng.choice(names)]
        parent = self.rng.choice([n for n in names if n != child.name])
        column = f"{parent}_ref_id"
        if child.has(column):
            return None
        fk_name = short_name("fk", child.name, column)
        col = Col(column, "fk", nullable=True, fk=(parent, fk_name, None), added=True, touched=True)
        child.columns.append(col)
        return (
            f"link {child.name} to {parent}",
            [
                f"with op.batch_alter_table({child.name!r}) as batch_op:",
                f"    batch_op.add_column({col.column_code(inline_fk=False)})",
                f"    batch_op.create_foreign_key({fk_name!r}, {parent!r}, [{column!r}], ['id'])",
            ],
            [
                f"with op.batch_alter_table({child.name!r}) as batch_op:",
                f"    batch_op.drop_constraint({fk_name!r}, type_='foreignkey')",
                f"    batch_op.drop_column({column!r})",
            ],
        )

    def drop_column(self) -> tuple[str, list[str], list[str]] | None:
        choices = [(t, c) for t in self.tables.values() for c in self.plain_columns(t) if c.added]
        if not choices:
            return None
        table, col = self.rng.choice(choices)
        table.columns.remove(col)
        return (
            f"drop {table.name}.{col.name}",
            [
                f"with op.batch_alter_table({table.name!r}) as batch_op:",
                f"    batch_op.drop_column({col.name!r})",
            ],
            [
                f"with op.batch_alter_table({table.name!r}) as batch_op:",
                f"    batch_op.add_column({col.column_code(inline_fk=False)})",
            ],
        )

    # ------------------------------------------------------------ driving

    KINDS = (
        ("create_table", 22),
        ("add_nullable", 14),
        ("add_not_null", 12),
        ("add_index", 10),
        ("data", 12),
        ("alter", 14),
        ("foreign_key", 8),
        ("drop", 5),
    )

    def step(self, number: int) -> Revision:
        if number < 3:
            kind = "create_table"
        else:
            kind = self.rng.choices([k for k, _ in self.KINDS], [w for _, w in self.KINDS])[0]
        result = {
            "create_table": lambda: None,
            "add_nullable": lambda: self.add_columns(not_null=False),
            "add_not_null": lambda: self.add_columns(not_null=True),
            "add_index": self.add_index,
            "data": self.data_migration,
            "alter": self.alter_column,
            "foreign_key": self.add_foreign_key,
            "drop": self.drop_column,
        }[kind]()
        if result is None:
            kind = "create_table"
            result = self.create_table()
        message, upgrade, downgrade = result
        rev_id = hashlib.sha1(f"benchmark revision {number}".encode()).hexdigest()[:12]
        down = self.revisions[-1].id if self.revisions else None
        revision = Revision(number, rev_id, down, message, upgrade, downgrade, data_loss=kind == "drop")
        self.revisions.append(revision)
        return revision

    def generate(self, count: int) -> None:
        for number in range(count):
            self.step(number)


# ------------------------------------------------------------------ output

REVISION_TEMPLATE = '''"""{message}

Revision ID: {rev}
Revises: {down}
Create Date: {date}

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = {rev!r}
down_revision: str | Sequence[str] | None = {down_repr}
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
{upgrade}


def downgrade() -> None:
    """Downgrade schema."""
{downgrade}
'''

ALEMBIC_INI = """\
# A generic, single database configuration (generated by benchmarks/generate.py).

[alembic]
script_location = %(here)s/migrations
prepend_sys_path = .
path_separator = os
sqlalchemy.url = sqlite:///%(here)s/app.db

[post_write_hooks]

[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
datefmt = %H:%M:%S
"""


def slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text.lower()).strip("_")[:40]


def render_models(gen: Generator) -> str:
    out = [
        '"""The application\'s tables: what the migrations in migrations/versions build at head."""',
        "",
        "import sqlalchemy as sa",
        "",
        "metadata = sa.MetaData()",
        "",
    ]
    for table in gen.tables.values():
        out.append(f"{table.name} = sa.Table(")
        out.append(f"    {table.name!r},")
        out.append("    metadata,")
        for col in table.columns:
            out.append(f"    {col.column_code(inline_fk=True)},")
        for ck_name, text in table.checks:
            out.append(f"    sa.CheckConstraint({text!r}, name={ck_name!r}),")
        for uq_name, cols in table.uniques:
            out.append(f"    sa.UniqueConstraint({', '.join(map(repr, cols))}, name={uq_name!r}),")
        for index in table.indexes:
            out.append(
                f"    sa.Index({index.name!r}, {', '.join(map(repr, index.columns))}"
                + (", unique=True" if index.unique else "")
                + "),"
            )
        out.append(")")
        out.append("")
    return "\n".join(out)


def render_env() -> str:
    text = (TEMPLATE_DIR / "env.py").read_text()
    old = "target_metadata = None\n"
    if old not in text:
        raise SystemExit(f"unexpected generic env.py template in {TEMPLATE_DIR}")
    return text.replace(old, "from models import metadata  # noqa: E402\n\ntarget_metadata = metadata\n", 1)


BROKEN_DOWNGRADES = (
    ['raise NotImplementedError("this downgrade was never written")'],
    ['op.execute("DELETE FROM table_that_never_existed")'],
    [
        'op.create_table("half_done_{number}", sa.Column("id", sa.Integer(), primary_key=True))',
        'op.execute("DELETE FROM table_that_never_existed")',
    ],
)


def break_downgrades(gen: Generator, broken: int) -> None:
    """Replace the downgrades of `broken` revisions, spread evenly past the first three, with failing ones."""
    candidates = gen.revisions[3:]
    if broken > len(candidates):
        raise SystemExit(f"--broken {broken}: only {len(candidates)} revisions can be broken")
    for number in range(broken):
        revision = candidates[number * len(candidates) // broken]
        revision.downgrade = [line.format(number=number) for line in BROKEN_DOWNGRADES[number % 3]]


def write_project(count: int, outdir: Path, seed: int = 2024, broken: int = 0) -> Generator:
    gen = Generator(seed)
    gen.generate(count)
    break_downgrades(gen, broken)
    if outdir.exists():
        shutil.rmtree(outdir)
    versions = outdir / "migrations" / "versions"
    versions.mkdir(parents=True)
    (outdir / "alembic.ini").write_text(ALEMBIC_INI)
    (outdir / "migrations" / "env.py").write_text(render_env())
    shutil.copy(TEMPLATE_DIR / "script.py.mako", outdir / "migrations" / "script.py.mako")
    (outdir / "migrations" / "README").write_text("Generic single-database configuration.\n")
    (outdir / "models.py").write_text(render_models(gen))
    lossy = [rev.id for rev in gen.revisions if rev.data_loss]
    ini = [
        "[pytest]",
        "# Generated by benchmarks/generate.py; this file makes the project directory the rootdir.",
    ]
    if lossy:
        ini.append("# These revisions drop a column that holds data: the loss is intended.")
        ini.append("migrations_allow_data_loss =")
        ini += [f"    {rev}" for rev in lossy]
    (outdir / "pytest.ini").write_text("\n".join(ini) + "\n")
    start = datetime(2024, 1, 1, 9, 0, 0)
    for rev in gen.revisions:
        text = REVISION_TEMPLATE.format(
            message=rev.message,
            rev=rev.id,
            down=rev.down or "",
            down_repr=repr(rev.down),
            date=(start + timedelta(days=rev.number)).isoformat(sep=" "),
            upgrade="\n".join(indent(rev.upgrade)),
            downgrade="\n".join(indent(rev.downgrade)),
        )
        (versions / f"{rev.number + 1:04d}_{rev.id}_{slug(rev.message)}.py").write_text(text)
    return gen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, help="number of revisions")
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--broken", type=int, default=0, help="revisions whose downgrade fails")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("N must be at least 1")
    gen = write_project(args.count, args.outdir.resolve(), args.seed, args.broken)
    kinds: dict[str, int] = {}
    for rev in gen.revisions:
        word = rev.message.split()[0]
        kinds[word] = kinds.get(word, 0) + 1
    summary = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
    print(f"wrote {args.count} revisions, {len(gen.tables)} tables to {args.outdir} ({summary})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
