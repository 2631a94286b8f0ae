"""The data check on a schema with every column type and CHECK form the three engines have.

One "kitchen sink" project per engine: six revisions with integers of every width, numerics,
floats, booleans, strings with CHECKs (LIKE, OR and column-to-column forms among them), native and string-stored enums, dates and times, intervals,
UUIDs, JSON, binary, a composite UNIQUE over two foreign keys, a self-referencing table, each
engine's own types, and a data migration that reads a string-stored enum back through its Enum.
Then whole indexes (partial, expression, covering where the engine has them), a table without a primary
key holding duplicate rows, a JSON-as-TEXT column the model writes through a TypeDecorator and a data
migration reads with json.loads, and a column widened and narrowed back by a downgrade that shortens the
values first. It must pass every check with full data coverage; then a revision that empties every nullable
column must be caught, column by column: a column the generator leaves NULL could not be.
"""

from __future__ import annotations

import json
import textwrap

import pytest
import sqlalchemy as sa

from conftest import assert_checks, item_failure, item_reports, revision

# SQLAlchemy 1.4 has no Uuid type: apps of that line keep UUIDs in CHAR(36) (SQLAlchemy's GUID recipe).
UUID_COLUMN = 'sa.Column("token", sa.Uuid())' if hasattr(sa, "Uuid") else 'sa.Column("token", sa.CHAR(36))'

# (table, column source) per revision, shared by the revisions and the model so that they agree.
ACCOUNT = [
    'sa.Column("id", sa.Integer(), primary_key=True)',
    'sa.Column("name", sa.String(40), nullable=False)',
    'sa.Column("code", sa.String(5))',
    'sa.Column("status", sa.String(10))',
    'sa.Column("state", sa.Enum("draft", "published", name="account_state"))',
    'sa.Column("priority", sa.Enum("low", "high", native_enum=False, name="priority", length=10))',
    'sa.Column("active", sa.Boolean())',
    'sa.Column("small", sa.SmallInteger())',
    'sa.Column("big", sa.BigInteger())',
    'sa.CheckConstraint("length(code) = 5", name="ck_account_code")',
    "sa.CheckConstraint(\"status IN ('new', 'done')\", name=\"ck_account_status\")",
]
MEASUREMENT = [
    'sa.Column("id", sa.Integer(), primary_key=True)',
    'sa.Column("account_id", sa.Integer(), sa.ForeignKey("account.id"), nullable=False)',
    'sa.Column("qty", sa.Integer())',
    'sa.Column("price", sa.Numeric(10, 2))',
    'sa.Column("ratio", sa.Numeric(12, 4))',
    'sa.Column("score", sa.Float())',
    'sa.Column("weight", sa.Float(precision=53))',
    'sa.Column("note", sa.String(12))',
    'sa.Column("email", sa.String(60))',
    'sa.Column("level", sa.Integer())',
    'sa.Column("unit", sa.String(4))',
    'sa.Column("lo", sa.Integer())',
    'sa.Column("max_price", sa.Numeric(10, 2))',
    'sa.Column("min_price", sa.Numeric(10, 2))',
    'sa.Column("first_seen", sa.Integer())',
    'sa.Column("last_seen", sa.Integer())',
    'sa.CheckConstraint("qty BETWEEN 1 AND 50", name="ck_measurement_qty")',
    'sa.CheckConstraint("price > 0 AND price < 1000", name="ck_measurement_price")',
    'sa.CheckConstraint("score >= 0.5", name="ck_measurement_score")',
    'sa.CheckConstraint("note IS NULL OR note LIKE \'N-%\'", name="ck_measurement_note")',
    'sa.CheckConstraint("email LIKE \'%@%.%\'", name="ck_measurement_email")',
    'sa.CheckConstraint("level IS NULL OR (level > 10 AND level < 20)", name="ck_measurement_level")',
    "sa.CheckConstraint(\"unit IN ('kg', 'g') OR unit IS NULL\", name=\"ck_measurement_unit\")",
    'sa.CheckConstraint("lo <= -3 OR lo >= 3", name="ck_measurement_lo")',
    'sa.CheckConstraint("min_price < max_price", name="ck_measurement_prices")',
    'sa.CheckConstraint("first_seen < last_seen", name="ck_measurement_seen")',
]
ACCOUNT_LATER = [  # added to account by the third revision
    'sa.Column("born", sa.Date())',
    'sa.Column("wakes", sa.Time())',
    'sa.Column("seen", sa.DateTime())',
    'sa.Column("seen_tz", sa.DateTime(timezone=True))',
    'sa.Column("span", sa.Interval())',
    UUID_COLUMN,
    'sa.Column("doc", sa.JSON())',
    'sa.Column("blob", sa.LargeBinary())',
]
TEAM = ['sa.Column("id", sa.Integer(), primary_key=True)', 'sa.Column("title", sa.String(30), unique=True)']
MEMBERSHIP = [
    'sa.Column("id", sa.Integer(), primary_key=True)',
    'sa.Column("account_id", sa.Integer(), sa.ForeignKey("account.id"), nullable=False)',
    'sa.Column("team_id", sa.Integer(), sa.ForeignKey("team.id"), nullable=False)',
    'sa.Column("role", sa.String(20))',
    'sa.UniqueConstraint("account_id", "team_id", name="uq_membership")',
]
CATEGORY = [
    'sa.Column("id", sa.Integer(), primary_key=True)',
    'sa.Column("parent_id", sa.Integer(), sa.ForeignKey("category.id"))',
    'sa.Column("label", sa.Text())',
]
EXTRAS = {
    "sqlite": [
        'sa.Column("id", sa.Integer(), primary_key=True)',
        'sa.Column("r", sa.REAL())',
        'sa.Column("n", sa.NUMERIC(8, 3))',
        'sa.Column("c", sa.CHAR(8))',
        'sa.Column("b", sa.BLOB())',
    ],
    "postgresql": [
        'sa.Column("id", sa.Integer(), primary_key=True)',
        'sa.Column("tags", postgresql.ARRAY(sa.Integer()))',
        'sa.Column("meta", postgresql.JSONB())',
        'sa.Column("email", postgresql.CITEXT())',
        'sa.Column("addr", postgresql.INET())',
        'sa.Column("net", postgresql.CIDR())',
        'sa.Column("mac", postgresql.MACADDR())',
        'sa.Column("percent", postgresql.DOMAIN("percent", sa.Integer(), check="VALUE BETWEEN 0 AND 100"))',
        'sa.Column("at_tz", postgresql.TIME(timezone=True))',
        'sa.Column("r", postgresql.REAL())',
        'sa.Column("d", postgresql.DOUBLE_PRECISION())',
        'sa.Column("pause", postgresql.INTERVAL())',
        'sa.Column("bits", postgresql.BIT(4))',
    ],
    "mysql": [
        'sa.Column("id", sa.Integer(), primary_key=True)',
        'sa.Column("y", mysql.YEAR())',
        'sa.Column("tags", mysql.SET("a", "b", "c"))',
        'sa.Column("flags", mysql.BIT(8))',
        'sa.Column("tiny", mysql.TINYINT())',
        'sa.Column("medium", mysql.MEDIUMINT())',
        'sa.Column("d", mysql.DOUBLE())',
        'sa.Column("lt", mysql.LONGTEXT())',
        'sa.Column("vb", mysql.VARBINARY(16))',
        'sa.Column("meta", sa.JSON())',
    ],
}
if not hasattr(sa, "Uuid"):  # SQLAlchemy 1.4's PostgreSQL dialect has no CITEXT or DOMAIN types to write them with
    EXTRAS["postgresql"] = [c for c in EXTRAS["postgresql"] if "CITEXT" not in c and "DOMAIN" not in c]
NOT_NULL = {("account", "name"), ("measurement", "account_id"), ("membership", "account_id"), ("membership", "team_id")}
NOT_NULL |= {("event", "payload")}
# (table, op.create_index arguments, the model's sa.Index) per engine: what each engine's indexes can say.
_PARTIAL = (
    "account",
    '"ix_account_live_name", "account", ["name"], postgresql_where=sa.text("active"), sqlite_where=sa.text("active")',
    'sa.Index("ix_account_live_name", "name", postgresql_where=sa.text("active"), sqlite_where=sa.text("active"))',
)
_EXPRESSION = (
    "account",
    '"ix_account_lower_name", "account", [sa.text("lower(name)")]',
    'sa.Index("ix_account_lower_name", sa.text("lower(name)"))',
)
_COVERING = (
    "measurement",
    '"ix_measurement_cover", "measurement", ["account_id"], postgresql_include=["qty"]',
    'sa.Index("ix_measurement_cover", "account_id", postgresql_include=["qty"])',
)
_PREFIX = (
    "account",
    '"ix_account_name8", "account", ["name"], mysql_length=8',
    'sa.Index("ix_account_name8", "name", mysql_length=8)',
)
INDEXES = {"sqlite": [_PARTIAL, _EXPRESSION], "postgresql": [_PARTIAL, _EXPRESSION, _COVERING], "mysql": [_PREFIX]}
LINK = ['sa.Column("a", sa.Integer())', 'sa.Column("b", sa.String(10))']  # no primary key: rows are a multiset
EVENT = ['sa.Column("id", sa.Integer(), primary_key=True)', 'sa.Column("payload", sa.Text(), nullable=False)']
JSON_TEXT = """import json


class JSONText(sa.TypeDecorator):
    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else json.dumps(value)

    def process_result_value(self, value, dialect):
        return None if value is None else json.loads(value)


"""
R8_UPGRADE = """
import json
op.add_column("event", sa.Column("size", sa.Integer()))
conn = op.get_bind()
for id_, payload in conn.execute(sa.text("SELECT id, payload FROM event")).fetchall():
    size = len(json.loads(payload))  # the application writes only JSON here
    conn.execute(sa.text("UPDATE event SET size = :size WHERE id = :id"), {"size": size, "id": id_})
with op.batch_alter_table("team") as batch_op:
    batch_op.alter_column("title", existing_type=sa.String(30), type_=sa.String(60))
"""
R8_DOWNGRADE = """
op.execute("UPDATE team SET title = substr(title, 1, 30)")  # titles written since may be longer
with op.batch_alter_table("team") as batch_op:
    batch_op.alter_column("title", existing_type=sa.String(60), type_=sa.String(30))
with op.batch_alter_table("event") as batch_op:
    batch_op.drop_column("size")
"""


def _columns(specs: list[str]) -> str:
    return ",\n    ".join(specs)


def _create(table: str, specs: list[str]) -> str:
    return f'op.create_table(\n    "{table}",\n    {_columns(specs)},\n)\n'


def _names(specs: list[str]) -> list[str]:
    return [s.split('"')[1] for s in specs if s.startswith("sa.Column(")]


def kitchen_sink(engine: str) -> tuple[dict[str, str], str]:
    """The revisions and the model of the project on `engine`."""
    pg = engine == "postgresql"
    revisions = {
        "r1": revision(
            "r1",
            None,
            _create("account", ACCOUNT),
            'op.drop_table("account")\n' + ('op.execute("DROP TYPE account_state")\n' if pg else ""),
        ),
        "r2": revision("r2", "r1", _create("measurement", MEASUREMENT), 'op.drop_table("measurement")'),
        "r3": revision(
            "r3",
            "r2",
            "".join(f'op.add_column("account", {spec})\n' for spec in ACCOUNT_LATER),
            'with op.batch_alter_table("account") as batch_op:\n'
            + "".join(f'    batch_op.drop_column("{name}")\n' for name in reversed(_names(ACCOUNT_LATER))),
        ),
        "r4": revision(
            "r4",
            "r3",
            _create("team", TEAM) + _create("membership", MEMBERSHIP) + _create("category", CATEGORY),
            'op.drop_table("category")\nop.drop_table("membership")\nop.drop_table("team")\n',
        ),
        "r5": revision(
            "r5",
            "r4",
            ('op.execute("CREATE EXTENSION IF NOT EXISTS citext")\n' if pg else "") + _create("extras", EXTRAS[engine]),
            'op.drop_table("extras")\n' + ('op.execute("DROP DOMAIN IF EXISTS percent")\n' if pg else ""),
        ),
        # A data migration that reads a string-stored enum back through its Enum: a value outside
        # the Enum's would raise LookupError here.
        "r6": revision(
            "r6",
            "r5",
            """
            op.add_column("account", sa.Column("priority_label", sa.String(10)))
            account = sa.table(
                "account",
                sa.column("id", sa.Integer()),
                sa.column("priority", sa.Enum("low", "high", native_enum=False, name="priority", length=10)),
                sa.column("priority_label", sa.String(10)),
            )
            conn = op.get_bind()
            for id_, priority in conn.execute(sa.select(account.c.id, account.c.priority)).all():
                label = None if priority is None else priority.upper()
                conn.execute(account.update().where(account.c.id == id_).values(priority_label=label))
            """,
            'with op.batch_alter_table("account") as batch_op:\n    batch_op.drop_column("priority_label")',
        ),
    }
    indexes = INDEXES[engine]
    revisions["r7"] = revision(
        "r7",
        "r6",
        "".join(f"op.create_index({spec})\n" for _table, spec, _model in indexes)
        + _create("link", LINK)
        + 'op.bulk_insert(sa.table("link", sa.column("a"), sa.column("b")), [{"a": 1, "b": "x"}] * 3)\n'
        + _create("event", EVENT),
        'op.drop_table("event")\nop.drop_table("link")\n'
        + "".join(f'op.drop_index({spec.split(",")[0]}, table_name="{table}")\n' for table, spec, _m in indexes),
    )
    revisions["r8"] = revision("r8", "r7", R8_UPGRADE, R8_DOWNGRADE, message="payload size, longer titles")
    for text in revisions:
        revisions[text] = revisions[text].replace(
            "from alembic import op\n", "from alembic import op\nfrom sqlalchemy.dialects import mysql, postgresql\n"
        )
    later = [*ACCOUNT_LATER, 'sa.Column("priority_label", sa.String(10))']
    model_indexes = {table: [m for t, _spec, m in indexes if t == table] for table in ("account", "measurement")}
    tables = {
        "account": ACCOUNT[:-2] + later + ACCOUNT[-2:] + model_indexes["account"],
        "measurement": MEASUREMENT + model_indexes["measurement"],
        "team": [TEAM[0], TEAM[1].replace("sa.String(30)", "sa.String(60)")],
        "membership": MEMBERSHIP,
        "category": CATEGORY,
        "extras": EXTRAS[engine],
        "link": LINK,
        "event": [EVENT[0], 'sa.Column("payload", JSONText(), nullable=False)', 'sa.Column("size", sa.Integer())'],
    }
    model = (
        "from sqlalchemy.dialects import mysql, postgresql\n\n"
        + JSON_TEXT
        + "".join(
            f'{name} = sa.Table(\n    "{name}",\n    metadata,\n    {_columns(specs)},\n)\n'
            for name, specs in tables.items()
        )
    )
    return revisions, model


def nullable_columns(engine: str) -> dict[str, list[str]]:
    tables = {
        "account": [*_names(ACCOUNT + ACCOUNT_LATER), "priority_label"],
        "measurement": _names(MEASUREMENT),
        "membership": _names(MEMBERSHIP),
        "category": _names(CATEGORY),
        "extras": _names(EXTRAS[engine]),
        "link": _names(LINK),
        "event": ["payload", "size"],
    }
    return {t: [c for c in cols if c != "id" and (t, c) not in NOT_NULL] for t, cols in tables.items()}


def coverage_of(result: pytest.RunResult, engine: str) -> dict:
    for key, text in item_reports(result)[f"test_data_preserved[{engine}]"].user_properties:
        if key == "pytest_migrations":
            return json.loads(text)["coverage"]
    raise AssertionError("no coverage in the item's property")


def test_every_type_and_check_form_is_seeded_and_passes(project, run_checks, engine):
    revisions, model = kitchen_sink(engine)
    project(revisions, models=model)
    result = run_checks(engines=engine)
    assert_checks(result, engine)
    coverage = coverage_of(result, engine)
    assert coverage["never_seeded"] == [] and coverage["always_null"] == [], coverage
    assert coverage["tables"] == [8, 8] and coverage["revisions"] == [8, 8], coverage
    assert coverage["columns"][0] == coverage["columns"][1], coverage
    result.stdout.fnmatch_lines(["*data coverage: tables 8/8 seeded, columns *held a value, revisions 8/8 checked"])


def test_a_lost_value_in_each_kind_of_column_is_caught(project, run_checks, engine):
    revisions, model = kitchen_sink(engine)
    emptied = nullable_columns(engine)
    statements = "".join(  # quoted by SQLAlchemy: MySQL reserves some of the names (blob)
        f"op.execute(sa.table({table!r}, "
        + "".join(f"sa.column({c!r}), " for c in columns)
        + ").update().values("
        + ", ".join(f"{c}=None" for c in columns)
        + "))\n"
        for table, columns in emptied.items()
    )
    revisions["r9"] = revision("r9", "r8", statements, "pass").replace(
        "from alembic import op\n", "from alembic import op\nfrom sqlalchemy.dialects import mysql, postgresql\n"
    )
    project(revisions, models=model)
    result = run_checks(engines=engine)
    text = item_failure(result, f"test_data_preserved[{engine}]")
    # A table without a key is a multiset of rows: a row with a value emptied is a row lost, and another there.
    missed = [
        f"{t}.{c}"
        for t, columns in emptied.items()
        for c in columns
        if f"values of {t}.{c} " not in text and not (t == "link" and " rows of link: " in text)
    ]
    assert not missed, textwrap.shorten(text, 3000)
