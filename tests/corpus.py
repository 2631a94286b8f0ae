"""A corpus of random but realistic Alembic histories, for differential tests against plain Alembic.

    generate(seed, engine) -> (revision files for write_project, models source for write_project)

One seeded RNG draws a linear history of 3 to 8 revisions, "0001", "0002", ...: the ops autogenerate
writes (create_table with foreign keys to earlier tables, add_column nullable or NOT NULL with a
server default, drop_column, create_index / drop_index, drop_table, renames through alter_column),
data migrations through op.execute and through an ORM Session on op.get_bind() (with and without
commit), "create the table only if it is missing" checks through a connection of their own, and, at
a chosen rate, downgrades that are broken as real ones are (raise NotImplementedError, `pass`, one
column dropped too many, a column dropped that does not exist).

The history's structure depends on the seed alone, so a seed is the same history on every engine;
the engine only picks how some ops are spelled (SQLite always gets batch mode for alter and drop
column, the servers sometimes plain op.drop_column / op.alter_column). Most histories upgrade on an
empty database on every engine; a few do not (an added NOT NULL column without a default), which is
a fact to compare too. models.py follows head.
"""

from __future__ import annotations

import random
import textwrap
from dataclasses import dataclass, field

from conftest import revision

TABLES = [
    "customers",
    "products",
    "orders",
    "invoices",
    "suppliers",
    "shipments",
    "payments",
    "reviews",
    "coupons",
    "employees",
    "projects",
    "tickets",
]
WORDS = {
    "str": ["name", "title", "code", "email", "note", "status", "label", "slug", "city", "phone"],
    "int": ["qty", "score", "amount", "weight", "votes", "stock", "age", "hits"],
    "bool": ["active", "archived", "flagged", "visible", "verified", "paid"],
}
VALUES = {"str": ["n/a", "todo", "x", "legacy", "migrated"], "int": ["0", "1", "7"], "bool": ["TRUE", "FALSE"]}
BROKEN_KINDS = ("raise", "pass", "too_many", "missing")
BROKEN_RATE = 0.15  # per revision: the chance its downgrade is broken


@dataclass
class Col:
    name: str
    kind: str  # str, int, bool
    length: int = 0
    nullable: bool = True
    default: str | None = None  # the server default's Python source, e.g. 'sa.text("0")'
    fk: str | None = None  # the table it refers to (by its id)

    def type_src(self) -> str:
        return {"str": f"sa.String(length={self.length})", "int": "sa.Integer()", "bool": "sa.Boolean()"}[self.kind]

    def src(self) -> str:
        default = f", server_default={self.default}" if self.default else ""
        return f'sa.Column("{self.name}", {self.type_src()}{default}, nullable={self.nullable})'

    def existing(self) -> str:
        """The existing_* keywords alter_column needs (MySQL's CHANGE COLUMN restates the whole column)."""
        default = f", existing_server_default={self.default}" if self.default else ""
        return f"existing_type={self.type_src()}, existing_nullable={self.nullable}{default}"


@dataclass
class Table:
    name: str
    cols: list[Col] = field(default_factory=list)  # after the integer primary key "id"
    indexes: dict[str, tuple[str, bool]] = field(default_factory=dict)  # name -> (column, unique)

    def col(self, name: str) -> Col:
        return next(c for c in self.cols if c.name == name)

    def indexed(self, name: str) -> bool:
        return any(column == name for column, _unique in self.indexes.values())

    def plain_cols(self) -> list[Col]:
        """Columns that can be renamed, dropped or updated without touching a key or an index."""
        return [c for c in self.cols if c.fk is None and not self.indexed(c.name)]

    def create_src(self) -> str:
        lines = [f'op.create_table(\n    "{self.name}",', '    sa.Column("id", sa.Integer(), nullable=False),']
        lines += [f"    {c.src()}," for c in self.cols]
        lines += [f'    sa.ForeignKeyConstraint(["{c.name}"], ["{c.fk}.id"]),' for c in self.cols if c.fk]
        lines += ['    sa.PrimaryKeyConstraint("id"),', ")"]
        lines += [self.create_index_src(name) for name in self.indexes]
        return "\n".join(lines)

    def create_index_src(self, name: str) -> str:
        column, unique = self.indexes[name]
        return f'op.create_index(op.f("{name}"), "{self.name}", ["{column}"], unique={unique})'

    def drop_index_src(self, name: str) -> str:
        return f'op.drop_index(op.f("{name}"), table_name="{self.name}")'

    def drop_src(self) -> str:
        return "\n".join([*(self.drop_index_src(n) for n in reversed(self.indexes)), f'op.drop_table("{self.name}")'])

    def model_src(self) -> str:
        var = f"t_{self.name}"
        cols = ['    sa.Column("id", sa.Integer(), primary_key=True),']
        for c in self.cols:
            fk = f', sa.ForeignKey("{c.fk}.id")' if c.fk else ""
            default = f", server_default={c.default}" if c.default else ""
            cols.append(f'    sa.Column("{c.name}", {c.type_src()}{fk}{default}, nullable={c.nullable}),')
        text = f'{var} = sa.Table(\n    "{self.name}",\n    metadata,\n' + "\n".join(cols) + "\n)\n"
        for name, (column, unique) in self.indexes.items():
            text += f'sa.Index("{name}", {var}.c.{column}, unique={unique})\n'
        return text


def _batch(table: str, body: list[str]) -> str:
    return f'with op.batch_alter_table("{table}", schema=None) as batch_op:\n' + textwrap.indent(
        "\n".join(body), "    "
    )


class Generator:
    def __init__(self, seed: int, engine: str) -> None:
        self.rng = random.Random(seed)
        self.engine = engine
        self.tables: dict[str, Table] = {}
        self.used_tables: set[str] = set()

    # ------------------------------------------------------------ helpers

    def batch_or_plain(self, table: str, batch_lines: list[str], plain_lines: list[str]) -> str:
        """Batch mode as autogenerate's render_as_batch writes it; on a server, now and then the plain ops."""
        plain = self.rng.random() < 0.35  # drawn on every engine, so the history's structure is the same
        if plain and self.engine != "sqlite":
            return "\n".join(plain_lines)
        return _batch(table, batch_lines)

    def new_col(self, table: Table, *, fk_ok: bool = False, not_null_without_default: float = 0.0) -> Col:
        rng = self.rng
        if fk_ok:
            parents = [t for t in self.tables if t != table.name and f"{t}_id" not in {c.name for c in table.cols}]
            if parents and rng.random() < 0.4:
                parent = rng.choice(parents)
                return Col(f"{parent}_id", "int", nullable=True, fk=parent)
        kind = rng.choice(["str", "str", "int", "bool"])
        taken = {c.name for c in table.cols}
        free = [w for w in WORDS[kind] if w not in taken] or [f"{kind}_{len(table.cols)}"]
        col = Col(rng.choice(free), kind, length=rng.choice([20, 40, 80, 120]) if kind == "str" else 0)
        roll = rng.random()
        if roll < not_null_without_default:
            col.nullable = False
        elif roll < 0.45:
            col.nullable = False
            col.default = {"str": f'"{rng.choice(VALUES["str"])}"', "int": 'sa.text("0")'}.get(
                kind, rng.choice(["sa.false()", "sa.true()"])
            )
        return col

    def value(self, col: Col) -> str:
        text = self.rng.choice(VALUES[col.kind])
        return f"'{text[: col.length]}'" if col.kind == "str" else text

    def fresh_table_name(self) -> str | None:
        free = [t for t in TABLES if t not in self.used_tables]
        return self.rng.choice(free) if free else None

    def referenced(self, name: str) -> bool:
        return any(c.fk == name for t in self.tables.values() for c in t.cols)

    # ------------------------------------------------------------ the changes one revision makes

    def create_table(self) -> tuple[str, str, str]:
        name = self.fresh_table_name()
        assert name is not None
        table = Table(name)
        for _ in range(self.rng.randint(1, 4)):
            table.cols.append(self.new_col(table, fk_ok=True))
        for col in table.cols:
            if col.fk is None and self.rng.random() < 0.25:
                table.indexes[f"ix_{name}_{col.name}"] = (col.name, col.nullable and self.rng.random() < 0.3)
        up = table.create_src()
        if self.rng.random() < 0.25:  # "create it only if it is missing", looking through a connection of its own
            up = (
                "inspector = sa.inspect(op.get_bind().engine)\n"
                f'if not inspector.has_table("{name}"):\n' + textwrap.indent(up, "    ")
            )
        self.tables[name] = table
        self.used_tables.add(name)
        return up, table.drop_src(), f"create {name}"

    def add_column(self, table: Table) -> tuple[str, str, str]:
        rng = self.rng
        col = self.new_col(table, not_null_without_default=0.06)
        index = f"ix_{table.name}_{col.name}" if rng.random() < 0.2 else None
        backfill = col.nullable and col.fk is None and index is None and rng.random() < 0.25
        if backfill:  # add it nullable, fill it, then make it NOT NULL: the three steps written by hand
            up = "\n".join(
                [
                    f'op.add_column("{table.name}", {col.src()})',
                    f'op.execute("UPDATE {table.name} SET {col.name} = {self.value(col)}")',
                    _batch(table.name, [f'batch_op.alter_column("{col.name}", {col.existing()}, nullable=False)']),
                ]
            )
            col.nullable = False
        elif rng.random() < 0.5:
            up = f'op.add_column("{table.name}", {col.src()})'
            if index:
                up += f'\nop.create_index(op.f("{index}"), "{table.name}", ["{col.name}"], unique=False)'
        else:
            lines = [f"batch_op.add_column({col.src()})"]
            if index:
                lines.append(f'batch_op.create_index(batch_op.f("{index}"), ["{col.name}"], unique=False)')
            up = _batch(table.name, lines)
        down_batch = ([f'batch_op.drop_index(batch_op.f("{index}"))'] if index else []) + [
            f'batch_op.drop_column("{col.name}")'
        ]
        down_plain = ([f'op.drop_index(op.f("{index}"), table_name="{table.name}")'] if index else []) + [
            f'op.drop_column("{table.name}", "{col.name}")'
        ]
        down = self.batch_or_plain(table.name, down_batch, down_plain)
        table.cols.append(col)
        if index:
            table.indexes[index] = (col.name, False)
        return up, down, f"add {table.name}.{col.name}"

    def drop_column(self, table: Table) -> tuple[str, str, str] | None:
        cols = table.plain_cols()
        if not cols or len(table.cols) < 2:
            return None
        col = self.rng.choice(cols)
        up = self.batch_or_plain(
            table.name, [f'batch_op.drop_column("{col.name}")'], [f'op.drop_column("{table.name}", "{col.name}")']
        )
        down = _batch(table.name, [f"batch_op.add_column({col.src()})"])
        table.cols.remove(col)
        return up, down, f"drop {table.name}.{col.name}"

    def rename_column(self, table: Table) -> tuple[str, str, str] | None:
        cols = table.plain_cols()
        if not cols:
            return None
        col = self.rng.choice(cols)
        taken = {c.name for c in table.cols}
        free = [w for w in WORDS[col.kind] if w not in taken] or [f"{col.name}_2"]
        new = self.rng.choice(free)
        old = col.name

        def alter(a: str, b: str) -> tuple[list[str], list[str]]:
            return (
                [f'batch_op.alter_column("{a}", new_column_name="{b}", {col.existing()})'],
                [f'op.alter_column("{table.name}", "{a}", new_column_name="{b}", {col.existing()})'],
            )

        up = self.batch_or_plain(table.name, *alter(old, new))
        down = self.batch_or_plain(table.name, *alter(new, old))
        col.name = new
        return up, down, f"rename {table.name}.{old} to {new}"

    def create_index(self, table: Table) -> tuple[str, str, str] | None:
        cols = [c for c in table.cols if c.fk is None and not table.indexed(c.name)]
        if not cols:
            return None
        col = self.rng.choice(cols)
        name = f"ix_{table.name}_{col.name}"
        table.indexes[name] = (col.name, False)
        return table.create_index_src(name), table.drop_index_src(name), f"index {table.name}.{col.name}"

    def drop_index(self, table: Table) -> tuple[str, str, str] | None:
        if not table.indexes:
            return None
        name = self.rng.choice(sorted(table.indexes))
        up, down = table.drop_index_src(name), table.create_index_src(name)
        del table.indexes[name]
        return up, down, f"drop {name}"

    def drop_table(self) -> tuple[str, str, str] | None:
        candidates = [t for t in self.tables if not self.referenced(t)]
        if len(self.tables) < 2 or not candidates:
            return None
        table = self.tables.pop(self.rng.choice(sorted(candidates)))
        return table.drop_src(), table.create_src(), f"drop {table.name}"

    def data_migration(self, table: Table) -> tuple[str, str, str] | None:
        """An UPDATE or an INSERT, through op.execute or an ORM Session on op.get_bind()."""
        rng = self.rng
        cols = table.plain_cols()
        if rng.random() < 0.3:  # insert one row: every NOT NULL column without a default gets a value
            needed = [c for c in table.cols if not c.nullable and not c.default]
            marker = next((c for c in cols if c.kind == "str" and c not in needed and c.length >= 8), None)
            if marker is None and not needed:
                fk = next((c for c in table.cols if c.fk), None)
                if fk is None:
                    return None
                needed = [fk]
            names = [c.name for c in needed] + ([marker.name] if marker else [])
            values = [("NULL" if c.fk else self.value(c)) for c in needed] + (["'inserted'"] if marker else [])
            sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join(values)})"
            undo = f"DELETE FROM {table.name} WHERE {marker.name} = 'inserted'" if marker else None
        else:
            if not cols:
                return None
            col = rng.choice(cols)
            where = f" WHERE {col.name} IS NULL" if col.nullable and rng.random() < 0.5 else ""
            sql = f"UPDATE {table.name} SET {col.name} = {self.value(col)}{where}"
            undo = f"UPDATE {table.name} SET {col.name} = NULL" if col.nullable and rng.random() < 0.4 else None
        if rng.random() < 0.35:
            commit = "\n    session.commit()" if rng.random() < 0.5 else ""
            up = (
                "from sqlalchemy import orm\n\n"
                "with orm.Session(bind=op.get_bind()) as session:\n"
                f'    session.execute(sa.text("{sql}")){commit}'
            )
        else:
            up = f'op.execute("{sql}")'
        down = f'op.execute("{undo}")' if undo else "pass"
        return up, down, f"data in {table.name}"

    # ------------------------------------------------------------ broken downgrades

    def break_downgrade(self, down: str, parent_tables: dict[str, Table]) -> str:
        kind = self.rng.choice(BROKEN_KINDS)
        others = [(t, c) for t in sorted(parent_tables) for c in parent_tables[t].plain_cols()]
        if kind == "raise":
            return 'raise NotImplementedError("this migration cannot be undone")'
        if kind == "pass" or not parent_tables:
            return "pass"
        if kind == "too_many" and others:
            table, col = self.rng.choice(others)
            return down + "\n" + _batch(table, [f'batch_op.drop_column("{col.name}")'])
        table = self.rng.choice(sorted(parent_tables))
        missing = _batch(table, ['batch_op.drop_column("legacy_flag")'])
        return f"{missing}\n{down}" if self.rng.random() < 0.5 else f"{down}\n{missing}"

    # ------------------------------------------------------------ the history

    def history(self) -> tuple[dict[str, str], str]:
        rng = self.rng
        count = rng.randint(3, 8)
        files: dict[str, str] = {}
        previous: str | None = None
        for number in range(1, count + 1):
            rev = f"{number:04d}"
            parent_tables = {
                n: Table(t.name, [Col(**vars(c)) for c in t.cols], dict(t.indexes)) for n, t in self.tables.items()
            }
            change = None
            while change is None:
                change = self.change(first=not self.tables)
            up, down, message = change
            if self.tables and rng.random() < 0.25:  # a data migration riding along with a schema change
                extra = self.data_migration(self.tables[rng.choice(sorted(self.tables))])
                if extra is not None:
                    up = f"{up}\n{extra[0]}"
                    down = down if extra[1] == "pass" else f"{extra[1]}\n{down}"
            if rng.random() < BROKEN_RATE:
                down = self.break_downgrade(down, parent_tables)
            slug = message.replace(" ", "_").replace(".", "_")
            files[f"{rev}_{slug}"] = revision(rev, previous, up, down, message=message)
            previous = rev
        models = "\n\n".join(table.model_src() for table in self.tables.values())  # in the order created
        return files, models

    def change(self, first: bool) -> tuple[str, str, str] | None:
        rng = self.rng
        if first:
            return self.create_table()
        kind = rng.choices(
            ["create_table", "add_column", "drop_column", "rename", "create_index", "drop_index", "drop_table", "data"],
            weights=[18, 24, 8, 8, 10, 6, 4, 14],
        )[0]
        if kind == "create_table":
            return self.create_table() if self.fresh_table_name() else None
        if kind == "drop_table":
            return self.drop_table()
        table = self.tables[rng.choice(sorted(self.tables))]
        return {
            "add_column": self.add_column,
            "drop_column": self.drop_column,
            "rename": self.rename_column,
            "create_index": self.create_index,
            "drop_index": self.drop_index,
            "data": self.data_migration,
        }[kind](table)


def generate(seed: int, engine: str) -> tuple[dict[str, str], str]:
    """The revision files (name -> text, as write_project takes them) and models.py of history `seed` on `engine`."""
    return Generator(seed, engine).history()


if __name__ == "__main__":  # print one history: python tests/corpus.py SEED [ENGINE]
    import sys

    files, models = generate(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "sqlite")
    for name, text in files.items():
        print(f"# ---- {name}.py\n{text}")
    print(f"# ---- models.py\n{models}")
